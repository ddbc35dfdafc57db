"""The audit trail of operator actions in PostgreSQL."""

from datetime import datetime

import attrs

from kiebot_core.domain.audit import AuditEntry
from kiebot_core.ports.storage import AuditRepository
from kiebot_pg.errors import translated
from kiebot_pg.pool import PgConnection
from kiebot_pg.rows import audit_from_row, audit_values

_INSERT = """
    INSERT INTO audit_log (at, actor, action, target, detail, reason)
    VALUES ($1, $2, $3, $4, $5, $6)
"""
_RECENT = """
    SELECT * FROM audit_log WHERE $1::timestamptz IS NULL OR at >= $1
    ORDER BY at DESC, id DESC
    LIMIT $2
"""


@attrs.frozen
class PgAuditRepository(AuditRepository):
    """Entries in the append-only ``audit_log`` table."""

    _connection: PgConnection

    async def append(self, entry: AuditEntry) -> None:
        with translated("audit entry", entry.target):
            await self._connection.execute(_INSERT, *audit_values(entry))

    async def recent(self, *, limit: int, since: datetime | None = None) -> list[AuditEntry]:
        with translated("audit trail", "recent"):
            rows = await self._connection.fetch(_RECENT, since, max(limit, 0))
        return [audit_from_row(row) for row in rows]
