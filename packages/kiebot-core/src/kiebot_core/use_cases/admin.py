"""Operator use cases behind the bot's /admin: statistics, user lookup, bans.

The shells check who asks (the bot: ``ADMIN_IDS``); these use cases take that person as the
``Actor`` and write the audit trail in the same unit of work as each change
(``kiebot_core.use_cases.audit``). Grants are ``kiebot_core.use_cases.billing.grant_stars``,
model switches ``kiebot_core.use_cases.catalog.SetModelEnabled``.
"""

from collections.abc import Collection
from datetime import UTC, datetime, time, timedelta

import attrs

from kiebot_core.domain.audit import Actor, AuditAction
from kiebot_core.domain.generation import Generation
from kiebot_core.domain.ids import UserId
from kiebot_core.domain.ledger import Balance, LedgerTransaction
from kiebot_core.domain.outcomes import Rejected
from kiebot_core.domain.pricing import PriceSettings
from kiebot_core.domain.reasons import ReasonCode
from kiebot_core.domain.stats import Stats
from kiebot_core.domain.users import User, user_id_query, username_query
from kiebot_core.ports.runtime import Clock
from kiebot_core.ports.storage import UnitOfWork, UnitOfWorkFactory
from kiebot_core.use_cases.audit import audited, reason_problem

STATS_PERIODS = (1, 7, 30)
"""The periods (UTC days, today included) the statistics are offered for."""
RECORD_MOVES = 5
"""Ledger moves shown with a looked-up user."""
RECORD_GENERATIONS = 5
"""Generations shown with a looked-up user."""


def day_start(moment: datetime) -> datetime:
    """The start of ``moment``'s UTC day."""
    return datetime.combine(moment.astimezone(UTC).date(), time(), tzinfo=UTC)


async def operator_stats(
    store: UnitOfWorkFactory, clock: Clock, prices: PriceSettings, *, days: int = 7
) -> Stats:
    """The statistics of the last ``days`` UTC days, today included (one unit of work).

    Users active "today" are those seen since 00:00 UTC, "this week" in the last 7 UTC days.
    Raises ValueError for ``days`` below 1.
    """
    if days < 1:
        raise ValueError(f"a period of {days} days")
    today = day_start(clock.now())
    since = today - timedelta(days=days - 1)
    async with store() as uow:
        activity = await uow.reports.activity(since, today=today, week=today - timedelta(days=6))
        margins = await uow.reports.margin(since)
    return Stats(since=since, activity=activity, margins=margins, prices=prices)


@attrs.frozen(kw_only=True)
class UserRecord:
    """What an operator sees of one user."""

    user: User
    balance: Balance
    moves: list[LedgerTransaction]
    """The latest ledger moves, newest first."""
    generations: list[Generation]
    """The latest generations, newest first."""


async def _record(uow: UnitOfWork, user: User) -> UserRecord:
    return UserRecord(
        user=user,
        balance=await uow.ledger.balance(user.id),
        moves=await uow.ledger.history(user.id, limit=RECORD_MOVES),
        generations=await uow.generations.for_user(user.id, limit=RECORD_GENERATIONS),
    )


async def user_record(store: UnitOfWorkFactory, user_id: UserId) -> UserRecord | None:
    """The user's record, or None for a user never seen."""
    async with store() as uow:
        user = await uow.users.get(user_id)
        return None if user is None else await _record(uow, user)


async def look_up_user(store: UnitOfWorkFactory, query: str) -> UserRecord | Rejected | None:
    """The record of the user an operator typed: a Telegram id or an @username.

    ``INVALID_INPUT`` when ``query`` is neither; None when no stored user matches.
    """
    user_id, username = user_id_query(query), username_query(query)
    if user_id is None and username is None:
        return Rejected(ReasonCode.INVALID_INPUT, "query", "not a user id or @username")
    async with store() as uow:
        user = (
            await uow.users.get(user_id)
            if user_id is not None
            else await uow.users.by_username(username or "")
        )
        return None if user is None else await _record(uow, user)


@attrs.frozen
class BanChanged:
    """The user after a ban or unban; ``changed`` False when they already were so."""

    user: User
    changed: bool


async def set_banned(
    store: UnitOfWorkFactory,
    clock: Clock,
    user_id: UserId,
    *,
    banned: bool,
    by: Actor,
    reason: str,
    protected: Collection[int] = (),
) -> BanChanged | Rejected:
    """Ban or unban a user, with the audit entry in the same unit of work.

    A banned user is told once, on their next contact, then ignored (the shell's part);
    unbanning resets that. ``INVALID_INPUT`` for an empty or too long ``reason`` (input
    ``reason``), an unknown user or one of the ``protected`` ids (the admins; input
    ``user``). Banning a banned user (or unbanning one who is not) changes nothing and
    records nothing.
    """
    if problem := reason_problem(reason):
        return problem
    if banned and user_id in protected:
        return Rejected(ReasonCode.INVALID_INPUT, "user", f"{user_id} is an admin")
    async with store() as uow:
        user = await uow.users.get(user_id)
        if user is None:
            return Rejected(ReasonCode.INVALID_INPUT, "user", f"no user {user_id}")
        if user.is_banned == banned:
            return BanChanged(user, changed=False)
        user = attrs.evolve(user, is_banned=banned, ban_notice_sent=False)
        await uow.users.save(user)
        action = AuditAction.BAN if banned else AuditAction.UNBAN
        await audited(uow, by, action, user_id, at=clock.now(), reason=reason)
        await uow.commit()
    return BanChanged(user, changed=True)


async def ban_notice_sent(store: UnitOfWorkFactory, user_id: UserId) -> None:
    """Remember that a banned user was told they are banned (they are not told again)."""
    async with store() as uow:
        user = await uow.users.get(user_id)
        if user is not None and user.is_banned and not user.ban_notice_sent:
            await uow.users.save(attrs.evolve(user, ban_notice_sent=True))
            await uow.commit()
