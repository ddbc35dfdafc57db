"""The composition root: PostgreSQL, KIE (or its sandbox), the Telegram bot and the pipeline.

Redis is optional: with ``REDIS_URL``, FSM state (aiogram's ``RedisStorage``) and the per-user
rate limits live in Redis; without it, both live in PostgreSQL.
"""

import asyncio
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

from kiebot_bot.logs import CorrelatedDelivery
from kiebot_bot.metrics import BotMetrics, UpdateMetricsMiddleware
from kiebot_bot.operations import Watchdogs, compose_watchdogs
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
from kiebot_kie.gateway import KieGenerationGateway
from kiebot_pg import migrate as pg_migrate
from kiebot_pg.limits import PgRateLimiter
from kiebot_pg.notify import CATALOG_CHANNEL, listen
from kiebot_pg.pool import open_pool
from kiebot_pg.uow import PgUnitOfWorkFactory
from kiebot_redis.client import PING_TIMEOUT_S, is_reachable, open_redis
from kiebot_redis.errors import translated as translated_redis_errors
from kiebot_redis.fsm import FSM_PREFIX
from kiebot_redis.limits import RedisRateLimiter
from kiebot_telegram.delivery import SessionFetcher, TelegramResultDelivery
from kiebot_telegram.dispatcher import build_dispatcher, make_bot
from kiebot_telegram.progress import StatusBoard
from kiebot_telegram.services import BotServices

_log = logging.getLogger(__name__)

REGISTRY_TTL_S = 5.0
"""How long the registry with the admins' switches is reused before it is read again."""


class MigrationsPendingError(RuntimeError):
    """``--no-migrate`` and the database schema is behind this kiebot."""


@attrs.define
class CachedRegistry:
    """A registry source read at most every ``ttl_s`` seconds (switches apply within that)."""

    source: RegistrySource
    ttl_s: float = REGISTRY_TTL_S
    _value: Registry | None = None
    _read_at: float = 0.0

    _generation: int = 0
    """Counts invalidations: a read that one overtook is not kept."""

    async def __call__(self) -> Registry:
        """The current registry."""
        now = time.monotonic()
        if self._value is not None and now - self._read_at <= self.ttl_s:
            return self._value
        generation = self._generation
        value = await self.source()
        if generation == self._generation:
            self._value, self._read_at = value, now
        return value

    def invalidate(self, _: str = "") -> None:
        """Read the registry again on its next use (a switch changed somewhere)."""
        self._generation += 1
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
    watchdogs: Watchdogs | None = None
    """The circuit breaker, the KIE credits watch and the broadcast sender."""
    metrics: BotMetrics = attrs.field(factory=BotMetrics, repr=False)
    """This process's Prometheus metrics (``/metrics``)."""


async def redis_ok(runtime: BotRuntime, *, timeout_s: float = PING_TIMEOUT_S) -> bool:
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
    metrics = BotMetrics(mode=settings.mode.value)
    if isinstance(gateway, KieGenerationGateway):
        gateway.client.observe(metrics.kie_call)
    delivery = TelegramResultDelivery(
        bot,
        store,
        registry,
        SessionFetcher(bot, allow_private=settings.use_sandbox),
        board=board,
        send_by_url=not settings.use_sandbox,
    )
    clock = clock or SystemClock()
    watchdogs = compose_watchdogs(
        settings,
        store=store,
        gateway=gateway,
        bot=bot,
        clock=clock,
        catalog_changed=registry.invalidate,
    )
    pipeline = Pipeline(
        uow=store,
        gateway=gateway,
        delivery=CorrelatedDelivery(delivery),
        clock=clock,
        ids=ids or Uuid4Ids(),
        registry=registry,
        on_failure=watchdogs.on_failure,
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
        broadcast_per_second=settings.broadcast_per_second,
        catalog_changed=registry.invalidate,
    )
    fsm_storage = redis_fsm_storage(redis, fsm_prefix) if redis is not None else None
    return BotRuntime(
        bot=bot,
        dispatcher=build_dispatcher(
            services, storage=fsm_storage, outermost=[UpdateMetricsMiddleware(metrics)]
        ),
        pipeline=pipeline,
        board=board,
        store=store,
        settings=settings,
        registry=registry,
        redis=redis,
        metrics=metrics,
        watchdogs=watchdogs,
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
        await asyncio.gather(task, return_exceptions=True)
