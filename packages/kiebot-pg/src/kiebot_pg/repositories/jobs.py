"""Durable jobs in a PostgreSQL table, claimed with ``FOR UPDATE SKIP LOCKED``.

Due means ``run_at`` has passed and no live claim exists; the database clock decides both.
A claim lasts ``claim_timeout``: a worker that dies without completing or retrying its job
lets it come back after that.
"""

from collections.abc import Sequence
from datetime import datetime, timedelta

import attrs

from kiebot_core.domain.errors import DuplicateError, NotFoundError
from kiebot_core.domain.ids import JobId
from kiebot_core.domain.jobs import Job
from kiebot_core.ports.storage import JobRepository
from kiebot_pg.errors import translated
from kiebot_pg.pool import PgConnection
from kiebot_pg.rows import job_from_row, job_values

_ENQUEUE = """
    INSERT INTO jobs (id, kind, key, payload, run_at, attempts)
    VALUES ($1, $2, $3, $4, $5, $6)
    ON CONFLICT DO NOTHING
    RETURNING id
"""
_CLAIM = """
    WITH due AS (
        SELECT id FROM jobs
        WHERE run_at <= now() AND (claimed_until IS NULL OR claimed_until <= now())
        ORDER BY run_at, id
        LIMIT $1
        FOR UPDATE SKIP LOCKED
    )
    UPDATE jobs SET attempts = jobs.attempts + 1, claimed_until = now() + $2::interval
    FROM due
    WHERE jobs.id = due.id
    RETURNING jobs.*
"""
_EXTEND = """
    UPDATE jobs SET claimed_until = now() + $2::interval
    WHERE id = ANY($1::text[]) AND claimed_until > now()
"""
_RETRY = """
    UPDATE jobs SET run_at = $2, claimed_until = NULL WHERE id = $1 RETURNING id
"""


@attrs.frozen
class PgJobRepository(JobRepository):
    """Jobs in the ``jobs`` table."""

    _connection: PgConnection
    _claim_timeout: timedelta

    async def enqueue(self, job: Job) -> bool:
        with translated("job", job.key):
            added = await self._connection.fetchrow(_ENQUEUE, *job_values(job))
            if added is not None:
                return True
            same_key = await self._connection.fetchrow(
                "SELECT id FROM jobs WHERE key = $1", job.key
            )
        if same_key is not None:
            return False
        raise DuplicateError("job", job.id)

    async def claim(self, *, limit: int) -> list[Job]:
        with translated("job", "claim"):
            rows = await self._connection.fetch(_CLAIM, max(limit, 0), self._claim_timeout)
        return sorted((job_from_row(row) for row in rows), key=lambda job: (job.run_at, job.id))

    async def complete(self, job_id: JobId) -> None:
        with translated("job", job_id):
            await self._connection.execute("DELETE FROM jobs WHERE id = $1", job_id)

    async def retry(self, job_id: JobId, run_at: datetime) -> None:
        with translated("job", job_id):
            found = await self._connection.fetchrow(_RETRY, job_id, run_at)
        if found is None:
            raise NotFoundError("job", job_id)

    async def extend(self, job_ids: Sequence[JobId]) -> None:
        with translated("job", "extend"):
            await self._connection.execute(_EXTEND, list(job_ids), self._claim_timeout)
