"""Records that coordinate processes: the update inbox, its sent-message journal, leader leases."""

from collections.abc import Mapping
from datetime import datetime

import attrs

from kiebot_core.domain.catalog import JsonValue


@attrs.frozen(kw_only=True)
class InboxUpdate:
    """A Telegram update stored before it is acknowledged (unique by bot and update id)."""

    bot_id: int
    update_id: int
    chat_id: int | None
    payload: Mapping[str, JsonValue]
    received_at: datetime
    attempts: int = 0
    """How many times the update was claimed for processing."""


@attrs.frozen(kw_only=True)
class SentMessage:
    """A call the bot made while handling one inbox update, with what Telegram answered.

    The ``seq``-th visible call (a message sent, edited or deleted, a query answered) made for
    the update ``update_id`` of the bot ``bot_id``; a retry of the update that makes its
    ``seq``-th call again gets ``result`` instead of repeating it.
    """

    bot_id: int
    update_id: int
    seq: int
    """1 for the update's first journaled call, 2 for the next, ..."""
    method: str
    """The Bot API method (``sendMessage``)."""
    result: JsonValue
    """Telegram's ``result``, as JSON."""
    recorded_at: datetime


@attrs.frozen(kw_only=True)
class Lease:
    """The right of one holder to do singleton work until ``expires_at``.

    ``epoch`` grows with every takeover, so work stamped with an old epoch can be refused.
    """

    name: str
    holder: str
    epoch: int
    expires_at: datetime


@attrs.frozen(kw_only=True)
class Conversation:
    """Where one user is in one chat with one bot: a state name and its data (the wizard)."""

    bot_id: int
    chat_id: int
    user_id: int
    state: str | None = None
    data: Mapping[str, JsonValue] = attrs.field(factory=dict)
