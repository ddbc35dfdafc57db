"""Telegram Stars: top-up packages, terms, invoices, pre-checkout, payments and refunds.

The invoice is a Stars invoice (currency ``XTR``, empty provider token, exactly one price) whose
payload is the order's short reference. ``pre_checkout_query`` runs on the fast path (no user
registration, no conversation state; see ``kiebot_telegram.dispatcher``) and is approved only
when the core's ``check_pre_checkout`` finds the order valid.
"""

import asyncio
import logging

from aiogram import Bot, F, Router
from aiogram.exceptions import TelegramAPIError
from aiogram.filters import Command
from aiogram.types import CallbackQuery, LabeledPrice, Message, PreCheckoutQuery

from kiebot_core.domain.errors import StarsError, StorageUnavailableError
from kiebot_core.domain.ids import PaymentChargeId, UserId
from kiebot_core.domain.ledger import Balance
from kiebot_core.domain.outcomes import Rejected
from kiebot_core.domain.payments import CURRENCY, Order, Payment
from kiebot_core.domain.reasons import ReasonCode, reason_text
from kiebot_core.domain.texts import Language, language_for
from kiebot_core.use_cases.payments import (
    PaymentRegistered,
    ReferralReward,
    accept_terms,
    check_pre_checkout,
    create_order,
    purchases,
    record_purchase_refund,
    refund_purchase,
    refundable_purchase,
    register_payment,
)
from kiebot_telegram.admins import notify_admins
from kiebot_telegram.callbacks import Nav, Pay, PayAct, Screen, charge_ref
from kiebot_telegram.context import Context
from kiebot_telegram.formatting import escape
from kiebot_telegram.messaging import show, toast
from kiebot_telegram.progress import user_language
from kiebot_telegram.routers.common import Session, load_session, stale
from kiebot_telegram.routers.wizard import show_again
from kiebot_telegram.services import BotServices
from kiebot_telegram.stars import TelegramStarsAccount
from kiebot_telegram.texts import Msg, t
from kiebot_telegram.views import (
    View,
    balance_view,
    package_label,
    paysupport_view,
    refund_confirm_view,
    terms_view,
    ticket_text,
    topup_view,
)

_log = logging.getLogger(__name__)

PAYMENT_RETRY_DELAYS_S = (0.2, 1.0, 3.0, 10.0)
"""Waits between attempts to register a successful payment while the store is down."""

PURCHASES_SHOWN = 10
"""Purchases listed by /paysupport."""


def _balance_lines(language: Language, balance: Balance) -> str:
    if balance.debt:
        return "\n" + t(language, Msg.BALANCE_DEBT, debt=balance.debt)
    return ""


async def on_topup(callback: CallbackQuery, ctx: Context) -> None:
    """⭐ Top up: the packages."""
    await toast(callback)
    packages = ctx.services.payment_settings.packages
    await show(ctx.bot, callback, topup_view(ctx.language, packages))


async def on_package(callback: CallbackQuery, callback_data: Pay, ctx: Context) -> None:
    """A package: the invoice, or the terms first when the user has not accepted them."""
    settings = ctx.services.payment_settings
    arg = callback_data.arg
    package = settings.package(int(arg)) if arg.isdigit() else None
    if package is None:
        await stale(ctx, callback)
        return
    if ctx.user.terms_version != settings.terms_version:
        await toast(callback)
        view = terms_view(
            ctx.language, settings.terms_version, accepted=False, package=package.stars
        )
        await show(ctx.bot, callback, view)
        return
    await _invoice(ctx, callback, package.stars)


async def _invoice(ctx: Context, callback: CallbackQuery, stars: int) -> None:
    order = await create_order(ctx.services.payments, ctx.user.id, stars)
    if isinstance(order, Rejected):
        await toast(callback, reason_text(order.reason, ctx.language), alert=True)
        return
    await toast(callback, t(ctx.language, Msg.TOAST_INVOICE))
    await send_invoice(ctx.bot, ctx.user.id, ctx.language, order)


