"""/admin (``ADMIN_IDS`` only): statistics, users (grants, bans), model switches, audit trail.

Anyone else's /admin falls through to the ordinary unknown-command answer, and their presses
of admin buttons to the stale-button answer: every handler here is behind ``admin_only``.
So is an admin's /admin in a group, where every member would read the screens.
Questions the admin answers by message wait in ``AdminFlow`` states (stored like the wizard's,
so they survive a restart); any command leaves them. Every change goes through a core use case
that writes the audit trail with the admin as actor.
"""

from aiogram import F, Router
from aiogram.filters import Command, StateFilter
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, Message

from kiebot_core.domain.audit import telegram_actor, telegram_id_of
from kiebot_core.domain.ids import UserId
from kiebot_core.domain.outcomes import Rejected
from kiebot_core.domain.reasons import reason_text
from kiebot_core.domain.users import user_id_query
from kiebot_core.use_cases.admin import (
    STATS_PERIODS,
    BanChanged,
    UserRecord,
    look_up_user,
    operator_stats,
    set_banned,
    user_record,
)
from kiebot_core.use_cases.audit import audit_trail
from kiebot_core.use_cases.billing import MAX_GRANT_STARS, grant_stars
from kiebot_core.use_cases.catalog import SetModelEnabled
from kiebot_telegram.admin_views import (
    AUDIT_PER_PAGE,
    DEFAULT_STATS_DAYS,
    admin_home_view,
    audit_view,
    ban_reason_view,
    grant_amount_view,
    grant_reason_view,
    lookup_view,
    models_view,
    reason_problem_text,
    stats_view,
    user_view,
)
from kiebot_telegram.admins import admin_only
from kiebot_telegram.callbacks import Adm, AdmAct, resolve_model
from kiebot_telegram.context import Context
from kiebot_telegram.formatting import clip, escape
from kiebot_telegram.messaging import show, toast
from kiebot_telegram.routers.common import stale
from kiebot_telegram.texts import Msg, t
from kiebot_telegram.views import View

USER = "adm_user"
"""The user a grant or ban is about (stored with the conversation)."""
STARS = "adm_stars"
"""The Stars of a grant whose reason is being asked."""
BAN = "adm_ban"
"""True when the reason asked is for a ban, False for an unban."""


class AdminFlow(StatesGroup):
    """Questions an admin answers with a message (state names are stored: a contract)."""

    lookup = State()
    grant_stars = State()
    grant_reason = State()
    ban_reason = State()


async def _leave(ctx: Context) -> None:
    """Forget an unanswered admin question (nothing else of the conversation)."""
    if await ctx.fsm.get_state() in {state.state for state in AdminFlow.__all_states__}:
        await ctx.fsm.set_state(None)
    data = await ctx.fsm.get_data()
    if any(key in data for key in (USER, STARS, BAN)):
        await ctx.fsm.set_data({k: v for k, v in data.items() if k not in {USER, STARS, BAN}})


def _stars(text: str) -> int:
    """The whole number of Stars typed (ASCII digits only); 0 for anything else."""
    digits = text.strip()
    if digits.isascii() and digits.isdigit() and len(digits) <= len(str(MAX_GRANT_STARS)):
        return int(digits)
    return 0


async def _card(ctx: Context, record: UserRecord, lead: str = "") -> View:
    return user_view(
        ctx.language,
        record,
        await ctx.services.registry(),
        is_admin=record.user.id in ctx.services.admin_ids,
        lead=lead,
    )


async def _show_user(
    ctx: Context, target: Message | CallbackQuery, user_id: UserId, lead: str = ""
) -> None:
    record = await user_record(ctx.services.store, user_id)
    if record is None:
        lead = t(ctx.language, Msg.ADMIN_NOT_FOUND, query=user_id)
        await show(ctx.bot, target, lookup_view(ctx.language, problem=lead))
        await ctx.fsm.set_state(AdminFlow.lookup)
        return
    await show(ctx.bot, target, await _card(ctx, record, lead))


