import pytest

from kiebot_core.domain import ledger
from kiebot_core.domain.errors import StaleWriteError
from kiebot_core.domain.ids import IdempotencyKey, UserId
from kiebot_core.domain.ledger import AccountKind, Balance, Entry, LedgerKind, LedgerTransaction
from kiebot_core.domain.outcomes import Rejected
from tests.contracts.stores import BACKENDS, Store

pytestmark = pytest.mark.parametrize("uow", BACKENDS, indirect=True)

ALICE = UserId(1)
BOB = UserId(2)


def planned(outcome: LedgerTransaction | Rejected) -> LedgerTransaction:
    assert isinstance(outcome, LedgerTransaction), outcome
    return outcome


async def record(uow: Store, *transactions: LedgerTransaction) -> list[LedgerTransaction]:
    async with uow() as tx:
        recorded = [await tx.ledger.append(t) for t in transactions]
        await tx.commit()
    return recorded


async def balance_of(uow: Store, user_id: UserId) -> Balance:
    async with uow() as tx:
        return await tx.ledger.balance(user_id)


async def test_a_user_without_transactions_has_a_zero_balance(uow: Store) -> None:
    assert await balance_of(uow, ALICE) == Balance()
    async with uow() as tx:
        assert await tx.ledger.history(ALICE, limit=10) == []
        assert await tx.ledger.get(IdempotencyKey("grant:none")) is None


async def test_a_transaction_moves_the_balance_and_reads_back_equal(uow: Store) -> None:
    grant = planned(ledger.grant(ALICE, 50, "welcome"))
    assert await record(uow, grant) == [grant]
    assert await balance_of(uow, ALICE) == Balance(available=50)
    async with uow() as tx:
        assert await tx.ledger.get(grant.key) == grant
        assert await tx.ledger.history(ALICE, limit=10) == [grant]
        assert await tx.ledger.history(BOB, limit=10) == []


async def test_the_same_key_twice_changes_nothing_and_returns_the_first(uow: Store) -> None:
    first = planned(ledger.grant(ALICE, 50, "promo"))
    second = planned(ledger.grant(ALICE, 70, "promo"))
    assert first.key == second.key
    assert await record(uow, first, second) == [first, first]
    assert await record(uow, second) == [first]
    assert await balance_of(uow, ALICE) == Balance(available=50)
    async with uow() as tx:
        assert await tx.ledger.history(ALICE, limit=10) == [first]


async def test_overdrawing_is_a_stale_write_and_changes_nothing(uow: Store) -> None:
    await record(uow, planned(ledger.grant(ALICE, 10, "welcome")))
    # Planned against a balance that no longer holds.
    overdraw = planned(ledger.hold(Balance(available=30), ALICE, 30, "gen_1"))
    async with uow() as tx:
        with pytest.raises(StaleWriteError):
            await tx.ledger.append(overdraw)
        assert await tx.ledger.get(overdraw.key) is None
        # The unit of work is still usable after the refusal.
        hold = planned(ledger.hold(await tx.ledger.balance(ALICE), ALICE, 10, "gen_1"))
        assert await tx.ledger.append(hold) == hold
        await tx.commit()
    assert await balance_of(uow, ALICE) == Balance(held=10)


async def test_a_hold_is_captured_with_the_rest_released(uow: Store) -> None:
    await record(uow, planned(ledger.grant(ALICE, 100, "welcome")))
    hold = planned(ledger.hold(await balance_of(uow, ALICE), ALICE, 40, "gen_1"))
    await record(uow, hold)
    assert await balance_of(uow, ALICE) == Balance(available=60, held=40)
    capture = planned(ledger.capture(ALICE, 40, 25, "gen_1"))
    await record(uow, capture)
    assert await balance_of(uow, ALICE) == Balance(available=75)


async def test_a_hold_settles_once_whichever_comes_first(uow: Store) -> None:
    await record(uow, planned(ledger.grant(ALICE, 100, "welcome")))
    await record(uow, planned(ledger.hold(await balance_of(uow, ALICE), ALICE, 40, "gen_1")))
    capture = planned(ledger.capture(ALICE, 40, 40, "gen_1"))
    release = planned(ledger.release(ALICE, 40, "gen_1"))
    assert await record(uow, capture, release) == [capture, capture]
    assert await record(uow, release) == [capture]
    assert await balance_of(uow, ALICE) == Balance(available=60)
    async with uow() as tx:
        kinds = [t.kind for t in await tx.ledger.history(ALICE, limit=10)]
    assert kinds == [LedgerKind.CAPTURE, LedgerKind.HOLD, LedgerKind.GRANT]


async def test_a_refund_returns_captured_stars(uow: Store) -> None:
    await record(uow, planned(ledger.grant(ALICE, 20, "welcome")))
    await record(uow, planned(ledger.hold(await balance_of(uow, ALICE), ALICE, 20, "gen_1")))
    await record(uow, planned(ledger.capture(ALICE, 20, 20, "gen_1")))
    await record(uow, planned(ledger.refund(ALICE, 20, "gen_1")))
    assert await balance_of(uow, ALICE) == Balance(available=20)


async def test_a_forced_purchase_refund_books_debt_that_the_next_purchase_pays(uow: Store) -> None:
    await record(uow, planned(ledger.purchase(Balance(), ALICE, 100, "charge_1")))
    await record(uow, planned(ledger.hold(await balance_of(uow, ALICE), ALICE, 70, "gen_1")))
    await record(uow, planned(ledger.capture(ALICE, 70, 70, "gen_1")))
    refund = planned(ledger.purchase_refund(await balance_of(uow, ALICE), ALICE, 100, "charge_1"))
    await record(uow, refund)
    assert await balance_of(uow, ALICE) == Balance(debt=70)
    await record(
        uow, planned(ledger.purchase(await balance_of(uow, ALICE), ALICE, 50, "charge_2"))
    )
    assert await balance_of(uow, ALICE) == Balance(debt=20)
    await record(
        uow, planned(ledger.purchase(await balance_of(uow, ALICE), ALICE, 50, "charge_3"))
    )
    assert await balance_of(uow, ALICE) == Balance(available=30)


async def test_entries_keep_their_order_and_accounts(uow: Store) -> None:
    odd = LedgerTransaction(
        key=IdempotencyKey("grant:odd"),
        kind=LedgerKind.GRANT,
        user_id=ALICE,
        entries=(
            Entry(AccountKind.AVAILABLE, 5),
            Entry(AccountKind.PROMOTIONS, -7),
            Entry(AccountKind.AVAILABLE, 2),
        ),
        reference="odd",
    )
    await record(uow, odd)
    async with uow() as tx:
        assert await tx.ledger.get(odd.key) == odd
    assert await balance_of(uow, ALICE) == Balance(available=7)


async def test_history_is_newest_first_up_to_the_limit(uow: Store) -> None:
    grants = [planned(ledger.grant(ALICE, n, f"g{n}")) for n in range(1, 6)]
    await record(uow, *grants)
    await record(uow, planned(ledger.grant(BOB, 9, "bob")))
    async with uow() as tx:
        assert await tx.ledger.history(ALICE, limit=3) == grants[::-1][:3]
        assert await tx.ledger.history(ALICE, limit=0) == []


async def test_an_uncommitted_transaction_is_rolled_back(uow: Store) -> None:
    grant = planned(ledger.grant(ALICE, 50, "welcome"))
    async with uow() as tx:
        await tx.ledger.append(grant)
        assert await tx.ledger.balance(ALICE) == Balance(available=50)
    assert await balance_of(uow, ALICE) == Balance()
    async with uow() as tx:
        assert await tx.ledger.get(grant.key) is None
