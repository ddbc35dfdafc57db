"""The journal of calls made while handling inbox updates, in SQLite."""

from datetime import datetime

import aiosqlite
import attrs

from kiebot_core.domain.catalog import JsonValue
from kiebot_core.domain.coordination import SentMessage
from kiebot_core.ports.runtime import Clock
from kiebot_core.ports.storage import SentMessageRepository
from kiebot_sqlite.connection import execute, fetch_one
from kiebot_sqlite.errors import translated
from kiebot_sqlite.rows import sent_message_from_row, sent_message_values, timestamp

_RECORDED = "SELECT * FROM sent_messages WHERE bot_id = ? AND update_id = ? AND seq = ?"
_RECORD = """
    INSERT INTO sent_messages (bot_id, update_id, seq, method, result, recorded_at)
    VALUES (?, ?, ?, ?, ?, ?)
    ON CONFLICT (bot_id, update_id, seq) DO NOTHING
"""
_PRUNE = "DELETE FROM sent_messages WHERE recorded_at < ?"


@attrs.frozen
class SqliteSentMessageRepository(SentMessageRepository):
    """Records in the ``sent_messages`` table, timed by the adapter's clock."""

    _connection: aiosqlite.Connection
    _clock: Clock

    async def recorded(self, bot_id: int, update_id: int, seq: int) -> SentMessage | None:
        with translated("sent message", f"{bot_id}/{update_id}/{seq}"):
            row = await fetch_one(self._connection, _RECORDED, (bot_id, update_id, seq))
        return None if row is None else sent_message_from_row(row)

    async def record(
        self, bot_id: int, update_id: int, seq: int, method: str, result: JsonValue
    ) -> bool:
        values = (
            *sent_message_values(bot_id, update_id, seq, method, result),
            timestamp(self._clock.now()),
        )
        with translated("sent message", f"{bot_id}/{update_id}/{seq}"):
            return bool(await execute(self._connection, _RECORD, values))

    async def prune(self, before: datetime) -> int:
        with translated("sent message", f"before {before.isoformat()}"):
            return await execute(self._connection, _PRUNE, (timestamp(before),))
