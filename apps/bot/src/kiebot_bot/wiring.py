"""The composition root: PostgreSQL, KIE (or its sandbox), the Telegram bot and the pipeline.

Redis is optional: with ``REDIS_URL``, FSM state (aiogram's ``RedisStorage``) and the per-user
rate limits live in Redis; without it, both live in PostgreSQL.
"""

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Mapping
from contextlib import AsyncExitStack, asynccontextmanager
from functools import partial
from typing import Any

import attrs
from aiogram import Bot, Dispatcher
from aiogram.fsm.storage.base import BaseStorage, DefaultKeyBuilder, StateType, StorageKey
from aiogram.fsm.storage.redis import RedisStorage
from aiogram.utils.token import TokenValidationError
from redis.asyncio import Redis

from kiebot_bot.settings import BotSettings
from kiebot_core.domain.catalog import Registry
from kiebot_core.domain.errors import SettingsError
from kiebot_core.domain.registry import load_registry
from kiebot_core.ports.generation import GenerationGateway
from kiebot_core.ports.limits import RateLimiter
from kiebot_core.ports.runtime import Clock, IdFactory, SystemClock, Uuid4Ids
from kiebot_core.ports.storage import UnitOfWorkFactory
from kiebot_core.use_cases.catalog import LoadActiveRegistry
from kiebot_core.use_cases.generation import Pipeline, PipelineSettings, RegistrySource
from kiebot_kie.client import SharedCreateLimiter
from kiebot_kie.embedded import open_kie_or_sandbox
from kiebot_pg import migrate as pg_migrate
from kiebot_pg.limits import PgRateLimiter
from kiebot_pg.notify import CATALOG_CHANNEL, listen
from kiebot_pg.pool import open_pool
from kiebot_pg.uow import PgUnitOfWorkFactory
from kiebot_redis.client import is_reachable, open_redis
from kiebot_redis.errors import translated as translated_redis_errors
from kiebot_redis.limits import RedisRateLimiter
from kiebot_telegram.delivery import SessionFetcher, TelegramResultDelivery
from kiebot_telegram.dispatcher import build_dispatcher, make_bot
from kiebot_telegram.progress import StatusBoard
from kiebot_telegram.services import BotServices

_log = logging.getLogger(__name__)

REGISTRY_TTL_S = 5.0
"""How long the registry with the admins' switches is reused before it is read again."""
FSM_PREFIX = "kiebot:fsm"
"""What the keys of FSM state in Redis start with."""
REDIS_CHECK_TIMEOUT_S = 1.0
"""How long :func:`redis_ok` waits for Redis to answer."""


class MigrationsPendingError(RuntimeError):
    """``--no-migrate`` and the database schema is behind this kiebot."""


@attrs.define
class CachedRegistry:
    """A registry source read at most every ``ttl_s`` seconds (switches apply within that)."""

    source: RegistrySource
    ttl_s: float = REGISTRY_TTL_S
    _value: Registry | None = None
    _read_at: float = 0.0

    async def __call__(self) -> Registry:
        """The current registry."""
        now = time.monotonic()
        if self._value is None or now - self._read_at > self.ttl_s:
            self._value = await self.source()
            self._read_at = now
        return self._value

    def invalidate(self, _: str = "") -> None:
        """Read the registry again on its next use (a switch changed somewhere)."""
        self._value = None


class SharedRedisStorage(RedisStorage):
    """aiogram's ``RedisStorage`` over a client the composition root owns and closes.

    A Redis outage raises ``StorageUnavailableError``, as the PostgreSQL storage does (the
    user gets the storage text; the update is retried). aiogram closes its FSM storage when
    polling stops; the client must outlive that (the rate limiter and readiness use it too),
    so closing the storage leaves it open.
    """

    async def set_state(self, key: StorageKey, state: StateType = None) -> None:
        with translated_redis_errors():
            await super().set_state(key, state)

    async def get_state(self, key: StorageKey) -> str | None:
        with translated_redis_errors():
            return await super().get_state(key)

    async def set_data(self, key: StorageKey, data: Mapping[str, Any]) -> None:
        with translated_redis_errors():
            await super().set_data(key, data)

    async def get_data(self, key: StorageKey) -> dict[str, Any]:
        with translated_redis_errors():
            return await super().get_data(key)

    async def close(self) -> None:
        return


def redis_fsm_storage(redis: Redis, prefix: str = FSM_PREFIX) -> BaseStorage:
    """FSM state in Redis, one record per (bot, chat, user), like the PostgreSQL storage."""
    return SharedRedisStorage(
        redis, key_builder=DefaultKeyBuilder(prefix=prefix, with_bot_id=True)
    )


@attrs.frozen(kw_only=True)
class BotRuntime:
    """The composed bot: what the runtime loops drive."""

    bot: Bot
    dispatcher: Dispatcher
    pipeline: Pipeline
    board: StatusBoard
    store: UnitOfWorkFactory
    settings: BotSettings
    registry: CachedRegistry
    """The registry with the stored switches, read again when they change."""
    redis: Redis | None = None
    """The Redis client with ``REDIS_URL`` (FSM state, rate limits); None without."""
    pending_migrations: Callable[[], Awaitable[list[str]]] | None = None
    """The migrations the database still lacks; None when the store has no schema."""


async def redis_ok(runtime: BotRuntime, *, timeout_s: float = REDIS_CHECK_TIMEOUT_S) -> bool:
    """True when Redis answers a PING within ``timeout_s``, or when Redis is not used.

    While it is False, updates cannot be handled (their FSM state and rate limits are in
    Redis): readiness should report not ready, and update processing should wait.
    """
    if runtime.redis is None:
        return True
    return await is_reachable(runtime.redis, timeout_s=timeout_s)


