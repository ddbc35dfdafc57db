"""The operator tools' promises while units of work really race (SQLite and PostgreSQL)."""

import asyncio
from collections.abc import Awaitable, Callable, Collection
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Any, Self, cast

import attrs
import pytest

from kiebot_core.domain.alerts import AlertKind
from kiebot_core.domain.audit import telegram_actor
from kiebot_core.domain.breakers import BreakerSettings, CircuitState
from kiebot_core.domain.broadcasts import Broadcast, BroadcastId, BroadcastState, Segment
from kiebot_core.domain.ids import UserId
from kiebot_core.domain.outcomes import Rejected
from kiebot_core.domain.reasons import ReasonCode
from kiebot_core.domain.registry import load_registry
from kiebot_core.domain.texts import Language
from kiebot_core.domain.users import User
from kiebot_core.ports.runtime import SystemClock
from kiebot_core.ports.storage import UnitOfWork, UnitOfWorkFactory
from kiebot_core.testing.generation import ScriptedGenerationGateway
from kiebot_core.testing.operations import RecordingAdminNotifier, ScriptedBroadcastChannel
from kiebot_core.testing.runtime import FrozenClock, SequentialIds
from kiebot_core.use_cases.breakers import CircuitBreaker
from kiebot_core.use_cases.broadcasts import (
    BroadcastSender,
    create_broadcast,
    show_progress_in,
    stop_broadcast,
)
from kiebot_core.use_cases.catalog import LoadActiveRegistry, SetModelEnabled
from kiebot_core.use_cases.credits import CreditsWatch
from tests.contracts.stores import RACERS_AT_ONCE, Racers, Store

RECIPIENTS = [UserId(100 + n) for n in range(30)]


async def test_racing_senders_claim_each_delivery_once(racers: Racers) -> None:
    store = racers()
    broadcast = Broadcast(
        id=BroadcastId("bc_race"),
        author_id=UserId(1),
        text="hello",
        total=len(RECIPIENTS),
        created_at=datetime.now(UTC),
        report_chat_id=1,
    )
    async with store() as tx:
        await tx.broadcasts.add(broadcast, RECIPIENTS)
        await tx.commit()
    senders = 4
    barrier = asyncio.Barrier(senders)

    async def sender() -> list[UserId]:
        own = racers()
        await barrier.wait()
        won = []
        for user_id in RECIPIENTS:
            async with own() as tx:
                if await tx.broadcasts.claim(broadcast.id, user_id, datetime.now(UTC)):
                    won.append(user_id)
                await tx.commit()
        return won

    claims = await asyncio.gather(*(sender() for _ in range(senders)))
    everyone = [user for won in claims for user in won]
    assert sorted(everyone) == RECIPIENTS


async def test_a_burst_of_racing_failures_opens_the_circuit_once(racers: Racers) -> None:
    notifier = RecordingAdminNotifier()
    settings = BreakerSettings(failures=3)
    barrier = asyncio.Barrier(RACERS_AT_ONCE)

    async def fail() -> object:
        breaker = CircuitBreaker(
            store=racers(), clock=SystemClock(), notifier=notifier, settings=settings
        )
        await barrier.wait()
        return await breaker.record_failure("veo3/fast", ReasonCode.PROVIDER_FAILED, "boom")

    opened = [c for c in await asyncio.gather(*(fail() for _ in range(RACERS_AT_ONCE))) if c]
    assert len(opened) == 1
    assert [alert.kind for alert in notifier.sent] == [AlertKind.CIRCUIT_OPENED]
    async with racers()() as tx:
        circuit = await tx.circuits.get("veo3/fast")
        assert circuit is not None
        assert circuit.state is CircuitState.OPEN
        assert (await tx.toggles.overrides()) == {"veo3/fast": False}


async def test_racing_refusals_for_lack_of_credits_tell_the_admins_once(racers: Racers) -> None:
    notifier = RecordingAdminNotifier()
    clock = FrozenClock()
    barrier = asyncio.Barrier(RACERS_AT_ONCE)

    async def refused() -> None:
        watch = CreditsWatch(
            store=racers(), gateway=ScriptedGenerationGateway(), clock=clock, notifier=notifier
        )
        await barrier.wait()
        await watch.exhausted()

    await asyncio.gather(*(refused() for _ in range(RACERS_AT_ONCE)))
    assert [alert.kind for alert in notifier.sent] == [AlertKind.CREDITS_EXHAUSTED]


# ------------------------------------------------------------------ interleavings on PostgreSQL
#
# A unit of work paused just before its first write while another commits: the interleaving
# a race hits by chance, made certain. Only PostgreSQL runs units of work side by side
# (SQLite and the memory store take the whole store for each), so only there can it happen.

ONLY_PG = pytest.mark.parametrize("uow", ["pg"], indirect=True)
ADMIN = UserId(1)
MODEL = "flux-2/pro-text-to-image"


@attrs.define
class Gate:
    """Where a paused unit of work waits: ``reached`` once it is paused, until ``release``."""

    names: Collection[str]
    """The repository methods to pause before (the first call of any of them, once)."""
    reached: asyncio.Event = attrs.field(factory=asyncio.Event)
    release: asyncio.Event = attrs.field(factory=asyncio.Event)
    passed: bool = False


@attrs.define
class _PausingRepository:
    inner: Any
    gate: Gate

    def __getattr__(self, name: str) -> Any:
        method = getattr(self.inner, name)
        if name not in self.gate.names:
            return method
        gate = self.gate

        async def paused(*args: object, **kwargs: object) -> Any:
            if not gate.passed:
                gate.passed = True
                gate.reached.set()
                await gate.release.wait()
            return await method(*args, **kwargs)

        return paused