async def send_invoice(bot: Bot, chat_id: int, language: Language, order: Order) -> Message:
    """A Stars invoice for ``order``: ``XTR``, no provider token, one price, its payload."""
    if order.bonus:
        description = t(
            language, Msg.INVOICE_DESCRIPTION_BONUS, credited=order.credited, bonus=order.bonus
        )
    else:
        description = t(language, Msg.INVOICE_DESCRIPTION, credited=order.credited)
    label = package_label(language, order.stars, order.bonus)
    return await bot.send_invoice(
        chat_id=chat_id,
        title=t(language, Msg.INVOICE_TITLE, stars=order.stars),
        description=description,
        payload=order.payload,
        currency=CURRENCY,
        prices=[LabeledPrice(label=label, amount=order.stars)],
        provider_token="",
    )


async def on_terms(message: Message, ctx: Context) -> None:
    """/terms: the current terms, with Accept until the user accepted them."""
    version = ctx.services.payment_settings.terms_version
    accepted = ctx.user.terms_version == version
    await show(ctx.bot, message, terms_view(ctx.language, version, accepted=accepted))


async def on_accept(callback: CallbackQuery, callback_data: Pay, ctx: Context) -> None:
    """✅ I accept: store the accepted version; continue to the package's invoice if any."""
    version_text, _, package_text = callback_data.arg.partition(".")
    current = ctx.services.payment_settings.terms_version
    if not version_text.isdigit():
        await stale(ctx, callback)
        return
    accepted = await accept_terms(ctx.services.payments, ctx.user.id, int(version_text))
    if isinstance(accepted, Rejected):
        await toast(callback, reason_text(accepted.reason, ctx.language), alert=True)
        await show(ctx.bot, callback, terms_view(ctx.language, current, accepted=False))
        return
    await show(ctx.bot, callback, terms_view(ctx.language, current, accepted=True))
    if package_text.isdigit():
        await _invoice(ctx, callback, int(package_text))
    else:
        await toast(callback, t(ctx.language, Msg.TOAST_TERMS_ACCEPTED))


async def on_pre_checkout(query: PreCheckoutQuery, services: BotServices) -> None:
    """Approve a payment only for a valid order of this user; otherwise say why.

    The refusal is in the user's language. Never a blanket approval; any failure refuses.
    """
    user_id = UserId(query.from_user.id)
    try:
        checked = await check_pre_checkout(
            services.payments, user_id, query.invoice_payload, query.total_amount, query.currency
        )
    except Exception as error:  # noqa: BLE001  # a pre-checkout query is always answered
        _log.warning("pre-checkout %s refused: %s", query.id, error)
        checked = Rejected(ReasonCode.STORAGE_ERROR, detail=type(error).__name__)
    if not isinstance(checked, Rejected):
        await query.answer(ok=True)
        return
    _log.info("pre-checkout %s refused: %s (%s)", query.id, checked.reason, checked.detail)
    language = await _language_of(services, user_id, query.from_user.language_code)
    await query.answer(ok=False, error_message=reason_text(checked.reason, language))


async def _language_of(services: BotServices, user_id: UserId, code: str | None) -> Language:
    try:
        async with services.store() as uow:
            user = await uow.users.get(user_id)
    except Exception:  # noqa: BLE001  # the refusal still goes out, in the client's language
        user = None
    return user.language if user is not None else language_for(code)


async def on_successful_payment(message: Message, ctx: Context) -> None:
    """Register the payment (exactly once per charge id) and show the new balance."""
    paid = message.successful_payment
    if paid is None:
        return
    registered = await _register_with_retries(
        ctx,
        PaymentChargeId(paid.telegram_payment_charge_id),
        paid.invoice_payload,
        paid.total_amount,
    )
    balance = registered.balance
    if registered.is_new:
        text = t(
            ctx.language,
            Msg.PAID,
            credited=registered.payment.credited,
            available=balance.available,
        )
    else:
        text = t(ctx.language, Msg.PAID_ALREADY, available=balance.available)
    await show(
        ctx.bot, message, _notice(ctx.language, text + _balance_lines(ctx.language, balance))
    )
    if registered.reward is not None:
        await _tell_inviter(ctx, registered.reward)
    if registered.is_new:
        await _back_to_confirmation(message, ctx)


