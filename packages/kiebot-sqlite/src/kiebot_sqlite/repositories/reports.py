"""Operator reports over SQLite (credits are exact decimal text, summed in Python)."""

from datetime import datetime, timedelta
from decimal import Decimal

import aiosqlite
import attrs

from kiebot_core.domain.figures import (
    GenerationKey,
    InFlightKey,
    OperationsSnapshot,
    OperationsTotals,
    QueueFigures,
)
from kiebot_core.domain.generation import GenerationState
from kiebot_core.domain.margin import DeliveredRun, ModelMargin, margins
from kiebot_core.domain.reasons import ReasonCode
from kiebot_core.domain.stats import Activity
from kiebot_core.ports.runtime import Clock, SystemClock
from kiebot_core.ports.storage import ReportRepository
from kiebot_sqlite.connection import fetch_all, fetch_one
from kiebot_sqlite.errors import translated
from kiebot_sqlite.repositories.activity import read_activity
from kiebot_sqlite.rows import moment_from, timestamp

_MARGIN = """
    WITH kept AS (
        SELECT t.reference, sum(e.amount) AS stars
        FROM ledger_transactions t JOIN ledger_entries e ON e.transaction_id = t.id
        WHERE t.kind IN ('capture', 'refund') AND e.account = 'revenue'
        GROUP BY t.reference
    )
    SELECT g.model_id, g.credits, g.credits_consumed, coalesce(kept.stars, 0) AS stars
    FROM generations g LEFT JOIN kept ON kept.reference = g.id
    WHERE g.state = 'succeeded' AND g.created_at >= ?
"""

# The predicate is the partial index generations_unfinished's: only unfinished rows are read.
_IN_FLIGHT = """
    SELECT model_id, state, count(*) AS n
    FROM generations
    WHERE state NOT IN ('succeeded', 'failed', 'cancelled')
    GROUP BY 1, 2
"""
# ?1 is now by the adapter's clock (as claims are timed).
_QUEUES = """
    WITH job AS (
        SELECT run_at, claimed_until IS NOT NULL AND claimed_until > ?1 AS claimed FROM jobs
    ), live AS (
        SELECT received_at FROM update_inbox WHERE processed = 0 AND parked_reason IS NULL
    )
    SELECT
        (SELECT count(*) FROM job WHERE claimed) AS jobs_running,
        (SELECT count(*) FROM job WHERE NOT claimed AND run_at <= ?1) AS jobs_waiting,
        (SELECT count(*) FROM job WHERE NOT claimed AND run_at > ?1) AS jobs_scheduled,
        (SELECT min(run_at) FROM job WHERE NOT claimed AND run_at <= ?1) AS jobs_oldest,
        (SELECT count(*) FROM live) AS updates_pending,
        (SELECT min(received_at) FROM live) AS updates_oldest,
        (SELECT count(*) FROM update_inbox WHERE parked_reason IS NOT NULL) AS updates_parked
"""
# The totals read whole tables: callers read them rarely.
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
           coalesce(sum(CASE WHEN state = 'refunded' THEN stars END), 0) AS stars_refunded,
           count(*) AS payments,
           count(CASE WHEN state = 'refunded' THEN 1 END) AS refunds
    FROM payments
"""


def _wait(now: datetime, since: str | None) -> timedelta:
    return timedelta(0) if since is None else max(now - moment_from(since), timedelta(0))


@attrs.frozen
class SqliteReportRepository(ReportRepository):
    """Reports from one query each."""

    _connection: aiosqlite.Connection
    _clock: Clock = attrs.field(factory=SystemClock)

    async def operations(self) -> OperationsSnapshot:
        now = self._clock.now()
        with translated("report", "operations"):
            groups = await fetch_all(self._connection, _IN_FLIGHT)
            row = await fetch_one(self._connection, _QUEUES, (timestamp(now),))
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
                oldest_wait=_wait(now, row["jobs_oldest"]),
            ),
            updates_pending=int(row["updates_pending"]),
            oldest_update_wait=_wait(now, row["updates_oldest"]),
            updates_parked=int(row["updates_parked"]),
        )

    async def totals(self) -> OperationsTotals:
        with translated("report", "totals"):
            groups = await fetch_all(self._connection, _FINISHED)
            row = await fetch_one(self._connection, _PAYMENTS)
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
            rows = await fetch_all(self._connection, _MARGIN, (timestamp(since),))
        return margins(
            DeliveredRun(
                model_id=row["model_id"],
                credits=Decimal(row["credits"]),
                credits_consumed=None
                if row["credits_consumed"] is None
                else Decimal(row["credits_consumed"]),
                stars=int(row["stars"]),
            )
            for row in rows
        )
