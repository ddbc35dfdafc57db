"""Redis fixtures: a prefix of the shared server's keys per test (import them into a conftest)."""

from collections.abc import AsyncIterator

import pytest

from tests.redis.support import RedisSpace, open_redis_space


@pytest.fixture
async def redis_space(redis_url: str) -> AsyncIterator[RedisSpace]:
    """A client of the shared Redis and a key prefix that is this test's alone."""
    async with open_redis_space(redis_url) as space:
        yield space
