"""The telemetry event chain in PostgreSQL."""

from datetime import datetime

import attrs

from kiebot_core.domain.ids import CorrelationId, GenerationId, ProviderTaskId, UserId
from kiebot_core.domain.telemetry import Event
from kiebot_core.ports.storage import EventRepository
from kiebot_pg.errors import translated
from kiebot_pg.pool import PgConnection, affected_rows
from kiebot_pg.rows import event_from_row, event_values

_INSERT = """
    INSERT INTO events (
        correlation_id, kind, at, user_id, generation_id, reason, duration_ms, payload
    ) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
"""
# Each lookup below is a range read of one index of migration 0009 (the `?` tests match the
# partial indexes' predicates).
_BY_GENERATION = """
    SELECT * FROM events WHERE generation_id = $1 AND generation_id IS NOT NULL ORDER BY at, id
"""
_BY_TASK = """
    SELECT * FROM events WHERE payload ? 'kie_task_id' AND payload ->> 'kie_task_id' = $1
    ORDER BY payload ->> 'kie_task_id', at, id
"""
_BY_UPDATE = """
    SELECT * FROM events WHERE payload ? 'update_id' AND payload ->> 'update_id' = $1
    ORDER BY payload ->> 'update_id', at, id
"""
_BY_USER = """
    SELECT * FROM (
        SELECT * FROM events
        WHERE user_id = $1 AND user_id IS NOT NULL AND at >= $2
        ORDER BY at DESC, id DESC LIMIT $3
    ) latest ORDER BY at, id
"""
_DAWN = datetime.fromisoformat("0001-01-01T00:00:00+00:00")


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

    async def for_generation(self, generation_id: GenerationId) -> list[Event]:
        with translated("event", generation_id):
            rows = await self._connection.fetch(_BY_GENERATION, generation_id)
        return [event_from_row(row) for row in rows]

    async def for_task(self, task_id: ProviderTaskId) -> list[Event]:
        with translated("event", task_id):
            rows = await self._connection.fetch(_BY_TASK, task_id)
        return [event_from_row(row) for row in rows]

    async def for_update(self, update_id: int) -> list[Event]:
        with translated("event", str(update_id)):
            rows = await self._connection.fetch(_BY_UPDATE, str(update_id))
        return [event_from_row(row) for row in rows]

    async def for_user(
        self, user_id: UserId, *, limit: int, since: datetime | None = None
    ) -> list[Event]:
        if limit <= 0:
            return []
        with translated("event", str(user_id)):
            rows = await self._connection.fetch(_BY_USER, user_id, since or _DAWN, limit)
        return [event_from_row(row) for row in rows]

    async def prune(self, before: datetime) -> int:
        with translated("event", f"before {before.isoformat()}"):
            status = await self._connection.execute("DELETE FROM events WHERE at < $1", before)
        return affected_rows(status)
