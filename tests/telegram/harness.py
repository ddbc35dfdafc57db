"""The real bot (the composition root of kiebot-bot) against the fake Bot API and the KIE sandbox.

Storage is whatever the test passes: the memory fake here, PostgreSQL in tests/bot.
"""

import asyncio
import functools
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import attrs

from kiebot_bot.runtime import run_bot
from kiebot_bot.settings import BotSettings, Mode
from kiebot_bot.wiring import BotRuntime, compose, open_bot
from kiebot_core.domain.ids import UserId
from kiebot_core.domain.ledger import Balance
from kiebot_core.ports.limits import RateLimiter
from kiebot_core.ports.storage import UnitOfWorkFactory
from kiebot_kie.gateway import open_kie_gateway
from kiebot_kie.sandbox.server import Sandbox, run_sandbox
from kiebot_redis.fsm import FSM_PREFIX
from tests.redis.support import RedisSpace
from tests.telegram.fake_bot_api import FakeBotApi

POLL_SCALE = 0.05
JOB_INTERVAL_S = 0.02
WEBHOOK_PATH = "/tg/hook"
WEBHOOK_TEST_SECRET = "test-secret_1"  # noqa: S105  # a made-up webhook secret
KIE_TEST_KEY = "kie-test-key_5c2e91"
"""The KIE API key the tests give the gateway (the sandbox accepts any): never logged."""


def free_port() -> int:
    """A loopback port nobody listens on right now (the webhook URL must be known first)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@attrs.define
class RunningBot:
    api: FakeBotApi
    runtime: BotRuntime
    sandbox: Sandbox
    http_port: int = 0

    @property
    def store(self) -> UnitOfWorkFactory:
        return self.runtime.store

    async def balance(self, user_id: int) -> Balance:
        async with self.store() as uow:
            return await uow.ledger.balance(UserId(user_id))


def settings_for(api: FakeBotApi, **overrides: object) -> BotSettings:
    values: dict[str, object] = {
        "telegram_bot_token": api.token,
        "telegram_api_base": api.base_url,
        "database_url": "postgresql://unused@127.0.0.1/unused",
        "use_sandbox": True,
        "sandbox_fast": True,
        "welcome_stars": 100,
        "port": 0,
    }
    values.update(overrides)
    return BotSettings(**values)  # type: ignore[arg-type]


@asynccontextmanager
async def running_bot(
    api: FakeBotApi,
    store: UnitOfWorkFactory,
    *,
    sandbox: Sandbox | None = None,
    webhook: bool = False,
    limiter: RateLimiter | None = None,
    redis: RedisSpace | None = None,
    **settings: object,
) -> AsyncIterator[RunningBot]:
    """Run the bot (polling, inbox, jobs, HTTP) until the block ends.

    With ``webhook``, in webhook mode instead: the fake Bot API posts the updates to the
    bot's HTTP port (``WEBHOOK_SECRET`` is ``WEBHOOK_TEST_SECRET``). Either way updates are
    stored in the inbox before they are confirmed, and handled after. ``limiter`` limits each
    user's updates (by default they are not limited); with ``redis``, FSM state is kept there,
    under that test's prefix.
    """
    api.handled = functools.partial(_handled, store)
    if webhook:
        port = free_port()
        settings = {
            "mode": Mode.WEBHOOK,
            "port": port,
            "webhook_url": f"http://127.0.0.1:{port}{WEBHOOK_PATH}",
            "webhook_secret": WEBHOOK_TEST_SECRET,
            **settings,
        }
    config = settings_for(api, **settings)
    async with (
        run_sandbox(fast=True) if sandbox is None else _given(sandbox) as kie,
        open_kie_gateway(
            api_key=config.kie_api_key or KIE_TEST_KEY,
            base_url=kie.base_url,
            upload_base_url=kie.upload_base_url,
            poll_scale=POLL_SCALE,
        ) as gateway,
    ):
        bot = open_bot(config)
        runtime = compose(
            config,
            store=store,
            gateway=gateway,
            bot=bot,
            limiter=limiter,
            redis=None if redis is None else redis.client,
            fsm_prefix=FSM_PREFIX if redis is None else f"{redis.prefix}fsm",
        )
        stop = asyncio.Event()
        ready: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        serving = run_bot(
            runtime,
            stop,
            job_interval_s=JOB_INTERVAL_S,
            polling_timeout_s=2,
            http_port=None if webhook else 0,
            ready=ready,
        )
        task = asyncio.create_task(serving)
        try:
            async with asyncio.timeout(10):
                either: list[asyncio.Future[Any]] = [task, ready]
                await asyncio.wait(either, return_when=asyncio.FIRST_COMPLETED)
            if task.done():
                task.result()
            yield RunningBot(api, runtime, kie, ready.result())
        finally:
            stop.set()
            await task
            await bot.session.close()


async def _handled(store: UnitOfWorkFactory, update_id: int) -> bool:
    """True once the inbox has no live update ``update_id`` (it was handled, or parked)."""
    async with store() as uow:
        live = await uow.inbox.pending(limit=10_000)
    return all(update.update_id != update_id for update in live)


@asynccontextmanager
async def _given(sandbox: Sandbox) -> AsyncIterator[Sandbox]:
    yield sandbox
