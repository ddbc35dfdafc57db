"""A Redis outage, made by cutting a proxy the test owns (never by stopping the shared server)."""

import time
from datetime import timedelta
from urllib.parse import urlsplit

import pytest

from kiebot_core.domain.errors import StorageUnavailableError
from kiebot_redis.client import is_reachable, open_redis
from kiebot_redis.limits import RedisRateLimiter
from tests.proxy import tcp_proxy
from tests.redis.support import RedisSpace

MINUTE = timedelta(minutes=1)


def _server(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    return parts.hostname or "127.0.0.1", parts.port or 6379


async def test_the_limiter_is_unavailable_while_redis_is_cut_off_and_works_after(
    redis_url: str, redis_space: RedisSpace
):
    async with (
        tcp_proxy(*_server(redis_url)) as proxy,
        open_redis(f"redis://127.0.0.1:{proxy.port}") as client,
    ):
        limiter = RedisRateLimiter(client, prefix=redis_space.prefix)
        assert (await limiter.hit("user:1", limit=5, window=MINUTE)).hits == 1
        assert await is_reachable(client)

        proxy.cut()
        started = time.monotonic()
        with pytest.raises(StorageUnavailableError) as caught:
            await limiter.hit("user:1", limit=5, window=MINUTE)
        assert time.monotonic() - started < 5
        assert caught.value.detail  # names the failure, for the logs
        assert not await is_reachable(client)

        proxy.restore()
        assert await is_reachable(client)
        again = await limiter.hit("user:1", limit=5, window=MINUTE)
        assert again.allowed
        assert again.hits == 2
        assert await redis_space.keys() == {"user:1"}


async def test_an_unreachable_server_is_not_reachable(redis_url: str):
    async with (
        tcp_proxy(*_server(redis_url)) as proxy,
        open_redis(f"redis://127.0.0.1:{proxy.port}") as client,
    ):
        proxy.cut()
        assert not await is_reachable(client, timeout_s=0.5)
        with pytest.raises(StorageUnavailableError):
            await RedisRateLimiter(client).hit("user:1", limit=1, window=MINUTE)
