"""The bot's composition with and without ``REDIS_URL``, and what readiness learns of Redis."""

import asyncio
import uuid
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import pytest
from aiogram.fsm.storage.base import StorageKey
from aiogram.fsm.storage.redis import RedisStorage

from kiebot_bot.wiring import BotRuntime, open_runtime, redis_ok
from kiebot_core.domain.errors import StorageUnavailableError
from kiebot_core.ports.storage import UnitOfWorkFactory
from kiebot_pg.limits import PgRateLimiter
from kiebot_redis.client import open_redis
from kiebot_redis.limits import PREFIX, RedisRateLimiter
from kiebot_telegram.services import BotServices
from kiebot_telegram.storage import ConversationStorage
from tests.bot.test_webhook import post, text_update
from tests.proxy import TcpProxy, proxied, tcp_proxy
from tests.redis.support import open_redis_space
from tests.telegram.fake_bot_api import FakeBotApi
from tests.telegram.harness import WEBHOOK_TEST_SECRET, RunningBot, running_bot, settings_for

MINUTE = timedelta(minutes=1)
CHAT = StorageKey(bot_id=1, chat_id=-4242, user_id=-4242)
"""A conversation no test ever has (only read, never written)."""


async def readyz(bot: RunningBot) -> tuple[int, dict[str, Any]]:
    url = f"http://127.0.0.1:{bot.http_port}/readyz"
    async with aiohttp.ClientSession() as http, http.get(url) as response:
        body: dict[str, Any] = await response.json()
        return response.status, body


def services_of(runtime: BotRuntime) -> BotServices:
    services = runtime.dispatcher["services"]
    assert isinstance(services, BotServices)
    return services


async def links_closed(proxy: TcpProxy) -> bool:
    for _ in range(100):
        if not proxy._links:
            return True
        await asyncio.sleep(0.02)
    return False


async def test_without_redis_state_and_limits_live_in_postgresql(api: FakeBotApi, pg_dsn: str):
    async with open_runtime(settings_for(api, database_url=pg_dsn)) as runtime:
        assert runtime.redis is None
        assert isinstance(runtime.dispatcher.fsm.storage, ConversationStorage)
        limiter = services_of(runtime).limiter
        assert isinstance(limiter, PgRateLimiter)
        assert services_of(runtime).updates_per_minute == 60
        assert await redis_ok(runtime)
        assert (await limiter.hit("updates:1", limit=1, window=MINUTE)).allowed
        assert not (await limiter.hit("updates:1", limit=1, window=MINUTE)).allowed


async def test_with_redis_state_and_limits_live_in_redis_and_readiness_follows_it(
    api: FakeBotApi, pg_dsn: str, redis_url: str
):
    server = urlsplit(redis_url)
    key = f"test:{uuid.uuid4().hex}"
    async with tcp_proxy(server.hostname or "127.0.0.1", server.port or 6379) as proxy:
        settings = settings_for(
            api,
            database_url=pg_dsn,
            redis_url=f"redis://127.0.0.1:{proxy.port}/0",
            updates_per_minute=7,
        )
        async with open_runtime(settings) as runtime:
            assert runtime.redis is not None
            assert isinstance(runtime.dispatcher.fsm.storage, RedisStorage)
            limiter = services_of(runtime).limiter
            assert isinstance(limiter, RedisRateLimiter)
            assert services_of(runtime).updates_per_minute == 7
            assert await redis_ok(runtime)
            assert (await limiter.hit(key, limit=1, window=MINUTE)).allowed

            proxy.cut()
            assert not await redis_ok(runtime, timeout_s=0.5)
            with pytest.raises(StorageUnavailableError):
                await limiter.hit(key, limit=1, window=MINUTE)
            with pytest.raises(StorageUnavailableError):
                await runtime.dispatcher.fsm.storage.get_state(CHAT)

            proxy.restore()
            assert await redis_ok(runtime)
            assert not (await limiter.hit(key, limit=1, window=MINUTE)).allowed
            assert await runtime.dispatcher.fsm.storage.get_state(CHAT) is None
        assert await links_closed(proxy), "the Redis client is still connected"
    async with open_redis(redis_url) as client:
        assert await client.delete(PREFIX + key) == 1


async def test_the_bot_starts_while_redis_is_down(api: FakeBotApi, pg_dsn: str, redis_url: str):
    server = urlsplit(redis_url)
    async with tcp_proxy(server.hostname or "127.0.0.1", server.port or 6379) as proxy:
        proxy.cut()
        settings = settings_for(
            api, database_url=pg_dsn, redis_url=f"redis://127.0.0.1:{proxy.port}"
        )
        async with open_runtime(settings) as runtime:
            assert not await redis_ok(runtime, timeout_s=0.5)
            proxy.restore()
            assert await redis_ok(runtime)


async def test_while_redis_is_down_updates_are_stored_and_wait_then_are_answered(
    api: FakeBotApi, pg_store: UnitOfWorkFactory, redis_url: str
):
    async with (
        proxied(redis_url) as (proxy, through),
        open_redis_space(through) as space,
        running_bot(api, pg_store, webhook=True, redis=space, welcome_stars=0) as bot,
    ):
        user = api.user(4701)
        await user.send("/start")
        await user.wait_text("Main menu")
        proxy.cut()
        update = text_update(9_400_001, 4701, "zzqredisdown")
        assert await post(bot, update, WEBHOOK_TEST_SECRET) == 200, "stored while Redis is down"
        status, body = await readyz(bot)
        assert (status, body["ready"], body["redis"], body["database"]) == (
            503,
            False,
            False,
            True,
        )
        await asyncio.sleep(1.0)
        assert not any("zzqredisdown" in m.shown for m in user.bot_messages()), "handled blind"
        async with bot.store() as uow:
            assert [u.update_id for u in await uow.inbox.pending(limit=10)] == [9_400_001]
        proxy.restore()
        await user.wait_text("zzqredisdown")
        status, body = await readyz(bot)
        assert (status, body["ready"], body["redis"]) == (200, True, True)
        async with bot.store() as uow:
            assert await uow.inbox.parked(limit=10) == []
