from datetime import timedelta

import attrs
import pytest

from kiebot_core.domain.broadcasts import (
    Broadcast,
    BroadcastButton,
    BroadcastCounts,
    BroadcastId,
    BroadcastState,
    DeliveryState,
    Segment,
)
from kiebot_core.domain.errors import DuplicateError
from kiebot_core.domain.ids import UserId
from kiebot_core.domain.texts import Language
from tests.contracts.stores import BACKENDS, Store

pytestmark = pytest.mark.parametrize("uow", BACKENDS, indirect=True)


def make_broadcast(uow: Store, broadcast_id: str = "bc_1", **changes: object) -> Broadcast:
    fields: dict[str, object] = {
        "id": BroadcastId(broadcast_id),
        "author_id": UserId(7),
        "text": "<b>News</b> &amp; more",
        "total": 3,
        "created_at": uow.now(),
        "report_chat_id": 7,
    }
    fields.update(changes)
    return Broadcast(**fields)  # type: ignore[arg-type]


RECIPIENTS = [UserId(30), UserId(10), UserId(20)]


async def test_a_broadcast_is_stored_with_its_button_and_segment(uow: Store) -> None:
    since = uow.now() - timedelta(days=7)
    broadcast = make_broadcast(
        uow,
        button=BroadcastButton("Open", "https://example.com/x?a=1"),
        segment=Segment(language=Language.RU, active_since=since, paid=True),
    )
    async with uow() as tx:
        await tx.broadcasts.add(broadcast, RECIPIENTS)
        await tx.commit()
    async with uow() as tx:
        stored = await tx.broadcasts.get(broadcast.id)
        assert await tx.broadcasts.get(BroadcastId("bc_other")) is None
    assert stored is not None
    uow.assert_close(stored.created_at, broadcast.created_at)
    assert stored.segment.active_since is not None
    uow.assert_close(stored.segment.active_since, since)
    assert attrs.evolve(stored, created_at=broadcast.created_at, segment=broadcast.segment) == (
        broadcast
    )
    assert stored.segment.language is Language.RU
    assert stored.segment.paid is True


async def test_recipients_are_pending_in_the_order_they_were_given(uow: Store) -> None:
    broadcast = make_broadcast(uow)
    async with uow() as tx:
        await tx.broadcasts.add(broadcast, [*RECIPIENTS, UserId(10)])
        await tx.commit()
    async with uow() as tx:
        assert await tx.broadcasts.pending(broadcast.id, limit=10) == RECIPIENTS
        assert await tx.broadcasts.pending(broadcast.id, limit=2) == RECIPIENTS[:2]
        assert await tx.broadcasts.counts(broadcast.id) == BroadcastCounts(pending=3)


async def test_a_duplicate_id_is_refused(uow: Store) -> None:
    async with uow() as tx:
        await tx.broadcasts.add(make_broadcast(uow), RECIPIENTS)
        await tx.commit()
    async with uow() as tx:
        with pytest.raises(DuplicateError):
            await tx.broadcasts.add(make_broadcast(uow), RECIPIENTS)


async def test_a_delivery_is_claimed_once_then_recorded(uow: Store) -> None:
    broadcast = make_broadcast(uow)
    async with uow() as tx:
        await tx.broadcasts.add(broadcast, RECIPIENTS)
        await tx.commit()
    async with uow() as tx:
        assert await tx.broadcasts.claim(broadcast.id, UserId(30), uow.now())
        assert not await tx.broadcasts.claim(broadcast.id, UserId(30), uow.now())
        assert not await tx.broadcasts.claim(broadcast.id, UserId(99), uow.now())
        await tx.commit()
    async with uow() as tx:
        assert await tx.broadcasts.pending(broadcast.id, limit=10) == RECIPIENTS[1:]
        assert await tx.broadcasts.counts(broadcast.id) == BroadcastCounts(pending=2, sending=1)
        await tx.broadcasts.record(broadcast.id, UserId(30), DeliveryState.SENT, uow.now())
        assert await tx.broadcasts.claim(broadcast.id, UserId(10), uow.now())
        await tx.broadcasts.record(
            broadcast.id, UserId(10), DeliveryState.BLOCKED, uow.now(), "Forbidden"
        )
        await tx.commit()
    async with uow() as tx:
        assert await tx.broadcasts.counts(broadcast.id) == BroadcastCounts(
            pending=1, sent=1, blocked=1
        )


async def test_an_interrupted_send_becomes_unconfirmed_and_is_never_pending_again(
    uow: Store,
) -> None:
    broadcast = make_broadcast(uow)
    async with uow() as tx:
        await tx.broadcasts.add(broadcast, RECIPIENTS)
        await tx.broadcasts.claim(broadcast.id, UserId(30), uow.now())
        await tx.commit()
    async with uow() as tx:
        assert await tx.broadcasts.interrupted(broadcast.id, uow.now()) == 1
        assert await tx.broadcasts.interrupted(broadcast.id, uow.now()) == 0
        await tx.commit()
    async with uow() as tx:
        assert await tx.broadcasts.pending(broadcast.id, limit=10) == RECIPIENTS[1:]
        assert await tx.broadcasts.counts(broadcast.id) == BroadcastCounts(
            pending=2, unconfirmed=1
        )


