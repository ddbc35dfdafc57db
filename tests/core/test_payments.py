from datetime import timedelta
from typing import Any

import attrs
import pytest

from kiebot_core.domain.errors import SettingsError
from kiebot_core.domain.ids import GenerationId, OrderId, PaymentChargeId, UserId
from kiebot_core.domain.ledger import Balance, LedgerKind, hold
from kiebot_core.domain.outcomes import Rejected
from kiebot_core.domain.payments import (
    Order,
    PaymentSettings,
    PaymentState,
    StarPackage,
    parse_payload,
    parse_star_packages,
    smallest_covering,
)
from kiebot_core.domain.reasons import ReasonCode
from kiebot_core.domain.settings import payment_settings_from_env
from kiebot_core.domain.texts import Language
from kiebot_core.domain.users import User
from kiebot_core.testing.memory import MemoryDatabase, MemoryUnitOfWorkFactory
from kiebot_core.testing.runtime import FrozenClock, SequentialIds
from kiebot_core.testing.stars import MemoryStarsAccount
from kiebot_core.use_cases.payments import (
    PaymentRegistered,
    Payments,
    accept_terms,
    check_pre_checkout,
    create_order,
    purchases,
    record_purchase_refund,
    refund_purchase,
    refundable_purchase,
    register_payment,
)

USER = UserId(42)
OTHER = UserId(43)


# ------------------------------------------------------------------ pure rules


def test_default_packages_follow_the_settled_defaults():
    packages = PaymentSettings().packages
    assert [(p.stars, p.bonus_percent) for p in packages] == [
        (50, 0),
        (100, 5),
        (250, 10),
        (500, 15),
        (1000, 20),
    ]
    assert [p.credited for p in packages] == [50, 105, 275, 575, 1200]
    assert packages[1].label == "100 ⭐ +5%"
    assert packages[0].label == "50 ⭐"


def test_packages_are_parsed_and_sorted():
    assert parse_star_packages(" 300:7%, 20 ") == (StarPackage(20), StarPackage(300, 7))


@pytest.mark.parametrize("raw", ["", "abc", "0", "20000", "100:101", "100,100:5", "100:-1"])
def test_malformed_packages_are_refused(raw):
    with pytest.raises(ValueError, match=r"."):
        parse_star_packages(raw)


def test_payment_settings_come_from_the_environment():
    settings = payment_settings_from_env(
        {"KIEBOT_STAR_PACKAGES": "10,20:50", "KIEBOT_TERMS_VERSION": "3"}
    )
    assert settings.packages == (StarPackage(10), StarPackage(20, 50))
    assert settings.terms_version == 3
    assert payment_settings_from_env({}) == PaymentSettings()
    with pytest.raises(SettingsError, match="KIEBOT_STAR_PACKAGES"):
        payment_settings_from_env({"KIEBOT_STAR_PACKAGES": "x"})
    with pytest.raises(SettingsError, match="KIEBOT_TERMS_VERSION"):
        payment_settings_from_env({"KIEBOT_TERMS_VERSION": "0"})


def test_the_smallest_covering_package():
    packages = PaymentSettings().packages
    assert smallest_covering(packages, 60) == StarPackage(100, 5)
    assert smallest_covering(packages, 105) == StarPackage(100, 5)
    assert smallest_covering(packages, 5000) is None


def test_a_payload_is_short_and_carries_the_order_and_terms():
    order = Order(
        id=OrderId("ord_0123456789abcdef"),
        user_id=USER,
        stars=100,
        bonus=5,
        terms_version=2,
        created_at=FrozenClock().now(),
    )
    assert order.payload == "ord_0123456789abcdef.t2"
    assert len(order.payload.encode()) <= 128
    assert parse_payload(order.payload) == (order.id, 2)
    for forged in ("", "{}", "ord_1", "ord_1.t", "x.t1", "ord_1.t1;drop", "ORD_1.t1"):
        assert parse_payload(forged) is None


# ------------------------------------------------------------------ use cases


@attrs.define
class Desk:
    payments: Payments
    clock: FrozenClock
    store: MemoryUnitOfWorkFactory

    async def balance(self, user_id: UserId = USER) -> Balance:
        async with self.store() as uow:
            return await uow.ledger.balance(user_id)

    async def kinds(self, user_id: UserId = USER) -> list[LedgerKind]:
        async with self.store() as uow:
            return [t.kind for t in reversed(await uow.ledger.history(user_id, limit=50))]

    async def pay(self, order: Order, charge: str, user_id: UserId = USER) -> PaymentRegistered:
        return await register_payment(
            self.payments, PaymentChargeId(charge), user_id, order.payload, order.stars
        )

    async def spend(self, stars: int, generation: str = "gen_1") -> None:
        async with self.store() as uow:
            balance = await uow.ledger.balance(USER)
            planned = hold(balance, USER, stars, GenerationId(generation))
            assert not isinstance(planned, Rejected)
            await uow.ledger.append(planned)
            await uow.commit()