async def on_admin(message: Message, ctx: Context) -> None:
    """/admin: the admin screen."""
    await _leave(ctx)
    await show(ctx.bot, message, admin_home_view(ctx.language))


async def on_home(callback: CallbackQuery, ctx: Context) -> None:
    """⬅️ Admin (also ✖️ Cancel of a question)."""
    await _leave(ctx)
    await toast(callback)
    await show(ctx.bot, callback, admin_home_view(ctx.language))


async def on_stats(callback: CallbackQuery, callback_data: Adm, ctx: Context) -> None:
    """📊 Statistics of a period (today, 7 or 30 days)."""
    days = int(callback_data.arg) if callback_data.arg.isdigit() else DEFAULT_STATS_DAYS
    days = days if days in STATS_PERIODS else DEFAULT_STATS_DAYS
    await toast(callback)
    services = ctx.services
    stats = await operator_stats(services.store, services.clock, services.prices, days=days)
    view = stats_view(ctx.language, stats, await services.registry(), days)
    await show(ctx.bot, callback, view)


# ------------------------------------------------------------------ users


async def on_users(callback: CallbackQuery, ctx: Context) -> None:
    """👤 Users: ask for an id or @username."""
    await _leave(ctx)
    await ctx.fsm.set_state(AdminFlow.lookup)
    await toast(callback)
    await show(ctx.bot, callback, lookup_view(ctx.language))


async def on_lookup_text(message: Message, ctx: Context) -> None:
    """The id or @username typed: the user's card, or the question again."""
    query = message.text or ""
    found = await look_up_user(ctx.services.store, query)
    if isinstance(found, Rejected):
        problem = t(ctx.language, Msg.ADMIN_LOOKUP_MALFORMED)
        await show(ctx.bot, message, lookup_view(ctx.language, problem=problem))
        return
    if found is None:
        problem = t(ctx.language, Msg.ADMIN_NOT_FOUND, query=escape(clip(query, 64)))
        await show(ctx.bot, message, lookup_view(ctx.language, problem=problem))
        return
    await _leave(ctx)
    await show(ctx.bot, message, await _card(ctx, found))


async def on_user(callback: CallbackQuery, callback_data: Adm, ctx: Context) -> None:
    """A user's card (also ✖️ Cancel of a grant or a ban)."""
    user_id = user_id_query(callback_data.arg)
    if user_id is None:
        await stale(ctx, callback)
        return
    await _leave(ctx)
    await toast(callback)
    await _show_user(ctx, callback, user_id)


async def on_grant(callback: CallbackQuery, callback_data: Adm, ctx: Context) -> None:
    """🎁 Grant Stars: ask how many."""
    user_id = user_id_query(callback_data.arg)
    if user_id is None:
        await stale(ctx, callback)
        return
    await _leave(ctx)
    await ctx.fsm.set_state(AdminFlow.grant_stars)
    await ctx.fsm.update_data({USER: user_id})
    await toast(callback)
    await show(ctx.bot, callback, grant_amount_view(ctx.language, user_id))


async def _asked_user(ctx: Context, message: Message) -> UserId | None:
    """The user the pending question is about; None (and the admin screen) if it is lost."""
    user_id = (await ctx.fsm.get_data()).get(USER)
    if isinstance(user_id, int):
        return UserId(user_id)
    await _leave(ctx)
    await show(ctx.bot, message, admin_home_view(ctx.language))
    return None


async def on_grant_stars_text(message: Message, ctx: Context) -> None:
    """How many Stars: then ask why."""
    user_id = await _asked_user(ctx, message)
    if user_id is None:
        return
    stars = _stars(message.text or "")
    if not 1 <= stars <= MAX_GRANT_STARS:
        problem = t(ctx.language, Msg.ADMIN_GRANT_BAD_AMOUNT, max=MAX_GRANT_STARS)
        await show(ctx.bot, message, grant_amount_view(ctx.language, user_id, problem))
        return
    await ctx.fsm.set_state(AdminFlow.grant_reason)
    await ctx.fsm.update_data({STARS: stars})
    await show(ctx.bot, message, grant_reason_view(ctx.language, user_id, stars))


