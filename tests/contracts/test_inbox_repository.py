from datetime import datetime, timedelta

import attrs
import pytest

from kiebot_core.domain.coordination import InboxUpdate
from kiebot_core.domain.reasons import ReasonCode
from tests.contracts.builders import make_update
from tests.contracts.stores import BACKENDS, Store

pytestmark = pytest.mark.parametrize("uow", BACKENDS, indirect=True)

BOT = 7
LONG = timedelta(minutes=5)
"""A lease that outlives every test."""


async def store(uow: Store, *updates: InboxUpdate) -> None:
    async with uow() as tx:
        for update in updates:
            assert await tx.inbox.store(update) is True
        await tx.commit()


async def claim(uow: Store, limit: int = 10, lease: timedelta = LONG) -> list[tuple[int, int]]:
    """The claimed updates' (update id, attempts), committed."""
    async with uow() as tx:
        claimed = await tx.inbox.claim(limit=limit, lease=lease)
        await tx.commit()
    return [(u.update_id, u.attempts) for u in claimed]


async def done(uow: Store, *update_ids: int) -> None:
    async with uow() as tx:
        for update_id in update_ids:
            await tx.inbox.done(BOT, update_id)
        await tx.commit()


async def park(uow: Store, update_id: int, reason: ReasonCode) -> None:
    async with uow() as tx:
        await tx.inbox.park(BOT, update_id, reason)
        await tx.commit()


async def pending(uow: Store) -> list[int]:
    async with uow() as tx:
        return [u.update_id for u in await tx.inbox.pending(limit=100)]


async def oldest_pending_at(uow: Store) -> datetime | None:
    async with uow() as tx:
        return await tx.inbox.oldest_pending_at()


async def test_an_update_is_stored_once_per_bot(uow: Store) -> None:
    now = uow.now()
    async with uow() as tx:
        assert await tx.inbox.store(make_update(100, at=now)) is True
        assert await tx.inbox.store(make_update(100, at=now, chat_id=1)) is False
        assert await tx.inbox.store(make_update(100, at=now, bot_id=8)) is True
        await tx.commit()
    async with uow() as tx:
        assert await tx.inbox.store(make_update(100, at=now)) is False
        pending = await tx.inbox.pending(limit=10)
    assert pending == [make_update(100, at=now), make_update(100, at=now, bot_id=8)]


async def test_pending_is_oldest_update_first_up_to_the_limit(uow: Store) -> None:
    now = uow.now()
    async with uow() as tx:
        for update_id in (103, 101, 104, 102):
            await tx.inbox.store(make_update(update_id, at=now))
        await tx.commit()
    async with uow() as tx:
        pending = await tx.inbox.pending(limit=3)
    assert [u.update_id for u in pending] == [101, 102, 103]


async def test_done_updates_leave_the_pending_list(uow: Store) -> None:
    now = uow.now()
    async with uow() as tx:
        for update_id in (1, 2, 3):
            await tx.inbox.store(make_update(update_id, at=now))
        await tx.commit()
    async with uow() as tx:
        await tx.inbox.done(7, 2)
        await tx.inbox.done(7, 2)
        await tx.inbox.done(7, 999)
        await tx.commit()
    async with uow() as tx:
        assert [u.update_id for u in await tx.inbox.pending(limit=10)] == [1, 3]
        assert await tx.inbox.store(make_update(2, at=now)) is False


async def test_an_uncommitted_done_is_rolled_back(uow: Store) -> None:
    now = uow.now()
    async with uow() as tx:
        await tx.inbox.store(make_update(1, at=now))
        await tx.commit()
    async with uow() as tx:
        await tx.inbox.done(7, 1)
    async with uow() as tx:
        assert [u.update_id for u in await tx.inbox.pending(limit=10)] == [1]


async def test_attempts_are_stored_and_read_back(uow: Store) -> None:
    update = attrs.evolve(make_update(1, at=uow.now()), attempts=2)
    await store(uow, update)
    async with uow() as tx:
        assert await tx.inbox.pending(limit=10) == [update]
        assert await tx.inbox.claim(limit=10, lease=LONG) == [attrs.evolve(update, attempts=3)]


async def test_a_chat_is_claimed_one_update_at_a_time_in_order(uow: Store) -> None:
    now = uow.now()
    await store(uow, *(make_update(n, at=now) for n in (3, 1, 2)))
    async with uow() as tx:
        claimed = await tx.inbox.claim(limit=10, lease=LONG)
        await tx.commit()
    assert claimed == [attrs.evolve(make_update(1, at=now), attempts=1)]
    assert await claim(uow) == []
    assert await pending(uow) == [1, 2, 3]
    await done(uow, 1)
    assert await claim(uow) == [(2, 1)]
    assert await claim(uow) == []
    await park(uow, 2, ReasonCode.INTERNAL_ERROR)
    assert await claim(uow) == [(3, 1)]
    assert await claim(uow) == []


