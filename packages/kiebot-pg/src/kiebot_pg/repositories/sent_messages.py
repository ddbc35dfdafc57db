"""The journal of calls made while handling inbox updates, in PostgreSQL."""

from datetime import datetime

import attrs

from kiebot_core.domain.catalog import JsonValue
from kiebot_core.domain.coordination import SentMessage
from kiebot_core.ports.storage import SentMessageRepository
from kiebot_pg.errors import translated
from kiebot_pg.pool import PgConnection, affected_rows
from kiebot_pg.rows import sent_message_from_row, sent_message_values

_RECORDED = "SELECT * FROM sent_messages WHERE bot_id = $1 AND update_id = $2 AND seq = $3"
_RECORD = """
    INSERT INTO sent_messages (bot_id, update_id, seq, method, result)
    VALUES ($1, $2, $3, $4, $5)
    ON CONFLICT (bot_id, update_id, seq) DO NOTHING
    RETURNING seq
"""
_PRUNE = "DELETE FROM sent_messages WHERE recorded_at < $1"


@attrs.frozen
class PgSentMessageRepository(SentMessageRepository):
    """Records in the ``sent_messages`` table, unique by (bot id, update id, seq)."""

    _connection: PgConnection

    async def recorded(self, bot_id: int, update_id: int, seq: int) -> SentMessage | None:
        with translated("sent message", f"{bot_id}/{update_id}/{seq}"):
            row = await self._connection.fetchrow(_RECORDED, bot_id, update_id, seq)
        return None if row is None else sent_message_from_row(row)

    async def record(
        self, bot_id: int, update_id: int, seq: int, method: str, result: JsonValue
    ) -> bool:
        values = sent_message_values(bot_id, update_id, seq, method, result)
        with translated("sent message", f"{bot_id}/{update_id}/{seq}"):
            stored = await self._connection.fetchrow(_RECORD, *values)
        return stored is not None

    async def prune(self, before: datetime) -> int:
        with translated("sent message", f"before {before.isoformat()}"):
            status = await self._connection.execute(_PRUNE, before)
        return affected_rows(status)