async def _tell_inviter(ctx: Context, reward: ReferralReward) -> None:
    async with ctx.services.store() as uow:
        language = await user_language(uow, reward.referrer_id)
    text = t(language, Msg.REFERRAL_REWARD, stars=reward.stars)
    try:
        await ctx.bot.send_message(reward.referrer_id, text)
    except TelegramAPIError as error:
        _log.info("inviter %s not told of the reward: %s", reward.referrer_id, error)


async def _back_to_confirmation(message: Message, ctx: Context) -> None:
    """A top-up made from a run's confirmation returns to that confirmation."""
    session = await load_session(ctx.fsm, await ctx.services.registry())
    if not isinstance(session, Session) or session.state.current is not None:
        return
    await show(ctx.bot, message, View(t(ctx.language, Msg.PAID_RETURN)))
    await show_again(message, ctx, session)


async def _register_with_retries(
    ctx: Context, charge_id: PaymentChargeId, payload: str, total: int
) -> PaymentRegistered:
    # Telegram has taken the Stars and will not send this update again: a passing storage
    # failure is retried here rather than losing the credit (registration is idempotent).
    for delay_s in PAYMENT_RETRY_DELAYS_S:
        try:
            return await register_payment(
                ctx.services.payments, charge_id, ctx.user.id, payload, total
            )
        except StorageUnavailableError:
            _log.warning("payment %s: storage unavailable, retrying", charge_id)
            await asyncio.sleep(delay_s)
    return await register_payment(ctx.services.payments, charge_id, ctx.user.id, payload, total)


async def on_refunded_payment(message: Message, ctx: Context) -> None:
    """A refund Telegram made: booked once; spent Stars become debt."""
    refunded = message.refunded_payment
    if refunded is None:
        return
    charge_id = PaymentChargeId(refunded.telegram_payment_charge_id)
    booked = await record_purchase_refund(ctx.services.payments, ctx.user.id, charge_id)
    if isinstance(booked, Rejected) or not booked.is_new:
        _log.info("refunded payment %s: nothing to book (%s)", charge_id, booked)
        async with ctx.services.store() as uow:
            balance = await uow.ledger.balance(ctx.user.id)
        await show(ctx.bot, message, balance_view(ctx.language, balance))
        return
    text = t(
        ctx.language,
        Msg.REFUND_FORCED,
        stars=booked.payment.stars,
        credited=booked.payment.credited,
    )
    view = balance_view(ctx.language, booked.balance)
    await show(ctx.bot, message, View(f"{text}\n\n{view.text}", view.markup))


async def on_paysupport(message: Message, ctx: Context) -> None:
    """/paysupport: the user's purchases, with Refund on the unspent ones."""
    listed = await purchases(ctx.services.payments, ctx.user.id, limit=PURCHASES_SHOWN)
    await show(ctx.bot, message, paysupport_view(ctx.language, listed))


async def on_paysupport_button(callback: CallbackQuery, ctx: Context) -> None:
    """⬅️ Back to the purchases."""
    await toast(callback)
    listed = await purchases(ctx.services.payments, ctx.user.id, limit=PURCHASES_SHOWN)
    await show(ctx.bot, callback, paysupport_view(ctx.language, listed))


async def _own_purchase(ctx: Context, callback: CallbackQuery, ref: str) -> Payment | None:
    listed = await purchases(ctx.services.payments, ctx.user.id, limit=PURCHASES_SHOWN)
    found = [p.payment for p in listed if charge_ref(p.payment.charge_id) == ref]
    if not found:
        await stale(ctx, callback)
        return None
    return found[0]


