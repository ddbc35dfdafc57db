"""Units of work over SQLite: one connection and one write transaction each.

Every unit of work starts with ``BEGIN IMMEDIATE``, taking SQLite's single write lock for its
whole life: units of work run one after another (in this process they queue on an asyncio
lock; other processes wait up to ``busy_timeout``), which is what the in-memory store does too.
``commit`` publishes everything so far and begins the next transaction; leaving the block rolls
back whatever was not committed.
"""

import asyncio
import contextlib
from datetime import timedelta
from pathlib import Path
from types import TracebackType
from typing import Self

import aiosqlite
import attrs

from kiebot_core.domain.jobs import CLAIM_TIMEOUT
from kiebot_core.ports.runtime import Clock, SystemClock
from kiebot_core.ports.storage import UnitOfWork, UnitOfWorkFactory
from kiebot_sqlite.connection import connect
from kiebot_sqlite.errors import translated
from kiebot_sqlite.repositories.audit import SqliteAuditRepository
from kiebot_sqlite.repositories.catalogs import SqliteCatalogRepository
from kiebot_sqlite.repositories.conversations import SqliteConversationRepository
from kiebot_sqlite.repositories.events import SqliteEventRepository
from kiebot_sqlite.repositories.favorites import SqliteFavoriteRepository
from kiebot_sqlite.repositories.generations import SqliteGenerationRepository
from kiebot_sqlite.repositories.inbox import SqliteInboxRepository
from kiebot_sqlite.repositories.jobs import SqliteJobRepository
from kiebot_sqlite.repositories.leases import SqliteLeaseRepository
from kiebot_sqlite.repositories.ledger import SqliteLedgerRepository
from kiebot_sqlite.repositories.operations import (
    SqliteAudienceRepository,
    SqliteBroadcastRepository,
    SqliteCircuitRepository,
    SqliteCreditsRepository,
)
from kiebot_sqlite.repositories.orders import SqliteOrderRepository
from kiebot_sqlite.repositories.payments import SqlitePaymentRepository
from kiebot_sqlite.repositories.privacy import SqlitePrivacyRepository
from kiebot_sqlite.repositories.promotions import (
    SqliteFreeRunRepository,
    SqlitePromoRepository,
    SqliteReferralRepository,
)
from kiebot_sqlite.repositories.reports import SqliteReportRepository
from kiebot_sqlite.repositories.sent_messages import SqliteSentMessageRepository
from kiebot_sqlite.repositories.toggles import SqliteModelToggleRepository
from kiebot_sqlite.repositories.users import SqliteUserRepository

BUSY_TIMEOUT = timedelta(seconds=10)
"""How long a unit of work waits for another process to finish writing."""


