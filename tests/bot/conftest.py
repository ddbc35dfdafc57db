from collections.abc import AsyncIterator

import pytest

from tests.pg.conftest import empty_pg_dsn, pg_dsn, pg_pool, pg_store
from tests.pg.databases import pg_template
from tests.telegram.conftest import memory_and_pg
from tests.telegram.fake_bot_api import FakeBotApi

__all__ = [
    "api",
    "empty_pg_dsn",
    "memory_and_pg",
    "pg_dsn",
    "pg_pool",
    "pg_store",
    "pg_template",
]


@pytest.fixture
async def api() -> AsyncIterator[FakeBotApi]:
    async with FakeBotApi() as fake:
        yield fake