async def test_a_claim_takes_the_head_of_every_chat(uow: Store) -> None:
    now = uow.now()
    await store(
        uow,
        *(make_update(n, at=now, chat_id=chat) for n, chat in enumerate([1, 2, 1, 3, 2, 3], 1)),
        make_update(1, at=now, bot_id=8, chat_id=1),
    )
    async with uow() as tx:
        claimed = await tx.inbox.claim(limit=10, lease=LONG)
        await tx.commit()
    assert [(u.bot_id, u.update_id) for u in claimed] == [(BOT, 1), (BOT, 2), (BOT, 4), (8, 1)]
    await done(uow, 2)
    assert await claim(uow) == [(5, 1)]


async def test_updates_without_a_chat_stand_alone(uow: Store) -> None:
    now = uow.now()
    await store(
        uow,
        *(make_update(n, at=now, chat_id=None) for n in (1, 2, 3)),
        make_update(4, at=now),
        make_update(5, at=now),
    )
    assert await claim(uow, limit=1) == [(1, 1)]
    assert await claim(uow) == [(2, 1), (3, 1), (4, 1)]
    await done(uow, 3)
    assert await claim(uow) == []


async def test_a_claim_takes_at_most_its_limit(uow: Store) -> None:
    now = uow.now()
    await store(uow, *(make_update(n, at=now, chat_id=n) for n in range(1, 6)))
    assert await claim(uow, limit=0) == []
    assert await claim(uow, limit=2) == [(1, 1), (2, 1)]
    assert await claim(uow, limit=2) == [(3, 1), (4, 1)]
    assert await claim(uow, limit=2) == [(5, 1)]


async def test_a_lapsed_claim_is_taken_again_with_one_more_attempt(uow: Store) -> None:
    now = uow.now()
    await store(uow, make_update(1, at=now), make_update(2, at=now))
    assert await claim(uow, lease=uow.tick) == [(1, 1)]
    assert await claim(uow) == []
    await uow.elapse(uow.tick)
    assert await claim(uow) == [(1, 2)]
    assert await claim(uow) == []


async def extend(uow: Store, *update_ids: int, lease: timedelta = LONG) -> None:
    async with uow() as tx:
        await tx.inbox.extend(BOT, list(update_ids), lease)
        await tx.commit()


async def test_an_extended_claim_outlives_its_first_lease(uow: Store) -> None:
    now = uow.now()
    await store(uow, make_update(1, at=now), make_update(2, at=now))
    assert await claim(uow, lease=uow.tick) == [(1, 1)]
    await extend(uow, 1, 999)
    await uow.elapse(uow.tick)
    assert await claim(uow) == [], "still being handled"


async def test_a_lapsed_claim_is_not_extended(uow: Store) -> None:
    now = uow.now()
    await store(uow, make_update(1, at=now))
    assert await claim(uow, lease=uow.tick) == [(1, 1)]
    await uow.elapse(uow.tick)
    await extend(uow, 1)
    assert await claim(uow) == [(1, 2)], "another worker took it over"


async def test_a_released_update_is_claimable_at_once_with_its_attempts(uow: Store) -> None:
    now = uow.now()
    await store(uow, make_update(1, at=now), make_update(2, at=now))
    assert await claim(uow) == [(1, 1)]
    async with uow() as tx:
        await tx.inbox.release(BOT, 1)
        await tx.inbox.release(BOT, 1)
        await tx.inbox.release(BOT, 999)
        await tx.commit()
    assert await claim(uow) == [(1, 2)]
    assert await claim(uow) == []


async def test_a_parked_update_stays_out_of_processing(uow: Store) -> None:
    now = uow.now()
    await store(uow, *(make_update(n, at=now) for n in (1, 2, 3)))
    assert await claim(uow) == [(1, 1)]
    await park(uow, 1, ReasonCode.INTERNAL_ERROR)
    await park(uow, 1, ReasonCode.STORAGE_ERROR)
    await park(uow, 999, ReasonCode.STORAGE_ERROR)
    await done(uow, 1)
    async with uow() as tx:
        parked = await tx.inbox.parked(limit=10)
        assert await tx.inbox.store(make_update(1, at=now)) is False
    assert parked == [
        (attrs.evolve(make_update(1, at=now), attempts=1), ReasonCode.INTERNAL_ERROR)
    ]
    assert await pending(uow) == [2, 3]
    assert await claim(uow) == [(2, 1)]
    await done(uow, 2)
    await park(uow, 2, ReasonCode.INTERNAL_ERROR)
    async with uow() as tx:
        assert [u.update_id for u, _ in await tx.inbox.parked(limit=10)] == [1]
    assert await pending(uow) == [3]


