"""Users' favorites in PostgreSQL, one per user, model and answers."""

import attrs

from kiebot_core.domain.favorites import Favorite
from kiebot_core.domain.ids import FavoriteId, UserId
from kiebot_core.ports.storage import FavoriteRepository
from kiebot_pg.errors import translated
from kiebot_pg.pool import PgConnection
from kiebot_pg.rows import favorite_from_row, favorite_values

_INSERT = """
    INSERT INTO favorites (id, user_id, model_id, answers, title, created_at, answers_key)
    VALUES ($1, $2, $3, $4, $5, $6, $7)
    ON CONFLICT (user_id, model_id, answers_key) DO NOTHING
    RETURNING *
"""
_SAME = """
    SELECT * FROM favorites WHERE user_id = $1 AND model_id = $2 AND answers_key = $3
"""
_FOR_USER = """
    SELECT * FROM favorites WHERE user_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2
"""
_REMOVE = "DELETE FROM favorites WHERE id = $1 AND user_id = $2 RETURNING id"


@attrs.frozen
class PgFavoriteRepository(FavoriteRepository):
    """Favorites in the ``favorites`` table, unique by (user, model, answers key)."""

    _connection: PgConnection

    async def add(self, favorite: Favorite) -> Favorite:
        with translated("favorite", favorite.id):
            row = await self._connection.fetchrow(_INSERT, *favorite_values(favorite))
            if row is None:
                # The same preset was saved before (or by a transaction that just committed).
                row = await self._connection.fetchrow(
                    _SAME, favorite.user_id, favorite.model_id, favorite.key
                )
        return favorite if row is None else favorite_from_row(row)

    async def for_user(self, user_id: UserId, *, limit: int) -> list[Favorite]:
        with translated("favorite", f"user {user_id}"):
            rows = await self._connection.fetch(_FOR_USER, user_id, max(limit, 0))
        return [favorite_from_row(row) for row in rows]

    async def get(self, favorite_id: FavoriteId) -> Favorite | None:
        with translated("favorite", favorite_id):
            row = await self._connection.fetchrow(
                "SELECT * FROM favorites WHERE id = $1", favorite_id
            )
        return None if row is None else favorite_from_row(row)

    async def remove(self, user_id: UserId, favorite_id: FavoriteId) -> bool:
        with translated("favorite", favorite_id):
            removed = await self._connection.fetchrow(_REMOVE, favorite_id, user_id)
        return removed is not None
