"""The audit trail: the helper every operator action records itself with, and the reading.

An operator use case takes the ``Actor`` who asks (``by``) and calls :func:`audited` inside
the unit of work that performs the action, before its commit: the entry and the action are
committed together or not at all, and an action that changed nothing (a repeated grant, an
unknown id) leaves no entry.
"""

from datetime import datetime

from kiebot_core.domain.audit import MAX_AUDIT_REASON, Actor, AuditAction, AuditEntry
from kiebot_core.domain.outcomes import Rejected
from kiebot_core.domain.reasons import ReasonCode
from kiebot_core.ports.storage import UnitOfWork, UnitOfWorkFactory

AUDIT_PAGE = 50
"""How many entries a reader gets by default."""


async def audited(
    uow: UnitOfWork,
    by: Actor,
    action: AuditAction,
    target: object,
    *,
    at: datetime,
    detail: str = "",
    reason: str = "",
) -> AuditEntry:
    """Record that ``by`` did ``action`` to ``target`` in ``uow`` (committed with it)."""
    entry = AuditEntry(
        actor=by,
        action=action,
        target=str(target),
        at=at,
        detail=detail,
        reason=reason.strip()[:MAX_AUDIT_REASON],
    )
    await uow.audit.append(entry)
    return entry


def reason_problem(reason: str, *, required: bool = True) -> Rejected | None:
    """Why an operator's "why" cannot be kept, or None.

    ``INVALID_INPUT`` (input ``reason``) when it is empty but ``required``, or longer than
    ``MAX_AUDIT_REASON`` characters.
    """
    text = reason.strip()
    if required and not text:
        return Rejected(ReasonCode.INVALID_INPUT, "reason", "the reason must not be empty")
    if len(text) > MAX_AUDIT_REASON:
        return Rejected(
            ReasonCode.INVALID_INPUT,
            "reason",
            f"the reason must be at most {MAX_AUDIT_REASON} characters",
        )
    return None


async def audit_trail(
    store: UnitOfWorkFactory, *, limit: int = AUDIT_PAGE, since: datetime | None = None
) -> list[AuditEntry]:
    """Up to ``limit`` entries since ``since`` (all when None), newest first."""
    async with store() as uow:
        return await uow.audit.recent(limit=limit, since=since)