@attrs.define
class _PausingUnitOfWork:
    inner: UnitOfWork
    gate: Gate

    def __getattr__(self, name: str) -> Any:
        value = getattr(self.inner, name)
        if name in {"broadcasts", "circuits", "toggles"}:
            return _PausingRepository(value, self.gate)
        return value

    async def __aenter__(self) -> Self:
        await self.inner.__aenter__()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.inner.__aexit__(exc_type, exc, tb)


def pausing(store: UnitOfWorkFactory, gate: Gate) -> UnitOfWorkFactory:
    """``store``, with its units of work pausing at ``gate``."""
    return cast(UnitOfWorkFactory, lambda: _PausingUnitOfWork(store(), gate))


async def interleaved(
    paused: Awaitable[Any], gate: Gate, meanwhile: Callable[[], Awaitable[Any]]
) -> Any:
    """Run ``paused`` up to its gate, then ``meanwhile`` to its end, then the rest of it."""
    task = asyncio.ensure_future(paused)
    async with asyncio.timeout(10):
        await asyncio.wait(
            [task, asyncio.ensure_future(gate.reached.wait())], return_when="FIRST_COMPLETED"
        )
    assert gate.reached.is_set(), "the unit of work never reached its gate"
    await meanwhile()
    gate.release.set()
    return await task


async def _sending(store: Store, clock: FrozenClock) -> Broadcast:
    async with store() as tx:
        for user_id in (ADMIN, UserId(10), UserId(11)):
            await tx.users.add(User(id=user_id, language=Language.EN, created_at=clock.now()))
        await tx.commit()
    created = await create_broadcast(
        store,
        clock,
        SequentialIds(),
        author_id=ADMIN,
        text="hello",
        segment=Segment(),
        report_chat_id=ADMIN,
    )
    assert isinstance(created, Broadcast)
    return created


@ONLY_PG
async def test_showing_the_progress_never_undoes_a_stop(uow: Store) -> None:
    clock = FrozenClock()
    broadcast = await _sending(uow, clock)
    gate = Gate({"set_progress_message"})

    async def stop() -> None:
        assert not isinstance(await stop_broadcast(uow, clock, broadcast.id, by=ADMIN), Rejected)

    await interleaved(show_progress_in(pausing(uow, gate), broadcast.id, 77), gate, stop)
    async with uow() as tx:
        stored = await tx.broadcasts.get(broadcast.id)
    assert stored is not None
    assert stored.state is BroadcastState.CANCELLED
    assert stored.progress_message_id == 77


@ONLY_PG
async def test_a_stop_racing_the_end_never_brings_a_finished_broadcast_back(uow: Store) -> None:
    clock = FrozenClock()
    broadcast = await _sending(uow, clock)
    channel = ScriptedBroadcastChannel()
    gate = Gate({"stop"})

    async def send_to_the_end() -> None:
        finished = await BroadcastSender(uow, channel, clock).run(broadcast)
        assert finished.state is BroadcastState.DONE

    stopped = await interleaved(
        stop_broadcast(pausing(uow, gate), clock, broadcast.id, by=ADMIN), gate, send_to_the_end
    )
    assert isinstance(stopped, Rejected)
    assert stopped.reason is ReasonCode.STALE_ACTION
    async with uow() as tx:
        stored = await tx.broadcasts.get(broadcast.id)
        assert await tx.broadcasts.unfinished() == []
    assert stored is not None
    assert (stored.state, stored.finished_at is not None) == (BroadcastState.DONE, True)
    assert [kind for kind, _ in channel.reports].count("finished") == 1


@ONLY_PG
async def test_the_end_racing_a_stop_reports_it_stopped(uow: Store) -> None:
    clock = FrozenClock()
    broadcast = await _sending(uow, clock)
    channel = ScriptedBroadcastChannel()
    gate = Gate({"finish"})

    async def stop() -> None:
        assert not isinstance(await stop_broadcast(uow, clock, broadcast.id, by=ADMIN), Rejected)

    sender = BroadcastSender(pausing(uow, gate), channel, clock)
    finished = await interleaved(sender.run(broadcast), gate, stop)
    assert finished.state is BroadcastState.CANCELLED
    async with uow() as tx:
        stored = await tx.broadcasts.get(broadcast.id)
    assert stored is not None
    assert stored.state is BroadcastState.CANCELLED
    assert stored.finished_at is not None


@ONLY_PG
async def test_an_admin_switching_a_model_off_while_its_circuit_recovers_keeps_it_off(
    uow: Store,
) -> None:
    clock = FrozenClock()
    notifier = RecordingAdminNotifier()
    settings = BreakerSettings(failures=3)
    breaker = CircuitBreaker(store=uow, clock=clock, notifier=notifier, settings=settings)
    for _ in range(3):
        await breaker.record_failure(MODEL, ReasonCode.PROVIDER_FAILED)
    clock.advance(settings.cooldown + timedelta(seconds=1))
    gate = Gate({"set", "put", "replace"})
    recovering = CircuitBreaker(
        store=pausing(uow, gate), clock=clock, notifier=notifier, settings=settings
    )
    switch = SetModelEnabled(uow, load_registry(), clock)

    async def switch_off() -> None:
        assert await switch(MODEL, enabled=False, by=telegram_actor(ADMIN)) is None

    assert await interleaved(recovering.recover(), gate, switch_off) == []
    model = (await LoadActiveRegistry(uow, load_registry())()).get(MODEL)
    assert model is not None
    assert not model.enabled
    async with uow() as tx:
        assert await tx.circuits.all() == []
    assert [alert.kind for alert in notifier.sent] == [AlertKind.CIRCUIT_OPENED]