class SqliteUnitOfWork(UnitOfWork):
    """One write transaction on its own connection."""

    def __init__(self, factory: "SqliteUnitOfWorkFactory") -> None:
        self._factory = factory
        self._connection: aiosqlite.Connection | None = None

    @property
    def connection(self) -> aiosqlite.Connection:
        """The connection of the open transaction (for adapter-level tests and tools)."""
        if self._connection is None:
            raise RuntimeError("enter the unit of work (async with) before using it")
        return self._connection

    @property
    def _clock(self) -> Clock:
        return self._factory.clock

    @property
    def users(self) -> SqliteUserRepository:
        return SqliteUserRepository(self.connection)

    @property
    def generations(self) -> SqliteGenerationRepository:
        return SqliteGenerationRepository(self.connection)

    @property
    def ledger(self) -> SqliteLedgerRepository:
        return SqliteLedgerRepository(self.connection, self._clock)

    @property
    def payments(self) -> SqlitePaymentRepository:
        return SqlitePaymentRepository(self.connection)

    @property
    def orders(self) -> SqliteOrderRepository:
        return SqliteOrderRepository(self.connection)

    @property
    def events(self) -> SqliteEventRepository:
        return SqliteEventRepository(self.connection)

    @property
    def inbox(self) -> SqliteInboxRepository:
        return SqliteInboxRepository(self.connection, self._clock)

    @property
    def leases(self) -> SqliteLeaseRepository:
        return SqliteLeaseRepository(self.connection, self._clock)

    @property
    def sent_messages(self) -> SqliteSentMessageRepository:
        return SqliteSentMessageRepository(self.connection, self._clock)

    @property
    def conversations(self) -> SqliteConversationRepository:
        return SqliteConversationRepository(self.connection, self._clock)

    @property
    def favorites(self) -> SqliteFavoriteRepository:
        return SqliteFavoriteRepository(self.connection)

    @property
    def toggles(self) -> SqliteModelToggleRepository:
        return SqliteModelToggleRepository(self.connection, self._clock)

    @property
    def jobs(self) -> SqliteJobRepository:
        return SqliteJobRepository(self.connection, self._clock, self._factory.claim_timeout)

    @property
    def free_runs(self) -> SqliteFreeRunRepository:
        return SqliteFreeRunRepository(self.connection)

    @property
    def promos(self) -> SqlitePromoRepository:
        return SqlitePromoRepository(self.connection)

    @property
    def referrals(self) -> SqliteReferralRepository:
        return SqliteReferralRepository(self.connection)

    @property
    def reports(self) -> SqliteReportRepository:
        return SqliteReportRepository(self.connection, self._clock)

    @property
    def audit(self) -> SqliteAuditRepository:
        return SqliteAuditRepository(self.connection)

    @property
    def catalogs(self) -> SqliteCatalogRepository:
        return SqliteCatalogRepository(self.connection)

    @property
    def privacy(self) -> SqlitePrivacyRepository:
        return SqlitePrivacyRepository(self.connection)

    @property
    def audience(self) -> SqliteAudienceRepository:
        return SqliteAudienceRepository(self.connection)

    @property
    def broadcasts(self) -> SqliteBroadcastRepository:
        return SqliteBroadcastRepository(self.connection)

    @property
    def circuits(self) -> SqliteCircuitRepository:
        return SqliteCircuitRepository(self.connection)

    @property
    def credits(self) -> SqliteCreditsRepository:
        return SqliteCreditsRepository(self.connection)

    async def commit(self) -> None:
        connection = self.connection
        with translated("unit of work", "commit"):
            await connection.execute("COMMIT")
            await connection.execute("BEGIN IMMEDIATE")

    async def __aenter__(self) -> Self:
        if self._connection is not None:
            raise RuntimeError("a unit of work can be entered only once at a time")
        lock = self._factory.lock()
        await lock.acquire()
        try:
            with translated("unit of work", "begin"):
                connection = await connect(
                    self._factory.path, busy_timeout=self._factory.busy_timeout
                )
                try:
                    await connection.execute("BEGIN IMMEDIATE")
                except BaseException:
                    await connection.close()
                    raise
        except BaseException:
            lock.release()
            raise
        self._connection = connection
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        connection, self._connection = self._connection, None
        if connection is None:
            return
        try:
            if connection.in_transaction:
                # Closing the connection rolls back too; this only makes it explicit.
                with contextlib.suppress(Exception):
                    await connection.execute("ROLLBACK")
            await connection.close()
        finally:
            self._factory.lock().release()


@attrs.frozen
class SqliteUnitOfWorkFactory(UnitOfWorkFactory):
    """Makes units of work over one SQLite database file.

    Args:
        path: A database file migrated with ``kiebot_sqlite.migrate.migrate``.
        clock: The store's clock, for leases, job claims and bookkeeping timestamps.
        claim_timeout: How long a claimed job stays claimed without being completed.
        busy_timeout: How long to wait for another process's write transaction.
    """

    path: Path = attrs.field(converter=Path)
    clock: Clock = attrs.field(factory=SystemClock)
    claim_timeout: timedelta = CLAIM_TIMEOUT
    busy_timeout: timedelta = BUSY_TIMEOUT
    _locks: dict[asyncio.AbstractEventLoop, asyncio.Lock] = attrs.field(
        factory=dict, init=False, repr=False, eq=False
    )

    def lock(self) -> asyncio.Lock:
        """The lock that queues this factory's units of work in the running event loop."""
        loop = asyncio.get_running_loop()
        if (lock := self._locks.get(loop)) is None:
            # One lock per loop: a CLI may run several asyncio.run() calls in one process.
            for stale in [other for other in self._locks if other.is_closed()]:
                del self._locks[stale]
            lock = self._locks[loop] = asyncio.Lock()
        return lock

    def __call__(self) -> SqliteUnitOfWork:
        return SqliteUnitOfWork(self)
