"""The CLI's composition root: the store, KIE (or its sandbox), delivery to disk, and the
bot's Stars account for the operator commands."""

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import timedelta
from pathlib import Path

import attrs
import httpx

from kiebot_cli.delivery import DiskDelivery
from kiebot_cli.settings import CliSettings
from kiebot_core.domain.errors import SettingsError
from kiebot_core.domain.registry import load_registry
from kiebot_core.ports.generation import GenerationGateway
from kiebot_core.ports.runtime import SystemClock, Uuid4Ids
from kiebot_core.ports.stars import StarsAccount
from kiebot_core.ports.storage import UnitOfWorkFactory
from kiebot_core.use_cases.catalog import LoadActiveRegistry
from kiebot_core.use_cases.generation import Pipeline, PipelineSettings
from kiebot_kie.embedded import open_kie_or_sandbox
from kiebot_pg import migrate as pg_migrate
from kiebot_pg.pool import open_pool
from kiebot_pg.uow import PgUnitOfWorkFactory
from kiebot_sqlite import migrate as sqlite_migrate
from kiebot_sqlite.uow import SqliteUnitOfWorkFactory

LOCAL_CLAIM_TIMEOUT = timedelta(seconds=30)
"""The local store has one user's processes: a killed run's claims come back quickly."""


@asynccontextmanager
async def open_store(settings: CliSettings) -> AsyncIterator[UnitOfWorkFactory]:
    """PostgreSQL when ``DATABASE_URL`` is set, else SQLite under ``KIEBOT_HOME``; migrated."""
    if settings.database_url:
        await pg_migrate.migrate(settings.database_url)
        async with open_pool(settings.database_url) as pool:
            yield PgUnitOfWorkFactory(pool)
        return
    settings.home.mkdir(parents=True, exist_ok=True)
    await sqlite_migrate.migrate(settings.sqlite_path)
    yield SqliteUnitOfWorkFactory(settings.sqlite_path, claim_timeout=LOCAL_CLAIM_TIMEOUT)


@asynccontextmanager
async def open_bot_store(settings: CliSettings) -> AsyncIterator[UnitOfWorkFactory]:
    """The bot's PostgreSQL store (``DATABASE_URL``), for operator commands; migrated.

    Raises ``SettingsError`` without ``DATABASE_URL``: the local store is never the bot's.
    """
    if not settings.database_url:
        raise SettingsError(
            "DATABASE_URL", "is not set (operator commands use the bot's database)"
        )
    async with open_store(settings) as store:
        yield store


@asynccontextmanager
async def open_gateway(settings: CliSettings) -> AsyncIterator[GenerationGateway]:
    """KIE with ``KIE_API_KEY``; without it the built-in sandbox, started in this process."""
    async with open_kie_or_sandbox(
        api_key=settings.kie_api_key,
        base_url=settings.kie_base_url,
        upload_base_url=settings.kie_upload_base_url,
        sandbox_dir=settings.sandbox_dir,
    ) as gateway:
        yield gateway


@asynccontextmanager
async def open_stars_account(settings: CliSettings) -> AsyncIterator[StarsAccount]:
    """The bot's Stars account at ``TELEGRAM_API_BASE``, as ``TELEGRAM_BOT_TOKEN``.

    Raises ``SettingsError`` when the token is missing or malformed.
    """
    # aiogram loads only for the commands that call the Bot API, never for generations.
    from aiogram.utils.token import TokenValidationError  # noqa: PLC0415

    from kiebot_telegram.dispatcher import make_bot  # noqa: PLC0415
    from kiebot_telegram.stars import TelegramStarsAccount  # noqa: PLC0415

    if not settings.telegram_bot_token:
        raise SettingsError("TELEGRAM_BOT_TOKEN", "is not set (the Bot API needs the bot's token)")
    try:
        bot = make_bot(settings.telegram_bot_token, settings.telegram_api_base)
    except TokenValidationError:
        raise SettingsError("TELEGRAM_BOT_TOKEN", "is not a bot token (digits:letters)") from None
    async with bot:
        yield TelegramStarsAccount(bot)


@attrs.frozen
class Ports:
    """Everything a CLI command may need, open for the life of the command."""

    store: UnitOfWorkFactory
    pipeline: Pipeline


@asynccontextmanager
async def open_ports(settings: CliSettings, out_dir: Path) -> AsyncIterator[Ports]:
    """Open the store, the gateway and the delivery for one command."""
    registry = load_registry()
    async with AsyncExitStack() as stack:
        store = await stack.enter_async_context(open_store(settings))
        gateway = await stack.enter_async_context(open_gateway(settings))
        http = await stack.enter_async_context(httpx.AsyncClient(timeout=60.0))
        delivery = DiskDelivery(
            out_dir=out_dir,
            result_kind_of={model.id: model.result_kind for model in registry.models},
            http=http,
        )
        pipeline = Pipeline(
            uow=store,
            gateway=gateway,
            delivery=delivery,
            clock=SystemClock(),
            ids=Uuid4Ids(),
            registry=LoadActiveRegistry(store, registry),
            settings=PipelineSettings(prices=settings.prices, bill_users=False),
        )
        yield Ports(store=store, pipeline=pipeline)
