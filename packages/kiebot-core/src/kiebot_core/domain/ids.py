"""Identifier types shared by the whole domain (plain strings and ints, told apart by mypy)."""

from typing import NewType

UserId = NewType("UserId", int)
"""A Telegram user id, or the local user's id in the CLI."""

GenerationId = NewType("GenerationId", str)
"""kiebot's own id of one generation (never KIE's task id)."""

ProviderTaskId = NewType("ProviderTaskId", str)
"""The provider's (KIE's) task id of a submitted generation."""

CorrelationId = NewType("CorrelationId", str)
"""Born with each user action; follows every event, job and provider call it causes."""

FavoriteId = NewType("FavoriteId", str)
"""A saved favorite's id (``fav_…``)."""

JobId = NewType("JobId", str)
"""A durable job's id."""

PaymentChargeId = NewType("PaymentChargeId", str)
"""Telegram's ``telegram_payment_charge_id``: one per successful Stars payment."""

OrderId = NewType("OrderId", str)
"""A top-up order's id (``ord_…``), carried in the invoice payload."""

IdempotencyKey = NewType("IdempotencyKey", str)
"""A ledger transaction's unique key, derived from the business id that caused it."""
