"""The bot's PostgreSQL store for the operator commands' tests (``DATABASE_URL``)."""

import asyncio
from collections.abc import AsyncIterator

import attrs
import pytest
from click.testing import Result

from kiebot_pg.pool import open_pool
from kiebot_pg.uow import PgUnitOfWorkFactory
from tests.cli.conftest import Cli
from tests.pg.databases import cloned_database


@attrs.frozen
class BotStore:
    """A fresh migrated database: the CLI runs against it, the test reads and plants in it."""

    cli: Cli
    dsn: str
    uow: PgUnitOfWorkFactory

    async def run(self, *args: str, **env: str) -> Result:
        """``kiebot ARGS`` with ``DATABASE_URL`` set (in a thread: it runs its own loop)."""
        environment = {"DATABASE_URL": self.dsn, "COLUMNS": "200"} | env
        return await asyncio.to_thread(self.cli, *args, env=environment)


@pytest.fixture
async def bot_store(cli: Cli, pg_admin_dsn: str, pg_template: str) -> AsyncIterator[BotStore]:
    async with cloned_database(pg_admin_dsn, pg_template) as dsn, open_pool(dsn) as pool:
        yield BotStore(cli, dsn, PgUnitOfWorkFactory(pool))