async def test_a_send_handed_back_is_pending_again(uow: Store) -> None:
    broadcast = make_broadcast(uow)
    async with uow() as tx:
        await tx.broadcasts.add(broadcast, RECIPIENTS)
        await tx.broadcasts.claim(broadcast.id, UserId(30), uow.now())
        await tx.broadcasts.record(broadcast.id, UserId(30), DeliveryState.PENDING, uow.now())
        await tx.commit()
    async with uow() as tx:
        assert await tx.broadcasts.pending(broadcast.id, limit=1) == [UserId(30)]


async def test_the_unfinished_and_recent_lists_follow_stop_and_finish(uow: Store) -> None:
    first = make_broadcast(uow, "bc_1")
    await uow.elapse(uow.tick)
    second = make_broadcast(uow, "bc_2")
    async with uow() as tx:
        await tx.broadcasts.add(second, RECIPIENTS)
        await tx.broadcasts.add(first, RECIPIENTS)
        await tx.commit()
    async with uow() as tx:
        assert [b.id for b in await tx.broadcasts.unfinished()] == ["bc_1", "bc_2"]
        assert [b.id for b in await tx.broadcasts.recent(limit=5)] == ["bc_2", "bc_1"]
        assert [b.id for b in await tx.broadcasts.recent(limit=1)] == ["bc_2"]
        assert await tx.broadcasts.stop(first.id) is not None
        assert await tx.broadcasts.set_progress_message(second.id, 55)
        await tx.commit()
    async with uow() as tx:
        # Stopped, not yet finished: its sender still has to report it.
        assert [b.id for b in await tx.broadcasts.unfinished()] == ["bc_1", "bc_2"]
        assert await tx.broadcasts.finish(first.id, uow.now()) is not None
        await tx.commit()
    async with uow() as tx:
        unfinished = await tx.broadcasts.unfinished()
        assert [b.id for b in unfinished] == ["bc_2"]
        assert unfinished[0].progress_message_id == 55


async def test_the_progress_message_is_set_alone(uow: Store) -> None:
    broadcast = make_broadcast(uow)
    async with uow() as tx:
        await tx.broadcasts.add(broadcast, RECIPIENTS)
        await tx.broadcasts.stop(broadcast.id)
        await tx.commit()
    async with uow() as tx:
        assert await tx.broadcasts.set_progress_message(broadcast.id, 41)
        assert await tx.broadcasts.set_progress_message(broadcast.id, 42)
        assert not await tx.broadcasts.set_progress_message(BroadcastId("bc_other"), 1)
        await tx.commit()
    async with uow() as tx:
        stored = await tx.broadcasts.get(broadcast.id)
    assert stored is not None
    assert stored.progress_message_id == 42
    assert stored.state is BroadcastState.CANCELLED
    assert stored.finished_at is None


async def test_only_a_sending_broadcast_stops(uow: Store) -> None:
    broadcast = make_broadcast(uow)
    async with uow() as tx:
        await tx.broadcasts.add(broadcast, RECIPIENTS)
        await tx.broadcasts.set_progress_message(broadcast.id, 9)
        await tx.commit()
    async with uow() as tx:
        stopped = await tx.broadcasts.stop(broadcast.id)
        assert stopped is not None
        assert stopped.state is BroadcastState.CANCELLED
        assert stopped.finished_at is None
        assert stopped.progress_message_id == 9
        assert await tx.broadcasts.stop(broadcast.id) is None
        assert await tx.broadcasts.stop(BroadcastId("bc_other")) is None
        await tx.commit()
    async with uow() as tx:
        stored = await tx.broadcasts.get(broadcast.id)
    assert stored is not None
    assert stored.state is BroadcastState.CANCELLED


async def test_a_finished_broadcast_is_never_stopped_or_finished_again(uow: Store) -> None:
    broadcast = make_broadcast(uow)
    async with uow() as tx:
        await tx.broadcasts.add(broadcast, RECIPIENTS)
        await tx.commit()
    at = uow.now()
    async with uow() as tx:
        finished = await tx.broadcasts.finish(broadcast.id, at)
        assert finished is not None
        assert finished.state is BroadcastState.DONE
        assert finished.finished_at is not None
        uow.assert_close(finished.finished_at, at)
        assert await tx.broadcasts.stop(broadcast.id) is None
        assert await tx.broadcasts.finish(broadcast.id, uow.now()) is None
        assert await tx.broadcasts.finish(BroadcastId("bc_other"), uow.now()) is None
        await tx.commit()
    async with uow() as tx:
        stored = await tx.broadcasts.get(broadcast.id)
        assert await tx.broadcasts.unfinished() == []
    assert stored is not None
    assert stored.state is BroadcastState.DONE
    assert stored.finished_at is not None


async def test_a_stopped_broadcast_finishes_as_cancelled(uow: Store) -> None:
    broadcast = make_broadcast(uow, button=BroadcastButton("Open", "https://example.com"))
    async with uow() as tx:
        await tx.broadcasts.add(broadcast, RECIPIENTS)
        await tx.broadcasts.stop(broadcast.id)
        await tx.commit()
    async with uow() as tx:
        finished = await tx.broadcasts.finish(broadcast.id, uow.now())
        await tx.commit()
    assert finished is not None
    assert finished.state is BroadcastState.CANCELLED
    assert finished.finished_at is not None
    assert finished.button == broadcast.button


async def test_an_uncommitted_broadcast_is_rolled_back(uow: Store) -> None:
    async with uow() as tx:
        await tx.broadcasts.add(make_broadcast(uow), RECIPIENTS)
    async with uow() as tx:
        assert await tx.broadcasts.unfinished() == []
        assert await tx.broadcasts.counts(BroadcastId("bc_1")) == BroadcastCounts()
