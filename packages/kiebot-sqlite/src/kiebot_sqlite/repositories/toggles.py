"""Runtime model toggles in SQLite."""

from collections.abc import Mapping

import aiosqlite
import attrs

from kiebot_core.ports.runtime import Clock
from kiebot_core.ports.storage import ModelToggleRepository
from kiebot_sqlite.connection import execute, fetch_all
from kiebot_sqlite.errors import translated
from kiebot_sqlite.rows import timestamp

_SET = """
    INSERT INTO model_toggles (model_id, enabled, updated_at) VALUES (?, ?, ?)
    ON CONFLICT (model_id) DO UPDATE SET
        enabled = excluded.enabled, updated_at = excluded.updated_at
"""


@attrs.frozen
class SqliteModelToggleRepository(ModelToggleRepository):
    """Switches in the ``model_toggles`` table."""

    _connection: aiosqlite.Connection
    _clock: Clock

    async def overrides(self) -> Mapping[str, bool]:
        with translated("model toggle", "all"):
            rows = await fetch_all(self._connection, "SELECT model_id, enabled FROM model_toggles")
        return {row["model_id"]: bool(row["enabled"]) for row in rows}

    async def set(self, model_id: str, *, enabled: bool) -> None:
        with translated("model toggle", model_id):
            await execute(
                self._connection, _SET, (model_id, enabled, timestamp(self._clock.now()))
            )
