"""Telegram Stars top-ups, pre-checkout, refunds and debt, through the bot and the fake API."""

import re
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from kiebot_core.domain.ids import OrderId, UserId
from kiebot_core.domain.ledger import Balance, LedgerKind
from kiebot_core.domain.payments import Order
from kiebot_core.domain.reasons import ReasonCode, reason_text
from kiebot_core.domain.texts import Language
from kiebot_core.ports.storage import UnitOfWorkFactory
from tests.telegram.fake_bot_api import FakeBotApi, FakeUser
from tests.telegram.flows import kinds, ledger, open_model, wait_finished
from tests.telegram.harness import RunningBot, running_bot

BANANA = "nano-banana-pro"  # 15 ⭐ with the defaults


@pytest.fixture
def store(memory_and_pg: UnitOfWorkFactory) -> UnitOfWorkFactory:
    """Every payment flow runs on the in-memory store and on PostgreSQL."""
    return memory_and_pg


@pytest.fixture
async def bot(api: FakeBotApi, store: UnitOfWorkFactory) -> AsyncIterator[RunningBot]:
    """The bot without a welcome gift: every Star here was bought."""
    async with running_bot(api, store, welcome_stars=0) as running:
        yield running
    assert not api.errors(400), [(c.method, c.description) for c in api.errors(400)]
    assert not api.unanswered(), api.unanswered()
    assert not api.unanswered_pre_checkouts(), api.unanswered_pre_checkouts()


async def order_invoice(user: FakeUser, package: str = "50 ⭐") -> None:
    """/balance → Top up → a package (accepting the terms when asked): an invoice arrives."""
    await user.send("/balance")
    await user.press("⭐ Top up")
    await user.press(package)
    if "Terms of sale" in user.last().shown:
        await user.press("✅ I accept")
    await user.wait_for(user.invoices)


async def top_up(user: FakeUser, package: str = "50 ⭐") -> str:
    invoices = len(user.invoices())
    await order_invoice(user, package)
    assert len(user.invoices()) == invoices + 1
    charge = await user.pay()
    assert charge is not None, user.transcript()
    return charge


async def spend(bot: RunningBot, user: FakeUser, count: int = 1) -> None:
    """Run one paid generation (15 ⭐) to its delivery."""
    await open_model(user, BANANA)
    await user.send("a red fox in the snow")
    await user.press("⏩ Skip optional")
    await user.press("✅ Confirm · 15 ⭐")
    await wait_finished(bot, user, count=count)


async def add_order(bot: RunningBot, order_id: str, user_id: int, **changes: object) -> Order:
    fields: dict[str, object] = {
        "id": OrderId(order_id),
        "user_id": UserId(user_id),
        "stars": 50,
        "bonus": 0,
        "terms_version": 1,
        "created_at": bot.runtime.pipeline.clock.now(),
    }
    fields.update(changes)
    order = Order(**fields)  # type: ignore[arg-type]
    async with bot.store() as uow:
        await uow.orders.add(order)
        await uow.commit()
    return order


async def test_a_top_up_from_the_balance_screen_credits_the_package_and_its_bonus(
    api: FakeBotApi, bot: RunningBot
):
    user = api.user()
    await user.send("/balance")
    screen = user.last()
    assert "Available: 0 ⭐" in screen.shown
    assert "coming soon" not in screen.shown
    await user.press("⭐ Top up")
    assert user.last().labels()[:5] == [
        "50 ⭐",
        "100 ⭐ + 5 ⭐ bonus",
        "250 ⭐ + 25 ⭐ bonus",
        "500 ⭐ + 75 ⭐ bonus",
        "1000 ⭐ + 200 ⭐ bonus",
    ]
    await user.press("100 ⭐ + 5 ⭐ bonus")
    terms = user.last()
    assert "Before your first purchase" in terms.shown
    assert "version 1" in terms.shown
    assert not user.invoices()
    await user.press("✅ I accept")
    assert "You accepted these terms" in user.find("Terms of sale").shown
    (invoice,) = user.invoices()
    assert invoice.invoice is not None
    assert invoice.invoice["currency"] == "XTR"
    assert invoice.invoice["total_amount"] == 100
    (call,) = api.calls_of("sendInvoice")
    assert call.params["currency"] == "XTR"
    assert not call.params.get("provider_token")
    assert len(call.params["prices"]) == 1
    payload = call.params["payload"]
    assert re.fullmatch(r"ord_[0-9a-f]{16}\.t1", payload), payload
    charge = await user.pay()
    assert charge is not None
    (answer,) = api.pre_checkouts.values()
    assert answer.ok is True
    paid = user.last()
    assert "Payment received: +105 ⭐" in paid.shown
    assert "Balance: 105 ⭐" in paid.shown
    assert await bot.balance(user.id) == Balance(available=105)
    assert kinds(await ledger(bot, user)) == [LedgerKind.PURCHASE]
    async with bot.store() as uow:
        stored = await uow.users.get(UserId(user.id))
    assert stored is not None
    assert stored.terms_version == 1
    # The second purchase does not ask for the terms again; /balance lists the moves.
    await user.send("/balance")
    await user.press("⭐ Top up")
    await user.press("50 ⭐")
    assert len(user.invoices()) == 2
    await user.pay()
    await user.send("/balance")
    balance_screen = user.last().shown
    assert "Available: 155 ⭐" in balance_screen
    assert "+50 ⭐ · top-up" in balance_screen
    assert "+105 ⭐ · top-up" in balance_screen


