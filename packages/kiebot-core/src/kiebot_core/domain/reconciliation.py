"""Telegram's record of the bot's Stars, and how it is reconciled with the stored payments.

Telegram lists every Stars transaction of the bot. A user's invoice payment is an incoming
transaction whose id is the payment's ``telegram_payment_charge_id``; its refund is an outgoing
transaction to the same user with the same id. ``reconcile`` compares that record with the
payments we store and names every difference, charge by charge; it changes nothing.
"""

import enum
from collections.abc import Iterator, Sequence
from datetime import datetime

import attrs

from kiebot_core.domain.ids import PaymentChargeId, UserId
from kiebot_core.domain.payments import Payment, PaymentState


class StarTransactionKind(enum.StrEnum):
    """Which way a Stars transaction between the bot and a user went."""

    PAYMENT = "payment"
    """A user paid an invoice (incoming)."""
    REFUND = "refund"
    """A payment went back to its user (outgoing)."""


@attrs.frozen(kw_only=True)
class StarTransaction:
    """One Stars transaction between the bot and a user, as Telegram records it."""

    charge_id: PaymentChargeId
    """The payment's charge id (a refund carries the id of the payment it returns)."""
    kind: StarTransactionKind
    user_id: UserId
    """Who paid (a payment) or was paid back (a refund)."""
    stars: int
    created_at: datetime


class MismatchKind(enum.StrEnum):
    """How the stored payments and Telegram's record disagree about one charge."""

    MISSING_IN_STORE = "missing_in_store"
    """Telegram has a payment (or a refund) of a charge the store does not have."""
    UNKNOWN_TO_TELEGRAM = "unknown_to_telegram"
    """The store has a payment Telegram has no payment of."""
    AMOUNT_DIFFERS = "amount_differs"
    """The Stars paid differ."""
    USER_DIFFERS = "user_differs"
    """The paying user differs."""
    REFUND_NOT_BOOKED = "refund_not_booked"
    """Telegram refunded the payment; the store has not marked it refunded."""
    REFUND_NOT_AT_TELEGRAM = "refund_not_at_telegram"
    """The store marked the payment refunded; Telegram has no refund of it."""


@attrs.frozen
class Mismatch:
    """One difference about one charge; ``detail`` says it in words, for operators."""

    charge_id: PaymentChargeId
    kind: MismatchKind
    detail: str


def reconcile(stored: Sequence[Payment], telegram: Sequence[StarTransaction]) -> list[Mismatch]:
    """Every difference between the stored payments and Telegram's transactions.

    A charge only one side has is ``MISSING_IN_STORE`` or ``UNKNOWN_TO_TELEGRAM`` and nothing
    more; a charge both have is compared by amount, user and whether it was refunded. The
    mismatches come oldest charge first (then by charge id), in ``MismatchKind`` order per
    charge. Equal records give an empty list.
    """
    payments = {payment.charge_id: payment for payment in stored}
    paid = {t.charge_id: t for t in telegram if t.kind is StarTransactionKind.PAYMENT}
    refunded = {t.charge_id for t in telegram if t.kind is StarTransactionKind.REFUND}
    dates = [(p.charge_id, p.created_at) for p in stored]
    dates += [(t.charge_id, t.created_at) for t in telegram]
    first_seen: dict[PaymentChargeId, datetime] = {}
    for charge_id, at in dates:
        first_seen[charge_id] = min(at, first_seen.get(charge_id, at))
    order = sorted(first_seen, key=lambda charge_id: (first_seen[charge_id], charge_id))
    return [
        Mismatch(charge_id, kind, detail)
        for charge_id in order
        for kind, detail in _differences(
            payments.get(charge_id), paid.get(charge_id), is_refunded=charge_id in refunded
        )
    ]


def _differences(
    payment: Payment | None, paid: StarTransaction | None, *, is_refunded: bool
) -> Iterator[tuple[MismatchKind, str]]:
    if payment is None:
        found = f"a payment of {paid.stars} ⭐ by user {paid.user_id}" if paid else "a refund"
        yield MismatchKind.MISSING_IN_STORE, f"Telegram has {found}; the store has none"
        return
    if paid is None:
        yield (
            MismatchKind.UNKNOWN_TO_TELEGRAM,
            f"stored {payment.stars} ⭐ by user {payment.user_id}; Telegram has no such payment",
        )
        return
    if payment.stars != paid.stars:
        yield (
            MismatchKind.AMOUNT_DIFFERS,
            f"stored {payment.stars} ⭐, Telegram {paid.stars} ⭐",
        )
    if payment.user_id != paid.user_id:
        yield (
            MismatchKind.USER_DIFFERS,
            f"stored user {payment.user_id}, Telegram user {paid.user_id}",
        )
    stored_refunded = payment.state is PaymentState.REFUNDED
    if is_refunded and not stored_refunded:
        yield MismatchKind.REFUND_NOT_BOOKED, f"Telegram refunded it; stored as {payment.state}"
    if stored_refunded and not is_refunded:
        yield MismatchKind.REFUND_NOT_AT_TELEGRAM, "stored as refunded; Telegram has no refund"
