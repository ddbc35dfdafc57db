"""Pure rendering of the /admin screens: statistics, a user's card, prompts, models, audit.

Another admin section (a broadcast, say) adds its button to :data:`HOME_SECTIONS` and its own
router handling ``Adm`` callbacks with its ``AdmAct``; nothing else here changes.
"""

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from kiebot_core.domain.audit import (
    MAX_AUDIT_REASON,
    Actor,
    AuditAction,
    AuditEntry,
    telegram_id_of,
)
from kiebot_core.domain.catalog import ModelSpec, Registry
from kiebot_core.domain.generation import GenerationState
from kiebot_core.domain.stats import ModelRuns, Stats
from kiebot_core.domain.texts import Language
from kiebot_core.use_cases.admin import STATS_PERIODS, UserRecord
from kiebot_core.use_cases.billing import MAX_GRANT_STARS
from kiebot_core.use_cases.catalog import switchable
from kiebot_telegram.callbacks import Adm, AdmAct, Nav, Screen, model_ref
from kiebot_telegram.formatting import MAX_TEXT, clip, escape, fits
from kiebot_telegram.keyboards import Row, button, markup, pager, pages
from kiebot_telegram.texts import Msg, t
from kiebot_telegram.views import View, model_title, move_line

HOME_SECTIONS: tuple[tuple[tuple[Msg, AdmAct], ...], ...] = (
    ((Msg.BTN_ADMIN_STATS, AdmAct.STATS), (Msg.BTN_ADMIN_USERS, AdmAct.USERS)),
    ((Msg.BTN_ADMIN_MODELS, AdmAct.MODELS), (Msg.BTN_ADMIN_AUDIT, AdmAct.AUDIT)),
    ((Msg.BTN_ADMIN_BROADCAST, AdmAct.BROADCAST),),
)
"""The admin screen's buttons, row by row (a new section appends its row)."""
DEFAULT_STATS_DAYS = 7
MODELS_PER_PAGE = 10
AUDIT_PER_PAGE = 10
STATS_MODELS_SHOWN = 15
"""Models listed in the statistics, most runs first."""
_MINUTE = 60
_LIVE = frozenset(
    {
        GenerationState.PENDING,
        GenerationState.SUBMITTED,
        GenerationState.RUNNING,
        GenerationState.DELIVERING,
    }
)
_MARK = {
    GenerationState.SUCCEEDED: "✅",
    GenerationState.FAILED: "❌",
    GenerationState.CANCELLED: "✖️",
}
AUDIT_ACTION_TEXT: Mapping[AuditAction, Msg] = {
    AuditAction.GRANT: Msg.AUDIT_GRANT,
    AuditAction.GENERATION_REFUND: Msg.AUDIT_GENERATION_REFUND,
    AuditAction.PAYMENT_REFUND: Msg.AUDIT_PAYMENT_REFUND,
    AuditAction.PROMO_CREATE: Msg.AUDIT_PROMO_CREATE,
    AuditAction.BAN: Msg.AUDIT_BAN,
    AuditAction.UNBAN: Msg.AUDIT_UNBAN,
    AuditAction.MODEL_DISABLE: Msg.AUDIT_MODEL_DISABLE,
    AuditAction.MODEL_ENABLE: Msg.AUDIT_MODEL_ENABLE,
    AuditAction.BROADCAST: Msg.AUDIT_BROADCAST,
    AuditAction.PRICE_OVERRIDE: Msg.AUDIT_PRICE_OVERRIDE,
    AuditAction.CATALOG_SYNC: Msg.AUDIT_CATALOG_SYNC,
    AuditAction.USER_EXPORT: Msg.AUDIT_USER_EXPORT,
    AuditAction.USER_FORGET: Msg.AUDIT_USER_FORGET,
}
"""How each audited action reads (a test checks every action has one)."""


def _home_row(language: Language) -> Row:
    return [button(t(language, Msg.BTN_ADMIN_HOME), Adm(act=AdmAct.HOME))]


def _fitted(parts: Sequence[str]) -> str:
    """``parts`` joined, dropping trailing lines until the text fits one message."""
    lines = "\n".join(parts).split("\n")
    while len(lines) > 1 and not fits("\n".join(lines), MAX_TEXT):
        lines = [*lines[:-2], "…"]
    return "\n".join(lines)