@pytest.fixture
async def desk() -> Desk:
    clock = FrozenClock()
    store = MemoryUnitOfWorkFactory(MemoryDatabase(clock))
    payments = Payments(uow=store, clock=clock, ids=SequentialIds())
    async with store() as uow:
        for user_id in (USER, OTHER):
            await uow.users.add(User(id=user_id, language=Language.EN, created_at=clock.now()))
        await uow.commit()
    return Desk(payments, clock, store)


async def ordered(desk: Desk, stars: int = 100, user_id: UserId = USER) -> Order:
    accepted = await accept_terms(desk.payments, user_id, desk.payments.settings.terms_version)
    assert not isinstance(accepted, Rejected)
    order = await create_order(desk.payments, user_id, stars)
    assert isinstance(order, Order), order
    return order


async def test_an_order_needs_the_current_terms(desk: Desk):
    refused = await create_order(desk.payments, USER, 100)
    assert isinstance(refused, Rejected)
    assert refused.reason is ReasonCode.TERMS_NOT_ACCEPTED
    stale = await accept_terms(desk.payments, USER, 7)
    assert isinstance(stale, Rejected)
    assert stale.reason is ReasonCode.TERMS_CHANGED
    user = await accept_terms(desk.payments, USER, 1)
    assert isinstance(user, User)
    assert user.terms_version == 1
    order = await create_order(desk.payments, USER, 100)
    assert isinstance(order, Order)
    assert (order.stars, order.bonus, order.terms_version) == (100, 5, 1)
    assert order.expires_at == desk.clock.now() + timedelta(hours=24)


async def test_an_order_for_a_package_not_on_offer_is_refused(desk: Desk):
    await accept_terms(desk.payments, USER, 1)
    refused = await create_order(desk.payments, USER, 77)
    assert isinstance(refused, Rejected)
    assert refused.reason is ReasonCode.PAYMENT_INVALID


async def test_a_valid_pre_checkout_is_approved(desk: Desk):
    order = await ordered(desk)
    approved = await check_pre_checkout(desk.payments, USER, order.payload, 100, "XTR")
    assert approved == order


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"user_id": OTHER}, ReasonCode.PAYMENT_INVALID),
        ({"total": 99}, ReasonCode.PAYMENT_INVALID),
        ({"currency": "USD"}, ReasonCode.PAYMENT_INVALID),
        ({"payload": "ord_999.t1"}, ReasonCode.PAYMENT_INVALID),
        ({"payload": '{"stars": 100}'}, ReasonCode.PAYMENT_INVALID),
        ({"payload": "ord_1.t2"}, ReasonCode.TERMS_CHANGED),
    ],
)
async def test_a_bad_pre_checkout_is_refused(desk: Desk, change, reason):
    order = await ordered(desk)
    query: dict[str, Any] = {
        "user_id": USER,
        "payload": order.payload,
        "total": 100,
        "currency": "XTR",
    }
    query.update(change)
    refused = await check_pre_checkout(desk.payments, **query)
    assert isinstance(refused, Rejected)
    assert refused.reason is reason


async def test_an_expired_order_is_refused(desk: Desk):
    order = await ordered(desk)
    desk.clock.advance(timedelta(hours=24))
    refused = await check_pre_checkout(desk.payments, USER, order.payload, 100, "XTR")
    assert isinstance(refused, Rejected)
    assert refused.reason is ReasonCode.ORDER_EXPIRED


async def test_an_order_of_older_terms_is_refused(desk: Desk):
    order = await ordered(desk)
    newer = attrs.evolve(desk.payments, settings=PaymentSettings(terms_version=2))
    refused = await check_pre_checkout(newer, USER, order.payload, 100, "XTR")
    assert isinstance(refused, Rejected)
    assert refused.reason is ReasonCode.TERMS_CHANGED


async def test_a_payment_credits_the_package_with_its_bonus_exactly_once(desk: Desk):
    order = await ordered(desk)
    first = await desk.pay(order, "charge_1")
    assert first.is_new
    assert first.payment.state is PaymentState.PROCESSED
    assert (first.payment.stars, first.payment.credited) == (100, 105)
    assert first.balance.available == 105
    again = await desk.pay(order, "charge_1")
    assert not again.is_new
    assert again.balance.available == 105
    assert await desk.kinds() == [LedgerKind.PURCHASE]


