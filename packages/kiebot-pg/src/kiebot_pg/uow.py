"""Units of work over PostgreSQL: one pooled connection and one transaction each.

Transactions run at READ COMMITTED; the repositories get their guarantees from constraints,
conditional writes (``WHERE version = …``, ``ON CONFLICT``) and row locks, not from the
isolation level. ``commit`` publishes everything so far and opens the next transaction on the
same connection, so a unit of work may commit more than once; leaving the block rolls back
whatever was not committed.
"""

import contextlib
from datetime import timedelta
from types import TracebackType
from typing import Self

import asyncpg
import attrs

from kiebot_core.domain.jobs import CLAIM_TIMEOUT
from kiebot_core.ports.storage import UnitOfWork, UnitOfWorkFactory
from kiebot_pg.errors import is_connection_lost, translated
from kiebot_pg.pool import PgConnection, PgPool
from kiebot_pg.repositories.audit import PgAuditRepository
from kiebot_pg.repositories.catalogs import PgCatalogRepository
from kiebot_pg.repositories.conversations import PgConversationRepository
from kiebot_pg.repositories.events import PgEventRepository
from kiebot_pg.repositories.favorites import PgFavoriteRepository
from kiebot_pg.repositories.generations import PgGenerationRepository
from kiebot_pg.repositories.inbox import PgInboxRepository
from kiebot_pg.repositories.jobs import PgJobRepository
from kiebot_pg.repositories.leases import PgLeaseRepository
from kiebot_pg.repositories.ledger import PgLedgerRepository
from kiebot_pg.repositories.operations import (
    PgAudienceRepository,
    PgBroadcastRepository,
    PgCircuitRepository,
    PgCreditsRepository,
)
from kiebot_pg.repositories.orders import PgOrderRepository
from kiebot_pg.repositories.payments import PgPaymentRepository
from kiebot_pg.repositories.privacy import PgPrivacyRepository
from kiebot_pg.repositories.promotions import (
    PgFreeRunRepository,
    PgPromoRepository,
    PgReferralRepository,
)
from kiebot_pg.repositories.reports import PgReportRepository
from kiebot_pg.repositories.sent_messages import PgSentMessageRepository
from kiebot_pg.repositories.toggles import PgModelToggleRepository
from kiebot_pg.repositories.users import PgUserRepository


def _usable(connection: PgConnection) -> bool:
    try:
        return not connection.is_closed()
    except asyncpg.InterfaceError:
        # The pool has already taken back a connection it saw die.
        return False


class PgUnitOfWork(UnitOfWork):
    """One transaction on one connection taken from the pool."""

    def __init__(self, pool: PgPool, *, claim_timeout: timedelta = CLAIM_TIMEOUT) -> None:
        self._pool = pool
        self._claim_timeout = claim_timeout
        self._connection: PgConnection | None = None

    @property
    def connection(self) -> PgConnection:
        """The connection of the open transaction (for adapter-level tests and tools)."""
        if self._connection is None:
            raise RuntimeError("enter the unit of work (async with) before using it")
        return self._connection

    @property
    def users(self) -> PgUserRepository:
        return PgUserRepository(self.connection)

    @property
    def generations(self) -> PgGenerationRepository:
        return PgGenerationRepository(self.connection)

    @property
    def ledger(self) -> PgLedgerRepository:
        return PgLedgerRepository(self.connection)

    @property
    def payments(self) -> PgPaymentRepository:
        return PgPaymentRepository(self.connection)

    @property
    def orders(self) -> PgOrderRepository:
        return PgOrderRepository(self.connection)

    @property
    def events(self) -> PgEventRepository:
        return PgEventRepository(self.connection)

    @property
    def inbox(self) -> PgInboxRepository:
        return PgInboxRepository(self.connection)

    @property
    def leases(self) -> PgLeaseRepository:
        return PgLeaseRepository(self.connection)

    @property
    def sent_messages(self) -> PgSentMessageRepository:
        return PgSentMessageRepository(self.connection)

    @property
    def conversations(self) -> PgConversationRepository:
        return PgConversationRepository(self.connection)

    @property
    def favorites(self) -> PgFavoriteRepository:
        return PgFavoriteRepository(self.connection)

    @property
    def toggles(self) -> PgModelToggleRepository:
        return PgModelToggleRepository(self.connection)

    @property
    def jobs(self) -> PgJobRepository:
        return PgJobRepository(self.connection, self._claim_timeout)

    @property
    def free_runs(self) -> PgFreeRunRepository:
        return PgFreeRunRepository(self.connection)

    @property
    def promos(self) -> PgPromoRepository:
        return PgPromoRepository(self.connection)

    @property
    def referrals(self) -> PgReferralRepository:
        return PgReferralRepository(self.connection)

    @property
    def reports(self) -> PgReportRepository:
        return PgReportRepository(self.connection)

    @property
    def audit(self) -> PgAuditRepository:
        return PgAuditRepository(self.connection)

    @property
    def catalogs(self) -> PgCatalogRepository:
        return PgCatalogRepository(self.connection)

    @property
    def privacy(self) -> PgPrivacyRepository:
        return PgPrivacyRepository(self.connection)

    @property
    def audience(self) -> PgAudienceRepository:
        return PgAudienceRepository(self.connection)

    @property
    def broadcasts(self) -> PgBroadcastRepository:
        return PgBroadcastRepository(self.connection)

    @property
    def circuits(self) -> PgCircuitRepository:
        return PgCircuitRepository(self.connection)

    @property
    def credits(self) -> PgCreditsRepository:
        return PgCreditsRepository(self.connection)

    async def commit(self) -> None:
        connection = self.connection
        with translated("unit of work", "commit"):
            try:
                await connection.execute("COMMIT")
            finally:
                # A failed COMMIT has rolled back; either way the next changes need a new
                # transaction, never autocommit.
                if _usable(connection) and not connection.is_in_transaction():
                    await connection.execute("BEGIN")

    async def __aenter__(self) -> Self:
        if self._connection is not None:
            raise RuntimeError("a unit of work can be entered only once at a time")
        with translated("unit of work", "begin"):
            connection = await self._pool.acquire()
            try:
                await connection.execute("BEGIN")
            except BaseException:
                await self._pool.release(connection)
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
            if _usable(connection) and connection.is_in_transaction():
                # A connection that dies now cannot roll back, but then the server has.
                with contextlib.suppress(Exception):
                    await connection.execute("ROLLBACK")
        finally:
            try:
                await self._pool.release(connection)
            except Exception as error:
                # The pool has closed a connection that died; nothing is left to undo.
                if not is_connection_lost(error):
                    raise


@attrs.frozen
class PgUnitOfWorkFactory(UnitOfWorkFactory):
    """Makes units of work over one asyncpg pool (see ``kiebot_pg.pool.open_pool``).

    Args:
        pool: The pool of a database migrated with ``kiebot_pg.migrate.migrate``.
        claim_timeout: How long a claimed job stays claimed without being completed.
    """

    pool: PgPool
    claim_timeout: timedelta = CLAIM_TIMEOUT

    def __call__(self) -> PgUnitOfWork:
        return PgUnitOfWork(self.pool, claim_timeout=self.claim_timeout)
