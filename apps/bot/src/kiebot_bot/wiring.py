"""The composition root: PostgreSQL, KIE (or its sandbox), the Telegram bot and the pipeline."""

import logging
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

import attrs
from aiogram import Bot, Dispatcher
from aiogram.utils.token import TokenValidationError

from kiebot_bot.settings import BotSettings
from kiebot_core.domain.catalog import Registry
from kiebot_core.domain.errors import SettingsError
from kiebot_core.domain.registry import load_registry
from kiebot_core.ports.generation import GenerationGateway
from kiebot_core.ports.runtime import Clock, IdFactory, SystemClock, Uuid4Ids
from kiebot_core.ports.storage import UnitOfWorkFactory
from kiebot_core.use_cases.catalog import LoadActiveRegistry
from kiebot_core.use_cases.generation import Pipeline, PipelineSettings, RegistrySource
from kiebot_kie.embedded import open_kie_or_sandbox
from kiebot_pg import migrate as pg_migrate
from kiebot_pg.pool import open_pool
from kiebot_pg.uow import PgUnitOfWorkFactory
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

    async def __call__(self) -> Registry:
        """The current registry."""
        now = time.monotonic()
        if self._value is None or now - self._read_at > self.ttl_s:
            self._value = await self.source()
            self._read_at = now
        return self._value


@attrs.frozen(kw_only=True)
class BotRuntime:
    """The composed bot: what the runtime loops drive."""

    bot: Bot
    dispatcher: Dispatcher
    pipeline: Pipeline
    board: StatusBoard
    store: UnitOfWorkFactory
    settings: BotSettings


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
) -> BotRuntime:
    """Wire the pipeline, delivery, status board and dispatcher over open ports (no I/O)."""
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
    )
    return BotRuntime(
        bot=bot,
        dispatcher=build_dispatcher(services),
        pipeline=pipeline,
        board=board,
        store=store,
        settings=settings,
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
async def open_gateway(settings: BotSettings) -> AsyncIterator[GenerationGateway]:
    """KIE with ``KIE_API_KEY``; the built-in sandbox (in this process) otherwise."""
    async with open_kie_or_sandbox(
        api_key=None if settings.use_sandbox else settings.kie_api_key,
        base_url=settings.kie_base_url,
        upload_base_url=settings.kie_upload_base_url,
        sandbox_dir=settings.sandbox_dir,
        sandbox_fast=settings.sandbox_fast,
        hmac_key=settings.kie_callback_hmac_key,
    ) as gateway:
        yield gateway


@asynccontextmanager
async def open_runtime(
    settings: BotSettings, *, migrate: bool = True
) -> AsyncIterator[BotRuntime]:
    """Open every port for the life of the bot and compose it; everything closes on exit."""
    async with AsyncExitStack() as stack:
        store = await stack.enter_async_context(open_store(settings, migrate=migrate))
        gateway = await stack.enter_async_context(open_gateway(settings))
        bot = open_bot(settings)
        stack.push_async_callback(bot.session.close)
        yield compose(settings, store=store, gateway=gateway, bot=bot)