async def test_the_same_order_paid_twice_is_two_charges_and_two_credits(desk: Desk):
    order = await ordered(desk)
    await desk.pay(order, "charge_1")
    second = await desk.pay(order, "charge_2")
    assert second.is_new
    assert second.balance.available == 210
    assert await desk.kinds() == [LedgerKind.PURCHASE, LedgerKind.PURCHASE]


async def test_a_payment_without_a_matching_order_is_credited_as_paid(desk: Desk):
    registered = await register_payment(desk.payments, PaymentChargeId("c"), USER, "junk", 30)
    assert registered.payment.credited == 30
    assert registered.balance.available == 30


async def test_a_purchase_pays_the_debt_first(desk: Desk):
    order = await ordered(desk)
    await desk.pay(order, "charge_1")
    await desk.spend(100)
    forced = await record_purchase_refund(desk.payments, USER, PaymentChargeId("charge_1"))
    assert not isinstance(forced, Rejected)
    assert forced.balance == Balance(available=0, held=100, debt=100)
    topped = await desk.pay(order, "charge_2")
    assert topped.balance == Balance(available=5, held=100, debt=0)


async def test_an_unspent_purchase_can_be_refunded(desk: Desk):
    order = await ordered(desk)
    await desk.pay(order, "charge_1")
    listed = await purchases(desk.payments, USER)
    assert [p.refundable for p in listed] == [True]
    account = MemoryStarsAccount()
    account.pay("charge_1", USER, order.stars)
    refunded = await refund_purchase(desk.payments, account, USER, PaymentChargeId("charge_1"))
    assert not isinstance(refunded, Rejected)
    assert account.refund_calls == 1
    assert refunded.is_new
    assert refunded.payment.state is PaymentState.REFUNDED
    assert refunded.balance == Balance()
    replay = await record_purchase_refund(desk.payments, USER, PaymentChargeId("charge_1"))
    assert not isinstance(replay, Rejected)
    assert not replay.is_new
    assert await desk.kinds() == [LedgerKind.PURCHASE, LedgerKind.PURCHASE_REFUND]
    again = await refund_purchase(desk.payments, account, USER, PaymentChargeId("charge_1"))
    assert isinstance(again, Rejected)
    assert again.reason is ReasonCode.REFUND_NOT_ALLOWED
    assert account.refund_calls == 1  # refused before Telegram is asked


async def test_a_spent_purchase_cannot_be_refunded_by_the_user(desk: Desk):
    order = await ordered(desk)
    await desk.pay(order, "charge_1")
    await desk.spend(10)
    refused = await refundable_purchase(desk.payments, USER, PaymentChargeId("charge_1"))
    assert isinstance(refused, Rejected)
    assert refused.reason is ReasonCode.REFUND_NOT_ALLOWED
    assert [p.refundable for p in await purchases(desk.payments, USER)] == [False]


async def test_an_old_purchase_cannot_be_refunded_by_the_user(desk: Desk):
    order = await ordered(desk)
    await desk.pay(order, "charge_1")
    desk.clock.advance(timedelta(days=31))
    refused = await refundable_purchase(desk.payments, USER, PaymentChargeId("charge_1"))
    assert isinstance(refused, Rejected)


async def test_another_users_purchase_cannot_be_refunded(desk: Desk):
    order = await ordered(desk)
    await desk.pay(order, "charge_1")
    refused = await refundable_purchase(desk.payments, OTHER, PaymentChargeId("charge_1"))
    assert isinstance(refused, Rejected)
    forced = await record_purchase_refund(desk.payments, OTHER, PaymentChargeId("charge_1"))
    assert isinstance(forced, Rejected)
    assert (await desk.balance()).available == 105


async def test_a_forced_refund_after_spending_books_debt_never_a_negative_balance(desk: Desk):
    order = await ordered(desk)
    await desk.pay(order, "charge_1")
    await desk.spend(80)
    forced = await record_purchase_refund(desk.payments, USER, PaymentChargeId("charge_1"))
    assert not isinstance(forced, Rejected)
    assert forced.balance == Balance(available=0, held=80, debt=80)
    async with desk.store() as uow:
        blocked = hold(await uow.ledger.balance(USER), USER, 1, GenerationId("gen_2"))
    assert isinstance(blocked, Rejected)
    assert blocked.reason is ReasonCode.IN_DEBT
