"""Users in PostgreSQL."""

from datetime import datetime

import attrs

from kiebot_core.domain.errors import DuplicateError, NotFoundError
from kiebot_core.domain.ids import UserId
from kiebot_core.domain.users import User
from kiebot_core.ports.storage import UserRepository
from kiebot_pg.errors import translated
from kiebot_pg.pool import PgConnection
from kiebot_pg.rows import user_from_row, user_values

_INSERT = """
    INSERT INTO users (
        id, language, created_at, referrer_id, is_admin, is_banned, terms_version,
        username, last_seen_at, ban_notice_sent
    ) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
    ON CONFLICT (id) DO NOTHING
    RETURNING id
"""
_UPDATE = """
    UPDATE users SET language = $2, created_at = $3, referrer_id = $4, is_admin = $5,
                     is_banned = $6, terms_version = $7, username = $8, last_seen_at = $9,
                     ban_notice_sent = $10
    WHERE id = $1
    RETURNING id
"""
_BY_USERNAME = """
    SELECT * FROM users WHERE lower(username) = $1
    ORDER BY last_seen_at DESC NULLS LAST, id DESC
    LIMIT 1
"""


@attrs.frozen
class PgUserRepository(UserRepository):
    """Users in the ``users`` table."""

    _connection: PgConnection

    async def get(self, user_id: UserId) -> User | None:
        with translated("user", user_id):
            row = await self._connection.fetchrow("SELECT * FROM users WHERE id = $1", user_id)
        return None if row is None else user_from_row(row)

    async def add(self, user: User) -> None:
        with translated("user", user.id):
            added = await self._connection.fetchrow(_INSERT, *user_values(user))
        if added is None:
            raise DuplicateError("user", str(user.id))

    async def save(self, user: User) -> None:
        with translated("user", user.id):
            saved = await self._connection.fetchrow(_UPDATE, *user_values(user))
        if saved is None:
            raise NotFoundError("user", str(user.id))

    async def update_seen(
        self, user_id: UserId, *, last_seen_at: datetime | None, username: str | None
    ) -> None:
        with translated("user", user_id):
            saved = await self._connection.fetchrow(
                "UPDATE users SET last_seen_at = $2, username = $3 WHERE id = $1 RETURNING id",
                user_id,
                last_seen_at,
                username,
            )
        if saved is None:
            raise NotFoundError("user", str(user_id))

    async def by_username(self, username: str) -> User | None:
        wanted = username.strip().removeprefix("@").lower()
        if not wanted:
            return None
        with translated("user", f"@{wanted}"):
            row = await self._connection.fetchrow(_BY_USERNAME, wanted)
        return None if row is None else user_from_row(row)
