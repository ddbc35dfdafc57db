"""📣 Broadcasts (admins) and who blocked the bot (``my_chat_member``).

/broadcast (or /admin → 📣 Broadcast) asks for the text, then an optional link button, then
the audience (language, activity, purchases) with a live count; 👁 Preview sends the message
exactly as users will get it with the count and the time it takes (the dry run); ✅ Send
stores it and the leader sends it, editing a progress message with ⏹ Stop until the final
report. The draft lives in the conversation (``BroadcastFlow``) like the wizard.

Messages and buttons are handled here only from an admin in a private chat (``admin_only``);
anyone else's, and an admin's in a group, fall through to the ordinary answers.
"""

import secrets
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from aiogram import F, Router
from aiogram.enums import ChatMemberStatus, ChatType
from aiogram.filters import Command, StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, ChatMemberUpdated, Message

from kiebot_core.domain.broadcasts import (
    Broadcast,
    BroadcastButton,
    BroadcastCounts,
    BroadcastId,
    Segment,
    parse_button,
)
from kiebot_core.domain.ids import UserId
from kiebot_core.domain.outcomes import Rejected
from kiebot_core.domain.reasons import reason_text
from kiebot_core.domain.texts import Language
from kiebot_core.use_cases.broadcasts import (
    audience_size,
    create_broadcast,
    show_progress_in,
    stop_broadcast,
)
from kiebot_telegram.admins import admin_only
from kiebot_telegram.broadcasts import (
    ACTIVE_DAYS,
    Bc,
    BcAct,
    Draft,
    audience_view,
    confirm_view,
    message_markup,
    progress_view,
)
from kiebot_telegram.callbacks import Adm, AdmAct
from kiebot_telegram.context import Context
from kiebot_telegram.keyboards import button, markup
from kiebot_telegram.messaging import drop_keyboard, send, show, toast
from kiebot_telegram.texts import Msg, t
from kiebot_telegram.views import View


class BroadcastFlow(StatesGroup):
    """Where an admin's broadcast draft is (stored: the names are a contract)."""

    text = State()
    button = State()
    audience = State()
    confirm = State()


# The draft's keys in the conversation data.
_TEXT = "bc_text"
_BUTTON = "bc_button"
_LANGUAGE = "bc_lang"
_DAYS = "bc_days"
_PAID = "bc_paid"
_DRAFT_ID = "bc_tok"
_SCREEN = "bc_msg"


async def _draft(fsm: FSMContext) -> Draft | None:
    data = await fsm.get_data()
    text = data.get(_TEXT)
    if not isinstance(text, str) or not text:
        return None
    raw_button, raw_language = data.get(_BUTTON), data.get(_LANGUAGE)
    link = None
    if isinstance(raw_button, list) and len(raw_button) == 2:  # label, URL
        link = BroadcastButton(str(raw_button[0]), str(raw_button[1]))
    language = None
    if isinstance(raw_language, str) and raw_language in {lang.value for lang in Language}:
        language = Language(raw_language)
    days, paid = data.get(_DAYS), data.get(_PAID)
    return Draft(
        text=text,
        button=link,
        language=language,
        days=days if isinstance(days, int) and days in ACTIVE_DAYS else 0,
        paid=paid if isinstance(paid, bool) else None,
        token=str(data.get(_DRAFT_ID) or ""),
    )


def _segment(ctx: Context, draft: Draft) -> Segment:
    since = None
    if draft.days:
        since = ctx.services.clock.now() - timedelta(days=draft.days)
    return Segment(language=draft.language, active_since=since, paid=draft.paid)


async def _forget(fsm: FSMContext) -> None:
    await fsm.set_state(None)
    data = await fsm.get_data()
    await fsm.set_data({k: v for k, v in data.items() if not str(k).startswith("bc_")})


async def _begin(ctx: Context, target: Message | CallbackQuery) -> None:
    await _forget(ctx.fsm)
    await ctx.fsm.set_state(BroadcastFlow.text)
    await ctx.fsm.update_data({_DRAFT_ID: secrets.token_hex(4)})
    cancel = button(t(ctx.language, Msg.BTN_CANCEL), Bc(act=BcAct.CANCEL))
    await show(ctx.bot, target, View(t(ctx.language, Msg.BC_ASK_TEXT), markup([[cancel]])))


async def on_broadcast(message: Message, ctx: Context) -> None:
    """/broadcast: a new broadcast (a draft in progress is dropped)."""
    await _begin(ctx, message)


async def on_new(callback: CallbackQuery, ctx: Context) -> None:
    """📣 Broadcast on the /admin screen."""
    await toast(callback)
    await _begin(ctx, callback)


