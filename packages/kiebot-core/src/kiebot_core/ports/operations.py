"""Ports of the operator's tools: broadcasts, the circuit breaker, the credits watch, alerts.

The repositories belong to a unit of work (``UnitOfWork.audience``, ``.broadcasts``,
``.circuits``, ``.credits``) like every other repository; the channel and the notifier are
the shell's (Telegram) side.
"""

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Protocol

from kiebot_core.domain.alerts import AdminAlert
from kiebot_core.domain.breakers import Circuit
from kiebot_core.domain.broadcasts import (
    Broadcast,
    BroadcastCounts,
    BroadcastId,
    DeliveryState,
    Segment,
    SendOutcome,
)
from kiebot_core.domain.credits import CreditsState
from kiebot_core.domain.ids import UserId


class AudienceRepository(Protocol):
    """Who a broadcast can reach: segments of users, and who blocked the bot."""

    async def select(self, segment: Segment) -> list[UserId]:
        """The ids of the users in ``segment``, ascending.

        Never a banned user or one who blocked the bot. A user counts as active since the
        segment's time when last seen (``User.last_seen_at``) then or later, or, never seen,
        when registered then or later; as having paid when any payment of theirs is stored.
        """
        ...

    async def mark_blocked(self, user_id: UserId, at: datetime) -> None:
        """Record that the user blocked the bot (or is gone). Idempotent; unknown ids ignored."""
        ...

    async def mark_reachable(self, user_id: UserId) -> None:
        """Record that the user can be reached again (they unblocked the bot). Idempotent."""
        ...

    async def blocked_at(self, user_id: UserId) -> datetime | None:
        """When the user was found to have blocked the bot; None if reachable or unknown."""
        ...


class BroadcastRepository(Protocol):
    """Broadcasts and one delivery per recipient, each sent at most once."""

    async def add(self, broadcast: Broadcast, recipients: Sequence[UserId]) -> None:
        """Store a broadcast and a pending delivery for each of ``recipients`` (in order).

        Raises ``DuplicateError`` if the id exists.
        """
        ...

    async def get(self, broadcast_id: BroadcastId) -> Broadcast | None:
        """The broadcast, or None."""
        ...

    async def set_progress_message(self, broadcast_id: BroadcastId, message_id: int) -> bool:
        """Remember the message that shows the author the progress; nothing else changes.

        False for an unknown id.
        """
        ...

    async def stop(self, broadcast_id: BroadcastId) -> Broadcast | None:
        """An admin stopped it: a SENDING broadcast becomes CANCELLED (not yet finished).

        Returns the stopped broadcast, or None, changing nothing, when it is not SENDING
        (unknown, done, or stopped already). Exact under concurrency: a broadcast finished
        meanwhile is never brought back.
        """
        ...

    async def finish(self, broadcast_id: BroadcastId, at: datetime) -> Broadcast | None:
        """The sender ended it at ``at`` (``finished_at``): DONE, or CANCELLED if stopped.

        A SENDING broadcast becomes DONE; a stopped one stays CANCELLED. Returns the finished
        broadcast, or None, changing nothing, when it was finished already or is unknown.
        Exact under concurrency: a stop that lands first is kept, and one that comes after
        finds it no longer SENDING.
        """
        ...

    async def unfinished(self) -> list[Broadcast]:
        """Broadcasts without ``finished_at`` (sending, or stopped and not yet reported).

        Oldest first (then by id).
        """
        ...

    async def recent(self, *, limit: int) -> list[Broadcast]:
        """Up to ``limit`` broadcasts, newest first (then by id, descending)."""
        ...

    async def pending(self, broadcast_id: BroadcastId, *, limit: int) -> list[UserId]:
        """Up to ``limit`` recipients whose delivery is PENDING, in the order they were added."""
        ...

    async def claim(self, broadcast_id: BroadcastId, user_id: UserId, at: datetime) -> bool:
        """Move a PENDING delivery to SENDING just before its message is sent.

        False (and no change) when it is not pending: exact under concurrency, so two
        senders never both send it.
        """
        ...

    async def record(
        self,
        broadcast_id: BroadcastId,
        user_id: UserId,
        state: DeliveryState,
        at: datetime,
        detail: str = "",
    ) -> None:
        """Set a delivery's outcome (``detail``: Telegram's error, for operators).

        Unknown deliveries are ignored.
        """
        ...

    async def interrupted(self, broadcast_id: BroadcastId, at: datetime) -> int:
        """Move every delivery left in SENDING to UNCONFIRMED; return how many.

        Called when a sender takes a broadcast over: whoever claimed them stopped mid-send.
        """
        ...

    async def counts(self, broadcast_id: BroadcastId) -> BroadcastCounts:
        """How the broadcast's deliveries stand (all zero for an unknown id)."""
        ...


class CircuitRepository(Protocol):
    """The models' open and trial circuits and their recent provider failures."""

    async def failure(self, model_id: str, at: datetime, window: timedelta) -> int:
        """Record a provider failure of ``model_id`` at ``at``.

        Returns how many are recorded within ``window`` up to ``at`` (this one included).
        Until the unit of work ends, other units of work recording a failure of the same
        model wait, so the count and what follows from it are decided one at a time.
        """
        ...

    async def get(self, model_id: str) -> Circuit | None:
        """The model's circuit, or None when it is closed."""
        ...

    async def put(self, circuit: Circuit) -> None:
        """Store (insert or replace) the model's circuit."""
        ...

    async def remove(self, model_id: str) -> bool:
        """Close the model's circuit; False when it was closed already."""
        ...

    async def replace(self, expected: Circuit, circuit: Circuit | None) -> bool:
        """Move the model's circuit from ``expected`` to ``circuit`` (None: close it).

        Only while the stored circuit is still ``expected`` (the same state, trips and
        ``changed_at``); otherwise False and no change: an admin's switch closed it, or a
        failure opened it again, meanwhile. A closed circuit is never created again. Exact
        under concurrency. Raises ``ValueError`` when the two are of different models.
        """
        ...

    async def all(self) -> list[Circuit]:
        """Every open or trial circuit, by model id."""
        ...


class CreditsRepository(Protocol):
    """The provider account's credits as last checked (one record)."""

    async def get(self, *, for_update: bool = False) -> CreditsState | None:
        """The last check's state, or None before the first.

        With ``for_update``, other units of work asking ``for_update`` wait until this one
        ends, so a change decided on what was read is decided once.
        """
        ...

    async def put(self, state: CreditsState) -> None:
        """Store the state of a check, replacing the previous one."""
        ...


class BroadcastChannel(Protocol):
    """How a broadcast reaches its recipients and its author (Telegram)."""

    async def send(self, broadcast: Broadcast, user_id: UserId) -> SendOutcome:
        """Send the broadcast's message to one user; what happened, never an exception.

        It is sent once per call: the caller decides about retries.
        """
        ...

    async def progress(self, broadcast: Broadcast, counts: BroadcastCounts) -> None:
        """Show the author how far it is (best effort: failures are only logged)."""
        ...

    async def finished(self, broadcast: Broadcast, counts: BroadcastCounts) -> None:
        """Give the author the final report of a DONE or CANCELLED broadcast (best effort)."""
        ...


class AdminNotifier(Protocol):
    """Tells every admin about something the bot noticed on its own."""

    async def notify(self, alert: AdminAlert) -> int:
        """Send ``alert`` to every admin in their language; how many admins it reached.

        Best effort: an admin who cannot be reached is logged and skipped, never raised.
        """
        ...
