"""Operator reports over SQLite (credits are exact decimal text, summed in Python)."""

from datetime import datetime
from decimal import Decimal

import aiosqlite
import attrs

from kiebot_core.domain.margin import DeliveredRun, ModelMargin, margins
from kiebot_core.ports.storage import ReportRepository
from kiebot_sqlite.connection import fetch_all
from kiebot_sqlite.errors import translated
from kiebot_sqlite.rows import timestamp

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


@attrs.frozen
class SqliteReportRepository(ReportRepository):
    """Reports from one query each."""

    _connection: aiosqlite.Connection

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
