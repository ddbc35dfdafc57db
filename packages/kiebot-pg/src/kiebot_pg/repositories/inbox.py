"""The Telegram update inbox in PostgreSQL."""

import attrs

from kiebot_core.domain.coordination import InboxUpdate
from kiebot_core.ports.storage import InboxRepository
from kiebot_pg.errors import translated
from kiebot_pg.pool import PgConnection
from kiebot_pg.rows import inbox_update_from_row, inbox_values

_STORE = """
    INSERT INTO update_inbox (bot_id, update_id, chat_id, payload, received_at)
    VALUES ($1, $2, $3, $4, $5)
    ON CONFLICT (bot_id, update_id) DO NOTHING
    RETURNING update_id
"""
_PENDING = """
    SELECT * FROM update_inbox WHERE NOT processed ORDER BY bot_id, update_id LIMIT $1
"""
_DONE = """
    UPDATE update_inbox SET processed = true, processed_at = now()
    WHERE bot_id = $1 AND update_id = $2 AND NOT processed
"""


@attrs.frozen
class PgInboxRepository(InboxRepository):
    """Updates in the ``update_inbox`` table, unique by (bot id, update id)."""

    _connection: PgConnection

    async def store(self, update: InboxUpdate) -> bool:
        with translated("update", f"{update.bot_id}/{update.update_id}"):
            stored = await self._connection.fetchrow(_STORE, *inbox_values(update))
        return stored is not None

    async def pending(self, *, limit: int) -> list[InboxUpdate]:
        with translated("update", "pending"):
            rows = await self._connection.fetch(_PENDING, max(limit, 0))
        return [inbox_update_from_row(row) for row in rows]

    async def done(self, bot_id: int, update_id: int) -> None:
        with translated("update", f"{bot_id}/{update_id}"):
            await self._connection.execute(_DONE, bot_id, update_id)