async def on_text(message: Message, ctx: Context) -> None:
    """Step 1: the message to broadcast (its formatting kept as Telegram HTML)."""
    if not message.text:
        await send(ctx.bot, message.chat.id, View(t(ctx.language, Msg.BC_TEXT_ONLY)))
        return
    await ctx.fsm.update_data({_TEXT: message.html_text})
    await ctx.fsm.set_state(BroadcastFlow.button)
    await send(ctx.bot, message.chat.id, _ask_button(ctx.language, Msg.BC_ASK_BUTTON))


def _ask_button(language: Language, key: Msg) -> View:
    no_button = button(t(language, Msg.BTN_BC_NO_BUTTON), Bc(act=BcAct.NO_BUTTON))
    cancel = button(t(language, Msg.BTN_CANCEL), Bc(act=BcAct.CANCEL))
    return View(t(language, key), markup([[no_button], [cancel]]))


async def on_button_text(message: Message, ctx: Context) -> None:
    """Step 2: ``Label | https://…`` for a link button under the message."""
    parsed = parse_button(message.text or "")
    if isinstance(parsed, Rejected):
        await send(ctx.bot, message.chat.id, _ask_button(ctx.language, Msg.BC_BAD_BUTTON))
        return
    await ctx.fsm.update_data({_BUTTON: [parsed.label, parsed.url]})
    await _audience(ctx, message)


async def on_no_button(callback: CallbackQuery, ctx: Context) -> None:
    """Step 2: no button."""
    await toast(callback)
    await ctx.fsm.update_data({_BUTTON: None})
    await _audience(ctx, callback)


async def _audience(ctx: Context, target: Message | CallbackQuery) -> None:
    draft = await _draft(ctx.fsm)
    if draft is None:
        await _expired(ctx, target)
        return
    await ctx.fsm.set_state(BroadcastFlow.audience)
    count = await audience_size(ctx.services.store, _segment(ctx, draft))
    shown = await show(ctx.bot, target, audience_view(ctx.language, draft, count))
    await ctx.fsm.update_data({_SCREEN: shown.message_id})


async def _expired(ctx: Context, target: Message | CallbackQuery) -> None:
    await _forget(ctx.fsm)
    if isinstance(target, CallbackQuery):
        await toast(target, t(ctx.language, Msg.BC_EXPIRED), alert=True)
    else:
        await send(ctx.bot, target.chat.id, View(t(ctx.language, Msg.BC_EXPIRED)))


async def on_choice(callback: CallbackQuery, callback_data: Bc, ctx: Context) -> None:
    """Step 3: a language, an activity window or a purchase condition; the count follows."""
    await toast(callback)
    arg = callback_data.arg
    match callback_data.act:
        case BcAct.LANGUAGE:
            known = {language.value for language in Language}
            await ctx.fsm.update_data({_LANGUAGE: arg if arg in known else None})
        case BcAct.ACTIVE:
            days = int(arg) if arg.isdigit() and int(arg) in ACTIVE_DAYS else 0
            await ctx.fsm.update_data({_DAYS: days})
        case _:
            await ctx.fsm.update_data({_PAID: None if arg not in {"0", "1"} else arg == "1"})
    await _audience(ctx, callback)


async def on_preview(callback: CallbackQuery, ctx: Context) -> None:
    """👁 Preview: the message exactly as users get it, then the count and Send."""
    draft = await _draft(ctx.fsm)
    if draft is None:
        await _expired(ctx, callback)
        return
    await toast(callback)
    chat_id = callback.from_user.id
    if isinstance(callback.message, Message):
        await drop_keyboard(ctx.bot, chat_id, callback.message.message_id)
    count = await audience_size(ctx.services.store, _segment(ctx, draft))
    await ctx.bot.send_message(chat_id, draft.text, reply_markup=message_markup(draft.button))
    view = confirm_view(ctx.language, draft, count, ctx.services.broadcast_per_second)
    await ctx.fsm.set_state(BroadcastFlow.confirm)
    await send(ctx.bot, chat_id, view)


async def on_edit(callback: CallbackQuery, ctx: Context) -> None:
    """✏️ Change the audience: back to step 3."""
    await toast(callback)
    await _audience(ctx, callback)


async def on_cancel(callback: CallbackQuery, ctx: Context) -> None:
    """✖️ Cancel: the draft is dropped."""
    await toast(callback)
    await _forget(ctx.fsm)
    await show(ctx.bot, callback, View(t(ctx.language, Msg.BC_CANCELLED)))


async def on_cancel_command(message: Message, ctx: Context) -> None:
    """/cancel while a draft is open."""
    await _forget(ctx.fsm)
    await send(ctx.bot, message.chat.id, View(t(ctx.language, Msg.BC_CANCELLED)))


