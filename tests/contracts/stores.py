"""The storage implementations the contract suites run against, behind one test-facing type."""

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import attrs
import pytest

from kiebot_core.domain.jobs import CLAIM_TIMEOUT as MEMORY_CLAIM_TIMEOUT
from kiebot_core.domain.jobs import CLAIM_TIMEOUT as SQLITE_CLAIM_TIMEOUT
from kiebot_core.ports.storage import UnitOfWork, UnitOfWorkFactory
from kiebot_core.testing.memory import MemoryDatabase, MemoryUnitOfWorkFactory
from kiebot_core.testing.runtime import FrozenClock
from kiebot_pg.pool import open_pool
from kiebot_pg.uow import PgUnitOfWorkFactory
from kiebot_sqlite.migrate import migrate as migrate_sqlite
from kiebot_sqlite.uow import SqliteUnitOfWorkFactory
from tests.pg.databases import cloned_database

BACKENDS = ["memory", "sqlite", "pg"]
"""Every implementation of the storage ports; the ``uow`` fixture's parameters."""

RACING_BACKENDS = ["sqlite", "pg"]
"""The stores whose units of work really run in parallel; the ``racers`` fixture's parameters.
The in-memory store is one process's fake and is left out."""

RACERS_AT_ONCE = 20
"""How many racers a PostgreSQL store has a connection for at once (besides the test's own)."""

Racers = Callable[[], UnitOfWorkFactory]
"""A racer's own way into the shared store."""

PG_CLAIM_TIMEOUT = timedelta(seconds=1)
"""PostgreSQL times claims with the real database clock, so its tests use a short timeout."""

FROZEN_TICK = timedelta(minutes=1)
PG_TICK = timedelta(milliseconds=400)


@attrs.define
class Store(UnitOfWorkFactory):
    """One storage implementation under test, and the means to let its time pass.

    Memory and SQLite run on a ``FrozenClock`` that tests advance; PostgreSQL uses the
    database clock, so there time really passes (``tick`` is short) and time assertions
    allow for the delay between this process and the server.
    """

    name: str
    factory: UnitOfWorkFactory
    clock: FrozenClock | None
    claim_timeout: timedelta
    tick: timedelta
    """A short span of this store's time: lease TTLs and retry delays in tests."""

    def __call__(self) -> UnitOfWork:
        return self.factory()

    @property
    def has_real_time(self) -> bool:
        """True when time is the database's and cannot be frozen."""
        return self.clock is None

    def now(self) -> datetime:
        """The store's current time, as this process sees it."""
        return datetime.now(UTC) if self.clock is None else self.clock.now()

    async def elapse(self, delta: timedelta) -> None:
        """Let ``delta`` of the store's time pass."""
        if self.clock is None:
            await asyncio.sleep(delta.total_seconds() + 0.05)
        else:
            self.clock.advance(delta)

    def assert_close(self, actual: datetime, expected: datetime) -> None:
        """``actual`` is ``expected`` (exactly on a frozen clock, within 2 s on a real one)."""
        if self.clock is None:
            assert abs(actual - expected) < timedelta(seconds=2), (actual, expected)
        else:
            assert actual == expected


@asynccontextmanager
async def open_store(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[Store]:
    """A fresh, empty store of ``backend``: a new memory database, SQLite file or PostgreSQL
    database cloned from the run's migrated template (PostgreSQL fixtures come from
    ``request``, so a missing server skips or fails only the PostgreSQL variants)."""
    if backend == "memory":
        clock = FrozenClock()
        factory = MemoryUnitOfWorkFactory(MemoryDatabase(clock))
        yield Store("memory", factory, clock, MEMORY_CLAIM_TIMEOUT, FROZEN_TICK)
    elif backend == "sqlite":
        clock = FrozenClock()
        path = tmp_path / f"kiebot-{id(request)}.sqlite3"
        await migrate_sqlite(path)
        factory_sqlite = SqliteUnitOfWorkFactory(path, clock=clock)
        yield Store("sqlite", factory_sqlite, clock, SQLITE_CLAIM_TIMEOUT, FROZEN_TICK)
    elif backend == "pg":
        admin_dsn: str = request.getfixturevalue("pg_admin_dsn")
        template: str = request.getfixturevalue("pg_template")
        async with cloned_database(admin_dsn, template) as dsn, open_pool(dsn, max_size=8) as pool:
            factory_pg = PgUnitOfWorkFactory(pool, claim_timeout=PG_CLAIM_TIMEOUT)
            yield Store("pg", factory_pg, None, PG_CLAIM_TIMEOUT, PG_TICK)
    else:
        raise ValueError(f"unknown storage backend {backend!r}")


@asynccontextmanager
async def open_racers(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[Racers]:
    """Separate ways into one fresh store of ``backend``, one per racer.

    On SQLite each call opens a factory of its own on the shared file (as separate processes
    would, so only SQLite's write lock orders them); on PostgreSQL each call gives the one
    factory over a pool with a connection for ``RACERS_AT_ONCE`` racers at once.
    """
    if backend == "sqlite":
        path = tmp_path / "kiebot.sqlite3"
        await migrate_sqlite(path)
        yield lambda: SqliteUnitOfWorkFactory(path)
    elif backend == "pg":
        admin_dsn: str = request.getfixturevalue("pg_admin_dsn")
        template: str = request.getfixturevalue("pg_template")
        async with (
            cloned_database(admin_dsn, template) as dsn,
            open_pool(dsn, min_size=1, max_size=RACERS_AT_ONCE + 1) as pool,
        ):
            factory = PgUnitOfWorkFactory(pool)
            yield lambda: factory
    else:
        raise ValueError(f"unknown racing backend {backend!r}")
