"""Operations figures: what a store holds right now, for metrics and dashboards.

Two reads, of different cost: the work in progress (``ReportRepository.operations``: the
unfinished generations, the job queue, the inbox; small or indexed sets, cheap at every
scrape) and the totals since the store began (``ReportRepository.totals``: every finished
generation and payment; whole tables, read rarely). The shells turn them into metrics; they
hold counts and durations only, never a user's data.
"""

from collections.abc import Mapping
from datetime import timedelta

import attrs

from kiebot_core.domain.generation import GenerationState
from kiebot_core.domain.reasons import ReasonCode

GenerationKey = tuple[str, GenerationState, ReasonCode | None]
"""A model id, a state, and the reason a generation ended (None unless failed/cancelled)."""
InFlightKey = tuple[str, GenerationState]
"""A model id and an unfinished state."""


@attrs.frozen(kw_only=True)
class QueueFigures:
    """A queue of work items (durable jobs, or stored updates)."""

    waiting: int = 0
    """Due now and not being worked on."""
    running: int = 0
    """Claimed by a process that works on them."""
    scheduled: int = 0
    """Due later (a retry's backoff, a poll's next round)."""
    oldest_wait: timedelta = timedelta(0)
    """How long the item waiting longest has been due (zero when none waits)."""


@attrs.frozen(kw_only=True)
class OperationsSnapshot:
    """The work in progress in a store at one moment, counted (cheap reads only)."""

    in_flight: Mapping[InFlightKey, int] = attrs.field(factory=dict)
    """Unfinished generations, counted by model and state."""
    jobs: QueueFigures = attrs.Factory(QueueFigures)
    """The durable job queue."""
    updates_pending: int = 0
    """Stored updates not handled yet (being handled included), parked ones excluded."""
    oldest_update_wait: timedelta = timedelta(0)
    """How long the oldest of them has waited since it was stored (zero when none)."""
    updates_parked: int = 0
    """Updates given up on after repeated failures (kept for the operator)."""


@attrs.frozen(kw_only=True)
class OperationsTotals:
    """What a store has counted since it began (aggregates over whole tables: read rarely)."""

    finished: Mapping[GenerationKey, int] = attrs.field(factory=dict)
    """Every generation that ended, counted by model, state and reason (never pruned)."""
    stars_purchased: int = 0
    """Stars of every payment received through Telegram."""
    stars_refunded: int = 0
    """Stars of the payments refunded since."""
    payments: int = 0
    """Payments received."""
    refunds: int = 0
    """Payments refunded."""
