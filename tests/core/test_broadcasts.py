import asyncio
from datetime import timedelta

import attrs
import pytest

from kiebot_core.domain.audit import AuditAction, telegram_actor
from kiebot_core.domain.broadcasts import (
    Broadcast,
    BroadcastButton,
    BroadcastCounts,
    BroadcastState,
    Segment,
    SendOutcome,
    TryAgain,
    Unconfirmed,
    Undeliverable,
    Unreachable,
    parse_button,
)
from kiebot_core.domain.ids import UserId
from kiebot_core.domain.outcomes import Rejected
from kiebot_core.domain.reasons import ReasonCode
from kiebot_core.domain.texts import Language
from kiebot_core.domain.users import User
from kiebot_core.testing.memory import MemoryDatabase, MemoryUnitOfWorkFactory
from kiebot_core.testing.operations import ScriptedBroadcastChannel
from kiebot_core.testing.runtime import FrozenClock, SequentialIds
from kiebot_core.use_cases.broadcasts import (
    BroadcastSender,
    BroadcastSettings,
    audience_size,
    create_broadcast,
    stop_broadcast,
)

ADMIN = UserId(1)
USERS = [UserId(n) for n in range(10, 20)]


@attrs.define
class FakeTime:
    """A monotonic clock that moves only when the sender sleeps; the sleeps are recorded."""

    now: float = 0.0
    sleeps: list[float] = attrs.field(factory=list)

    def monotonic(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        await asyncio.sleep(0)


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock()


@pytest.fixture
async def store(clock: FrozenClock) -> MemoryUnitOfWorkFactory:
    factory = MemoryUnitOfWorkFactory(MemoryDatabase(clock))
    async with factory() as uow:
        for n, user_id in enumerate([ADMIN, *USERS]):
            language = Language.RU if n % 2 else Language.EN
            await uow.users.add(User(id=user_id, language=language, created_at=clock.now()))
        await uow.commit()
    return factory


async def _create(
    store: MemoryUnitOfWorkFactory, clock: FrozenClock, segment: Segment | None = None
) -> Broadcast:
    created = await create_broadcast(
        store,
        clock,
        SequentialIds(),
        author_id=ADMIN,
        text="<b>Hello</b>",
        segment=segment or Segment(),
        report_chat_id=ADMIN,
        button=BroadcastButton("Open", "https://example.com"),
    )
    assert isinstance(created, Broadcast), created
    return created


def _sender(
    store: MemoryUnitOfWorkFactory,
    clock: FrozenClock,
    channel: ScriptedBroadcastChannel,
    time: FakeTime,
    **settings: object,
) -> BroadcastSender:
    return BroadcastSender(
        store=store,
        channel=channel,
        clock=clock,
        settings=BroadcastSettings(**settings),  # type: ignore[arg-type]
        sleep=time.sleep,
        monotonic=time.monotonic,
    )


def test_a_button_is_a_label_and_a_url() -> None:
    assert parse_button("Open the shop | https://example.com/s?a=1") == BroadcastButton(
        "Open the shop", "https://example.com/s?a=1"
    )
    assert parse_button("Channel - tg://resolve?domain=x") == BroadcastButton(
        "Channel", "tg://resolve?domain=x"
    )
    assert parse_button("Go https://example.com") == BroadcastButton("Go", "https://example.com")
    for bad in (
        "https://example.com",
        "Open | ftp://x",
        "Open | example.com",
        "x" * 65 + " | https://a.b",
    ):
        refused = parse_button(bad)
        assert isinstance(refused, Rejected), bad
        assert refused.reason is ReasonCode.INVALID_INPUT


async def test_the_dry_run_counts_and_creating_fixes_the_recipients(
    store: MemoryUnitOfWorkFactory, clock: FrozenClock
) -> None:
    assert await audience_size(store, Segment()) == 11
    assert await audience_size(store, Segment(language=Language.RU)) == 5
    broadcast = await _create(store, clock, Segment(language=Language.RU))
    assert broadcast.total == 5
    async with store() as uow:
        assert await uow.broadcasts.counts(broadcast.id) == BroadcastCounts(pending=5)
        [entry] = await uow.audit.recent(limit=5)
    assert (entry.actor, entry.action, entry.target) == (
        telegram_actor(ADMIN),
        AuditAction.BROADCAST,
        broadcast.id,
    )
    assert entry.detail.startswith("5 recipients")


async def test_nobody_in_the_segment_is_refused(
    store: MemoryUnitOfWorkFactory, clock: FrozenClock
) -> None:
    refused = await create_broadcast(
        store,
        clock,
        SequentialIds(),
        author_id=ADMIN,
        text="hi",
        segment=Segment(paid=True),
        report_chat_id=ADMIN,
    )
    assert isinstance(refused, Rejected)
    assert refused.reason is ReasonCode.INVALID_INPUT


async def test_each_user_gets_it_once_blocked_users_are_marked_and_skipped_later(
    store: MemoryUnitOfWorkFactory, clock: FrozenClock
) -> None:
    broadcast = await _create(store, clock)
    channel = ScriptedBroadcastChannel(
        scripts={USERS[2]: [Unreachable("blocked")], USERS[3]: [Undeliverable("chat not found")]}
    )
    time = FakeTime()
    finished = await _sender(store, clock, channel, time).run(broadcast)
    assert finished.state is BroadcastState.DONE
    assert [user for _, user in channel.sent] == [ADMIN, *USERS]
    kind, counts = channel.reports[-1]
    assert kind == "finished"
    assert counts == BroadcastCounts(sent=9, blocked=1, failed=1)
    async with store() as uow:
        assert await uow.audience.blocked_at(USERS[2]) is not None
    assert await audience_size(store, Segment()) == 10
    # Nothing is left to send: running again sends nothing.
    assert await _sender(store, clock, channel, time).run_pending() == 0
    assert len(channel.sent) == 11


async def test_sends_are_paced_and_flood_control_holds_everything(
    store: MemoryUnitOfWorkFactory, clock: FrozenClock
) -> None:
    broadcast = await _create(store, clock)
    flood = TryAgain(timedelta(seconds=7), "Too Many Requests: retry after 7", is_flood=True)
    channel = ScriptedBroadcastChannel(scripts={USERS[4]: [flood, flood]})
    time = FakeTime()
    await _sender(store, clock, channel, time, per_second=10).run(broadcast)
    sent = [user for _, user in channel.sent]
    # The flooded message is tried again, before anyone else, after the wait it was given.
    assert sent == [ADMIN, *USERS[:5], USERS[4], USERS[4], *USERS[5:]]
    assert sum(1 for s in time.sleeps if s >= 7) == 2
    # 11 messages at 10 a second: 10 gaps of 0.1 s at least, plus the two 7 s waits.
    assert time.now == pytest.approx(10 * 0.1 + 2 * 7, abs=0.25)
    assert channel.reports[-1] == ("finished", BroadcastCounts(sent=11))


async def test_a_message_that_keeps_failing_ends_failed(
    store: MemoryUnitOfWorkFactory, clock: FrozenClock
) -> None:
    broadcast = await _create(store, clock)
    down = TryAgain(timedelta(seconds=1), "Bad Gateway")
    channel = ScriptedBroadcastChannel(scripts={USERS[0]: [down] * 10})
    await _sender(store, clock, channel, FakeTime(), attempts=3).run(broadcast)
    assert [user for _, user in channel.sent].count(USERS[0]) == 3
    assert channel.reports[-1] == ("finished", BroadcastCounts(sent=10, failed=1))


async def test_a_send_telegram_may_have_taken_is_counted_unconfirmed_and_never_sent_again(
    store: MemoryUnitOfWorkFactory, clock: FrozenClock
) -> None:
    broadcast = await _create(store, clock)
    lost = Unconfirmed("Request timeout error")
    channel = ScriptedBroadcastChannel(scripts={USERS[1]: [lost, lost], USERS[6]: [lost]})
    await _sender(store, clock, channel, FakeTime()).run(broadcast)
    sent = [user for _, user in channel.sent]
    assert sent == [ADMIN, *USERS]
    assert channel.reports[-1] == ("finished", BroadcastCounts(sent=9, unconfirmed=2))


class CrashError(Exception):
    pass


@attrs.define
class CrashingChannel(ScriptedBroadcastChannel):
    """Dies (like a killed process) at the ``crash_at``-th send, after claiming it."""

    crash_at: int = 4

    async def send(self, broadcast: Broadcast, user_id: UserId) -> SendOutcome:
        if len(self.sent) + 1 == self.crash_at:
            raise CrashError
        return await super().send(broadcast, user_id)


async def test_after_a_crash_the_next_sender_resumes_without_sending_twice(
    store: MemoryUnitOfWorkFactory, clock: FrozenClock
) -> None:
    broadcast = await _create(store, clock)
    crashing = CrashingChannel()
    with pytest.raises(CrashError):
        await _sender(store, clock, crashing, FakeTime()).run(broadcast)
    first = [user for _, user in crashing.sent]
    assert first == [ADMIN, *USERS[:2]]
    resumed = ScriptedBroadcastChannel()
    assert await _sender(store, clock, resumed, FakeTime()).run_pending() == 1
    second = [user for _, user in resumed.sent]
    # The one in flight at the crash may have arrived: it is never sent again.
    assert second == USERS[3:]
    assert resumed.reports[-1] == ("finished", BroadcastCounts(sent=10, unconfirmed=1))


async def test_a_send_in_flight_when_the_sender_is_stopped_finishes_and_is_recorded(
    store: MemoryUnitOfWorkFactory, clock: FrozenClock
) -> None:
    broadcast = await _create(store, clock)
    started, release = asyncio.Event(), asyncio.Event()

    @attrs.define
    class Slow(ScriptedBroadcastChannel):
        async def send(self, broadcast: Broadcast, user_id: UserId) -> SendOutcome:
            if len(self.sent) == 2:
                started.set()
                await release.wait()
            return await super().send(broadcast, user_id)

    channel = Slow()
    task = asyncio.create_task(_sender(store, clock, channel, FakeTime()).run(broadcast))
    await started.wait()
    task.cancel()
    await asyncio.sleep(0.01)
    release.set()
    with pytest.raises(asyncio.CancelledError):
        await task
    async with store() as uow:
        counts = await uow.broadcasts.counts(broadcast.id)
    assert counts == BroadcastCounts(pending=8, sent=3)


async def test_a_stopped_broadcast_sends_nothing_more_and_is_reported(
    store: MemoryUnitOfWorkFactory, clock: FrozenClock
) -> None:
    broadcast = await _create(store, clock)

    @attrs.define
    class Stopping(ScriptedBroadcastChannel):
        async def send(self, broadcast: Broadcast, user_id: UserId) -> SendOutcome:
            outcome = await super().send(broadcast, user_id)
            if len(self.sent) == 3:
                assert not isinstance(
                    await stop_broadcast(store, clock, broadcast.id, by=ADMIN), Rejected
                )
            return outcome

    channel = Stopping()
    time = FakeTime()
    finished = await _sender(
        store, clock, channel, time, per_second=1, check_every=timedelta(seconds=1)
    ).run(broadcast)
    assert finished.state is BroadcastState.CANCELLED
    assert finished.finished_at is not None
    assert len(channel.sent) == 3
    assert channel.reports[-1] == ("finished", BroadcastCounts(pending=8, sent=3))
    refused = await stop_broadcast(store, clock, broadcast.id, by=ADMIN)
    assert isinstance(refused, Rejected)
    assert refused.reason is ReasonCode.STALE_ACTION


async def test_a_broadcast_stopped_before_it_started_is_reported_by_the_sender(
    store: MemoryUnitOfWorkFactory, clock: FrozenClock
) -> None:
    broadcast = await _create(store, clock)
    await stop_broadcast(store, clock, broadcast.id, by=ADMIN)
    channel = ScriptedBroadcastChannel()
    assert await _sender(store, clock, channel, FakeTime()).run_pending() == 1
    assert channel.sent == []
    assert channel.reports == [("finished", BroadcastCounts(pending=11))]
