import pytest

from tests.contracts.builders import make_update
from tests.contracts.stores import BACKENDS, Store

pytestmark = pytest.mark.parametrize("uow", BACKENDS, indirect=True)


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
