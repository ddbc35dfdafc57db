"""Conversation state (the bot's wizard) in SQLite."""

import aiosqlite
import attrs

from kiebot_core.domain.coordination import Conversation
from kiebot_core.ports.runtime import Clock
from kiebot_core.ports.storage import ConversationRepository
from kiebot_sqlite.connection import execute, fetch_one
from kiebot_sqlite.errors import translated
from kiebot_sqlite.rows import conversation_from_row, conversation_values, timestamp

_PUT = """
    INSERT INTO conversations (bot_id, chat_id, user_id, state, data, updated_at)
    VALUES (?, ?, ?, ?, ?, ?)
    ON CONFLICT (bot_id, chat_id, user_id) DO UPDATE SET
        state = excluded.state, data = excluded.data, updated_at = excluded.updated_at
"""
_GET = """
    SELECT * FROM conversations WHERE bot_id = ? AND chat_id = ? AND user_id = ?
"""


@attrs.frozen
class SqliteConversationRepository(ConversationRepository):
    """Conversations in the ``conversations`` table, one per (bot, chat, user)."""

    _connection: aiosqlite.Connection
    _clock: Clock

    async def get(self, bot_id: int, chat_id: int, user_id: int) -> Conversation | None:
        with translated("conversation", f"{bot_id}/{chat_id}/{user_id}"):
            row = await fetch_one(self._connection, _GET, (bot_id, chat_id, user_id))
        return None if row is None else conversation_from_row(row)

    async def put(self, conversation: Conversation) -> None:
        key = f"{conversation.bot_id}/{conversation.chat_id}/{conversation.user_id}"
        with translated("conversation", key):
            await execute(
                self._connection,
                _PUT,
                (*conversation_values(conversation), timestamp(self._clock.now())),
            )
