from collections.abc import AsyncIterator

import pytest

from kiebot_core.ports.storage import UnitOfWorkFactory
from kiebot_core.testing.memory import MemoryUnitOfWorkFactory
from tests.log_guard import no_secrets_in_logs
from tests.pg.conftest import pg_dsn, pg_pool, pg_store, pg_template
from tests.telegram.fake_bot_api import FakeBotApi
from tests.telegram.harness import RunningBot, running_bot

__all__ = ["no_secrets_in_logs", "pg_dsn", "pg_pool", "pg_store", "pg_template"]


@pytest.fixture
async def api() -> AsyncIterator[FakeBotApi]:
    async with FakeBotApi() as fake:
        yield fake


@pytest.fixture(params=["memory", "pg"])
def memory_and_pg(request: pytest.FixtureRequest) -> UnitOfWorkFactory:
    """The in-memory store, then PostgreSQL: a test asking for it runs on both."""
    if request.param == "memory":
        return MemoryUnitOfWorkFactory()
    factory: UnitOfWorkFactory = request.getfixturevalue("pg_store")
    return factory


@pytest.fixture
def store() -> MemoryUnitOfWorkFactory:
    return MemoryUnitOfWorkFactory()


@pytest.fixture
async def bot(api: FakeBotApi, store: UnitOfWorkFactory) -> AsyncIterator[RunningBot]:
    async with running_bot(api, store) as running:
        yield running
    assert not api.errors(400), [(c.method, c.description) for c in api.errors(400)]
    assert not api.unanswered(), api.unanswered()
