"""The audit trail: who did which operator action, to what, when and why.

Every operator action (a grant, a refund, a ban, a model switch, a promo code, a broadcast, a
price override) writes one ``AuditEntry`` in the unit of work that performs it, so the trail
holds exactly the actions that happened. Entries are never changed or deleted.

An actor is a Telegram admin (``tg:<user id>``) or a person at the CLI (``cli:<name>``).
"""

import enum
from datetime import datetime
from typing import NewType

import attrs

Actor = NewType("Actor", str)
"""Who performed an action: ``tg:<Telegram user id>`` or ``cli:<operator name>``."""

MAX_AUDIT_REASON = 500
"""The longest "why" an operator may give (characters)."""

_TELEGRAM = "tg:"
_CLI = "cli:"


class AuditAction(enum.StrEnum):
    """What an operator did. Values are stored: append-only, never renamed."""

    GRANT = "grant"
    """Stars given to a user (target: the user id; detail: the Stars)."""
    GENERATION_REFUND = "generation_refund"
    """A delivered generation's charge given back (target: the generation id)."""
    PAYMENT_REFUND = "payment_refund"
    """A Stars payment refunded through Telegram (target: the charge id)."""
    PROMO_CREATE = "promo_create"
    """A promo code created (target: the code)."""
    BAN = "ban"
    """A user banned (target: the user id)."""
    UNBAN = "unban"
    """A user's ban lifted (target: the user id)."""
    MODEL_DISABLE = "model_disable"
    """A model switched off for everyone (target: the model id)."""
    MODEL_ENABLE = "model_enable"
    """A model switched on for everyone (target: the model id)."""
    BROADCAST = "broadcast"
    """A message sent to many users (target: the broadcast's id)."""
    PRICE_OVERRIDE = "price_override"
    """A model's price changed at runtime (target: the model id)."""
    CATALOG_SYNC = "catalog_sync"
    """A model catalog stored (target: ``catalog v<version>``; detail: what it changed)."""
    USER_EXPORT = "user_export"
    """A user's data exported by an operator (target: the user id)."""
    USER_FORGET = "user_forget"
    """A user forgotten by an operator (target: the anonymous id that replaced theirs)."""


def telegram_actor(user_id: int) -> Actor:
    """The actor of an action a Telegram admin took in the bot."""
    return Actor(f"{_TELEGRAM}{user_id}")


def cli_actor(name: str) -> Actor:
    """The actor of an action taken at the CLI by ``name`` (an OS user or an operator name).

    Raises ValueError for an empty name.
    """
    name = name.strip()
    if not name:
        raise ValueError("an operator name must not be empty")
    return Actor(f"{_CLI}{name}")


def telegram_id_of(actor: Actor) -> int | None:
    """The Telegram user id of an admin actor; None for any other actor."""
    if not actor.startswith(_TELEGRAM):
        return None
    digits = actor.removeprefix(_TELEGRAM)
    return int(digits) if digits.lstrip("-").isdigit() else None


@attrs.frozen(kw_only=True)
class AuditEntry:
    """One operator action, as the trail keeps it."""

    actor: Actor
    action: AuditAction
    target: str
    """What the action was done to: a user id, a generation id, a charge id, a code …"""
    at: datetime
    detail: str = ""
    """What exactly changed, in plain figures (``50``, ``off``); never a user's own text."""
    reason: str = ""
    """Why, in the operator's words (empty when none was asked for)."""

    def __attrs_post_init__(self) -> None:
        if not self.actor:
            raise ValueError("an audit entry needs an actor")
        if self.at.tzinfo is None:
            raise ValueError("an audit entry's time must be timezone-aware")
