"""Conversation state (the bot's wizard) in PostgreSQL."""

import attrs

from kiebot_core.domain.coordination import Conversation
from kiebot_core.ports.storage import ConversationRepository
from kiebot_pg.errors import translated
from kiebot_pg.pool import PgConnection
from kiebot_pg.rows import conversation_from_row, conversation_values

_PUT = """
    INSERT INTO conversations (bot_id, chat_id, user_id, state, data)
    VALUES ($1, $2, $3, $4, $5)
    ON CONFLICT (bot_id, chat_id, user_id) DO UPDATE SET
        state = excluded.state, data = excluded.data, updated_at = now()
"""
_GET = """
    SELECT * FROM conversations WHERE bot_id = $1 AND chat_id = $2 AND user_id = $3
"""


@attrs.frozen
class PgConversationRepository(ConversationRepository):
    """Conversations in the ``conversations`` table, one per (bot, chat, user)."""

    _connection: PgConnection

    async def get(self, bot_id: int, chat_id: int, user_id: int) -> Conversation | None:
        with translated("conversation", f"{bot_id}/{chat_id}/{user_id}"):
            row = await self._connection.fetchrow(_GET, bot_id, chat_id, user_id)
        return None if row is None else conversation_from_row(row)

    async def put(self, conversation: Conversation) -> None:
        key = f"{conversation.bot_id}/{conversation.chat_id}/{conversation.user_id}"
        with translated("conversation", key):
            await self._connection.execute(_PUT, *conversation_values(conversation))
