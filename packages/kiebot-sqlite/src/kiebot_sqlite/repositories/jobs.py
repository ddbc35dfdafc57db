"""Durable jobs in a SQLite table.

Due means ``run_at`` has passed and no live claim exists, by the adapter's clock. A claim
lasts ``claim_timeout``: a worker that dies without completing or retrying its job lets it come
back after that. The unit of work holds SQLite's write lock, so two claims never overlap.
"""

from collections.abc import Sequence
from datetime import datetime, timedelta

import aiosqlite
import attrs

from kiebot_core.domain.errors import DuplicateError, NotFoundError
from kiebot_core.domain.ids import JobId
from kiebot_core.domain.jobs import Job
from kiebot_core.ports.runtime import Clock
from kiebot_core.ports.storage import JobRepository
from kiebot_sqlite.connection import execute, fetch_all, fetch_one
from kiebot_sqlite.errors import translated
from kiebot_sqlite.rows import job_from_row, job_values, timestamp

_ENQUEUE = """
    INSERT INTO jobs (id, kind, key, payload, run_at, attempts) VALUES (?, ?, ?, ?, ?, ?)
    ON CONFLICT DO NOTHING
"""
_DUE = """
    SELECT * FROM jobs
    WHERE run_at <= ?1 AND (claimed_until IS NULL OR claimed_until <= ?1)
    ORDER BY run_at, id
    LIMIT ?2
"""
_CLAIM = "UPDATE jobs SET attempts = attempts + 1, claimed_until = ? WHERE id = ?"
_RETRY = "UPDATE jobs SET run_at = ?, claimed_until = NULL WHERE id = ?"
_EXTEND = "UPDATE jobs SET claimed_until = ?3 WHERE id = ?1 AND claimed_until > ?2"


@attrs.frozen
class SqliteJobRepository(JobRepository):
    """Jobs in the ``jobs`` table."""

    _connection: aiosqlite.Connection
    _clock: Clock
    _claim_timeout: timedelta

    async def enqueue(self, job: Job) -> bool:
        with translated("job", job.key):
            if await execute(self._connection, _ENQUEUE, job_values(job)):
                return True
            same_key = await fetch_one(
                self._connection, "SELECT id FROM jobs WHERE key = ?", (job.key,)
            )
        if same_key is not None:
            return False
        raise DuplicateError("job", job.id)

    async def claim(self, *, limit: int) -> list[Job]:
        now = self._clock.now()
        until = timestamp(now + self._claim_timeout)
        with translated("job", "claim"):
            rows = await fetch_all(self._connection, _DUE, (timestamp(now), max(limit, 0)))
            claimed = []
            for row in rows:
                job = job_from_row(row)
                await execute(self._connection, _CLAIM, (until, job.id))
                claimed.append(attrs.evolve(job, attempts=job.attempts + 1))
        return claimed

    async def complete(self, job_id: JobId) -> None:
        with translated("job", job_id):
            await execute(self._connection, "DELETE FROM jobs WHERE id = ?", (job_id,))

    async def retry(self, job_id: JobId, run_at: datetime) -> None:
        with translated("job", job_id):
            found = await execute(self._connection, _RETRY, (timestamp(run_at), job_id))
        if not found:
            raise NotFoundError("job", job_id)

    async def extend(self, job_ids: Sequence[JobId]) -> None:
        now = self._clock.now()
        until = timestamp(now + self._claim_timeout)
        with translated("job", "extend"):
            for job_id in job_ids:
                await execute(self._connection, _EXTEND, (job_id, timestamp(now), until))
