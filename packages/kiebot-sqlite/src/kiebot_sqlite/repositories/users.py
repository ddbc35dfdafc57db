"""Users in SQLite."""

from datetime import datetime

import aiosqlite
import attrs

from kiebot_core.domain.errors import DuplicateError, NotFoundError
from kiebot_core.domain.ids import UserId
from kiebot_core.domain.users import User
from kiebot_core.ports.storage import UserRepository
from kiebot_sqlite.connection import execute, fetch_one
from kiebot_sqlite.errors import translated
from kiebot_sqlite.rows import timestamp, user_from_row, user_values

_INSERT = """
    INSERT INTO users (
        id, language, created_at, referrer_id, is_admin, is_banned, terms_version,
        username, last_seen_at, ban_notice_sent
    ) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT (id) DO NOTHING
"""
_UPDATE = """
    UPDATE users SET language = ?2, created_at = ?3, referrer_id = ?4, is_admin = ?5,
                     is_banned = ?6, terms_version = ?7, username = ?8, last_seen_at = ?9,
                     ban_notice_sent = ?10
    WHERE id = ?1
"""
# Timestamps are fixed-width text, so text order is time order (never-seen users last).
_BY_USERNAME = """
    SELECT * FROM users WHERE lower(username) = ?
    ORDER BY last_seen_at IS NULL, last_seen_at DESC, id DESC
    LIMIT 1
"""


@attrs.frozen
class SqliteUserRepository(UserRepository):
    """Users in the ``users`` table."""

    _connection: aiosqlite.Connection

    async def get(self, user_id: UserId) -> User | None:
        with translated("user", user_id):
            row = await fetch_one(self._connection, "SELECT * FROM users WHERE id = ?", (user_id,))
        return None if row is None else user_from_row(row)

    async def add(self, user: User) -> None:
        with translated("user", user.id):
            added = await execute(self._connection, _INSERT, user_values(user))
        if not added:
            raise DuplicateError("user", str(user.id))

    async def save(self, user: User) -> None:
        with translated("user", user.id):
            saved = await execute(self._connection, _UPDATE, user_values(user))
        if not saved:
            raise NotFoundError("user", str(user.id))

    async def update_seen(
        self, user_id: UserId, *, last_seen_at: datetime | None, username: str | None
    ) -> None:
        seen = None if last_seen_at is None else timestamp(last_seen_at)
        with translated("user", user_id):
            saved = await execute(
                self._connection,
                "UPDATE users SET last_seen_at = ?2, username = ?3 WHERE id = ?1",
                (user_id, seen, username),
            )
        if not saved:
            raise NotFoundError("user", str(user_id))

    async def by_username(self, username: str) -> User | None:
        wanted = username.strip().removeprefix("@").lower()
        if not wanted:
            return None
        with translated("user", f"@{wanted}"):
            row = await fetch_one(self._connection, _BY_USERNAME, (wanted,))
        return None if row is None else user_from_row(row)
