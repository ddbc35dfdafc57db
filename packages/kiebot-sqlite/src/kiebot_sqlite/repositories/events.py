"""The telemetry event chain in SQLite."""

from datetime import datetime

import aiosqlite
import attrs

from kiebot_core.domain.ids import CorrelationId, GenerationId, ProviderTaskId, UserId
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
# Each lookup below reads one index of migration 0009 (the `IS NOT NULL` tests match the
# partial indexes' predicates).
_BY_GENERATION = """
    SELECT * FROM events WHERE generation_id = ? AND generation_id IS NOT NULL ORDER BY at, id
"""
_BY_TASK = """
    SELECT * FROM events
    WHERE json_extract(payload, '$.kie_task_id') = ?
        AND json_extract(payload, '$.kie_task_id') IS NOT NULL
    ORDER BY at, id
"""
_BY_UPDATE = """
    SELECT * FROM events
    WHERE json_extract(payload, '$.update_id') = ?
        AND json_extract(payload, '$.update_id') IS NOT NULL
    ORDER BY at, id
"""
_BY_USER = """
    SELECT * FROM (
        SELECT * FROM events
        WHERE user_id = ? AND user_id IS NOT NULL AND at >= ?
        ORDER BY at DESC, id DESC LIMIT ?
    ) ORDER BY at, id
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

    async def for_generation(self, generation_id: GenerationId) -> list[Event]:
        with translated("event", generation_id):
            rows = await fetch_all(self._connection, _BY_GENERATION, (generation_id,))
        return [event_from_row(row) for row in rows]

    async def for_task(self, task_id: ProviderTaskId) -> list[Event]:
        with translated("event", task_id):
            rows = await fetch_all(self._connection, _BY_TASK, (task_id,))
        return [event_from_row(row) for row in rows]

    async def for_update(self, update_id: int) -> list[Event]:
        with translated("event", str(update_id)):
            rows = await fetch_all(self._connection, _BY_UPDATE, (update_id,))
        return [event_from_row(row) for row in rows]

    async def for_user(
        self, user_id: UserId, *, limit: int, since: datetime | None = None
    ) -> list[Event]:
        if limit <= 0:
            return []
        moment = "" if since is None else timestamp(since)
        with translated("event", str(user_id)):
            rows = await fetch_all(self._connection, _BY_USER, (user_id, moment, limit))
        return [event_from_row(row) for row in rows]

    async def prune(self, before: datetime) -> int:
        with translated("event", f"before {before.isoformat()}"):
            return await execute(
                self._connection, "DELETE FROM events WHERE at < ?", (timestamp(before),)
            )
