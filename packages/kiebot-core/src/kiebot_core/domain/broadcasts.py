"""Broadcasts: one message an admin sends to every user of a segment, paced and resumable.

    created (recipients fixed) ──► SENDING ──► DONE
                                      └──(an admin stops it)──► CANCELLED

``finished_at`` is set when the sender has ended it and reported to its author: a broadcast
stopped while queued, or while another process sends it, is CANCELLED but not yet finished.

Each recipient is one delivery, sent at most once:

    PENDING ──(claimed just before the send)──► SENDING ──► SENT | BLOCKED | FAILED
                                                   ├──(no answer from Telegram)──► UNCONFIRMED
                                                   └──(the sender died mid-send)──► UNCONFIRMED

A message is sent again only when Telegram certainly did not take it (flood control, or a
connection that was never made). One whose request may have reached Telegram — a timeout, a
dropped connection, a server error, or a sender that stopped mid-send — may have been shown:
it is never sent again, and is counted as unconfirmed in the report.
"""

import enum
import re
from datetime import datetime, timedelta
from typing import NewType

import attrs

from kiebot_core.domain.ids import UserId
from kiebot_core.domain.outcomes import Rejected
from kiebot_core.domain.reasons import ReasonCode
from kiebot_core.domain.texts import Language

BroadcastId = NewType("BroadcastId", str)
"""A broadcast's id (``bc_…``)."""

MAX_BUTTON_LABEL = 64
"""The longest button label accepted (Telegram shows about this much on one line)."""
MAX_URL = 2048
_URL = re.compile(r"^(https?://[^\s/$.?#][^\s]*|tg://[^\s]+)$", re.IGNORECASE)
_SEPARATOR = re.compile(r"\s+[|\u2014\u2013-]\s+|\s*\|\s*")


class BroadcastState(enum.StrEnum):
    """Where a broadcast is."""

    SENDING = "sending"
    DONE = "done"
    CANCELLED = "cancelled"

    @property
    def is_final(self) -> bool:
        """True once nothing more is sent."""
        return self is not BroadcastState.SENDING


class DeliveryState(enum.StrEnum):
    """Where one recipient's message is."""

    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    BLOCKED = "blocked"
    """The user blocked the bot (or deleted their account): marked, skipped from now on."""
    FAILED = "failed"
    UNCONFIRMED = "unconfirmed"
    """No answer came (or the sender stopped during the send): it may have arrived; it is not
    sent again."""


@attrs.frozen
class BroadcastButton:
    """A URL button under the broadcast message."""

    label: str
    url: str


@attrs.frozen(kw_only=True)
class Segment:
    """Who receives a broadcast; every condition left None matches everyone.

    Users who blocked the bot and banned users are never in a segment.
    """

    language: Language | None = None
    active_since: datetime | None = None
    """Only users seen (or registered) at or after this time."""
    paid: bool | None = None
    """True: only users who made a purchase; False: only users who never did."""


@attrs.frozen(kw_only=True)
class Broadcast:
    """A broadcast and where its author follows it."""

    id: BroadcastId
    author_id: UserId
    text: str
    """The message (Telegram HTML, as the author formatted it)."""
    button: BroadcastButton | None = None
    segment: Segment = Segment()
    state: BroadcastState = BroadcastState.SENDING
    total: int
    """Recipients, fixed when it was created."""
    created_at: datetime
    finished_at: datetime | None = None
    report_chat_id: int
    """Where progress and the final report go (the author's chat)."""
    progress_message_id: int | None = None
    """The message edited with the progress, once it was sent."""

    def finished(self, state: BroadcastState, at: datetime) -> "Broadcast":
        """This broadcast ended in ``state`` (DONE or CANCELLED) at ``at``."""
        if not state.is_final:
            raise ValueError(f"a broadcast cannot finish as {state}")
        return attrs.evolve(self, state=state, finished_at=at)

    def stopped(self) -> "Broadcast":
        """An admin stopped it: nothing more is sent; the sender reports and finishes it."""
        if self.state is not BroadcastState.SENDING:
            raise ValueError(f"a {self.state} broadcast cannot be stopped")
        return attrs.evolve(self, state=BroadcastState.CANCELLED)


@attrs.frozen(kw_only=True)
class BroadcastCounts:
    """How a broadcast's deliveries stand."""

    pending: int = 0
    sending: int = 0
    sent: int = 0
    blocked: int = 0
    failed: int = 0
    unconfirmed: int = 0

    @property
    def total(self) -> int:
        """Every recipient."""
        return (
            self.pending + self.sending + self.sent + self.blocked + self.failed + self.unconfirmed
        )

    @property
    def handled(self) -> int:
        """Recipients whose delivery has ended one way or another."""
        return self.sent + self.blocked + self.failed + self.unconfirmed


# ------------------------------------------------------------------ what one send gave


@attrs.frozen
class Delivered:
    """Telegram took the message."""


@attrs.frozen
class Unreachable:
    """The user blocked the bot or is gone: mark them and never send to them again."""

    detail: str = ""


@attrs.frozen
class Undeliverable:
    """Telegram refused this message for good (chat not found, a bad request)."""

    detail: str = ""


@attrs.frozen
class Unconfirmed:
    """The request may have reached Telegram, but no answer said it did.

    A timeout, a dropped connection, a server error: the user may have it, so it is never
    sent again.
    """

    detail: str = ""


@attrs.frozen
class TryAgain:
    """Telegram certainly did not take the message: wait ``after`` and send it again.

    Flood control (``retry_after``), or a connection that was never made.
    """

    after: timedelta
    detail: str = ""
    is_flood: bool = False


SendOutcome = Delivered | Unreachable | Undeliverable | Unconfirmed | TryAgain


# ------------------------------------------------------------------ the author's input


def parse_button(text: str) -> BroadcastButton | Rejected:
    """A button from ``Label | https://…`` (a dash between label and URL works too).

    ``INVALID_INPUT`` for a missing label, a label over ``MAX_BUTTON_LABEL`` characters, or a
    URL that is not ``http(s)://`` or ``tg://``.
    """
    raw = text.strip()
    parts = _SEPARATOR.split(raw, maxsplit=1)
    if len(parts) != 2:  # a label and a URL
        head, _, tail = raw.rpartition(" ")
        parts = [head, tail]
    label, url = parts[0].strip(), parts[1].strip()
    if not label:
        return Rejected(ReasonCode.INVALID_INPUT, "button", "the button needs a label")
    if len(label) > MAX_BUTTON_LABEL:
        return Rejected(
            ReasonCode.INVALID_INPUT,
            "button",
            f"a label has at most {MAX_BUTTON_LABEL} characters",
        )
    if len(url) > MAX_URL or not _URL.match(url):
        return Rejected(
            ReasonCode.INVALID_INPUT,
            "button",
            "the URL must start with https://, http:// or tg://",
        )
    return BroadcastButton(label, url)


def estimated_duration(recipients: int, per_second: float) -> timedelta:
    """How long sending to ``recipients`` takes at ``per_second`` (without flood waits)."""
    if recipients <= 0 or per_second <= 0:
        return timedelta(0)
    return timedelta(seconds=recipients / per_second)