def admin_home_view(language: Language, lead: str = "") -> View:
    """The admin screen: a button per section, and the main menu."""
    rows: list[Row] = [
        [
            button(
                t(language, key),
                Adm(act=act, arg=str(DEFAULT_STATS_DAYS) if act is AdmAct.STATS else ""),
            )
            for key, act in section
        ]
        for section in HOME_SECTIONS
    ]
    rows.append([button(t(language, Msg.BTN_MENU), Nav(to=Screen.HOME))])
    text = t(language, Msg.ADMIN_HOME)
    return View(f"{lead}\n\n{text}" if lead else text, markup(rows))


# ------------------------------------------------------------------ statistics


def _share(part: int, whole: int) -> str:
    return "—" if whole == 0 else f"{part / whole:.0%}"


def duration_text(language: Language, value: timedelta | None) -> str:
    """``12 s`` or ``3 min 5 s``; ``—`` for no value."""
    if value is None:
        return "—"
    seconds = round(value.total_seconds())
    if seconds < _MINUTE:
        return t(language, Msg.DURATION_S, seconds=seconds)
    return t(language, Msg.DURATION_M, minutes=seconds // 60, seconds=seconds % 60)


def _stars(value: Decimal) -> str:
    return f"{value.quantize(Decimal(1)):f}"


def _credits(value: Decimal) -> str:
    return f"{value.normalize():f}" if value else "0"


def _model_line(language: Language, runs: ModelRuns, registry: Registry) -> str:
    rate = runs.failure_rate
    return t(
        language,
        Msg.STATS_MODEL,
        model=model_title(registry.get(runs.model_id), runs.model_id, language),
        total=runs.total,
        failed="—" if rate is None else f"{rate:.0%}",
        p50=duration_text(language, runs.p50),
        p95=duration_text(language, runs.p95),
    )


def stats_view(language: Language, stats: Stats, registry: Registry, days: int) -> View:
    """The statistics of a period, with buttons for the other periods."""
    activity, money = stats.activity, stats.activity.money
    states = activity.states
    period = (
        t(language, Msg.STATS_PERIOD_TODAY)
        if days == 1
        else t(language, Msg.STATS_PERIOD_DAYS, days=days)
    )
    funnel = activity.funnel
    cost = stats.credits_consumed * stats.prices.stars_per_credit
    parts = [
        t(language, Msg.STATS_TITLE, period=period, since=stats.since.strftime("%d.%m.%Y")),
        t(
            language,
            Msg.STATS_USERS,
            total=activity.users.total,
            today=activity.users.active_today,
            week=activity.users.active_week,
        ),
        t(
            language,
            Msg.STATS_FUNNEL,
            started=funnel.started,
            generated=funnel.generated,
            generated_share=_share(funnel.generated, funnel.started),
            paid=funnel.paid,
            paid_share=_share(funnel.paid, funnel.started),
        ),
        t(
            language,
            Msg.STATS_RUNS,
            total=sum(states.values()),
            succeeded=states.get(GenerationState.SUCCEEDED, 0),
            failed=states.get(GenerationState.FAILED, 0),
            cancelled=states.get(GenerationState.CANCELLED, 0),
            live=sum(count for state, count in states.items() if state in _LIVE),
        ),
        t(
            language,
            Msg.STATS_MONEY,
            stars=money.stars_in,
            payments=money.payments,
            purchase_refunds=money.purchase_refunds,
            purchase_stars=money.purchase_refunded_stars,
            generation_refunds=money.generation_refunds,
            generation_stars=money.generation_refunded_stars,
        ),
        t(
            language,
            Msg.STATS_KIE,
            consumed=_credits(stats.credits_consumed),
            quoted=_credits(stats.credits_quoted),
            kept=stats.stars_kept,
            cost=_stars(cost),
            margin=_stars(stats.margin_stars),
        ),
        "",
    ]
    if activity.runs:
        busiest = sorted(activity.runs, key=lambda runs: (-runs.total, runs.model_id))
        parts.append(t(language, Msg.STATS_MODELS))
        parts.extend(
            _model_line(language, runs, registry) for runs in busiest[:STATS_MODELS_SHOWN]
        )
        if len(busiest) > STATS_MODELS_SHOWN:
            parts.append(t(language, Msg.STATS_MORE, count=len(busiest) - STATS_MODELS_SHOWN))
    else:
        parts.append(t(language, Msg.STATS_NO_RUNS))
    periods = [
        button(
            ("✅ " if period_days == days else "")
            + (
                t(language, Msg.BTN_PERIOD_TODAY)
                if period_days == 1
                else t(language, Msg.BTN_PERIOD_DAYS, days=period_days)
            ),
            Adm(act=AdmAct.STATS, arg=str(period_days)),
        )
        for period_days in STATS_PERIODS
    ]
    return View(_fitted(parts), markup([periods, _home_row(language)]))


# ------------------------------------------------------------------ users


def prompt_view(language: Language, text: str, cancel: Adm, problem: str = "") -> View:
    """A question the admin answers with a message, with ✖️ Cancel."""
    body = f"{problem}\n\n{text}" if problem else text
    return View(body, markup([[button(t(language, Msg.BTN_CANCEL), cancel)]]))


def lookup_view(language: Language, problem: str = "") -> View:
    """Ask for a user id or @username."""
    return prompt_view(language, t(language, Msg.ADMIN_LOOKUP), Adm(act=AdmAct.HOME), problem)


def grant_amount_view(language: Language, user_id: int, problem: str = "") -> View:
    """Ask how many Stars to grant."""
    text = t(language, Msg.ADMIN_GRANT_AMOUNT, id=user_id, max=MAX_GRANT_STARS)
    return prompt_view(language, text, Adm(act=AdmAct.USER, arg=str(user_id)), problem)


def grant_reason_view(language: Language, user_id: int, stars: int, problem: str = "") -> View:
    """Ask why the Stars are granted."""
    text = t(language, Msg.ADMIN_GRANT_REASON, id=user_id, stars=stars)
    return prompt_view(language, text, Adm(act=AdmAct.USER, arg=str(user_id)), problem)


def ban_reason_view(language: Language, user_id: int, *, ban: bool, problem: str = "") -> View:
    """Ask why the user is banned (or unbanned)."""
    key = Msg.ADMIN_BAN_REASON if ban else Msg.ADMIN_UNBAN_REASON
    text = t(language, key, id=user_id)
    return prompt_view(language, text, Adm(act=AdmAct.USER, arg=str(user_id)), problem)


def reason_problem_text(language: Language) -> str:
    """What a valid reason is."""
    return t(language, Msg.ADMIN_REASON_BAD, max=MAX_AUDIT_REASON)


def _day(moment: datetime | None, language: Language) -> str:
    if moment is None:
        return t(language, Msg.ADMIN_USER_NEVER)
    return moment.astimezone(UTC).strftime("%d.%m.%Y")


def _run_line(language: Language, record: UserRecord, index: int, registry: Registry) -> str:
    generation = record.generations[index]
    reason = "" if generation.reason is None else f" · {escape(generation.reason.value)}"
    return t(
        language,
        Msg.ADMIN_USER_RUN,
        mark=_MARK.get(generation.state, "⏳"),
        model=model_title(registry.get(generation.model_id), generation.model_id, language),
        stars=generation.charged,
        when=generation.created_at.astimezone(UTC).strftime("%d.%m %H:%M"),
        id=escape(generation.id),
        reason=reason,
    )


def user_view(
    language: Language,
    record: UserRecord,
    registry: Registry,
    *,
    is_admin: bool = False,
    lead: str = "",
) -> View:
    """A user's card: who, balance, latest moves and generations; Grant, Ban or Unban."""
    user, balance = record.user, record.balance
    head = [
        t(
            language,
            Msg.ADMIN_USER,
            id=user.id,
            username=f" @{escape(user.username)}" if user.username else "",
            lang=t(user.language, Msg.LANGUAGE_NAME),
            joined=_day(user.created_at, language),
            seen=_day(user.last_seen_at, language),
        )
    ]
    if is_admin:
        head.append(t(language, Msg.ADMIN_USER_IS_ADMIN))
    if user.is_banned:
        head.append(t(language, Msg.ADMIN_USER_BANNED))
    head.append(
        t(
            language,
            Msg.ADMIN_USER_BALANCE,
            available=balance.available,
            held=balance.held,
            debt=balance.debt,
        )
    )
    parts = ["\n".join(head)]
    if record.moves:
        moves = [t(language, Msg.BALANCE_MOVES)]
        moves.extend(move_line(language, move) for move in record.moves)
        parts.append("\n".join(moves))
    if record.generations:
        runs = [t(language, Msg.ADMIN_USER_RUNS)]
        runs.extend(
            _run_line(language, record, index, registry)
            for index in range(len(record.generations))
        )
        parts.append("\n".join(runs))
    if lead:
        parts.insert(0, lead)
    target = str(user.id)
    ban = (
        button(t(language, Msg.BTN_ADMIN_UNBAN), Adm(act=AdmAct.UNBAN, arg=target))
        if user.is_banned
        else button(t(language, Msg.BTN_ADMIN_BAN), Adm(act=AdmAct.BAN, arg=target))
    )
    actions: Row = [button(t(language, Msg.BTN_ADMIN_GRANT), Adm(act=AdmAct.GRANT, arg=target))]
    if user.is_banned or not is_admin:
        actions.append(ban)
    rows = [
        actions,
        [
            button(t(language, Msg.BTN_ADMIN_OTHER_USER), Adm(act=AdmAct.USERS)),
            *_home_row(language),
        ],
    ]
    return View(_fitted(["\n\n".join(parts)]), markup(rows))


# ------------------------------------------------------------------ models


def models_in_order(registry: Registry) -> list[ModelSpec]:
    """Every model, enabled or not, most popular first (the switches' order)."""
    return sorted(registry.models, key=lambda model: (-model.popularity, model.id))


def models_view(language: Language, registry: Registry, page: int, lead: str = "") -> View:
    """Every model with its switch, a page at a time."""
    models = models_in_order(registry)
    total_pages = pages(len(models), MODELS_PER_PAGE)
    page = min(max(page, 0), total_pages - 1)
    shown = models[page * MODELS_PER_PAGE : (page + 1) * MODELS_PER_PAGE]
    rows: list[Row] = []
    for model in shown:
        title = model.title(language)
        if not switchable(model):
            label = t(language, Msg.BTN_MODEL_BROKEN, model=title)
        elif model.enabled:
            label = t(language, Msg.BTN_MODEL_ON, model=title)
        else:
            label = t(language, Msg.BTN_MODEL_OFF, model=title)
        switch = Adm(act=AdmAct.SWITCH, arg=model_ref(model.id), page=page, on=not model.enabled)
        rows.append([button(label, switch)])
    rows.append(pager(language, page, total_pages, lambda n: Adm(act=AdmAct.MODELS, page=n)))
    rows.append(_home_row(language))
    on = sum(1 for model in models if model.enabled)
    text = t(language, Msg.ADMIN_MODELS, on=on, off=len(models) - on)
    return View(f"{lead}\n\n{text}" if lead else text, markup(rows))


# ------------------------------------------------------------------ audit


def actor_text(language: Language, actor: Actor, names: Mapping[int, str]) -> str:
    """``@name`` or ``admin 123`` for a Telegram admin, the actor id otherwise (escaped)."""
    telegram_id = telegram_id_of(actor)
    if telegram_id is None:
        return escape(actor)
    name = names.get(telegram_id)
    return f"@{escape(name)}" if name else t(language, Msg.ADMIN_ACTOR, id=telegram_id)


def audit_line(language: Language, entry: AuditEntry, names: Mapping[int, str]) -> str:
    """One audit entry: when, who, what, to what, and why."""
    return t(
        language,
        Msg.ADMIN_AUDIT_ITEM,
        when=entry.at.astimezone(UTC).strftime("%d.%m %H:%M"),
        actor=actor_text(language, entry.actor, names),
        action=t(language, AUDIT_ACTION_TEXT[entry.action]),
        target=escape(clip(entry.target, 80)),
        detail=f" · {escape(entry.detail)}" if entry.detail else "",
        reason=f"\n   “{escape(clip(entry.reason, 200))}”" if entry.reason else "",
    )


def audit_view(
    language: Language,
    entries: Sequence[AuditEntry],
    page: int,
    *,
    has_more: bool,
    names: Mapping[int, str],
) -> View:
    """A page of the audit trail, newest first (``entries``: this page's)."""
    lines = [t(language, Msg.ADMIN_AUDIT)]
    if entries:
        lines.extend(audit_line(language, entry, names) for entry in entries)
    else:
        lines.append(t(language, Msg.ADMIN_AUDIT_EMPTY))
    # The trail's length is not counted, so the pager shows only where one can go.
    turn: Row = []
    if page > 0:
        turn.append(button(t(language, Msg.BTN_PREV), Adm(act=AdmAct.AUDIT, page=page - 1)))
    if has_more:
        turn.append(button(t(language, Msg.BTN_NEXT), Adm(act=AdmAct.AUDIT, page=page + 1)))
    rows = [turn, _home_row(language)]
    return View(_fitted(["\n\n".join(lines)]), markup(rows))
