"""Broadcasts: an admin's message to a segment of users, paced, resumable, reported.

``create_broadcast`` fixes the recipients when the admin confirms (the preview's count is
``audience_size``); the leader's ``BroadcastSender`` then sends to them one at a time, at most
``per_second`` a second, sleeping through Telegram's flood control (``retry_after``). Each
delivery is claimed in the store just before its send, so a sender that stops — a restart, a
lost lease, a crash — leaves every other recipient pending for the next one and never sends
the same user twice: a message is sent again only when Telegram certainly did not take it.
Users who blocked the bot are marked (and left out of later segments). The stored broadcast
is changed by targeted writes only (the progress message, Stop, the end), so a Stop is never
undone and an ended broadcast never comes back.
"""

import asyncio
import time
from collections.abc import Awaitable, Callable, Coroutine
from contextlib import suppress
from datetime import timedelta
from typing import Any, TypeVar

import attrs

from kiebot_core.domain.audit import AuditAction, telegram_actor
from kiebot_core.domain.broadcasts import (
    Broadcast,
    BroadcastButton,
    BroadcastCounts,
    BroadcastId,
    BroadcastState,
    Delivered,
    DeliveryState,
    Segment,
    SendOutcome,
    TryAgain,
    Unconfirmed,
    Undeliverable,
    Unreachable,
)
from kiebot_core.domain.ids import UserId
from kiebot_core.domain.outcomes import Rejected
from kiebot_core.domain.reasons import ReasonCode
from kiebot_core.ports.operations import BroadcastChannel
from kiebot_core.ports.runtime import Clock, IdFactory
from kiebot_core.ports.storage import UnitOfWorkFactory
from kiebot_core.use_cases.audit import audited
from kiebot_core.use_cases.retention import Fence

T = TypeVar("T")

MAX_TEXT = 16_384
"""The longest message (HTML) accepted; Telegram itself allows 4096 characters of text."""
SEND_GRACE_S = 15.0
"""How long a stopping sender lets a send in flight finish (and be recorded)."""


@attrs.frozen(kw_only=True)
class BroadcastSettings:
    """How fast the sender goes and how often it reports."""

    per_second: float = 25.0
    """Messages a second at most: under Telegram's ~30 a second for bulk messages, leaving
    room for the bot's answers to users (``KIEBOT_BROADCAST_PER_SECOND``)."""
    progress_every: timedelta = timedelta(seconds=3)
    """How often the author's progress message is updated."""
    check_every: timedelta = timedelta(seconds=1)
    """How often the sender looks whether an admin stopped the broadcast."""
    batch: int = 50
    """Pending recipients read at a time."""
    attempts: int = 5
    """Sends of one message that never reached Telegram (no connection) before it counts as
    failed."""
    flood_waits: int = 20
    """Flood-control waits on one message before it counts as failed."""

    def __attrs_post_init__(self) -> None:
        """Refuse a pace no sender can keep (a programmer or settings-loader error)."""
        if self.per_second <= 0:
            raise ValueError("a broadcast sends at least some messages a second")


def _segment_detail(segment: Segment) -> str:
    parts = [
        f"language={segment.language or 'any'}",
        "active since "
        + (segment.active_since.strftime("%Y-%m-%d") if segment.active_since else "any"),
        "paid=" + ("any" if segment.paid is None else ("yes" if segment.paid else "no")),
    ]
    return ", ".join(parts)


async def audience_size(store: UnitOfWorkFactory, segment: Segment) -> int:
    """How many users ``segment`` reaches now (the dry run: nothing is stored or sent)."""
    async with store() as uow:
        return len(await uow.audience.select(segment))


async def create_broadcast(
    store: UnitOfWorkFactory,
    clock: Clock,
    ids: IdFactory,
    *,
    author_id: UserId,
    text: str,
    segment: Segment,
    report_chat_id: int,
    button: BroadcastButton | None = None,
) -> Broadcast | Rejected:
    """Store a broadcast to everyone ``segment`` reaches now; the leader sends it.

    Recorded in the audit trail (actor: the author). ``INVALID_INPUT`` for an empty or
    oversized text, or a segment that reaches nobody.
    """
    text = text.strip()
    if not text or len(text) > MAX_TEXT:
        return Rejected(ReasonCode.INVALID_INPUT, "text", "the message is empty or too long")
    now = clock.now()
    async with store() as uow:
        recipients = await uow.audience.select(segment)
        if not recipients:
            return Rejected(ReasonCode.INVALID_INPUT, "segment", "nobody matches the audience")
        broadcast = Broadcast(
            id=BroadcastId(ids.new("bc")),
            author_id=author_id,
            text=text,
            button=button,
            segment=segment,
            total=len(recipients),
            created_at=now,
            report_chat_id=report_chat_id,
        )
        await uow.broadcasts.add(broadcast, recipients)
        await audited(
            uow,
            telegram_actor(author_id),
            AuditAction.BROADCAST,
            broadcast.id,
            at=now,
            detail=f"{len(recipients)} recipients ({_segment_detail(segment)})",
        )
        await uow.commit()
    return broadcast


