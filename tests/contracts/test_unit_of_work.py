import pytest

from kiebot_core.domain import ledger
from kiebot_core.domain.coordination import Conversation
from kiebot_core.domain.ids import UserId
from kiebot_core.domain.ledger import Balance, LedgerTransaction
from tests.contracts.builders import make_generation, make_payment, make_update, make_user
from tests.contracts.stores import BACKENDS, Store

pytestmark = pytest.mark.parametrize("uow", BACKENDS, indirect=True)


class BoomError(Exception):
    pass


def welcome(user_id: int) -> LedgerTransaction:
    grant = ledger.grant(UserId(user_id), 10, f"welcome-{user_id}")
    assert isinstance(grant, LedgerTransaction)
    return grant


async def test_nothing_is_kept_without_commit(uow: Store) -> None:
    now = uow.now()
    async with uow() as tx:
        await tx.users.add(make_user(1, at=now))
        await tx.generations.add(make_generation(at=now))
        await tx.ledger.append(welcome(1))
        await tx.payments.add(make_payment(at=now))
        await tx.inbox.store(make_update(1, at=now))
        await tx.toggles.set("veo3", enabled=False)
        await tx.conversations.put(Conversation(bot_id=7, chat_id=42, user_id=1, state="x"))
    async with uow() as tx:
        assert await tx.users.get(UserId(1)) is None
        assert await tx.generations.for_user(UserId(1), limit=10) == []
        assert await tx.ledger.balance(UserId(1)) == Balance()
        assert await tx.payments.get(make_payment(at=now).charge_id) is None
        assert await tx.inbox.pending(limit=10) == []
        assert dict(await tx.toggles.overrides()) == {}
        assert await tx.conversations.get(7, 42, 1) is None


async def test_commit_publishes_every_change_at_once(uow: Store) -> None:
    now = uow.now()
    async with uow() as tx:
        await tx.users.add(make_user(1, at=now))
        await tx.ledger.append(welcome(1))
        await tx.commit()
    async with uow() as tx:
        assert await tx.users.get(UserId(1)) == make_user(1, at=now)
        assert await tx.ledger.balance(UserId(1)) == Balance(available=10)


async def test_a_unit_of_work_reads_its_own_writes(uow: Store) -> None:
    now = uow.now()
    async with uow() as tx:
        await tx.users.add(make_user(1, at=now))
        await tx.ledger.append(welcome(1))
        assert await tx.users.get(UserId(1)) == make_user(1, at=now)
        assert await tx.ledger.balance(UserId(1)) == Balance(available=10)


async def test_changes_after_a_commit_need_another_commit(uow: Store) -> None:
    now = uow.now()
    async with uow() as tx:
        await tx.users.add(make_user(1, at=now))
        await tx.commit()
        await tx.users.add(make_user(2, at=now))
        await tx.ledger.append(welcome(1))
    async with uow() as tx:
        assert await tx.users.get(UserId(1)) is not None
        assert await tx.users.get(UserId(2)) is None
        assert await tx.ledger.balance(UserId(1)) == Balance()
        await tx.users.add(make_user(2, at=now))
        await tx.commit()
        await tx.users.add(make_user(3, at=now))
        await tx.commit()
    async with uow() as tx:
        assert await tx.users.get(UserId(2)) is not None
        assert await tx.users.get(UserId(3)) is not None


async def test_an_exception_rolls_back_and_propagates(uow: Store) -> None:
    async def fail_half_way() -> None:
        async with uow() as tx:
            await tx.users.add(make_user(1, at=uow.now()))
            raise BoomError

    with pytest.raises(BoomError):
        await fail_half_way()
    async with uow() as tx:
        assert await tx.users.get(UserId(1)) is None


async def test_units_of_work_follow_one_another(uow: Store) -> None:
    for user_id in range(1, 6):
        async with uow() as tx:
            await tx.ledger.append(welcome(user_id))
            await tx.commit()
    async with uow() as tx:
        balances = [await tx.ledger.balance(UserId(n)) for n in range(1, 6)]
    assert balances == [Balance(available=10)] * 5
