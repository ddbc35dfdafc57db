"""The CLI's composition root: the store, KIE (or its sandbox), delivery to disk, and the
bot's Stars account for the operator commands."""

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path

import attrs
import httpx

from kiebot_cli.delivery import DiskDelivery
from kiebot_cli.settings import CliSettings
from kiebot_cli.store import LOCAL_CLAIM_TIMEOUT, open_bot_store, open_store
from kiebot_core.domain.errors import SettingsError
from kiebot_core.domain.registry import load_registry
from kiebot_core.ports.generation import GenerationGateway
from kiebot_core.ports.runtime import SystemClock, Uuid4Ids
from kiebot_core.ports.stars import StarsAccount
from kiebot_core.ports.storage import UnitOfWorkFactory
from kiebot_core.use_cases.catalog import LoadActiveRegistry
from kiebot_core.use_cases.generation import Pipeline, PipelineSettings
from kiebot_kie.embedded import open_kie_or_sandbox

__all__ = [  # the store's openers live in kiebot_cli.store (light to import); kept here too
    "LOCAL_CLAIM_TIMEOUT",
    "Ports",
    "open_bot_store",
    "open_gateway",
    "open_ports",
    "open_stars_account",
    "open_store",
]


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
