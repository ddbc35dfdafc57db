"""The last router: whatever no other handler took still gets an answer ("no silence")."""

from aiogram import Router
from aiogram.types import CallbackQuery, Message

from kiebot_telegram.context import Context
from kiebot_telegram.routers.common import menu, stale
from kiebot_telegram.texts import Msg, t


async def on_unknown_button(callback: CallbackQuery, ctx: Context) -> None:
    """A button no handler knows (an old keyboard, a changed catalog): refresh the menu."""
    await stale(ctx, callback)


async def on_other_message(message: Message, ctx: Context) -> None:
    """A sticker, a file outside a wizard …: the hint and the menu."""
    await menu(ctx, message, lead=t(ctx.language, Msg.HINT_MENU))


def make_router() -> Router:
    """A new router with this module's handlers (one per dispatcher)."""
    router = Router(name="fallback")
    router.callback_query.register(on_unknown_button)
    router.message.register(on_other_message)
    return router
