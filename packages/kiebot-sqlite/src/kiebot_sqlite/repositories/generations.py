"""Generations in SQLite, with optimistic concurrency on ``version``."""

import aiosqlite
import attrs

from kiebot_core.domain.errors import DuplicateError, NotFoundError, StaleWriteError
from kiebot_core.domain.generation import Generation, GenerationState
from kiebot_core.domain.ids import GenerationId, ProviderTaskId, UserId
from kiebot_core.domain.json_values import dump_strings
from kiebot_core.ports.storage import GenerationRepository
from kiebot_sqlite.connection import execute, fetch_all, fetch_one
from kiebot_sqlite.errors import translated
from kiebot_sqlite.rows import generation_from_row, generation_values

_INSERT = """
    INSERT INTO generations (
        id, user_id, model_id, input, credits, stars, held, is_free, correlation_id, state,
        created_at, updated_at, deadline_at, task_id, result_urls, result_object,
        credits_consumed, delivered_refs, reason, version, model_search, prompt_search,
        estimated, charge
    ) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT DO NOTHING
"""
_UPDATE = """
    UPDATE generations SET
        user_id = ?2, model_id = ?3, input = ?4, credits = ?5, stars = ?6, held = ?7,
        is_free = ?8, correlation_id = ?9, state = ?10, created_at = ?11, updated_at = ?12,
        deadline_at = ?13, task_id = ?14, result_urls = ?15, result_object = ?16,
        credits_consumed = ?17, delivered_refs = ?18, reason = ?19, version = version + 1,
        model_search = ?21, prompt_search = ?22, estimated = ?23, charge = ?24
    WHERE id = ?1 AND version = ?20
"""
_FOR_USER = """
    SELECT * FROM generations
    WHERE user_id = ?1 AND (instr(model_search, ?2) > 0 OR instr(prompt_search, ?2) > 0)
    ORDER BY created_at DESC, id DESC
    LIMIT ?3
"""
_UNFINISHED = """
    SELECT * FROM generations
    WHERE state NOT IN (SELECT value FROM json_each(?))
    ORDER BY created_at, id
"""
_UNFINISHED_OF_USER = """
    SELECT * FROM generations
    WHERE user_id = ? AND state NOT IN (SELECT value FROM json_each(?))
    ORDER BY created_at, id
"""
_TERMINAL = dump_strings(tuple(state.value for state in GenerationState if state.is_terminal))


@attrs.frozen
class SqliteGenerationRepository(GenerationRepository):
    """Generations in the ``generations`` table."""

    _connection: aiosqlite.Connection

    async def _exists(self, generation_id: GenerationId) -> bool:
        found = await fetch_one(
            self._connection, "SELECT id FROM generations WHERE id = ?", (generation_id,)
        )
        return found is not None

    async def add(self, generation: Generation) -> None:
        with translated("generation", generation.id):
            if await execute(self._connection, _INSERT, generation_values(generation)):
                return
            if await self._exists(generation.id):
                raise DuplicateError("generation", generation.id)
        raise DuplicateError("generation task", str(generation.task_id))

    async def get(self, generation_id: GenerationId) -> Generation | None:
        with translated("generation", generation_id):
            row = await fetch_one(
                self._connection, "SELECT * FROM generations WHERE id = ?", (generation_id,)
            )
        return None if row is None else generation_from_row(row)

    async def get_by_task(self, task_id: ProviderTaskId) -> Generation | None:
        with translated("generation task", task_id):
            row = await fetch_one(
                self._connection, "SELECT * FROM generations WHERE task_id = ?", (task_id,)
            )
        return None if row is None else generation_from_row(row)

    async def save(self, generation: Generation) -> Generation:
        try:
            with translated("generation", generation.id):
                saved = await execute(self._connection, _UPDATE, generation_values(generation))
                if not saved and not await self._exists(generation.id):
                    raise NotFoundError("generation", generation.id)
        except DuplicateError as error:
            raise DuplicateError("generation task", str(generation.task_id)) from error
        if not saved:
            raise StaleWriteError("generation", generation.id)
        return attrs.evolve(generation, version=generation.version + 1)

    async def for_user(
        self, user_id: UserId, *, limit: int, search: str | None = None
    ) -> list[Generation]:
        needle = (search or "").lower()
        with translated("generation", f"user {user_id}"):
            rows = await fetch_all(self._connection, _FOR_USER, (user_id, needle, max(limit, 0)))
        return [generation_from_row(row) for row in rows]

    async def unfinished(self, *, user_id: UserId | None = None) -> list[Generation]:
        with translated("generation", "unfinished"):
            if user_id is None:
                rows = await fetch_all(self._connection, _UNFINISHED, (_TERMINAL,))
            else:
                rows = await fetch_all(self._connection, _UNFINISHED_OF_USER, (user_id, _TERMINAL))
        return [generation_from_row(row) for row in rows]
