"""/history: the user's generations, page by page, with Re-send and Repeat."""

from aiogram import F, Router
from aiogram.filters import Command
from aiogram.types import CallbackQuery, Message

from kiebot_telegram.callbacks import Nav, Screen
from kiebot_telegram.context import Context
from kiebot_telegram.messaging import show, toast
from kiebot_telegram.routers.common import end_session
from kiebot_telegram.views import View, history_view

HISTORY_LIMIT = 50


async def _history(ctx: Context, page: int) -> View:
    async with ctx.services.store() as uow:
        generations = await uow.generations.for_user(ctx.user.id, limit=HISTORY_LIMIT)
    registry = await ctx.services.registry()
    return history_view(ctx.language, registry, generations, page)


async def on_history(message: Message, ctx: Context) -> None:
    """The first page of the user's generations."""
    await end_session(ctx.fsm)
    await show(ctx.bot, message, await _history(ctx, 0))


async def on_history_page(callback: CallbackQuery, callback_data: Nav, ctx: Context) -> None:
    """A page of the history."""
    await end_session(ctx.fsm)
    await toast(callback)
    await show(ctx.bot, callback, await _history(ctx, callback_data.page))


def make_router() -> Router:
    """A new router with this module's handlers (one per dispatcher)."""
    router = Router(name="history")
    router.message.register(on_history, Command("history"))
    router.callback_query.register(on_history_page, Nav.filter(F.to == Screen.HISTORY))
    return router
