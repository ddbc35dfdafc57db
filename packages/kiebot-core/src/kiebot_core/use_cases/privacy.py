"""A user's data: what is stored, the export, and forgetting ("delete my data").

The bot offers these to every user for themselves (``/privacy``); ``kiebot users export|forget``
offer them to operators, with an audit entry. What forgetting does to each record is the table
in ``kiebot_core.domain.privacy``.
"""

from typing import Any

import attrs

from kiebot_core.domain.audit import Actor, AuditAction
from kiebot_core.domain.errors import NotFoundError, StaleWriteError
from kiebot_core.domain.ids import UserId
from kiebot_core.domain.ledger import Balance
from kiebot_core.domain.outcomes import Rejected
from kiebot_core.domain.privacy import ForgottenUser, fingerprint, user_export
from kiebot_core.domain.reasons import ReasonCode
from kiebot_core.ports.runtime import Clock
from kiebot_core.ports.storage import UnitOfWork, UnitOfWorkFactory
from kiebot_core.use_cases.audit import audited

EVERYTHING = 1_000_000
"""The ``limit`` that reads all of a user's records (an export is complete)."""


@attrs.frozen(kw_only=True)
class StoredData:
    """How much is stored about a user (the /privacy screen and the forget confirmation)."""

    generations: int
    payments: int
    moves: int
    """Ledger transactions."""
    favorites: int
    balance: Balance
    running: int
    """Generations not finished yet (forgetting waits for them)."""


async def stored_data(store: UnitOfWorkFactory, user_id: UserId) -> StoredData | None:
    """What is stored about ``user_id``; None for a user never seen (or forgotten)."""
    async with store() as uow:
        if await uow.users.get(user_id) is None:
            return None
        return StoredData(
            generations=len(await uow.generations.for_user(user_id, limit=EVERYTHING)),
            payments=len(await uow.payments.for_user(user_id, limit=EVERYTHING)),
            moves=len(await uow.ledger.history(user_id, limit=EVERYTHING)),
            favorites=len(await uow.favorites.for_user(user_id, limit=EVERYTHING)),
            balance=await uow.ledger.balance(user_id),
            running=len(await uow.generations.unfinished(user_id=user_id)),
        )


async def _export(uow: UnitOfWork, user_id: UserId, clock: Clock) -> dict[str, Any] | None:
    user = await uow.users.get(user_id)
    if user is None:
        return None
    return user_export(
        user,
        balance=await uow.ledger.balance(user_id),
        generations=await uow.generations.for_user(user_id, limit=EVERYTHING),
        payments=await uow.payments.for_user(user_id, limit=EVERYTHING),
        ledger=await uow.ledger.history(user_id, limit=EVERYTHING),
        favorites=await uow.favorites.for_user(user_id, limit=EVERYTHING),
        exported_at=clock.now(),
    )


async def export_user_data(
    store: UnitOfWorkFactory, clock: Clock, user_id: UserId, *, by: Actor | None = None
) -> dict[str, Any] | Rejected:
    """Everything stored about ``user_id`` as one JSON document (one consistent read).

    ``by`` is the operator asking for someone else's data (an audit entry is written); None
    when users ask for their own. ``Rejected(USER_UNKNOWN)`` for a user never seen (or
    forgotten).
    """
    async with store() as uow:
        document = await _export(uow, user_id, clock)
        if document is None:
            return Rejected(ReasonCode.USER_UNKNOWN, detail=str(user_id))
        if by is not None:
            await audited(uow, by, AuditAction.USER_EXPORT, user_id, at=clock.now())
            await uow.commit()
    return document


@attrs.frozen(kw_only=True)
class Forgotten:
    """A user forgotten: the record that replaced them, and the balance they left behind."""

    record: ForgottenUser
    balance: Balance
    """The balance moved to the anonymous id (forfeited)."""


async def forget_user(
    store: UnitOfWorkFactory,
    clock: Clock,
    user_id: UserId,
    *,
    by: Actor | None = None,
    reason: str = "",
) -> Forgotten | Rejected:
    """Forget ``user_id``: personal data erased, money records kept under an anonymous id.

    ``by`` is the operator forgetting someone else (an audit entry names the anonymous id,
    never the Telegram id); None when users delete their own data. Refused, changing
    nothing: ``USER_UNKNOWN`` (never seen, or already forgotten), ``GENERATIONS_RUNNING``
    (wait until they finish: their holds are not settled yet), ``IN_DEBT`` (a debt after a
    forced refund is settled first: by a top-up, or an operator grant that covers it).
    """
    async with store() as uow:
        if await uow.users.get(user_id) is None:
            return Rejected(ReasonCode.USER_UNKNOWN, detail=str(user_id))
        running = await uow.generations.unfinished(user_id=user_id)
        if running:
            return Rejected(ReasonCode.GENERATIONS_RUNNING, detail=f"{len(running)} running")
        balance = await uow.ledger.balance(user_id)
        if balance.debt > 0:
            return Rejected(ReasonCode.IN_DEBT, detail=f"debt of {balance.debt}")
        now = clock.now()
        try:
            record = await uow.privacy.forget(user_id, fingerprint=fingerprint(user_id), at=now)
        except NotFoundError:
            return Rejected(ReasonCode.USER_UNKNOWN, detail=str(user_id))
        except StaleWriteError:
            return Rejected(ReasonCode.GENERATIONS_RUNNING, detail="a generation just started")
        if by is not None:
            await audited(
                uow,
                by,
                AuditAction.USER_FORGET,
                record.anonymous_id,
                at=now,
                detail=f"{balance.available} ⭐ forfeited",
                reason=reason,
            )
        await uow.commit()
    return Forgotten(record=record, balance=balance)