async def test_the_same_payment_delivered_twice_is_credited_once(api: FakeBotApi, bot: RunningBot):
    user = api.user()
    charge = await top_up(user)
    await user.deliver_again(charge)
    assert "already credited" in user.last().shown
    assert await bot.balance(user.id) == Balance(available=50)
    assert kinds(await ledger(bot, user)) == [LedgerKind.PURCHASE]


async def test_the_same_invoice_paid_twice_is_two_charges_and_two_credits(
    api: FakeBotApi, bot: RunningBot
):
    user = api.user()
    await top_up(user)
    (invoice,) = user.invoices()
    second = await user.pay(invoice)
    assert second is not None
    assert await bot.balance(user.id) == Balance(available=100)
    assert kinds(await ledger(bot, user)) == [LedgerKind.PURCHASE, LedgerKind.PURCHASE]


async def test_pre_checkouts_of_bad_orders_are_refused_with_the_reason(
    api: FakeBotApi, bot: RunningBot
):
    owner = api.user(2001)
    await order_invoice(owner)
    (invoice,) = owner.invoices()
    assert invoice.invoice_payload is not None
    payload = invoice.invoice_payload
    stranger = api.user(2002, language_code="ru")
    await stranger.send("/start")
    foreign = await stranger.pre_checkout(payload, 50)
    assert foreign.ok is False
    assert foreign.error_message == reason_text(ReasonCode.PAYMENT_INVALID, Language.RU)
    wrong_amount = await owner.pre_checkout(payload, 49)
    assert wrong_amount.ok is False
    assert wrong_amount.error_message == reason_text(ReasonCode.PAYMENT_INVALID, Language.EN)
    forged = await owner.pre_checkout('{"stars": 50}', 50)
    assert forged.ok is False
    old = await add_order(
        bot,
        "ord_00000000000000aa",
        owner.id,
        created_at=bot.runtime.pipeline.clock.now() - timedelta(hours=25),
    )
    expired = await owner.pre_checkout(old.payload, 50)
    assert expired.ok is False
    assert expired.error_message == reason_text(ReasonCode.ORDER_EXPIRED, Language.EN)
    stale = await add_order(bot, "ord_00000000000000bb", owner.id, terms_version=0)
    stale_terms = await owner.pre_checkout(stale.payload, 50)
    assert stale_terms.ok is False
    assert stale_terms.error_message == reason_text(ReasonCode.TERMS_CHANGED, Language.EN)
    valid = await owner.pre_checkout(payload, 50)
    assert valid.ok is True
    assert await bot.balance(owner.id) == Balance()
    assert await bot.balance(stranger.id) == Balance()


async def test_the_terms_command_shows_the_versioned_terms_and_accepts_them(
    api: FakeBotApi, bot: RunningBot
):
    user = api.user(language_code="ru")
    await user.send("/terms")
    assert "Условия покупки" in user.last().shown
    assert "версия 1" in user.last().shown
    await user.press("✅ Принимаю")
    assert "Вы приняли эти условия" in user.last().shown
    await user.send("/terms")
    assert "✅ Принимаю" not in user.last().labels()


