"""Users in SQLite."""

import aiosqlite
import attrs

from kiebot_core.domain.errors import DuplicateError, NotFoundError
from kiebot_core.domain.ids import UserId
from kiebot_core.domain.users import User
from kiebot_core.ports.storage import UserRepository
from kiebot_sqlite.connection import execute, fetch_one
from kiebot_sqlite.errors import translated
from kiebot_sqlite.rows import user_from_row, user_values

_INSERT = """
    INSERT INTO users (
        id, language, created_at, referrer_id, is_admin, is_banned, terms_version
    ) VALUES (?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT (id) DO NOTHING
"""
_UPDATE = """
    UPDATE users SET language = ?2, created_at = ?3, referrer_id = ?4, is_admin = ?5,
                     is_banned = ?6, terms_version = ?7
    WHERE id = ?1
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
