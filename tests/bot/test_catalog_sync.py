"""A catalog synced with ``kiebot models sync`` reaches every running bot instance at once."""

import asyncio
import time
from contextlib import AsyncExitStack

from typer.testing import CliRunner, Result

from kiebot_bot.runtime import run_bot
from kiebot_bot.wiring import BotRuntime, open_runtime
from kiebot_cli.main import make_app
from tests.catalog_files import GONE, NEW, newer, write
from tests.telegram.fake_bot_api import FakeBotApi
from tests.telegram.harness import settings_for

HEARD_WITHIN_S = 3.0


async def serves(runtime: BotRuntime, model_id: str) -> bool:
    return (await runtime.registry()).get(model_id) is not None


async def test_every_instance_serves_a_synced_catalog_at_once(
    api: FakeBotApi, empty_pg_dsn: str, tmp_path
):
    settings = settings_for(api, database_url=empty_pg_dsn)
    async with AsyncExitStack() as stack:
        first = await stack.enter_async_context(open_runtime(settings))
        second = await stack.enter_async_context(open_runtime(settings, migrate=False))
        for runtime in (first, second):
            runtime.registry.ttl_s = 3600  # only the notification may make them read again
            assert not await serves(runtime, NEW)
        stop = asyncio.Event()
        ready: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        serving = asyncio.create_task(
            run_bot(first, stop, polling_timeout_s=1, http_port=0, ready=ready)
        )
        try:
            await asyncio.wait_for(asyncio.shield(ready), 10)
            file = write(tmp_path / "models.json", newer())
            env = {"DATABASE_URL": empty_pg_dsn, "KIEBOT_HOME": str(tmp_path / "home")}
            result = await asyncio.to_thread(_run_cli, ["models", "sync", str(file), "--yes"], env)
            assert result.exit_code == 0, result.output
            synced_at = time.monotonic()
            for runtime in (first, second):
                while not await serves(runtime, NEW):
                    assert time.monotonic() - synced_at < HEARD_WITHIN_S, "not heard"
                    await asyncio.sleep(0.05)
                assert not await serves(runtime, GONE)
            user = api.user(language_code="en")
            await user.send("turbo")
            await user.wait_for(lambda: any(m.buttons() for m in user.bot_messages()))
            assert "Flux 2 Flex Turbo" in " ".join(user.last().labels())
        finally:
            stop.set()
            await serving


def _run_cli(args: list[str], env: dict[str, str]) -> Result:
    """``kiebot ARGS`` as an operator runs it, beside the bots."""
    return CliRunner().invoke(make_app(), args, env={"LANG": "C", "KIE_API_KEY": "", **env})
