"""The Telegram update inbox in SQLite."""

import aiosqlite
import attrs

from kiebot_core.domain.coordination import InboxUpdate
from kiebot_core.ports.runtime import Clock
from kiebot_core.ports.storage import InboxRepository
from kiebot_sqlite.connection import execute, fetch_all
from kiebot_sqlite.errors import translated
from kiebot_sqlite.rows import inbox_update_from_row, inbox_values, timestamp

_STORE = """
    INSERT INTO update_inbox (bot_id, update_id, chat_id, payload, received_at)
    VALUES (?, ?, ?, ?, ?)
    ON CONFLICT (bot_id, update_id) DO NOTHING
"""
_PENDING = """
    SELECT * FROM update_inbox WHERE processed = 0 ORDER BY bot_id, update_id LIMIT ?
"""
_DONE = """
    UPDATE update_inbox SET processed = 1, processed_at = ?
    WHERE bot_id = ? AND update_id = ? AND processed = 0
"""


@attrs.frozen
class SqliteInboxRepository(InboxRepository):
    """Updates in the ``update_inbox`` table, unique by (bot id, update id)."""

    _connection: aiosqlite.Connection
    _clock: Clock

    async def store(self, update: InboxUpdate) -> bool:
        with translated("update", f"{update.bot_id}/{update.update_id}"):
            return bool(await execute(self._connection, _STORE, inbox_values(update)))

    async def pending(self, *, limit: int) -> list[InboxUpdate]:
        with translated("update", "pending"):
            rows = await fetch_all(self._connection, _PENDING, (max(limit, 0),))
        return [inbox_update_from_row(row) for row in rows]

    async def done(self, bot_id: int, update_id: int) -> None:
        with translated("update", f"{bot_id}/{update_id}"):
            await execute(
                self._connection, _DONE, (timestamp(self._clock.now()), bot_id, update_id)
            )
