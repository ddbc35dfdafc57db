"""The wizard in Telegram; every rule (next step, skip, defaults, back, prices) is the core's.

One message is edited in place while buttons are pressed; typed text or a sent file gets the
next screen in a new message.
"""

import logging
import time
from collections.abc import Callable, Mapping

import attrs
from aiogram import F, Router
from aiogram.filters import StateFilter
from aiogram.types import CallbackQuery, Message

from kiebot_core.domain import wizard
from kiebot_core.domain.catalog import InputKind, JsonValue, ModelSpec
from kiebot_core.domain.errors import ProviderError
from kiebot_core.domain.outcomes import Rejected
from kiebot_core.domain.pricing import canonical
from kiebot_core.domain.reasons import ReasonCode, reason_text
from kiebot_core.domain.validation import parse_answer
from kiebot_core.domain.wizard import AskScreen, ConfirmScreen, Exited, StepKind, WizardState
from kiebot_telegram.callbacks import Begin, Wiz, WizardAct, resolve_input, resolve_model
from kiebot_telegram.context import Context
from kiebot_telegram.media import (
    MAX_DOWNLOAD_BYTES,
    IncomingFile,
    TelegramFileError,
    download,
    incoming_file,
)
from kiebot_telegram.messaging import drop_keyboard, send, show, toast
from kiebot_telegram.routers.common import (
    Flow,
    Origin,
    Session,
    end_session,
    load_session,
    menu,
    new_token,
    save_session,
    session_view,
    stale,
)
from kiebot_telegram.routers.generation import launch
from kiebot_telegram.telemetry import note_call
from kiebot_telegram.texts import Msg, t
from kiebot_telegram.views import card_view, edit_list_view, expects, option_value

_log = logging.getLogger(__name__)

Outcome = WizardState | Exited | Rejected


async def open_wizard(ctx: Context, target: CallbackQuery | Message, session: Session) -> None:
    """Show a new or changed session and store it with the message that shows it."""
    shown = await show(ctx.bot, target, await session_view(ctx, session))
    await save_session(ctx.fsm, attrs.evolve(session, message_id=shown.message_id))


async def on_begin(callback: CallbackQuery, callback_data: Begin, ctx: Context) -> None:
    """▶️ Start on a model card: a new wizard in the same message."""
    model = resolve_model(await ctx.services.registry(), callback_data.model)
    if model is None or not model.enabled:
        reason = ReasonCode.MODEL_UNKNOWN if model is None else ReasonCode.MODEL_DISABLED
        await stale(ctx, callback, reason)
        return
    await end_session(ctx.fsm)
    await toast(callback)
    session = Session(
        model=model,
        state=wizard.start(model),
        tok=new_token(),
        origin=Origin(callback_data.src, callback_data.arg, callback_data.page),
    )
    await open_wizard(ctx, callback, session)


async def _current_session(
    callback: CallbackQuery, callback_data: Wiz, ctx: Context
) -> Session | None:
    """The session a wizard button acts on; None (after answering) when the button is stale."""
    loaded = await load_session(ctx.fsm, await ctx.services.registry())
    if isinstance(loaded, Rejected):
        await stale(ctx, callback, loaded.reason)
        return None
    if loaded is None or loaded.tok != callback_data.tok:
        await stale(ctx, callback)
        return None
    if loaded.step != callback_data.step:
        # A button of an earlier step of this wizard: show where the wizard is now.
        await toast(callback, reason_text(ReasonCode.STALE_ACTION, ctx.language))
        await open_wizard(ctx, callback, loaded)
        return None
    return loaded


def _chosen(ctx: Context, session: Session, arg: str) -> JsonValue | Rejected:
    screen = wizard.screen(session.model, session.state, ctx.services.prices)
    if not isinstance(screen, AskScreen):
        return Rejected(ReasonCode.STALE_ACTION, detail="not asking")
    value = option_value(screen.input, arg)
    if isinstance(value, Rejected):
        return value
    if canonical(value) not in {canonical(option.value) for option in screen.options}:
        return Rejected(ReasonCode.STALE_ACTION, screen.input.name, "option not offered")
    return value


_MOVES: Mapping[WizardAct, Callable[[ModelSpec, WizardState], Outcome]] = {
    WizardAct.SKIP: wizard.skip,
    WizardAct.DEFAULT: wizard.use_default,
    WizardAct.SKIP_ALL: wizard.skip_all_optional,
    WizardAct.DONE: wizard.finish_list,
    WizardAct.BACK: lambda _, state: wizard.back(state),
}


