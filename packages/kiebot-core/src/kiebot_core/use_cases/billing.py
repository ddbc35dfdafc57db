"""Operator money moves that are not part of a generation (grants)."""

import hashlib

import attrs

from kiebot_core.domain.audit import Actor, AuditAction
from kiebot_core.domain.ids import UserId
from kiebot_core.domain.ledger import Balance, LedgerTransaction, grant
from kiebot_core.domain.outcomes import Rejected
from kiebot_core.domain.reasons import ReasonCode
from kiebot_core.ports.runtime import Clock
from kiebot_core.ports.storage import UnitOfWorkFactory
from kiebot_core.use_cases.audit import audited, reason_problem

MAX_GRANT_STARS = 100_000
"""The most Stars one operator grant may give (a guard against a typo)."""


@attrs.frozen
class Granted:
    """The grant recorded (``is_new`` False when the same grant was already recorded)."""

    transaction: LedgerTransaction
    balance: Balance
    is_new: bool


def grant_reference(user_id: UserId, stars: int, reason: str) -> str:
    """The business id of an operator grant: the same user, amount and reason are one grant."""
    digest = hashlib.sha256(f"{user_id}:{stars}:{reason}".encode()).hexdigest()[:16]
    return f"operator:{user_id}:{digest}"


async def grant_stars(
    uow: UnitOfWorkFactory,
    clock: Clock,
    user_id: UserId,
    stars: int,
    reason: str,
    *,
    by: Actor,
) -> Granted | Rejected:
    """Give ``stars`` to a user, once per (user, amount, reason); returns the new balance.

    The grant and its audit entry are one transaction; a repeated grant records nothing.
    ``INVALID_INPUT`` for Stars outside 1..``MAX_GRANT_STARS`` (input ``stars``) and for an
    empty or too long reason (input ``reason``).
    """
    if not 1 <= stars <= MAX_GRANT_STARS:
        return Rejected(
            ReasonCode.INVALID_INPUT, "stars", f"grant 1 to {MAX_GRANT_STARS} stars, not {stars}"
        )
    if problem := reason_problem(reason):
        return problem
    reason = reason.strip()
    planned = grant(user_id, stars, grant_reference(user_id, stars, reason))
    if isinstance(planned, Rejected):
        return planned
    async with uow() as tx:
        existing = await tx.ledger.get(planned.key)
        recorded = await tx.ledger.append(planned)
        if existing is None:
            await audited(
                tx,
                by,
                AuditAction.GRANT,
                user_id,
                at=clock.now(),
                detail=f"stars={stars}",
                reason=reason,
            )
        balance = await tx.ledger.balance(user_id)
        await tx.commit()
    return Granted(recorded, balance, is_new=existing is None)
