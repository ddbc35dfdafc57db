"""Telegram Stars payments, registered exactly once per charge id."""

import enum
from datetime import datetime

import attrs

from kiebot_core.domain.ids import PaymentChargeId, UserId


class PaymentState(enum.StrEnum):
    """Where a payment is: processing → processed | refunded | failed."""

    PROCESSING = "processing"
    PROCESSED = "processed"
    REFUNDED = "refunded"
    FAILED = "failed"


@attrs.frozen(kw_only=True)
class Payment:
    """One successful Stars payment (one ``telegram_payment_charge_id``)."""

    charge_id: PaymentChargeId
    user_id: UserId
    order_id: str
    stars: int
    """What the user paid."""
    credited: int
    """What the balance received (``stars`` plus any bonus)."""
    state: PaymentState
    created_at: datetime