async def test_an_unspent_purchase_is_refunded_from_paysupport(api: FakeBotApi, bot: RunningBot):
    user = api.user()
    charge = await top_up(user)
    await user.send("/paysupport")
    assert charge in user.last().shown
    await user.press("↩️ Refund 1")
    confirm = user.last()
    assert "Refund 50 ⭐ to your Telegram account?" in confirm.shown
    assert not api.calls_of("refundStarPayment")  # two taps: nothing happens on the first
    await user.press("⬅️ Back", confirm)
    assert "↩️ Refund 1" in user.last().labels()
    await user.press("↩️ Refund 1")
    await user.press("✅ Yes, refund 50 ⭐")
    assert len(api.calls_of("refundStarPayment")) == 1
    assert api.charges[charge].refunded
    assert "50 ⭐ were refunded" in user.last().shown
    assert "↩️ Refund 1" not in user.last().labels()
    assert await bot.balance(user.id) == Balance()
    assert kinds(await ledger(bot, user)) == [LedgerKind.PURCHASE, LedgerKind.PURCHASE_REFUND]
    # Telegram then reports the refund it made: nothing is booked twice.
    await api.force_refund(charge)
    assert await bot.balance(user.id) == Balance()
    assert kinds(await ledger(bot, user)) == [LedgerKind.PURCHASE, LedgerKind.PURCHASE_REFUND]


async def test_a_spent_purchase_is_not_refunded(api: FakeBotApi, bot: RunningBot):
    user = api.user()
    await top_up(user)
    await user.send("/paysupport")
    listing = user.last()
    assert "↩️ Refund 1" in listing.labels()
    await spend(bot, user)
    record = await user.press("↩️ Refund 1", listing)
    assert record.show_alert
    assert record.text == reason_text(ReasonCode.REFUND_NOT_ALLOWED, Language.EN)
    assert not api.calls_of("refundStarPayment")
    assert await bot.balance(user.id) == Balance(available=35)
    await user.send("/paysupport")
    assert "↩️ Refund 1" not in user.last().labels()


async def test_stars_spent_between_the_two_taps_stop_the_refund(api: FakeBotApi, bot: RunningBot):
    user = api.user()
    await top_up(user)
    await user.send("/paysupport")
    await user.press("↩️ Refund 1")
    confirm = user.last()
    await spend(bot, user)
    record = await user.press("✅ Yes, refund 50 ⭐", confirm)
    assert record.show_alert
    assert record.text == reason_text(ReasonCode.REFUND_NOT_ALLOWED, Language.EN)
    assert not api.calls_of("refundStarPayment")
    assert await bot.balance(user.id) == Balance(available=35)


async def test_a_forced_refund_after_spending_is_debt_until_a_top_up(
    api: FakeBotApi, bot: RunningBot
):
    user = api.user()
    charge = await top_up(user)
    await spend(bot, user)
    await api.force_refund(charge)
    assert "Telegram refunded your payment of 50 ⭐" in user.last().shown
    assert "Debt after a refund: 15 ⭐" in user.last().shown
    assert await bot.balance(user.id) == Balance(available=0, debt=15)
    # Replayed: booked once.
    await api.force_refund(charge)
    assert await bot.balance(user.id) == Balance(available=0, debt=15)
    # Paid generations wait for the debt to be covered.
    await open_model(user, BANANA)
    await user.send("a red fox in the snow")
    await user.press("⏩ Skip optional")
    confirm = user.last()
    assert "⭐ Top up 50 ⭐" in confirm.labels()  # the smallest package covering price + debt
    await user.press("✅ Confirm · 15 ⭐")
    assert reason_text(ReasonCode.IN_DEBT, Language.EN) in user.last().shown
    assert await bot.balance(user.id) == Balance(available=0, debt=15)
    # A top-up from the confirmation's own button pays the debt first; then the bot lands
    # back on the same confirmation, now covered, and it starts the run.
    invoices = len(user.invoices())
    await user.press("⭐ Top up 50 ⭐", confirm)
    assert len(user.invoices()) == invoices + 1
    assert await user.pay() is not None
    assert await bot.balance(user.id) == Balance(available=35)
    back = user.last()
    assert "Your run is waiting for confirmation" in user.bot_messages()[-2].shown
    assert "a red fox in the snow" in back.shown
    assert "Balance: 35 ⭐ → after the run: 20 ⭐" in back.shown
    assert not confirm.buttons()  # the old confirmation gave its buttons to the new one
    await user.press("✅ Confirm · 15 ⭐", back)
    await wait_finished(bot, user, count=2)
    assert await bot.balance(user.id) == Balance(available=20)
