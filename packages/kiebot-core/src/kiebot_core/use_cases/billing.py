"""Operator money moves that are not part of a generation (grants)."""

import hashlib

import attrs

from kiebot_core.domain.ids import UserId
from kiebot_core.domain.ledger import Balance, LedgerTransaction, grant
from kiebot_core.domain.outcomes import Rejected
from kiebot_core.ports.storage import UnitOfWorkFactory


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
    uow: UnitOfWorkFactory, user_id: UserId, stars: int, reason: str
) -> Granted | Rejected:
    """Give ``stars`` to a user, once per (user, amount, reason); returns the new balance."""
    planned = grant(user_id, stars, grant_reference(user_id, stars, reason))
    if isinstance(planned, Rejected):
        return planned
    async with uow() as tx:
        existing = await tx.ledger.get(planned.key)
        recorded = await tx.ledger.append(planned)
        balance = await tx.ledger.balance(user_id)
        await tx.commit()
    return Granted(recorded, balance, is_new=existing is None)