async def test_parked_updates_are_listed_most_recently_parked_first(uow: Store) -> None:
    now = uow.now()
    await store(uow, *(make_update(n, at=now, chat_id=n) for n in (1, 2, 3, 4)))
    await park(uow, 1, ReasonCode.INTERNAL_ERROR)
    await uow.elapse(uow.tick)
    await park(uow, 3, ReasonCode.DELIVERY_FAILED)
    await uow.elapse(uow.tick)
    await park(uow, 2, ReasonCode.STORAGE_ERROR)
    async with uow() as tx:
        parked = await tx.inbox.parked(limit=2)
        assert await tx.inbox.parked(limit=0) == []
    assert [(u.update_id, reason) for u, reason in parked] == [
        (2, ReasonCode.STORAGE_ERROR),
        (3, ReasonCode.DELIVERY_FAILED),
    ]


async def test_oldest_pending_at_is_the_earliest_live_arrival(uow: Store) -> None:
    now = uow.now()
    assert await oldest_pending_at(uow) is None
    arrivals = {1: 1, 2: 3, 3: 2}  # update id: minutes ago
    await store(
        uow,
        *(make_update(n, at=now - timedelta(minutes=m), chat_id=n) for n, m in arrivals.items()),
    )
    assert await claim(uow) == [(1, 1), (2, 1), (3, 1)]
    assert await oldest_pending_at(uow) == now - timedelta(minutes=3)
    await done(uow, 2)
    assert await oldest_pending_at(uow) == now - timedelta(minutes=2)
    await park(uow, 3, ReasonCode.INTERNAL_ERROR)
    assert await oldest_pending_at(uow) == now - timedelta(minutes=1)
    await done(uow, 1)
    assert await oldest_pending_at(uow) is None


async def test_uncommitted_claims_and_parks_are_rolled_back(uow: Store) -> None:
    now = uow.now()
    await store(uow, make_update(1, at=now), make_update(2, at=now, chat_id=2))
    async with uow() as tx:
        assert len(await tx.inbox.claim(limit=10, lease=LONG)) == 2
        await tx.inbox.park(BOT, 2, ReasonCode.INTERNAL_ERROR)
    assert await claim(uow) == [(1, 1), (2, 1)]
    async with uow() as tx:
        assert await tx.inbox.parked(limit=10) == []


async def prune(uow: Store, before: datetime) -> int:
    async with uow() as tx:
        pruned = await tx.inbox.prune(before)
        await tx.commit()
    return pruned


async def test_prune_deletes_only_updates_done_before_the_cutoff(uow: Store) -> None:
    now = uow.now()
    await store(uow, *(make_update(n, at=now, chat_id=n) for n in (1, 2, 3, 4)))
    await done(uow, 1)
    await park(uow, 3, ReasonCode.INTERNAL_ERROR)
    assert await claim(uow) == [(2, 1), (4, 1)]
    await uow.elapse(uow.tick)
    cutoff = uow.now()
    await uow.elapse(uow.tick)
    await done(uow, 2)
    assert await prune(uow, cutoff) == 1
    assert await prune(uow, cutoff) == 0
    async with uow() as tx:
        assert await tx.inbox.store(make_update(2, at=now)) is False
        assert await tx.inbox.store(make_update(1, at=now)) is True
        await tx.commit()
    assert await prune(uow, uow.now() + timedelta(days=1)) == 1
    assert await pending(uow) == [1, 4]
    async with uow() as tx:
        assert [u.update_id for u, _ in await tx.inbox.parked(limit=10)] == [3]
        assert await tx.inbox.store(make_update(2, at=now)) is True
        assert await tx.inbox.store(make_update(3, at=now)) is False
        assert await tx.inbox.store(make_update(4, at=now)) is False


async def test_prune_keeps_live_and_parked_updates_however_old(uow: Store) -> None:
    long_ago = uow.now() - timedelta(days=365)
    await store(uow, *(make_update(n, at=long_ago, chat_id=n) for n in (1, 2)))
    await park(uow, 2, ReasonCode.INTERNAL_ERROR)
    assert await prune(uow, uow.now() + timedelta(days=1)) == 0
    assert await pending(uow) == [1]
    async with uow() as tx:
        assert len(await tx.inbox.parked(limit=10)) == 1


async def test_an_uncommitted_prune_is_rolled_back(uow: Store) -> None:
    await store(uow, make_update(1, at=uow.now()))
    await done(uow, 1)
    async with uow() as tx:
        assert await tx.inbox.prune(uow.now() + timedelta(days=1)) == 1
    async with uow() as tx:
        assert await tx.inbox.store(make_update(1, at=uow.now())) is False