def _step(ctx: Context, session: Session, act: WizardAct, arg: str) -> Outcome:
    model, state = session.model, session.state
    move = _MOVES.get(act)
    if move is not None:
        return move(model, state)
    if act is WizardAct.OPTION:
        value = _chosen(ctx, session, arg)
        return value if isinstance(value, Rejected) else wizard.answer(model, state, value)
    if act is WizardAct.EDIT:
        spec = resolve_input(model, arg)
        if spec is None:
            return Rejected(ReasonCode.STALE_ACTION, detail=f"no input {arg}")
        return wizard.edit(model, state, spec.name)
    return state


async def _show_list(
    callback: CallbackQuery, ctx: Context, session: Session, *, advanced: bool
) -> None:
    screen = wizard.screen(session.model, session.state, ctx.services.prices)
    if not isinstance(screen, ConfirmScreen):
        await stale(ctx, callback)
        return
    await toast(callback)
    view = edit_list_view(ctx.language, session.model, screen, session.tok, advanced=advanced)
    await show(ctx.bot, callback, view)


async def _apply(
    callback: CallbackQuery, ctx: Context, session: Session, outcome: Outcome
) -> None:
    if isinstance(outcome, Exited):
        await end_session(ctx.fsm)
        await toast(callback)
        origin = session.origin
        view = card_view(
            ctx.language,
            await ctx.services.registry(),
            ctx.services.prices,
            session.model,
            kind=origin.kind,
            arg=origin.arg,
            page=origin.page,
            free=await ctx.services.free_runs(ctx.user.id, session.model),
        )
        await show(ctx.bot, callback, view)
        return
    if isinstance(outcome, Rejected):
        text = reason_text(outcome.reason, ctx.language)
        await toast(callback, text, alert=outcome.reason is not ReasonCode.STALE_ACTION)
        await open_wizard(ctx, callback, session)
        return
    await toast(callback)
    await open_wizard(ctx, callback, attrs.evolve(session, state=outcome))


async def on_wizard_button(callback: CallbackQuery, callback_data: Wiz, ctx: Context) -> None:
    """Any button of a wizard screen."""
    session = await _current_session(callback, callback_data, ctx)
    if session is None:
        return
    match callback_data.act:
        case WizardAct.MENU:
            await toast(callback)
            await menu(ctx, callback)
        case WizardAct.CANCEL:
            await toast(callback)
            await menu(ctx, callback, lead=t(ctx.language, Msg.CANCELLED))
        case WizardAct.CONFIRM:
            await launch(callback, ctx, session)
        case WizardAct.OPTIONS_PAGE:
            await toast(callback)
            arg = callback_data.arg
            page = int(arg) if arg.isdigit() else 0
            await show(ctx.bot, callback, await session_view(ctx, session, page=page))
        case WizardAct.EDIT_LIST | WizardAct.ADVANCED_LIST:
            advanced = callback_data.act is WizardAct.ADVANCED_LIST
            await _show_list(callback, ctx, session, advanced=advanced)
        case _:
            outcome = _step(ctx, session, callback_data.act, callback_data.arg)
            await _apply(callback, ctx, session, outcome)


async def show_again(message: Message, ctx: Context, session: Session) -> None:
    """The session's current screen anew, below ``message`` (after a top-up, say)."""
    await _answer_anew(message, ctx, session, session.state)


async def _answer_anew(
    message: Message,
    ctx: Context,
    session: Session,
    outcome: WizardState | Rejected,
    hint: str = "",
) -> None:
    """After typed text or a file: the next screen (or the same one with the problem) anew."""
    if session.message_id is not None:
        await drop_keyboard(ctx.bot, message.chat.id, session.message_id)
    if isinstance(outcome, Rejected):
        problem = hint or reason_text(outcome.reason, ctx.language)
        view = await session_view(ctx, session, problem=problem)
        moved = session
    else:
        moved = attrs.evolve(session, state=outcome)
        view = await session_view(ctx, moved)
    shown = await send(ctx.bot, message.chat.id, view)
    await save_session(ctx.fsm, attrs.evolve(moved, message_id=shown.message_id))


def _text_outcome(session: Session, screen: AskScreen, text: str) -> WizardState | Rejected:
    model, state, spec = session.model, session.state, screen.input
    if screen.kind is StepKind.MEDIA:
        if not text.strip().lower().startswith(("http://", "https://")):
            return Rejected(ReasonCode.INVALID_INPUT, spec.name, "expected a file")
        return wizard.add_item(model, state, text.strip())
    if spec.kind is InputKind.ARRAY and not text.lstrip().startswith("["):
        items = parse_answer(attrs.evolve(spec, min_items=None), text)
        if isinstance(items, Rejected):
            return items
        moved: WizardState | Rejected = state
        for item in items if isinstance(items, list) else [items]:
            if isinstance(moved, Rejected):
                break
            moved = wizard.add_item(model, moved, item)
        return moved
    return wizard.answer_text(model, state, text)