def open_bot(settings: BotSettings) -> Bot:
    """The aiogram Bot for ``settings`` (raises ``SettingsError`` for a malformed token)."""
    try:
        return make_bot(settings.telegram_bot_token, settings.telegram_api_base)
    except TokenValidationError:
        raise SettingsError("TELEGRAM_BOT_TOKEN", "is not a bot token (digits:letters)") from None


def compose(
    settings: BotSettings,
    *,
    store: UnitOfWorkFactory,
    gateway: GenerationGateway,
    bot: Bot,
    clock: Clock | None = None,
    ids: IdFactory | None = None,
    limiter: RateLimiter | None = None,
    redis: Redis | None = None,
    fsm_prefix: str = FSM_PREFIX,
) -> BotRuntime:
    """Wire the pipeline, delivery, status board and dispatcher over open ports (no I/O).

    ``limiter`` counts each user's updates (None: they are not limited); with ``redis``, FSM
    state lives there (in keys starting with ``fsm_prefix``) instead of in ``store``.
    """
    registry = CachedRegistry(LoadActiveRegistry(store, load_registry()))
    board = StatusBoard(bot, store, registry)
    delivery = TelegramResultDelivery(
        bot,
        store,
        registry,
        SessionFetcher(bot, allow_private=settings.use_sandbox),
        board=board,
        send_by_url=not settings.use_sandbox,
    )
    pipeline = Pipeline(
        uow=store,
        gateway=gateway,
        delivery=delivery,
        clock=clock or SystemClock(),
        ids=ids or Uuid4Ids(),
        registry=registry,
        settings=PipelineSettings(
            prices=settings.prices,
            deadlines=settings.deadlines,
            max_concurrent=settings.max_concurrent,
            callback_url=settings.callback_url,
            free_tier=settings.free_tier,
        ),
    )
    services = BotServices(
        pipeline=pipeline,
        board=board,
        welcome_stars=settings.welcome_stars,
        payment_settings=settings.payments,
        admin_ids=settings.admin_ids,
        limiter=limiter,
        updates_per_minute=settings.updates_per_minute,
    )
    fsm_storage = redis_fsm_storage(redis, fsm_prefix) if redis is not None else None
    return BotRuntime(
        bot=bot,
        dispatcher=build_dispatcher(services, storage=fsm_storage),
        pipeline=pipeline,
        board=board,
        store=store,
        settings=settings,
        registry=registry,
        redis=redis,
    )


@asynccontextmanager
async def open_store(
    settings: BotSettings, *, migrate: bool = True
) -> AsyncIterator[PgUnitOfWorkFactory]:
    """PostgreSQL at ``DATABASE_URL``, migrated first (or checked, with ``migrate=False``)."""
    if migrate:
        applied = await pg_migrate.migrate(settings.database_url)
        if applied:
            _log.info("applied migrations: %s", ", ".join(applied))
    else:
        _, pending = await pg_migrate.status(settings.database_url)
        if pending:
            raise MigrationsPendingError(f"pending migrations: {', '.join(pending)}")
    async with open_pool(settings.database_url) as pool:
        yield PgUnitOfWorkFactory(pool)


@asynccontextmanager
async def open_gateway(
    settings: BotSettings, limiter: RateLimiter | None = None
) -> AsyncIterator[GenerationGateway]:
    """KIE with ``KIE_API_KEY``; the built-in sandbox (in this process) otherwise.

    With ``limiter``, KIE's create limit is kept by every process sharing it together.
    """
    async with open_kie_or_sandbox(
        api_key=None if settings.use_sandbox else settings.kie_api_key,
        base_url=settings.kie_base_url,
        upload_base_url=settings.kie_upload_base_url,
        sandbox_dir=settings.sandbox_dir,
        sandbox_fast=settings.sandbox_fast,
        hmac_key=settings.kie_callback_hmac_key,
        limiter=None if limiter is None else SharedCreateLimiter(limiter),
    ) as gateway:
        yield gateway


@asynccontextmanager
async def open_runtime(
    settings: BotSettings, *, migrate: bool = True
) -> AsyncIterator[BotRuntime]:
    """Open every port for the life of the bot and compose it; everything closes on exit.

    With ``REDIS_URL``, FSM state and rate limits use Redis (the client is not checked here:
    the bot starts during a Redis outage, and :func:`redis_ok` tells when it is back). A model
    switch committed anywhere is heard through PostgreSQL and read again at once; the
    registry's short TTL covers a lost notification.
    """
    async with AsyncExitStack() as stack:
        store = await stack.enter_async_context(open_store(settings, migrate=migrate))
        redis: Redis | None = None
        limiter: RateLimiter = PgRateLimiter(store.pool)
        if settings.redis_url is not None:
            redis = await stack.enter_async_context(open_redis(settings.redis_url))
            limiter = RedisRateLimiter(redis)
        gateway = await stack.enter_async_context(open_gateway(settings, limiter))
        bot = open_bot(settings)
        stack.push_async_callback(bot.session.close)
        runtime = compose(
            settings, store=store, gateway=gateway, bot=bot, limiter=limiter, redis=redis
        )
        await stack.enter_async_context(
            running(listen(settings.database_url, CATALOG_CHANNEL, runtime.registry.invalidate))
        )
        yield attrs.evolve(runtime, pending_migrations=partial(_pending, settings.database_url))


async def _pending(database_url: str) -> list[str]:
    _, pending = await pg_migrate.status(database_url)
    return pending


@asynccontextmanager
async def running(work: Coroutine[Any, Any, None]) -> AsyncIterator[None]:
    """Run ``work`` in the background for the block; cancelled when it ends."""
    task = asyncio.create_task(work)
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
