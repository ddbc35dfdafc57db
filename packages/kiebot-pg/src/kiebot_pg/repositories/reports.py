"""Operator reports over PostgreSQL."""

from datetime import datetime

import attrs

from kiebot_core.domain.margin import ModelMargin
from kiebot_core.ports.storage import ReportRepository
from kiebot_pg.errors import translated
from kiebot_pg.pool import PgConnection

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


@attrs.frozen
class PgReportRepository(ReportRepository):
    """Reports as single aggregate queries."""

    _connection: PgConnection

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