async def on_refund(callback: CallbackQuery, callback_data: Pay, ctx: Context) -> None:
    """↩️ Refund: what the refund takes from the balance, with Yes, refund / Back."""
    payment = await _own_purchase(ctx, callback, callback_data.arg)
    if payment is None:
        return
    allowed = await refundable_purchase(ctx.services.payments, ctx.user.id, payment.charge_id)
    if isinstance(allowed, Rejected):
        await _refused(ctx, callback, allowed)
        return
    await toast(callback)
    await show(ctx.bot, callback, refund_confirm_view(ctx.language, payment))


async def on_refund_confirmed(callback: CallbackQuery, callback_data: Pay, ctx: Context) -> None:
    """✅ Yes, refund: ``refundStarPayment`` for an unspent purchase, then the ledger refund."""
    payment = await _own_purchase(ctx, callback, callback_data.arg)
    if payment is None:
        return
    payments = ctx.services.payments
    try:
        refunded = await refund_purchase(
            payments, TelegramStarsAccount(ctx.bot), ctx.user.id, payment.charge_id
        )
    except StarsError as error:
        _log.warning("refund of %s failed: %s", payment.charge_id, error.detail)
        await toast(callback, t(ctx.language, Msg.REFUND_FAILED), alert=True)
        return
    if isinstance(refunded, Rejected):
        await _refused(ctx, callback, refunded)
        return
    await toast(callback)
    lead = t(ctx.language, Msg.REFUND_DONE, stars=payment.stars)
    listed = await purchases(payments, ctx.user.id, limit=PURCHASES_SHOWN)
    await show(ctx.bot, callback, paysupport_view(ctx.language, listed, lead=lead))


async def on_support(callback: CallbackQuery, callback_data: Pay, ctx: Context) -> None:
    """✉️ Ask support about a purchase: the admins get the user, the charge and the balance."""
    payment = await _own_purchase(ctx, callback, callback_data.arg)
    if payment is None:
        return
    balance = await ctx.services.balance(ctx.user.id)
    name = escape(callback.from_user.full_name)
    delivered = await notify_admins(
        ctx.bot,
        ctx.services.store,
        ctx.services.admin_ids,
        lambda language: ticket_text(language, ctx.user.id, name, payment, balance),
    )
    if delivered == 0:
        await toast(callback, t(ctx.language, Msg.TICKET_UNAVAILABLE), alert=True)
        return
    await toast(callback)
    charge = escape(payment.charge_id)
    await show(ctx.bot, callback, View(t(ctx.language, Msg.TICKET_SENT, charge=charge)))


async def _refused(ctx: Context, callback: CallbackQuery, refusal: Rejected) -> None:
    await toast(callback, reason_text(refusal.reason, ctx.language), alert=True)
    listed = await purchases(ctx.services.payments, ctx.user.id, limit=PURCHASES_SHOWN)
    await show(ctx.bot, callback, paysupport_view(ctx.language, listed))


def _notice(language: Language, text: str) -> View:
    view = balance_view(language, Balance())
    return View(text, view.markup)


def make_router() -> Router:
    """A new router with this module's handlers (one per dispatcher)."""
    router = Router(name="payments")
    router.pre_checkout_query.register(on_pre_checkout)
    router.message.register(on_successful_payment, F.successful_payment)
    router.message.register(on_refunded_payment, F.refunded_payment)
    router.message.register(on_terms, Command("terms"))
    router.message.register(on_paysupport, Command("paysupport"))
    router.callback_query.register(on_topup, Pay.filter(F.act == PayAct.TOPUP))
    router.callback_query.register(on_package, Pay.filter(F.act == PayAct.PACKAGE))
    router.callback_query.register(on_accept, Pay.filter(F.act == PayAct.ACCEPT))
    router.callback_query.register(on_paysupport_button, Nav.filter(F.to == Screen.PAYSUPPORT))
    router.callback_query.register(on_refund, Pay.filter(F.act == PayAct.REFUND))
    router.callback_query.register(on_support, Pay.filter(F.act == PayAct.SUPPORT))
    router.callback_query.register(
        on_refund_confirmed, Pay.filter(F.act == PayAct.REFUND_CONFIRMED)
    )
    return router
