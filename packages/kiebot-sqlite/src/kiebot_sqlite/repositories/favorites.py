"""Users' favorites in SQLite, one per user, model and answers."""

import aiosqlite
import attrs

from kiebot_core.domain.favorites import Favorite
from kiebot_core.domain.ids import FavoriteId, UserId
from kiebot_core.ports.storage import FavoriteRepository
from kiebot_sqlite.connection import execute, fetch_all, fetch_one
from kiebot_sqlite.errors import translated
from kiebot_sqlite.rows import favorite_from_row, favorite_values

_INSERT = """
    INSERT INTO favorites (id, user_id, model_id, answers, title, created_at, answers_key)
    VALUES (?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT (user_id, model_id, answers_key) DO NOTHING
"""
_SAME = """
    SELECT * FROM favorites WHERE user_id = ? AND model_id = ? AND answers_key = ?
"""
_FOR_USER = """
    SELECT * FROM favorites WHERE user_id = ? ORDER BY created_at DESC, id DESC LIMIT ?
"""
_REMOVE = "DELETE FROM favorites WHERE id = ? AND user_id = ?"


@attrs.frozen
class SqliteFavoriteRepository(FavoriteRepository):
    """Favorites in the ``favorites`` table, unique by (user, model, answers key)."""

    _connection: aiosqlite.Connection

    async def add(self, favorite: Favorite) -> Favorite:
        with translated("favorite", favorite.id):
            if await execute(self._connection, _INSERT, favorite_values(favorite)):
                return favorite
            row = await fetch_one(
                self._connection, _SAME, (favorite.user_id, favorite.model_id, favorite.key)
            )
        return favorite if row is None else favorite_from_row(row)

    async def for_user(self, user_id: UserId, *, limit: int) -> list[Favorite]:
        with translated("favorite", f"user {user_id}"):
            rows = await fetch_all(self._connection, _FOR_USER, (user_id, max(limit, 0)))
        return [favorite_from_row(row) for row in rows]

    async def get(self, favorite_id: FavoriteId) -> Favorite | None:
        with translated("favorite", favorite_id):
            row = await fetch_one(
                self._connection, "SELECT * FROM favorites WHERE id = ?", (favorite_id,)
            )
        return None if row is None else favorite_from_row(row)

    async def remove(self, user_id: UserId, favorite_id: FavoriteId) -> bool:
        with translated("favorite", favorite_id):
            return bool(await execute(self._connection, _REMOVE, (favorite_id, user_id)))
