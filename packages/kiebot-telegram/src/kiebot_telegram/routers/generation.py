"""Runs: Confirm → the pipeline → the acknowledgement and the status message.

Also the buttons on a run's messages: Cancel, Repeat, Edit & rerun, Favorite and Re-send.
"""

from aiogram import Router
from aiogram.types import CallbackQuery, Message

from kiebot_core.domain import wizard
from kiebot_core.domain.favorites import Favorite
from kiebot_core.domain.generation import Generation
from kiebot_core.domain.ids import FavoriteId, GenerationId
from kiebot_core.domain.outcomes import Rejected
from kiebot_core.domain.reasons import ReasonCode, reason_text
from kiebot_core.domain.wizard import ConfirmScreen
from kiebot_core.use_cases.generation import (
    GenerationStarted,
    StartCommand,
    cancel_generation,
    start_generation,
)
from kiebot_telegram.callbacks import Run, RunAct
from kiebot_telegram.context import Context
from kiebot_telegram.delivery import resend
from kiebot_telegram.journal import inbox_request
from kiebot_telegram.messaging import edit, edit_by_id, send, show, toast
from kiebot_telegram.progress import StatusRef, chat_action_for, record_status_message
from kiebot_telegram.routers.common import (
    Session,
    end_session,
    new_token,
    save_session,
    session_view,
    stale,
)
from kiebot_telegram.texts import Msg, t
from kiebot_telegram.views import (
    View,
    accepted_text,
    edit_list_view,
    model_title,
    prompt_of,
    result_caption,
    result_markup,
    status_view,
)


async def _refuse(
    callback: CallbackQuery, ctx: Context, session: Session, refusal: Rejected
) -> None:
    text = reason_text(refusal.reason, ctx.language)
    await toast(callback, text, alert=True)
    await show(ctx.bot, callback, await session_view(ctx, session, problem=text))


async def launch(callback: CallbackQuery, ctx: Context, session: Session) -> None:
    """✅ Confirm: start the run (hold + queue), acknowledge at once, post the status message."""
    model, state = session.model, session.state
    ready = wizard.finish(model, state, ctx.services.prices)
    if isinstance(ready, Rejected):
        await _refuse(callback, ctx, session, ready)
        return
    command = StartCommand(
        user_id=ctx.user.id,
        model_id=model.id,
        answers=dict(state.answers),
        correlation_id=ctx.correlation_id,
        facts=wizard.media_facts(state),
        request=inbox_request(),
    )
    started = await start_generation(ctx.services.pipeline, command)
    if isinstance(started, Rejected):
        await _refuse(callback, ctx, session, started)
        return
    await end_session(ctx.fsm)
    await toast(callback, t(ctx.language, Msg.TOAST_ACCEPTED))
    title = model_title(model, model.id, ctx.language)
    accepted = View(accepted_text(ctx.language, title, started.quote.stars, free=started.is_free))
    message = callback.message
    if isinstance(message, Message):
        await edit(ctx.bot, message, accepted)
        chat_id = message.chat.id
    else:
        await send(ctx.bot, ctx.user.id, accepted)
        chat_id = ctx.user.id
    await post_status(ctx, chat_id, started)


async def post_status(ctx: Context, chat_id: int, started: GenerationStarted) -> None:
    """Send the run's status message (with Cancel) and remember where it is."""
    services = ctx.services
    async with services.store() as uow:
        generation = await uow.generations.get(started.generation_id)
    if generation is None:
        return
    model = (await services.registry()).get(generation.model_id)
    title = model_title(model, generation.model_id, ctx.language)
    status = await send(ctx.bot, chat_id, status_view(ctx.language, title, generation))
    ref = StatusRef(chat_id, status.message_id)
    async with services.store() as uow:
        await record_status_message(
            uow,
            generation_id=generation.id,
            correlation_id=generation.correlation_id,
            user_id=ctx.user.id,
            ref=ref,
            at=services.clock.now(),
        )
        await uow.commit()
        current = await uow.generations.get(generation.id)
    if services.board is not None:
        services.board.mark_shown(generation.id, generation.state, ref)
    await ctx.bot.send_chat_action(chat_id, chat_action_for(model.category if model else None))
    if current is not None and current.state.is_terminal:
        # The run ended before its status message was recorded: close the message here.
        final = status_view(ctx.language, title, current)
        await edit_by_id(ctx.bot, chat_id, ref.message_id, final)


