"""Leader leases in PostgreSQL, timed by the database clock (``now()``).

One statement takes, renews or refuses a lease, so two processes racing for it cannot both
win. ``now()`` is the start of the unit of work's transaction: keep lease units of work short.
"""

from datetime import timedelta

import attrs

from kiebot_core.domain.coordination import Lease
from kiebot_core.domain.errors import StaleWriteError
from kiebot_core.ports.storage import LeaseRepository
from kiebot_pg.errors import translated
from kiebot_pg.pool import PgConnection
from kiebot_pg.rows import lease_from_row

_ACQUIRE = """
    INSERT INTO leader_leases AS l (name, holder, epoch, expires_at)
    VALUES ($1, $2, 1, now() + $3::interval)
    ON CONFLICT (name) DO UPDATE SET
        holder = excluded.holder,
        epoch = CASE WHEN l.expires_at > now() THEN l.epoch ELSE l.epoch + 1 END,
        expires_at = excluded.expires_at
    WHERE l.expires_at <= now() OR l.holder = excluded.holder
    RETURNING name, holder, epoch, expires_at
"""
_HELD = """
    SELECT 1 FROM leader_leases
    WHERE name = $1 AND holder = $2 AND epoch = $3 AND expires_at > now()
    FOR SHARE
"""
_RELEASE = """
    UPDATE leader_leases SET expires_at = least(expires_at, now())
    WHERE name = $1 AND holder = $2
"""


@attrs.frozen
class PgLeaseRepository(LeaseRepository):
    """Leases in the ``leader_leases`` table."""

    _connection: PgConnection

    async def acquire(self, name: str, holder: str, ttl: timedelta) -> Lease | None:
        with translated("lease", name):
            row = await self._connection.fetchrow(_ACQUIRE, name, holder, ttl)
        return None if row is None else lease_from_row(row)

    async def release(self, name: str, holder: str) -> None:
        with translated("lease", name):
            await self._connection.execute(_RELEASE, name, holder)

    async def check(self, name: str, holder: str, epoch: int) -> None:
        # FOR SHARE keeps a takeover from committing until the guarded writes are done.
        with translated("lease", name):
            held = await self._connection.fetchval(_HELD, name, holder, epoch)
        if held is None:
            raise StaleWriteError("lease", name)
