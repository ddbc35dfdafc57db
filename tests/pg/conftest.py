"""PostgreSQL-only fixtures: fresh databases (migrated or empty), pools and stores."""

from collections.abc import AsyncIterator

import pytest

from kiebot_pg.pool import PgPool, open_pool
from kiebot_pg.uow import PgUnitOfWorkFactory
from tests.pg.databases import cloned_database, pg_template

__all__ = ["empty_pg_dsn", "pg_dsn", "pg_pool", "pg_store", "pg_template"]


@pytest.fixture
async def pg_dsn(pg_admin_dsn: str, pg_template: str) -> AsyncIterator[str]:
    """A fresh migrated database of the test's own."""
    async with cloned_database(pg_admin_dsn, pg_template) as dsn:
        yield dsn


@pytest.fixture
async def empty_pg_dsn(pg_admin_dsn: str) -> AsyncIterator[str]:
    """A fresh database with nothing in it."""
    async with cloned_database(pg_admin_dsn, None) as dsn:
        yield dsn


@pytest.fixture
async def pg_pool(pg_dsn: str) -> AsyncIterator[PgPool]:
    """A pool over the test's migrated database, large enough for racing units of work."""
    async with open_pool(pg_dsn, min_size=1, max_size=12) as pool:
        yield pool


@pytest.fixture
def pg_store(pg_pool: PgPool) -> PgUnitOfWorkFactory:
    """Units of work over the test's migrated database."""
    return PgUnitOfWorkFactory(pg_pool)
