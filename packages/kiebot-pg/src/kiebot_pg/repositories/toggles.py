"""Runtime model toggles in PostgreSQL; a change notifies every instance when it commits."""

from collections.abc import Mapping

import attrs

from kiebot_core.ports.storage import ModelToggleRepository
from kiebot_pg.errors import translated
from kiebot_pg.notify import CATALOG_CHANNEL
from kiebot_pg.pool import PgConnection


@attrs.frozen
class PgModelToggleRepository(ModelToggleRepository):
    """Switches in the ``model_toggles`` table."""

    _connection: PgConnection

    async def overrides(self) -> Mapping[str, bool]:
        with translated("model toggle", "all"):
            rows = await self._connection.fetch("SELECT model_id, enabled FROM model_toggles")
        return {row["model_id"]: row["enabled"] for row in rows}

    async def set(self, model_id: str, *, enabled: bool) -> None:
        with translated("model toggle", model_id):
            await self._connection.execute(
                """
                INSERT INTO model_toggles (model_id, enabled) VALUES ($1, $2)
                ON CONFLICT (model_id) DO UPDATE SET enabled = excluded.enabled, updated_at = now()
                """,
                model_id,
                enabled,
            )
            await self._connection.execute("SELECT pg_notify($1, $2)", CATALOG_CHANNEL, model_id)
