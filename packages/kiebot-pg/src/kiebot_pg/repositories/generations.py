"""Generations in PostgreSQL, with optimistic concurrency on ``version``."""

import attrs

from kiebot_core.domain.errors import DuplicateError, NotFoundError, StaleWriteError
from kiebot_core.domain.generation import Generation, GenerationState
from kiebot_core.domain.ids import GenerationId, ProviderTaskId, UserId
from kiebot_core.ports.storage import GenerationRepository
from kiebot_pg.errors import translated
from kiebot_pg.pool import PgConnection
from kiebot_pg.repositories.savepoints import savepoint
from kiebot_pg.rows import generation_from_row, generation_values

_INSERT = """
    INSERT INTO generations (
        id, user_id, model_id, input, credits, stars, held, is_free, correlation_id, state,
        created_at, updated_at, deadline_at, task_id, result_urls, result_object,
        credits_consumed, delivered_refs, reason, version, model_search, prompt_search,
        estimated, charge
    ) VALUES (
        $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18,
        $19, $20, $21, $22, $23, $24
    )
    ON CONFLICT DO NOTHING
    RETURNING id
"""
_UPDATE = """
    UPDATE generations SET
        user_id = $2, model_id = $3, input = $4, credits = $5, stars = $6, held = $7,
        is_free = $8, correlation_id = $9, state = $10, created_at = $11, updated_at = $12,
        deadline_at = $13, task_id = $14, result_urls = $15, result_object = $16,
        credits_consumed = $17, delivered_refs = $18, reason = $19, version = version + 1,
        model_search = $21, prompt_search = $22, estimated = $23, charge = $24
    WHERE id = $1 AND version = $20
    RETURNING version
"""
_FOR_USER = """
    SELECT * FROM generations
    WHERE user_id = $1 AND (strpos(model_search, $2) > 0 OR strpos(prompt_search, $2) > 0)
    ORDER BY created_at DESC, id DESC
    LIMIT $3
"""
_UNFINISHED = """
    SELECT * FROM generations WHERE state <> ALL($1::text[]) ORDER BY created_at, id
"""
_UNFINISHED_OF_USER = """
    SELECT * FROM generations WHERE user_id = $2 AND state <> ALL($1::text[])
    ORDER BY created_at, id
"""
_TERMINAL = [state.value for state in GenerationState if state.is_terminal]


@attrs.frozen
class PgGenerationRepository(GenerationRepository):
    """Generations in the ``generations`` table."""

    _connection: PgConnection

    async def _exists(self, generation_id: GenerationId) -> bool:
        found = await self._connection.fetchrow(
            "SELECT id FROM generations WHERE id = $1", generation_id
        )
        return found is not None

    async def add(self, generation: Generation) -> None:
        with translated("generation", generation.id):
            added = await self._connection.fetchrow(_INSERT, *generation_values(generation))
            if added is not None:
                return
            if await self._exists(generation.id):
                raise DuplicateError("generation", generation.id)
        raise DuplicateError("generation task", str(generation.task_id))

    async def get(self, generation_id: GenerationId) -> Generation | None:
        with translated("generation", generation_id):
            row = await self._connection.fetchrow(
                "SELECT * FROM generations WHERE id = $1", generation_id
            )
        return None if row is None else generation_from_row(row)

    async def get_by_task(self, task_id: ProviderTaskId) -> Generation | None:
        with translated("generation task", task_id):
            row = await self._connection.fetchrow(
                "SELECT * FROM generations WHERE task_id = $1", task_id
            )
        return None if row is None else generation_from_row(row)

    async def save(self, generation: Generation) -> Generation:
        values = generation_values(generation)
        try:
            with translated("generation", generation.id):
                # Only a task id can collide with another row; a savepoint keeps the unit of
                # work usable after that DuplicateError, as it is with the other stores.
                if generation.task_id is None:
                    saved = await self._connection.fetchrow(_UPDATE, *values)
                else:
                    async with savepoint(self._connection):
                        saved = await self._connection.fetchrow(_UPDATE, *values)
                if saved is None and not await self._exists(generation.id):
                    raise NotFoundError("generation", generation.id)
        except DuplicateError as error:
            raise DuplicateError("generation task", str(generation.task_id)) from error
        if saved is None:
            raise StaleWriteError("generation", generation.id)
        return attrs.evolve(generation, version=generation.version + 1)

    async def for_user(
        self, user_id: UserId, *, limit: int, search: str | None = None
    ) -> list[Generation]:
        needle = (search or "").lower()
        with translated("generation", f"user {user_id}"):
            rows = await self._connection.fetch(_FOR_USER, user_id, needle, max(limit, 0))
        return [generation_from_row(row) for row in rows]

    async def unfinished(self, *, user_id: UserId | None = None) -> list[Generation]:
        with translated("generation", "unfinished"):
            if user_id is None:
                rows = await self._connection.fetch(_UNFINISHED, _TERMINAL)
            else:
                rows = await self._connection.fetch(_UNFINISHED_OF_USER, _TERMINAL, user_id)
        return [generation_from_row(row) for row in rows]