async def _cancel(callback: CallbackQuery, ctx: Context, generation_id: GenerationId) -> None:
    cancelled = await cancel_generation(ctx.services.pipeline, ctx.user.id, generation_id)
    if isinstance(cancelled, Rejected):
        await toast(callback, reason_text(cancelled.reason, ctx.language))
    else:
        await toast(callback, t(ctx.language, Msg.TOAST_CANCELLING))


async def _resend(
    callback: CallbackQuery, ctx: Context, generation: Generation, chat_id: int
) -> None:
    model = (await ctx.services.registry()).get(generation.model_id)
    title = model_title(model, generation.model_id, ctx.language)
    caption = result_caption(ctx.language, title, generation)
    markup = result_markup(ctx.language, generation)
    sent = await resend(ctx.bot, chat_id, generation.delivered_refs, caption, markup)
    await toast(callback, None if sent else t(ctx.language, Msg.TOAST_NOT_AVAILABLE))


async def _rerun(
    callback: CallbackQuery, ctx: Context, generation: Generation, chat_id: int, *, edit: bool
) -> None:
    """A new wizard pre-filled with a run's inputs: the summary (Repeat) or what to change."""
    model = (await ctx.services.registry()).get(generation.model_id)
    if model is None or not model.enabled:
        reason = ReasonCode.MODEL_UNKNOWN if model is None else ReasonCode.MODEL_DISABLED
        await toast(callback, reason_text(reason, ctx.language), alert=True)
        return
    await end_session(ctx.fsm)
    await toast(callback)
    # The same inputs again: what the earlier run left out stays left out (the core's skip).
    preset = wizard.start(model, dict(generation.input))
    session = Session(model=model, state=wizard.skip_all_optional(model, preset), tok=new_token())
    view = await session_view(ctx, session)
    screen = wizard.screen(model, session.state, ctx.services.prices)
    if edit and isinstance(screen, ConfirmScreen):
        view = edit_list_view(ctx.language, model, screen, session.tok, advanced=False)
    shown = await send(ctx.bot, chat_id, view)
    await save_session(
        ctx.fsm,
        Session(model=model, state=session.state, tok=session.tok, message_id=shown.message_id),
    )


async def _favorite(callback: CallbackQuery, ctx: Context, generation: Generation) -> None:
    """⭐ Favorite: keep the run's model and inputs as a preset (once per model and inputs)."""
    services = ctx.services
    wanted = Favorite(
        id=FavoriteId(services.ids.new("fav")),
        user_id=ctx.user.id,
        model_id=generation.model_id,
        answers=dict(generation.input),
        title=prompt_of(generation),
        created_at=services.clock.now(),
    )
    async with services.store() as uow:
        saved = await uow.favorites.add(wanted)
        await uow.commit()
    added = saved.id == wanted.id
    await toast(
        callback, t(ctx.language, Msg.TOAST_FAVORITE_SAVED if added else Msg.TOAST_FAVORITE_EXISTS)
    )


async def on_run(callback: CallbackQuery, callback_data: Run, ctx: Context) -> None:
    """A button on a run's status, result or failure message."""
    generation_id = GenerationId(callback_data.gen)
    if callback_data.act is RunAct.CANCEL:
        await _cancel(callback, ctx, generation_id)
        return
    async with ctx.services.store() as uow:
        generation = await uow.generations.get(generation_id)
    if generation is None or generation.user_id != ctx.user.id:
        await stale(ctx, callback)
        return
    message = callback.message
    chat_id = message.chat.id if isinstance(message, Message) else ctx.user.id
    if callback_data.act is RunAct.RESEND:
        await _resend(callback, ctx, generation, chat_id)
        return
    if callback_data.act is RunAct.FAVORITE:
        await _favorite(callback, ctx, generation)
        return
    edit_first = callback_data.act is RunAct.EDIT_RERUN
    await _rerun(callback, ctx, generation, chat_id, edit=edit_first)


def make_router() -> Router:
    """A new router with this module's handlers (one per dispatcher)."""
    router = Router(name="generation")
    router.callback_query.register(on_run, Run.filter())
    return router