async def _loaded(message: Message, ctx: Context) -> Session | None:
    loaded = await load_session(ctx.fsm, await ctx.services.registry())
    if isinstance(loaded, Session):
        return loaded
    reason = loaded.reason if loaded is not None else ReasonCode.WIZARD_EXPIRED
    await menu(ctx, message, lead=reason_text(reason, ctx.language))
    return None


def _confirm_hint(ctx: Context) -> str:
    return t(ctx.language, Msg.HINT_EXPECTS, what=t(ctx.language, Msg.WHAT_CHOICE))


async def on_wizard_text(message: Message, ctx: Context) -> None:
    """Typed text answers the current step (parsed by the core for the input's type)."""
    session = await _loaded(message, ctx)
    if session is None:
        return
    screen = wizard.screen(session.model, session.state, ctx.services.prices)
    if isinstance(screen, ConfirmScreen):
        refusal = Rejected(ReasonCode.UNKNOWN_ACTION)
        await _answer_anew(message, ctx, session, refusal, _confirm_hint(ctx))
        return
    outcome = _text_outcome(session, screen, message.text or "")
    hint = ""
    if isinstance(outcome, Rejected) and screen.kind is StepKind.MEDIA:
        hint = expects(ctx.language, screen)
    await _answer_anew(message, ctx, session, outcome, hint)


async def on_wizard_file(message: Message, ctx: Context) -> None:
    """A photo, video, audio or document for a media step; anything else gets the step's hint."""
    session = await _loaded(message, ctx)
    if session is None:
        return
    screen = wizard.screen(session.model, session.state, ctx.services.prices)
    file = incoming_file(message)
    unsupported = Rejected(ReasonCode.UNSUPPORTED_FILE)
    if not isinstance(screen, AskScreen):
        await _answer_anew(message, ctx, session, unsupported, _confirm_hint(ctx))
        return
    if screen.kind is not StepKind.MEDIA or file is None:
        await _answer_anew(message, ctx, session, unsupported, expects(ctx.language, screen))
        return
    if file.kind is not screen.input.media_kind:
        problem = reason_text(ReasonCode.UNSUPPORTED_FILE, ctx.language)
        hint = f"{problem} {expects(ctx.language, screen)}"
        await _answer_anew(message, ctx, session, unsupported, hint)
        return
    if file.size is not None and file.size > MAX_DOWNLOAD_BYTES:
        await _answer_anew(message, ctx, session, Rejected(ReasonCode.FILE_TOO_LARGE))
        return
    await _answer_anew(message, ctx, session, await _upload(ctx, session, file))


async def _upload(ctx: Context, session: Session, file: IncomingFile) -> WizardState | Rejected:
    """Telegram → the provider's file storage; the URL the provider gave answers the step."""
    try:
        data = await download(ctx.bot, file)
    except TelegramFileError as error:
        _log.warning("user file not fetched: %s", error)
        return Rejected(ReasonCode.PROVIDER_INPUT_UNREACHABLE, detail=str(error))
    gateway = ctx.services.pipeline.gateway
    started = time.perf_counter()
    try:
        uploaded = await gateway.upload(data, file.filename, file.mime_type)
    except ProviderError as error:
        _log.warning("user file not uploaded: %s", error)
        note_call("kie.upload", started, reason=error.code.value, code=error.provider_code or None)
        return Rejected(error.code, detail=error.detail)
    note_call("kie.upload", started, size=uploaded.size, mime=uploaded.mime_type)
    answered = wizard.add_item(session.model, session.state, uploaded.url)
    if isinstance(answered, Rejected) or uploaded.seconds is None:
        return answered
    return wizard.with_duration(answered, uploaded.url, uploaded.seconds)


def make_router() -> Router:
    """A new router with this module's handlers (one per dispatcher)."""
    router = Router(name="wizard")
    router.callback_query.register(on_begin, Begin.filter())
    router.callback_query.register(on_wizard_button, Wiz.filter())
    router.message.register(on_wizard_text, StateFilter(Flow.wizard), F.text)
    router.message.register(on_wizard_file, StateFilter(Flow.wizard))
    return router
