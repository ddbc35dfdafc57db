"""The telemetry event chain in SQLite."""

from datetime import datetime

import aiosqlite
import attrs

from kiebot_core.domain.ids import CorrelationId
from kiebot_core.domain.telemetry import Event
from kiebot_core.ports.storage import EventRepository
from kiebot_sqlite.connection import execute, fetch_all
from kiebot_sqlite.errors import translated
from kiebot_sqlite.rows import event_from_row, event_values, timestamp

_INSERT = """
    INSERT INTO events (
        correlation_id, kind, at, user_id, generation_id, reason, duration_ms, payload
    ) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
"""


@attrs.frozen
class SqliteEventRepository(EventRepository):
    """Events in the ``events`` table."""

    _connection: aiosqlite.Connection

    async def append(self, event: Event) -> None:
        with translated("event", event.correlation_id):
            await execute(self._connection, _INSERT, event_values(event))

    async def chain(self, correlation_id: CorrelationId) -> list[Event]:
        with translated("event", correlation_id):
            rows = await fetch_all(
                self._connection,
                "SELECT * FROM events WHERE correlation_id = ? ORDER BY at, id",
                (correlation_id,),
            )
        return [event_from_row(row) for row in rows]

    async def prune(self, before: datetime) -> int:
        with translated("event", f"before {before.isoformat()}"):
            return await execute(
                self._connection, "DELETE FROM events WHERE at < ?", (timestamp(before),)
            )