async def on_grant_reason_text(message: Message, ctx: Context) -> None:
    """Why: grant (once per amount and reason) and show the card."""
    user_id = await _asked_user(ctx, message)
    if user_id is None:
        return
    stars = (await ctx.fsm.get_data()).get(STARS)
    if not isinstance(stars, int):
        await ctx.fsm.set_state(AdminFlow.grant_stars)
        await show(ctx.bot, message, grant_amount_view(ctx.language, user_id))
        return
    services = ctx.services
    granted = await grant_stars(
        services.store,
        services.clock,
        user_id,
        stars,
        message.text or "",
        by=telegram_actor(ctx.user.id),
    )
    if isinstance(granted, Rejected):
        problem = reason_problem_text(ctx.language)
        await show(ctx.bot, message, grant_reason_view(ctx.language, user_id, stars, problem))
        return
    await _leave(ctx)
    lead = (
        t(ctx.language, Msg.ADMIN_GRANTED, stars=stars)
        if granted.is_new
        else t(ctx.language, Msg.ADMIN_GRANTED_ALREADY)
    )
    await _show_user(ctx, message, user_id, lead)


async def _ask_ban_reason(
    callback: CallbackQuery, callback_data: Adm, ctx: Context, *, ban: bool
) -> None:
    user_id = user_id_query(callback_data.arg)
    if user_id is None:
        await stale(ctx, callback)
        return
    await _leave(ctx)
    await ctx.fsm.set_state(AdminFlow.ban_reason)
    await ctx.fsm.update_data({USER: user_id, BAN: ban})
    await toast(callback)
    await show(ctx.bot, callback, ban_reason_view(ctx.language, user_id, ban=ban))


async def on_ban(callback: CallbackQuery, callback_data: Adm, ctx: Context) -> None:
    """⛔ Ban: ask why."""
    await _ask_ban_reason(callback, callback_data, ctx, ban=True)


async def on_unban(callback: CallbackQuery, callback_data: Adm, ctx: Context) -> None:
    """✅ Unban: ask why."""
    await _ask_ban_reason(callback, callback_data, ctx, ban=False)


async def on_ban_reason_text(message: Message, ctx: Context) -> None:
    """Why: ban or unban, and show the card."""
    user_id = await _asked_user(ctx, message)
    if user_id is None:
        return
    ban = (await ctx.fsm.get_data()).get(BAN) is True
    services = ctx.services
    changed = await set_banned(
        services.store,
        services.clock,
        user_id,
        banned=ban,
        by=telegram_actor(ctx.user.id),
        reason=message.text or "",
        protected=services.admin_ids,
    )
    if isinstance(changed, Rejected) and changed.input_name == "reason":
        problem = reason_problem_text(ctx.language)
        view = ban_reason_view(ctx.language, user_id, ban=ban, problem=problem)
        await show(ctx.bot, message, view)
        return
    await _leave(ctx)
    await _show_user(ctx, message, user_id, _ban_lead(ctx, changed, ban=ban))


def _ban_lead(ctx: Context, changed: BanChanged | Rejected, *, ban: bool) -> str:
    if isinstance(changed, Rejected):
        return t(ctx.language, Msg.ADMIN_CANNOT_BAN_ADMIN)
    if not changed.changed:
        return t(ctx.language, Msg.ADMIN_BAN_UNCHANGED)
    return t(ctx.language, Msg.ADMIN_BANNED if ban else Msg.ADMIN_UNBANNED)


async def on_question_other(message: Message, ctx: Context) -> None:
    """A photo, a sticker … while a question waits: ask again, for text."""
    problem = t(ctx.language, Msg.ADMIN_SEND_TEXT)
    state = await ctx.fsm.get_state()
    data = await ctx.fsm.get_data()
    user_id = data.get(USER)
    if state == AdminFlow.lookup.state or not isinstance(user_id, int):
        view = lookup_view(ctx.language, problem=problem)
    elif state == AdminFlow.grant_stars.state:
        view = grant_amount_view(ctx.language, user_id, problem)
    elif state == AdminFlow.grant_reason.state and isinstance(data.get(STARS), int):
        view = grant_reason_view(ctx.language, user_id, data[STARS], problem)
    else:
        view = ban_reason_view(ctx.language, user_id, ban=data.get(BAN) is True, problem=problem)
    await show(ctx.bot, message, view)


