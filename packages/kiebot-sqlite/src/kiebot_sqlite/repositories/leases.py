"""Leader leases in SQLite, timed by the adapter's clock.

The unit of work holds SQLite's write lock, so reading the lease, deciding and writing it back
cannot interleave with another process doing the same.
"""

from datetime import timedelta

import aiosqlite
import attrs

from kiebot_core.domain.coordination import Lease
from kiebot_core.domain.errors import StaleWriteError
from kiebot_core.ports.runtime import Clock
from kiebot_core.ports.storage import LeaseRepository
from kiebot_sqlite.connection import execute, fetch_one
from kiebot_sqlite.errors import translated
from kiebot_sqlite.rows import lease_from_row, lease_values, timestamp

_SAVE = """
    INSERT INTO leader_leases (name, holder, epoch, expires_at) VALUES (?, ?, ?, ?)
    ON CONFLICT (name) DO UPDATE SET
        holder = excluded.holder, epoch = excluded.epoch, expires_at = excluded.expires_at
"""
_RELEASE = """
    UPDATE leader_leases SET expires_at = min(expires_at, ?3) WHERE name = ?1 AND holder = ?2
"""


@attrs.frozen
class SqliteLeaseRepository(LeaseRepository):
    """Leases in the ``leader_leases`` table."""

    _connection: aiosqlite.Connection
    _clock: Clock

    async def acquire(self, name: str, holder: str, ttl: timedelta) -> Lease | None:
        now = self._clock.now()
        with translated("lease", name):
            row = await fetch_one(
                self._connection, "SELECT * FROM leader_leases WHERE name = ?", (name,)
            )
            current = None if row is None else lease_from_row(row)
            if current is not None and current.expires_at > now:
                if current.holder != holder:
                    return None
                lease = attrs.evolve(current, expires_at=now + ttl)
            else:
                epoch = 1 if current is None else current.epoch + 1
                lease = Lease(name=name, holder=holder, epoch=epoch, expires_at=now + ttl)
            await execute(self._connection, _SAVE, lease_values(lease))
        return lease

    async def release(self, name: str, holder: str) -> None:
        with translated("lease", name):
            await execute(self._connection, _RELEASE, (name, holder, timestamp(self._clock.now())))

    async def check(self, name: str, holder: str, epoch: int) -> None:
        with translated("lease", name):
            row = await fetch_one(
                self._connection, "SELECT * FROM leader_leases WHERE name = ?", (name,)
            )
        current = None if row is None else lease_from_row(row)
        if (
            current is None
            or (current.holder, current.epoch) != (holder, epoch)
            or current.expires_at <= self._clock.now()
        ):
            raise StaleWriteError("lease", name)
