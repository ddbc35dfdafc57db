"""/privacy: what kiebot stores about the user, the export as a file, and deleting it all.

Every action is about the user who pressed the button (never an id from the payload). Deleting
asks first; the deletion itself is the core's ``forget_user``, after which the conversation
state is gone too and the user's next message registers them afresh (without a second welcome
gift). The update that deleted keeps nothing of them either (``kiebot_telegram.forgetting``).
"""

import json

from aiogram import Router
from aiogram.filters import Command
from aiogram.types import BufferedInputFile, CallbackQuery, Message

from kiebot_core.domain.outcomes import Rejected
from kiebot_core.domain.reasons import reason_text
from kiebot_core.use_cases.privacy import StoredData, export_user_data, forget_user, stored_data
from kiebot_telegram.callbacks import Priv, PrivacyAct
from kiebot_telegram.context import Context
from kiebot_telegram.forgetting import forget_this_update
from kiebot_telegram.messaging import show, toast
from kiebot_telegram.privacy import (
    EXPORT_FILE,
    delete_confirm_view,
    deleted_view,
    export_caption,
    privacy_view,
)
from kiebot_telegram.routers.common import end_session, menu
from kiebot_telegram.texts import Msg, t


async def _stored(ctx: Context) -> StoredData | None:
    return await stored_data(ctx.services.store, ctx.user.id)


async def on_privacy(message: Message, ctx: Context) -> None:
    """/privacy: what is stored, with Export and Delete."""
    await end_session(ctx.fsm)
    data = await _stored(ctx)
    if data is None:  # pragma: no cover - the middleware has just registered the sender
        await menu(ctx, message)
        return
    await show(ctx.bot, message, privacy_view(ctx.language, data))


async def on_action(callback: CallbackQuery, callback_data: Priv, ctx: Context) -> None:
    """A /privacy button."""
    data = await _stored(ctx)
    if data is None:  # pragma: no cover - the middleware has just registered the sender
        await toast(callback)
        await menu(ctx, callback)
        return
    match callback_data.act:
        case PrivacyAct.SHOW:
            await end_session(ctx.fsm)
            await toast(callback)
            await show(ctx.bot, callback, privacy_view(ctx.language, data))
        case PrivacyAct.EXPORT:
            await _export(callback, ctx, data)
        case PrivacyAct.DELETE:
            await toast(callback)
            await show(ctx.bot, callback, delete_confirm_view(ctx.language, data))
        case PrivacyAct.DELETE_CONFIRMED:
            await _delete(callback, ctx, data)


async def _export(callback: CallbackQuery, ctx: Context, data: StoredData) -> None:
    await toast(callback, t(ctx.language, Msg.TOAST_EXPORTING))
    document = await export_user_data(ctx.services.store, ctx.services.clock, ctx.user.id)
    if isinstance(document, Rejected):  # pragma: no cover - the sender was just registered
        await ctx.bot.send_message(ctx.user.id, reason_text(document.reason, ctx.language))
        return
    payload = json.dumps(document, ensure_ascii=False, indent=2).encode()
    await ctx.bot.send_document(
        ctx.user.id,
        BufferedInputFile(payload, filename=EXPORT_FILE),
        caption=export_caption(ctx.language, data),
    )


async def _delete(callback: CallbackQuery, ctx: Context, data: StoredData) -> None:
    # The conversation goes first: wherever it is kept (PostgreSQL or Redis), nothing of it
    # may outlive the user; with PostgreSQL the forgetting deletes what clearing leaves.
    await ctx.fsm.clear()
    outcome = await forget_user(ctx.services.store, ctx.services.clock, ctx.user.id)
    if isinstance(outcome, Rejected):
        await toast(callback, reason_text(outcome.reason, ctx.language), alert=True)
        await show(ctx.bot, callback, privacy_view(ctx.language, data))
        return
    forget_this_update()
    await toast(callback)
    await show(ctx.bot, callback, deleted_view(ctx.language))


def make_router() -> Router:
    """A new router with this module's handlers (one per dispatcher)."""
    router = Router(name="privacy")
    router.message.register(on_privacy, Command("privacy"))
    router.callback_query.register(on_action, Priv.filter())
    return router
