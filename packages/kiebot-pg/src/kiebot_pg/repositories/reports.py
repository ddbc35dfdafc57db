"""Operator reports over PostgreSQL."""

from datetime import datetime, timedelta
from decimal import Decimal

import attrs

from kiebot_core.domain.figures import (
    GenerationKey,
    InFlightKey,
    OperationsSnapshot,
    OperationsTotals,
    QueueFigures,
)
from kiebot_core.domain.generation import GenerationState
from kiebot_core.domain.margin import ModelMargin
from kiebot_core.domain.reasons import ReasonCode
from kiebot_core.domain.stats import Activity
from kiebot_core.ports.storage import ReportRepository
from kiebot_pg.errors import translated
from kiebot_pg.pool import PgConnection
from kiebot_pg.repositories.activity import read_activity

_MARGIN = """
    WITH kept AS (
        SELECT t.reference, sum(e.amount) AS stars
        FROM ledger_transactions t JOIN ledger_entries e ON e.transaction_id = t.id
        WHERE t.kind IN ('capture', 'refund') AND e.account = 'revenue'
        GROUP BY t.reference
    )
    SELECT g.model_id,
           count(*) AS generations,
           coalesce(sum(kept.stars), 0) AS stars,
           coalesce(sum(g.credits), 0) AS credits_quoted,
           coalesce(sum(g.credits_consumed), 0) AS credits_consumed,
           count(g.credits_consumed) AS reported,
           coalesce(sum(g.credits) FILTER (WHERE g.credits_consumed IS NOT NULL), 0)
               AS quoted_reported
    FROM generations g LEFT JOIN kept ON kept.reference = g.id
    WHERE g.state = 'succeeded' AND g.created_at >= $1
    GROUP BY g.model_id
    ORDER BY g.model_id COLLATE "C"
"""

# The predicate is the partial index generations_unfinished's: only unfinished rows are read.
_IN_FLIGHT = """
    SELECT model_id, state, count(*) AS n
    FROM generations
    WHERE state NOT IN ('succeeded', 'failed', 'cancelled')
    GROUP BY 1, 2
"""
# One snapshot of the queues, timed by the database clock (as claims are); the inbox is read
# through its partial indexes (pending, parked).
_QUEUES = """
    WITH job AS (
        SELECT run_at, claimed_until IS NOT NULL AND claimed_until > now() AS claimed
        FROM jobs
    ), live AS (
        SELECT received_at FROM update_inbox WHERE NOT processed AND parked_reason IS NULL
    )
    SELECT
        (SELECT count(*) FROM job WHERE claimed) AS jobs_running,
        (SELECT count(*) FROM job WHERE NOT claimed AND run_at <= now()) AS jobs_waiting,
        (SELECT count(*) FROM job WHERE NOT claimed AND run_at > now()) AS jobs_scheduled,
        (SELECT greatest(extract(epoch FROM now() - min(run_at)), 0)
         FROM job WHERE NOT claimed AND run_at <= now()) AS jobs_oldest_s,
        (SELECT count(*) FROM live) AS updates_pending,
        (SELECT greatest(extract(epoch FROM now() - min(received_at)), 0) FROM live)
            AS updates_oldest_s,
        (SELECT count(*) FROM update_inbox WHERE parked_reason IS NOT NULL) AS updates_parked
"""
# The totals read whole tables: the metrics read them once a minute, not at every scrape.
_FINISHED = """
    SELECT model_id, state,
           CASE WHEN state IN ('failed', 'cancelled') THEN reason END AS reason,
           count(*) AS n
    FROM generations
    WHERE state IN ('succeeded', 'failed', 'cancelled')
    GROUP BY 1, 2, 3
"""
_PAYMENTS = """
    SELECT coalesce(sum(stars), 0) AS stars_purchased,
           coalesce(sum(stars) FILTER (WHERE state = 'refunded'), 0) AS stars_refunded,
           count(*) AS payments,
           count(*) FILTER (WHERE state = 'refunded') AS refunds
    FROM payments
"""


def _seconds(value: Decimal | None) -> timedelta:
    return timedelta(0) if value is None else timedelta(seconds=float(value))


@attrs.frozen
class PgReportRepository(ReportRepository):
    """Reports as single aggregate queries."""

    _connection: PgConnection

    async def operations(self) -> OperationsSnapshot:
        with translated("report", "operations"):
            groups = await self._connection.fetch(_IN_FLIGHT)
            row = await self._connection.fetchrow(_QUEUES)
        if row is None:  # pragma: no cover - a SELECT without FROM always has a row
            raise AssertionError("no figures")
        in_flight: dict[InFlightKey, int] = {
            (group["model_id"], GenerationState(group["state"])): int(group["n"])
            for group in groups
        }
        return OperationsSnapshot(
            in_flight=in_flight,
            jobs=QueueFigures(
                waiting=int(row["jobs_waiting"]),
                running=int(row["jobs_running"]),
                scheduled=int(row["jobs_scheduled"]),
                oldest_wait=_seconds(row["jobs_oldest_s"]),
            ),
            updates_pending=int(row["updates_pending"]),
            oldest_update_wait=_seconds(row["updates_oldest_s"]),
            updates_parked=int(row["updates_parked"]),
        )

    async def totals(self) -> OperationsTotals:
        with translated("report", "totals"):
            groups = await self._connection.fetch(_FINISHED)
            row = await self._connection.fetchrow(_PAYMENTS)
        if row is None:  # pragma: no cover - an aggregate without GROUP BY always has a row
            raise AssertionError("no figures")
        finished: dict[GenerationKey, int] = {
            (
                group["model_id"],
                GenerationState(group["state"]),
                None if group["reason"] is None else ReasonCode(group["reason"]),
            ): int(group["n"])
            for group in groups
        }
        return OperationsTotals(
            finished=finished,
            stars_purchased=int(row["stars_purchased"]),
            stars_refunded=int(row["stars_refunded"]),
            payments=int(row["payments"]),
            refunds=int(row["refunds"]),
        )

    async def activity(self, since: datetime, *, today: datetime, week: datetime) -> Activity:
        return await read_activity(self._connection, since, today=today, week=week)

    async def margin(self, since: datetime) -> list[ModelMargin]:
        with translated("report", "margin"):
            rows = await self._connection.fetch(_MARGIN, since)
        return [
            ModelMargin(
                model_id=row["model_id"],
                generations=int(row["generations"]),
                stars=int(row["stars"]),
                credits_quoted=row["credits_quoted"],
                credits_consumed=row["credits_consumed"],
                reported=int(row["reported"]),
                quoted_reported=row["quoted_reported"],
            )
            for row in rows
        ]