async def on_send(callback: CallbackQuery, callback_data: Bc, ctx: Context) -> None:
    """✅ Send: the broadcast is stored for the leader; this message becomes its progress."""
    draft = await _draft(ctx.fsm)
    if draft is None or not draft.token or callback_data.arg != draft.token:
        await _expired(ctx, callback)
        return
    # Forgotten first: a second press finds no draft and sends nothing twice.
    await _forget(ctx.fsm)
    created = await create_broadcast(
        ctx.services.store,
        ctx.services.clock,
        ctx.services.ids,
        author_id=ctx.user.id,
        text=draft.text,
        segment=_segment(ctx, draft),
        report_chat_id=callback.from_user.id,
        button=draft.button,
    )
    if isinstance(created, Rejected):
        await toast(callback, t(ctx.language, Msg.BC_NOBODY), alert=True)
        return
    await toast(callback)
    shown = await show(ctx.bot, callback, _queued(ctx, created))
    await show_progress_in(ctx.services.store, created.id, shown.message_id)


def _queued(ctx: Context, broadcast: Broadcast) -> View:
    return progress_view(ctx.language, broadcast, BroadcastCounts(pending=broadcast.total))


async def on_stop(callback: CallbackQuery, callback_data: Bc, ctx: Context) -> None:
    """⏹ Stop: nothing more is sent; the sender posts the final report."""
    stopped = await stop_broadcast(
        ctx.services.store,
        ctx.services.clock,
        BroadcastId(callback_data.arg),
        by=ctx.user.id,
    )
    if isinstance(stopped, Rejected):
        await toast(callback, reason_text(stopped.reason, ctx.language), alert=True)
        return
    await toast(callback, t(ctx.language, Msg.TOAST_BC_STOPPING))
    if isinstance(callback.message, Message):
        await drop_keyboard(ctx.bot, callback.from_user.id, callback.message.message_id)


async def on_membership(update: ChatMemberUpdated, ctx: Context) -> None:
    """A user blocked the bot (left out of broadcasts from now on) or unblocked it."""
    status = update.new_chat_member.status
    user_id = UserId(update.from_user.id)
    async with ctx.services.store() as uow:
        if status == ChatMemberStatus.KICKED:
            await uow.audience.mark_blocked(user_id, ctx.services.clock.now())
        elif status == ChatMemberStatus.MEMBER:
            await uow.audience.mark_reachable(user_id)
        await uow.commit()


def make_router() -> Router:
    """A new router with this module's handlers (one per dispatcher)."""
    router = admin_only(Router(name="broadcasts"))
    router.my_chat_member.register(on_membership, F.chat.type == ChatType.PRIVATE)
    router.message.register(on_broadcast, Command("broadcast"))
    router.message.register(on_cancel_command, Command("cancel"), StateFilter(BroadcastFlow))
    text_state = StateFilter(BroadcastFlow.text)
    router.message.register(on_text, text_state, F.text, ~F.text.startswith("/"))
    router.message.register(on_text, text_state, ~F.text)
    router.message.register(
        on_button_text, StateFilter(BroadcastFlow.button), F.text, ~F.text.startswith("/")
    )
    router.callback_query.register(on_new, Adm.filter(F.act == AdmAct.BROADCAST))
    actions: dict[BcAct, tuple[Callable[..., Awaitable[None]], State | None]] = {
        BcAct.NO_BUTTON: (on_no_button, BroadcastFlow.button),
        BcAct.LANGUAGE: (on_choice, BroadcastFlow.audience),
        BcAct.ACTIVE: (on_choice, BroadcastFlow.audience),
        BcAct.PAID: (on_choice, BroadcastFlow.audience),
        BcAct.PREVIEW: (on_preview, BroadcastFlow.audience),
        BcAct.EDIT: (on_edit, BroadcastFlow.confirm),
        BcAct.SEND: (on_send, BroadcastFlow.confirm),
        BcAct.CANCEL: (on_cancel, None),
        BcAct.STOP: (on_stop, None),
    }
    for act, (handler, state) in actions.items():
        filters: list[Any] = [Bc.filter(F.act == act)]
        if state is not None:
            filters.append(StateFilter(state))
        router.callback_query.register(handler, *filters)
    # An admin's button of a draft no longer open; anyone else's press falls through to the
    # stale-button answer (``routers.fallback``).
    router.callback_query.register(on_stale, Bc.filter())
    return router


async def on_stale(callback: CallbackQuery, ctx: Context) -> None:
    """A button of a draft that is no longer open (or of an older screen of it)."""
    await toast(callback, t(ctx.language, Msg.BC_EXPIRED), alert=True)
