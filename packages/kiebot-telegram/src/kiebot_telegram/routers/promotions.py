"""Promo codes (/promo) and invitations (/referral).

A promo code is typed after ``/promo`` or sent after the 🎟 button (the conversation waits for
it in ``Flow:promo`` until a code works or the user cancels). The core redeems it exactly once
per user and never beyond the code's uses.
"""

from aiogram import F, Router
from aiogram.filters import Command, CommandObject, StateFilter
from aiogram.types import CallbackQuery, Message

from kiebot_core.domain.outcomes import Rejected
from kiebot_core.domain.promotions import referral_code
from kiebot_core.domain.reasons import reason_text
from kiebot_core.use_cases.promotions import redeem_promo, referrals_of
from kiebot_telegram.callbacks import Pay, PayAct
from kiebot_telegram.context import Context
from kiebot_telegram.formatting import escape
from kiebot_telegram.messaging import show, toast
from kiebot_telegram.routers.common import Flow, end_session
from kiebot_telegram.texts import Msg, t
from kiebot_telegram.views import View, balance_view, referral_view


async def _redeem(message: Message, ctx: Context, text: str) -> None:
    redeemed = await redeem_promo(ctx.services.store, ctx.services.clock, ctx.user.id, text)
    if isinstance(redeemed, Rejected):
        await show(ctx.bot, message, View(escape(reason_text(redeemed.reason, ctx.language))))
        return
    await end_session(ctx.fsm)
    lead = t(
        ctx.language,
        Msg.PROMO_REDEEMED,
        code=escape(redeemed.promo.code),
        stars=redeemed.promo.stars,
        available=redeemed.balance.available,
    )
    view = balance_view(ctx.language, redeemed.balance)
    await show(ctx.bot, message, View(lead, view.markup))


async def _ask_code(ctx: Context, target: Message | CallbackQuery) -> None:
    await end_session(ctx.fsm)
    await ctx.fsm.set_state(Flow.promo)
    await show(ctx.bot, target, View(t(ctx.language, Msg.PROMO_ASK)))


async def on_promo(message: Message, command: CommandObject, ctx: Context) -> None:
    """/promo CODE redeems it; /promo alone asks for the code."""
    if command.args and command.args.strip():
        await _redeem(message, ctx, command.args)
    else:
        await _ask_code(ctx, message)


async def on_promo_button(callback: CallbackQuery, ctx: Context) -> None:
    """🎟 Promo code: ask for it."""
    await toast(callback)
    await _ask_code(ctx, callback)


async def on_promo_text(message: Message, ctx: Context) -> None:
    """The code typed while the conversation waits for one."""
    await _redeem(message, ctx, message.text or "")


async def _referral(ctx: Context, target: Message | CallbackQuery) -> None:
    me = await ctx.bot.me()
    link = f"https://t.me/{me.username}?start={referral_code(ctx.user.id)}"
    summary = await referrals_of(ctx.services.store, ctx.user.id)
    stars = ctx.services.payment_settings.referral_stars
    await show(ctx.bot, target, referral_view(ctx.language, link, stars, summary))


async def on_referral(message: Message, ctx: Context) -> None:
    """/referral: the invitation link and what it brought."""
    await _referral(ctx, message)


async def on_referral_button(callback: CallbackQuery, ctx: Context) -> None:
    """👥 Invite friends."""
    await toast(callback)
    await _referral(ctx, callback)


def make_router() -> Router:
    """A new router with this module's handlers (one per dispatcher)."""
    router = Router(name="promotions")
    router.message.register(on_promo, Command("promo"))
    router.message.register(on_referral, Command("referral"))
    router.message.register(
        on_promo_text, StateFilter(Flow.promo), F.text, ~F.text.startswith("/")
    )
    router.callback_query.register(on_promo_button, Pay.filter(F.act == PayAct.PROMO))
    router.callback_query.register(on_referral_button, Pay.filter(F.act == PayAct.REFERRAL))
    return router
