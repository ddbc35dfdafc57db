import attrs
import pytest

from kiebot_core.domain.audit import cli_actor
from kiebot_core.domain.errors import StarsError
from kiebot_core.domain.ids import GenerationId, PaymentChargeId, UserId
from kiebot_core.domain.ledger import Balance, LedgerKind, hold
from kiebot_core.domain.outcomes import Rejected
from kiebot_core.domain.payments import PaymentState
from kiebot_core.domain.reasons import ReasonCode
from kiebot_core.domain.reconciliation import MismatchKind
from kiebot_core.testing.memory import MemoryDatabase, MemoryUnitOfWorkFactory
from kiebot_core.testing.runtime import FrozenClock, SequentialIds
from kiebot_core.testing.stars import MemoryStarsAccount
from kiebot_core.use_cases.payments import (
    ChargeRefunded,
    Payments,
    reconcile_payments,
    refund_charge,
    register_payment,
)

OPERATOR = cli_actor("tester")

USER = UserId(42)
CHARGE = PaymentChargeId("stx_1")


@attrs.define
class Desk:
    payments: Payments
    store: MemoryUnitOfWorkFactory
    account: MemoryStarsAccount

    async def paid(self, charge: str = CHARGE, stars: int = 100) -> None:
        """A user paid at Telegram and the bot registered it (credited as paid)."""
        self.account.pay(charge, USER, stars)
        await register_payment(self.payments, PaymentChargeId(charge), USER, "ord_x.t1", stars)

    async def state(self) -> tuple[Balance, list[LedgerKind], PaymentState | None]:
        async with self.store() as uow:
            history = await uow.ledger.history(USER, limit=50)
            payment = await uow.payments.get(CHARGE)
            return (
                await uow.ledger.balance(USER),
                [t.kind for t in reversed(history)],
                None if payment is None else payment.state,
            )

    async def spend(self, stars: int) -> None:
        async with self.store() as uow:
            planned = hold(await uow.ledger.balance(USER), USER, stars, GenerationId("gen_1"))
            assert not isinstance(planned, Rejected)
            await uow.ledger.append(planned)
            await uow.commit()

    async def refund(self) -> ChargeRefunded:
        refunded = await refund_charge(self.payments, self.account, CHARGE, by=OPERATOR)
        assert isinstance(refunded, ChargeRefunded), refunded
        return refunded


@pytest.fixture
def desk() -> Desk:
    clock = FrozenClock()
    store = MemoryUnitOfWorkFactory(MemoryDatabase(clock))
    payments = Payments(uow=store, clock=clock, ids=SequentialIds())
    return Desk(payments, store, MemoryStarsAccount(clock))


async def test_an_unspent_purchase_is_refunded_at_telegram_and_booked_once(desk: Desk):
    await desk.paid()
    refunded = await desk.refund()
    assert refunded.refunded_now
    assert refunded.booked.is_new
    assert refunded.booked.payment.state is PaymentState.REFUNDED
    assert desk.account.refund_calls == 1
    assert await desk.state() == (
        Balance(),
        [LedgerKind.PURCHASE, LedgerKind.PURCHASE_REFUND],
        PaymentState.REFUNDED,
    )


async def test_a_spent_purchase_refunded_by_the_operator_becomes_debt(desk: Desk):
    await desk.paid()
    await desk.spend(80)
    refunded = await desk.refund()
    assert refunded.booked.balance == Balance(available=0, held=80, debt=80)


async def test_refunding_again_changes_nothing(desk: Desk):
    await desk.paid()
    await desk.refund()
    again = await desk.refund()
    assert not again.refunded_now
    assert not again.booked.is_new
    assert desk.account.refund_calls == 2
    _, kinds, _ = await desk.state()
    assert kinds == [LedgerKind.PURCHASE, LedgerKind.PURCHASE_REFUND]


async def test_a_refund_telegram_made_before_is_booked_now(desk: Desk):
    await desk.paid()
    assert await desk.account.refund(USER, CHARGE)
    refunded = await desk.refund()
    assert not refunded.refunded_now
    assert refunded.booked.is_new
    assert (await desk.state())[2] is PaymentState.REFUNDED


async def test_an_unknown_charge_is_refused_without_asking_telegram(desk: Desk):
    refused = await refund_charge(
        desk.payments, desk.account, PaymentChargeId("stx_nope"), by=OPERATOR
    )
    assert isinstance(refused, Rejected)
    assert refused.reason is ReasonCode.PAYMENT_INVALID
    assert desk.account.refund_calls == 0


async def test_a_refund_telegram_refuses_books_nothing(desk: Desk):
    await register_payment(desk.payments, CHARGE, USER, "ord_x.t1", 100)
    with pytest.raises(StarsError, match="CHARGE_NOT_FOUND"):
        await refund_charge(desk.payments, desk.account, CHARGE, by=OPERATOR)
    assert await desk.state() == (Balance(available=100), [LedgerKind.PURCHASE], "processed")


async def test_reconcile_reads_both_sides_and_changes_nothing(desk: Desk):
    await desk.paid()
    assert await reconcile_payments(desk.payments, desk.account) == []
    desk.account.pay("stx_planted", USER, 50)
    await desk.account.refund(USER, CHARGE)
    before = await desk.state()
    mismatches = await reconcile_payments(desk.payments, desk.account)
    assert [(m.charge_id, m.kind) for m in mismatches] == [
        (CHARGE, MismatchKind.REFUND_NOT_BOOKED),
        ("stx_planted", MismatchKind.MISSING_IN_STORE),
    ]
    assert await desk.state() == before
