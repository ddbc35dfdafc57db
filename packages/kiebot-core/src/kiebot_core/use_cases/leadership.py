"""The leader lease: one instance at a time does the singleton work, fenced by an epoch.

The lease is a row timed by the store's clock (``LeaseRepository``). The holder renews it every
``renew_every``; it lasts ``ttl``, so a killed leader is replaced at most ``ttl`` plus one
renewal later. The holder steps down on its own clock before the lease can run out (when a
renewal has not succeeded for ``ttl - renew_every``), so two leaders never overlap while the
clocks agree, and writes made under the lease check its epoch in their own transaction
(``fence``), so a stale leader's write is refused even when they do not.
"""

import time
from collections.abc import Callable
from datetime import timedelta

import attrs

from kiebot_core.domain.coordination import Lease
from kiebot_core.domain.errors import StorageUnavailableError
from kiebot_core.ports.storage import UnitOfWork, UnitOfWorkFactory

LEASE_TTL = timedelta(seconds=10)
"""How long a lease lasts after its last renewal."""
RENEW_EVERY = timedelta(seconds=3)
"""How often the holder renews (and others try to take over)."""


class NotLeaderError(RuntimeError):
    """Singleton work was asked of an instance that does not hold the lease."""


@attrs.define
class Leadership:
    """One instance's side of the lease ``name`` (``holder`` names the instance)."""

    store: UnitOfWorkFactory
    name: str
    holder: str
    ttl: timedelta = LEASE_TTL
    renew_every: timedelta = RENEW_EVERY
    monotonic: Callable[[], float] = time.monotonic
    """The local clock that decides when to step down (never compared with the store's)."""
    _lease: Lease | None = None
    _renewed_at: float = 0.0

    @property
    def time_left(self) -> float:
        """Seconds until this instance steps down unless a renewal succeeds (0: not leading)."""
        if self._lease is None:
            return 0.0
        held_for = (self.ttl - self.renew_every).total_seconds()
        left = held_for - (self.monotonic() - self._renewed_at)
        if left <= 0:
            self._lease = None
            return 0.0
        return left

    @property
    def lease(self) -> Lease | None:
        """The lease while this instance may act on it, else None."""
        return self._lease if self.time_left > 0 else None

    @property
    def is_leader(self) -> bool:
        """True while this instance holds the lease."""
        return self.lease is not None

    async def renew(self) -> bool:
        """Take or renew the lease; True while held.

        A store that cannot be reached keeps the lease until it would run out (then this
        instance steps down); a lease another holder keeps gives False at once.
        """
        started = self.monotonic()
        try:
            async with self.store() as uow:
                lease = await uow.leases.acquire(self.name, self.holder, self.ttl)
                await uow.commit()
        except StorageUnavailableError:
            return self.is_leader
        self._lease = lease
        if lease is not None:
            self._renewed_at = started
        return lease is not None

    async def release(self) -> None:
        """Give the lease up at once, so another instance takes over without waiting."""
        self._lease = None
        async with self.store() as uow:
            await uow.leases.release(self.name, self.holder)
            await uow.commit()

    async def fence(self, uow: UnitOfWork) -> None:
        """Refuse ``uow``'s writes unless this instance still holds the lease at its epoch.

        Raises ``NotLeaderError`` when it does not think it leads, ``StaleWriteError`` when
        the store says the lease moved on. Call it inside the unit of work it guards, after its
        writes and just before it commits: from then on the store keeps the lease from moving
        on until the commit, and renewals wait for it too, so keep that moment short.
        """
        lease = self.lease
        if lease is None:
            raise NotLeaderError(self.name)
        await uow.leases.check(self.name, self.holder, lease.epoch)
