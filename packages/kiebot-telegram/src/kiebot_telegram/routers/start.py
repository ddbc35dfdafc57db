"""Commands and account screens: /start, /help, /cancel, /settings, /balance; the language."""

import attrs
from aiogram import F, Router
from aiogram.filters import Command, CommandStart
from aiogram.types import CallbackQuery, Message

from kiebot_core.domain.ids import GenerationId
from kiebot_core.domain.reasons import ReasonCode, reason_text
from kiebot_core.domain.texts import Language
from kiebot_telegram.callbacks import Lang, Nav, Screen
from kiebot_telegram.context import Context
from kiebot_telegram.formatting import escape
from kiebot_telegram.messaging import show, toast
from kiebot_telegram.routers.common import Flow, end_session, menu
from kiebot_telegram.texts import Msg, t
from kiebot_telegram.views import (
    BalanceScreen,
    View,
    balance_view,
    help_view,
    model_title,
    settings_view,
)


async def on_start(message: Message, ctx: Context) -> None:
    """Greet (with the welcome gift on the first visit) and show the main menu."""
    name = escape(message.from_user.first_name if message.from_user else "")
    lead = t(ctx.language, Msg.WELCOME, name=name)
    if ctx.welcome_granted > 0:
        lead += "\n\n" + t(ctx.language, Msg.WELCOME_GRANT, stars=ctx.welcome_granted)
    if ctx.referral_refused is not None:
        lead += "\n\n" + escape(reason_text(ctx.referral_refused.reason, ctx.language))
    await menu(ctx, message, lead=lead)


async def on_menu(message: Message, ctx: Context) -> None:
    """The main menu."""
    await menu(ctx, message)


async def on_help(message: Message, ctx: Context) -> None:
    """How the bot works."""
    await show(ctx.bot, message, help_view(ctx.language))


async def on_cancel(message: Message, ctx: Context) -> None:
    """Leave a running setup (a run in progress has its own Cancel button)."""
    running = await ctx.fsm.get_state() in {
        Flow.wizard.state,
        Flow.search.state,
        Flow.promo.state,
    }
    lead = t(ctx.language, Msg.CANCELLED if running else Msg.NOTHING_TO_CANCEL)
    await menu(ctx, message, lead=lead)


async def on_settings(message: Message, ctx: Context) -> None:
    """The language switch."""
    await show(ctx.bot, message, settings_view(ctx.language))


BALANCE_MOVES = 5
"""Ledger moves shown on the balance screen."""


async def balance_screen(ctx: Context) -> View:
    """The balance screen: balances, debt, today's free runs and the latest ledger moves."""
    services = ctx.services
    registry = await services.registry()
    async with services.store() as uow:
        balance = await uow.ledger.balance(ctx.user.id)
        moves = await uow.ledger.history(ctx.user.id, limit=BALANCE_MOVES)
        models: dict[str, str] = {}
        for move in moves:
            generation = await uow.generations.get(GenerationId(move.reference))
            if generation is not None:
                model = registry.get(generation.model_id)
                models[move.reference] = model_title(model, generation.model_id, ctx.language)
    free = None
    free_models = sorted(services.pipeline.settings.free_tier.models)
    first = registry.get(free_models[0]) if free_models else None
    allowance = await services.free_runs(ctx.user.id, first) if first is not None else None
    if allowance is not None:
        titles = ", ".join(
            model_title(registry.get(model_id), model_id, ctx.language) for model_id in free_models
        )
        free = (allowance, titles)
    return balance_view(ctx.language, balance, BalanceScreen(moves, models, free))


async def on_balance(message: Message, ctx: Context) -> None:
    """Available and held Stars, debt, the latest moves, and Top up."""
    await show(ctx.bot, message, await balance_screen(ctx))


async def on_unknown_command(message: Message, ctx: Context) -> None:
    """A command the bot does not know: say so, and show the menu."""
    lead = escape(reason_text(ReasonCode.UNKNOWN_ACTION, ctx.language))
    await menu(ctx, message, lead=lead)


async def on_home(callback: CallbackQuery, ctx: Context) -> None:
    """🏠 Menu."""
    await toast(callback)
    await menu(ctx, callback)


async def on_noop(callback: CallbackQuery) -> None:
    """A label button (page n/N): answered, nothing changes."""
    await toast(callback)


async def on_help_button(callback: CallbackQuery, ctx: Context) -> None:
    """❓ Help."""
    await toast(callback)
    await show(ctx.bot, callback, help_view(ctx.language))


async def on_balance_button(callback: CallbackQuery, ctx: Context) -> None:
    """💰 Balance."""
    await toast(callback)
    await show(ctx.bot, callback, await balance_screen(ctx))


async def on_settings_button(callback: CallbackQuery, ctx: Context) -> None:
    """🌐 Language."""
    await end_session(ctx.fsm)
    await toast(callback)
    await show(ctx.bot, callback, settings_view(ctx.language))


async def on_language(callback: CallbackQuery, callback_data: Lang, ctx: Context) -> None:
    """Switch the language; the settings screen is redrawn in it."""
    try:
        language = Language(callback_data.lang)
    except ValueError:
        language = ctx.language
    if language is not ctx.language:
        async with ctx.services.store() as uow:
            stored = await uow.users.get(ctx.user.id)
            if stored is not None:
                await uow.users.save(attrs.evolve(stored, language=language))
                await uow.commit()
    await toast(callback, t(language, Msg.TOAST_LANGUAGE))
    await show(ctx.bot, callback, settings_view(language))


def make_router() -> Router:
    """A new router with this module's handlers (one per dispatcher)."""
    router = Router(name="start")
    router.message.register(on_start, CommandStart())
    router.message.register(on_menu, Command("menu"))
    router.message.register(on_help, Command("help"))
    router.message.register(on_cancel, Command("cancel"))
    router.message.register(on_settings, Command("settings"))
    router.message.register(on_balance, Command("balance"))
    router.message.register(on_unknown_command, F.text.startswith("/"))
    router.callback_query.register(on_home, Nav.filter(F.to == Screen.HOME))
    router.callback_query.register(on_noop, Nav.filter(F.to == Screen.NOOP))
    router.callback_query.register(on_help_button, Nav.filter(F.to == Screen.HELP))
    router.callback_query.register(on_balance_button, Nav.filter(F.to == Screen.BALANCE))
    router.callback_query.register(on_settings_button, Nav.filter(F.to == Screen.SETTINGS))
    router.callback_query.register(on_language, Lang.filter())
    return router