# ------------------------------------------------------------------ models and audit


async def on_models(callback: CallbackQuery, callback_data: Adm, ctx: Context) -> None:
    """🧩 Models: every model with its switch."""
    await _leave(ctx)
    await toast(callback)
    registry = await ctx.services.registry()
    await show(ctx.bot, callback, models_view(ctx.language, registry, callback_data.page))


async def on_switch(callback: CallbackQuery, callback_data: Adm, ctx: Context) -> None:
    """A model's switch: on or off for every user (the button says which)."""
    services = ctx.services
    registry = await services.registry()
    model = resolve_model(registry, callback_data.arg)
    if model is None:
        await stale(ctx, callback)
        return
    switch = SetModelEnabled(services.store, registry, services.clock)
    refused = await switch(model.id, enabled=callback_data.on, by=telegram_actor(ctx.user.id))
    title = model.title(ctx.language)
    if refused is not None:
        await toast(callback, reason_text(refused.reason, ctx.language), alert=True)
    else:
        if services.catalog_changed is not None:
            services.catalog_changed()
        key = Msg.TOAST_MODEL_ON if callback_data.on else Msg.TOAST_MODEL_OFF
        await toast(callback, t(ctx.language, key, model=title))
    registry = await services.registry()
    await show(ctx.bot, callback, models_view(ctx.language, registry, callback_data.page))


async def on_audit(callback: CallbackQuery, callback_data: Adm, ctx: Context) -> None:
    """📜 Audit trail, newest first, a page at a time."""
    await _leave(ctx)
    page = max(callback_data.page, 0)
    start, end = page * AUDIT_PER_PAGE, (page + 1) * AUDIT_PER_PAGE
    entries = await audit_trail(ctx.services.store, limit=end + 1)
    shown = entries[start:end]
    names: dict[int, str] = {}
    admin_ids = {telegram_id_of(entry.actor) for entry in shown} - {None}
    async with ctx.services.store() as uow:
        for admin_id in admin_ids:
            user = await uow.users.get(UserId(admin_id)) if admin_id is not None else None
            if user is not None and user.username:
                names[user.id] = user.username
    await toast(callback)
    view = audit_view(ctx.language, shown, page, has_more=len(entries) > end, names=names)
    await show(ctx.bot, callback, view)


def _answerable(message: Message) -> bool:
    """Anything but a command (a command leaves the question for its own screen)."""
    return not (message.text or "").startswith("/")


def make_router() -> Router:
    """A new router with this module's handlers (one per dispatcher); admins only."""
    router = admin_only(Router(name="admin"))
    router.message.register(on_admin, Command("admin"))
    text = (F.text, _answerable)
    router.message.register(on_lookup_text, StateFilter(AdminFlow.lookup), *text)
    router.message.register(on_grant_stars_text, StateFilter(AdminFlow.grant_stars), *text)
    router.message.register(on_grant_reason_text, StateFilter(AdminFlow.grant_reason), *text)
    router.message.register(on_ban_reason_text, StateFilter(AdminFlow.ban_reason), *text)
    router.message.register(on_question_other, StateFilter(AdminFlow), _answerable)
    for act, handler in (
        (AdmAct.HOME, on_home),
        (AdmAct.STATS, on_stats),
        (AdmAct.USERS, on_users),
        (AdmAct.USER, on_user),
        (AdmAct.GRANT, on_grant),
        (AdmAct.BAN, on_ban),
        (AdmAct.UNBAN, on_unban),
        (AdmAct.MODELS, on_models),
        (AdmAct.SWITCH, on_switch),
        (AdmAct.AUDIT, on_audit),
    ):
        router.callback_query.register(handler, Adm.filter(F.act == act))
    return router