async def show_progress_in(
    store: UnitOfWorkFactory, broadcast_id: BroadcastId, message_id: int
) -> None:
    """Remember the message that shows the broadcast's progress to its author.

    Only that is written: a Stop or an end racing it stays as it is.
    """
    async with store() as uow:
        if await uow.broadcasts.set_progress_message(broadcast_id, message_id):
            await uow.commit()


async def stop_broadcast(
    store: UnitOfWorkFactory, clock: Clock, broadcast_id: BroadcastId, *, by: UserId
) -> Broadcast | Rejected:
    """Stop a broadcast: nothing more is sent; its sender reports the final figures.

    Recorded in the audit trail. ``STALE_ACTION`` for an unknown broadcast or one that
    already ended or was stopped (also when it ended while this was being decided).
    """
    now = clock.now()
    async with store() as uow:
        stopped = await uow.broadcasts.stop(broadcast_id)
        if stopped is None:
            return Rejected(ReasonCode.STALE_ACTION, detail=f"{broadcast_id} is not sending")
        counts = await uow.broadcasts.counts(broadcast_id)
        await audited(
            uow,
            telegram_actor(by),
            AuditAction.BROADCAST,
            broadcast_id,
            at=now,
            detail=f"stopped after {counts.handled} of {stopped.total}",
        )
        await uow.commit()
    return stopped


async def broadcast_counts(store: UnitOfWorkFactory, broadcast_id: BroadcastId) -> BroadcastCounts:
    """How the broadcast's deliveries stand now."""
    async with store() as uow:
        return await uow.broadcasts.counts(broadcast_id)


async def _finish_anyway(work: Coroutine[Any, Any, T]) -> T:
    """Run ``work`` to its end even when the caller is cancelled meanwhile (within a grace).

    A message being sent when the sender stops is let through and recorded, so it is known
    to have been sent; cancellation is passed on afterwards.
    """
    task = asyncio.ensure_future(work)
    try:
        return await asyncio.shield(task)
    except asyncio.CancelledError:
        with suppress(Exception):
            await asyncio.wait_for(asyncio.shield(task), SEND_GRACE_S)
        raise


@attrs.define
class _Pacer:
    """At most one send per ``interval_s``, on a monotonic clock."""

    interval_s: float
    sleep: Callable[[float], Awaitable[None]]
    monotonic: Callable[[], float]
    _next_at: float = 0.0

    async def wait_turn(self) -> None:
        now = self.monotonic()
        if self._next_at > now:
            await self.sleep(self._next_at - now)
            now = self.monotonic()
        self._next_at = max(self._next_at, now) + self.interval_s

    def hold(self, seconds: float) -> None:
        """Nothing is sent for ``seconds`` from now (Telegram's flood control)."""
        self._next_at = max(self._next_at, self.monotonic() + seconds)


