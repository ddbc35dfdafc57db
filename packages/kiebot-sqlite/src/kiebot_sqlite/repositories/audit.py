"""The audit trail of operator actions in SQLite."""

from datetime import datetime

import aiosqlite
import attrs

from kiebot_core.domain.audit import AuditEntry
from kiebot_core.ports.storage import AuditRepository
from kiebot_sqlite.connection import execute, fetch_all
from kiebot_sqlite.errors import translated
from kiebot_sqlite.rows import audit_from_row, audit_values, timestamp

_INSERT = """
    INSERT INTO audit_log (at, actor, action, target, detail, reason)
    VALUES (?, ?, ?, ?, ?, ?)
"""
_RECENT = """
    SELECT * FROM audit_log WHERE ?1 IS NULL OR at >= ?1
    ORDER BY at DESC, id DESC
    LIMIT ?2
"""


@attrs.frozen
class SqliteAuditRepository(AuditRepository):
    """Entries in the append-only ``audit_log`` table."""

    _connection: aiosqlite.Connection

    async def append(self, entry: AuditEntry) -> None:
        with translated("audit entry", entry.target):
            await execute(self._connection, _INSERT, audit_values(entry))

    async def recent(self, *, limit: int, since: datetime | None = None) -> list[AuditEntry]:
        moment = None if since is None else timestamp(since)
        with translated("audit trail", "recent"):
            rows = await fetch_all(self._connection, _RECENT, (moment, max(limit, 0)))
        return [audit_from_row(row) for row in rows]
