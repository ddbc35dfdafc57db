"""Retention: old events, processed updates with their journaled calls, expired orders.

The leader runs ``prune_old_records`` on a schedule; operators run it with ``kiebot db prune``.
Nothing money depends on is ever pruned: the ledger, payments, generations and paid orders stay.
"""

from collections.abc import Awaitable, Callable

import attrs

from kiebot_core.domain.retention import Cutoffs, Retention
from kiebot_core.ports.runtime import Clock
from kiebot_core.ports.storage import UnitOfWork, UnitOfWorkFactory

Fence = Callable[[UnitOfWork], Awaitable[None]]
"""Called inside a unit of work before it writes; raises to refuse the writes (a stale leader)."""


@attrs.frozen(kw_only=True)
class PruneReport:
    """What one pruning deleted (or, in a dry run, would have deleted)."""

    events: int
    inbox: int
    """Processed inbox updates."""
    sent: int
    """Journaled bot calls of updates older than the inbox cut-off."""
    orders: int
    """Orders never paid that expired before the cut-off."""
    cutoffs: Cutoffs
    dry_run: bool = False

    @property
    def total(self) -> int:
        """Every record deleted."""
        return self.events + self.inbox + self.sent + self.orders


async def prune_old_records(
    store: UnitOfWorkFactory,
    clock: Clock,
    retention: Retention,
    *,
    dry_run: bool = False,
    fence: Fence | None = None,
) -> PruneReport:
    """Delete the records ``retention`` no longer keeps, counted in a ``PruneReport``.

    Events older than ``retention.events``, inbox updates done more than ``retention.inbox``
    ago and unpaid orders that expired more than ``retention.orders`` ago, each kind in a unit
    of work of its own (a large table does not hold the others' locks). With ``dry_run`` every
    unit of work is rolled back: the counts say what would be deleted now. ``fence`` (the
    leader's ``Leadership.fence``) is called in each unit of work after it deletes, just
    before it commits (so the lease row is locked only briefly); what it raises propagates,
    and that unit of work deletes nothing. Running twice, or on two
    instances at once, deletes each record once.
    """
    cutoffs = retention.cutoffs(clock.now())

    async def prune(delete: Callable[[UnitOfWork], Awaitable[int]]) -> int:
        async with store() as uow:
            deleted = await delete(uow)
            if fence is not None:
                await fence(uow)
            if not dry_run:
                await uow.commit()
        return deleted

    return PruneReport(
        events=await prune(lambda uow: uow.events.prune(cutoffs.events)),
        inbox=await prune(lambda uow: uow.inbox.prune(cutoffs.inbox)),
        sent=await prune(lambda uow: uow.sent_messages.prune(cutoffs.inbox)),
        orders=await prune(lambda uow: uow.orders.prune(cutoffs.orders)),
        cutoffs=cutoffs,
        dry_run=dry_run,
    )