@attrs.define
class BroadcastSender:
    """Sends the stored broadcasts (the leader's singleton work)."""

    store: UnitOfWorkFactory
    channel: BroadcastChannel
    clock: Clock
    settings: BroadcastSettings = attrs.Factory(BroadcastSettings)
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    monotonic: Callable[[], float] = time.monotonic

    async def run_pending(self, *, fence: Fence | None = None) -> int:
        """Send every unfinished broadcast to its end, oldest first; return how many ended.

        A broadcast stopped by an admin gets its final report. ``fence`` (the leader's) is
        called before each claim and each state change; what it raises stops the sender.
        """
        ended = 0
        async with self.store() as uow:
            unfinished = await uow.broadcasts.unfinished()
        for broadcast in unfinished:
            await self.run(broadcast, fence=fence)
            ended += 1
        return ended

    async def run(self, broadcast: Broadcast, *, fence: Fence | None = None) -> Broadcast:
        """Send one broadcast to every pending recipient, then finish and report it.

        Deliveries a stopped sender left in flight are counted as unconfirmed first, and
        never sent again.
        """
        async with self.store() as uow:
            if fence is not None:
                await fence(uow)
            await uow.broadcasts.interrupted(broadcast.id, self.clock.now())
            await uow.commit()
        pacer = _Pacer(1.0 / self.settings.per_second, self.sleep, self.monotonic)
        reported_at = checked_at = self.monotonic()
        if broadcast.state is BroadcastState.SENDING:
            await self._report(broadcast)
        current = broadcast
        while current.state is BroadcastState.SENDING:
            async with self.store() as uow:
                batch = await uow.broadcasts.pending(broadcast.id, limit=self.settings.batch)
            if not batch:
                break
            for user_id in batch:
                await self._deliver(current, user_id, pacer, fence)
                if self.monotonic() - checked_at >= self.settings.check_every.total_seconds():
                    checked_at = self.monotonic()
                    current = await self._reload(current)
                    if current.state is not BroadcastState.SENDING:
                        break
                if self.monotonic() - reported_at >= self.settings.progress_every.total_seconds():
                    reported_at = self.monotonic()
                    await self._report(current)
            current = await self._reload(current)
        return await self._finish(current, fence)

    async def _reload(self, broadcast: Broadcast) -> Broadcast:
        async with self.store() as uow:
            return await uow.broadcasts.get(broadcast.id) or broadcast

    async def _report(self, broadcast: Broadcast) -> None:
        async with self.store() as uow:
            counts = await uow.broadcasts.counts(broadcast.id)
        await self.channel.progress(broadcast, counts)

    async def _finish(self, broadcast: Broadcast, fence: Fence | None) -> Broadcast:
        now = self.clock.now()
        async with self.store() as uow:
            if fence is not None:
                await fence(uow)
            # DONE from SENDING, or CANCELLED kept: a Stop that landed first is reported as one.
            finished = await uow.broadcasts.finish(broadcast.id, now)
            if finished is None:  # another sender ended and reported it
                return await uow.broadcasts.get(broadcast.id) or broadcast
            counts = await uow.broadcasts.counts(broadcast.id)
            await uow.commit()
        await self.channel.finished(finished, counts)
        return finished

    async def _claim(self, broadcast: Broadcast, user_id: UserId, fence: Fence | None) -> bool:
        async with self.store() as uow:
            if fence is not None:
                await fence(uow)
            claimed = await uow.broadcasts.claim(broadcast.id, user_id, self.clock.now())
            await uow.commit()
        return claimed

    async def _record(
        self, broadcast: Broadcast, user_id: UserId, state: DeliveryState, detail: str = ""
    ) -> None:
        # Not fenced: it records what already happened (or, for PENDING, what did not), which
        # stays true whoever leads now.
        now = self.clock.now()
        async with self.store() as uow:
            await uow.broadcasts.record(broadcast.id, user_id, state, now, detail)
            if state is DeliveryState.BLOCKED:
                await uow.audience.mark_blocked(user_id, now)
            await uow.commit()

    async def _send_and_record(self, broadcast: Broadcast, user_id: UserId) -> SendOutcome:
        outcome = await self.channel.send(broadcast, user_id)
        match outcome:
            case Delivered():
                await self._record(broadcast, user_id, DeliveryState.SENT)
            case Unreachable(detail):
                await self._record(broadcast, user_id, DeliveryState.BLOCKED, detail)
            case Undeliverable(detail):
                await self._record(broadcast, user_id, DeliveryState.FAILED, detail)
            case Unconfirmed(detail):
                await self._record(broadcast, user_id, DeliveryState.UNCONFIRMED, detail)
            case TryAgain():
                pass
        return outcome

    async def _deliver(
        self, broadcast: Broadcast, user_id: UserId, pacer: _Pacer, fence: Fence | None
    ) -> None:
        await pacer.wait_turn()
        if not await self._claim(broadcast, user_id, fence):
            return
        failures = floods = 0
        while True:
            outcome = await _finish_anyway(self._send_and_record(broadcast, user_id))
            if not isinstance(outcome, TryAgain):
                return
            if outcome.is_flood:
                floods += 1
            else:
                failures += 1
            if floods > self.settings.flood_waits or failures >= self.settings.attempts:
                await _finish_anyway(
                    self._record(broadcast, user_id, DeliveryState.FAILED, outcome.detail)
                )
                return
            wait = outcome.after.total_seconds()
            pacer.hold(wait)
            try:
                await pacer.wait_turn()
            except asyncio.CancelledError:
                # Stopped while waiting: this message was not sent, so it stays to send.
                await _finish_anyway(self._record(broadcast, user_id, DeliveryState.PENDING))
                raise
