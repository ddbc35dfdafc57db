"""The telemetry event chain in PostgreSQL."""

from datetime import datetime

import attrs

from kiebot_core.domain.ids import CorrelationId
from kiebot_core.domain.telemetry import Event
from kiebot_core.ports.storage import EventRepository
from kiebot_pg.errors import translated
from kiebot_pg.pool import PgConnection
from kiebot_pg.rows import event_from_row, event_values

_INSERT = """
    INSERT INTO events (
        correlation_id, kind, at, user_id, generation_id, reason, duration_ms, payload
    ) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
"""


@attrs.frozen
class PgEventRepository(EventRepository):
    """Events in the ``events`` table."""

    _connection: PgConnection

    async def append(self, event: Event) -> None:
        with translated("event", event.correlation_id):
            await self._connection.execute(_INSERT, *event_values(event))

    async def chain(self, correlation_id: CorrelationId) -> list[Event]:
        with translated("event", correlation_id):
            rows = await self._connection.fetch(
                "SELECT * FROM events WHERE correlation_id = $1 ORDER BY at, id", correlation_id
            )
        return [event_from_row(row) for row in rows]

    async def prune(self, before: datetime) -> int:
        with translated("event", f"before {before.isoformat()}"):
            status = await self._connection.execute("DELETE FROM events WHERE at < $1", before)
        return int(status.rsplit(" ", 1)[-1])
