"""The update inbox's order per chat while claimers really race, on the stores that run in
parallel (each racer has its own connection: the ``racers`` fixture)."""

import asyncio
from collections import defaultdict
from datetime import UTC, datetime, timedelta

from kiebot_core.domain.coordination import InboxUpdate
from kiebot_core.ports.storage import UnitOfWorkFactory
from tests.contracts.builders import make_update
from tests.contracts.stores import Racers

LONG = timedelta(minutes=5)
"""A lease that outlives every test."""
CHATS = 10
PER_CHAT = 5
CHATLESS = 5
CLAIMERS = 6


def updates() -> list[InboxUpdate]:
    """``PER_CHAT`` updates in each of ``CHATS`` chats, interleaved, then a few without a chat."""
    now = datetime.now(UTC)
    in_chats = [
        make_update(1 + turn * CHATS + chat, at=now, chat_id=chat)
        for turn in range(PER_CHAT)
        for chat in range(CHATS)
    ]
    first = len(in_chats) + 1
    return in_chats + [
        make_update(n, at=now, chat_id=None) for n in range(first, first + CHATLESS)
    ]


async def store(factory: UnitOfWorkFactory, every: list[InboxUpdate]) -> None:
    async with factory() as tx:
        for update in every:
            await tx.inbox.store(update)
        await tx.commit()


async def test_a_claim_skips_what_a_concurrent_claim_holds(racers: Racers) -> None:
    first, second = racers(), racers()
    now = datetime.now(UTC)
    await store(first, [make_update(n, at=now, chat_id=n // 10) for n in (1, 2, 11, 12)])

    async def claim_meanwhile() -> list[int]:
        async with second() as tx:
            claimed = await tx.inbox.claim(limit=10, lease=LONG)
            await tx.commit()
        return [u.update_id for u in claimed]

    async with first() as tx:
        assert [u.update_id for u in await tx.inbox.claim(limit=1, lease=LONG)] == [1]
        meanwhile = asyncio.create_task(claim_meanwhile())
        await asyncio.sleep(0.2)  # PostgreSQL answers now; SQLite waits for the write lock
        await tx.commit()
    assert await meanwhile == [11]


async def test_racing_claimers_process_each_update_once_in_order_per_chat(
    racers: Racers,
) -> None:
    every, shared = updates(), racers()
    await store(shared, every)
    processed: list[int] = []
    by_chat: dict[int, list[int]] = defaultdict(list)
    in_flight: set[int] = set()
    barrier = asyncio.Barrier(CLAIMERS)

    async def process(own: UnitOfWorkFactory, update: InboxUpdate) -> None:
        await asyncio.sleep(0.001)
        async with own() as tx:
            processed.append(update.update_id)
            if update.chat_id is not None:
                by_chat[update.chat_id].append(update.update_id)
                in_flight.remove(update.chat_id)
            await tx.inbox.done(update.bot_id, update.update_id)
            await tx.commit()

    async def claimer() -> None:
        own = racers()
        await barrier.wait()
        while True:
            async with own() as tx:
                claimed = await tx.inbox.claim(limit=3, lease=LONG)
                left = claimed or await tx.inbox.pending(limit=1)
                await tx.commit()
            if not left:
                return
            chats = [u.chat_id for u in claimed if u.chat_id is not None]
            assert not in_flight.intersection(chats), "a chat has two updates in flight"
            in_flight.update(chats)
            for update in claimed:
                assert update.attempts == 1
                await process(own, update)
            if not claimed:
                await asyncio.sleep(0.005)

    await asyncio.gather(*(claimer() for _ in range(CLAIMERS)))
    assert sorted(processed) == sorted(u.update_id for u in every)
    assert len(processed) == len(set(processed))
    expected: dict[int, list[int]] = defaultdict(list)
    for update in every:
        if update.chat_id is not None:
            expected[update.chat_id].append(update.update_id)
    assert by_chat == expected
    async with shared() as tx:
        assert await tx.inbox.pending(limit=10) == []
        assert await tx.inbox.oldest_pending_at() is None
