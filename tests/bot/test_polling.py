"""Polling mode: only the leader polls, and an update is confirmed only after it is stored."""

import asyncio
from contextlib import AsyncExitStack
from typing import Any

import aiohttp

from kiebot_core.ports.storage import UnitOfWorkFactory
from kiebot_pg.pool import open_pool
from kiebot_pg.uow import PgUnitOfWorkFactory
from tests.bot.test_webhook import answers
from tests.proxy import proxied
from tests.telegram.fake_bot_api import FakeBotApi
from tests.telegram.harness import RunningBot, running_bot


async def readyz(bot: RunningBot) -> dict[str, Any]:
    url = f"http://127.0.0.1:{bot.http_port}/readyz"
    async with aiohttp.ClientSession() as http, http.get(url) as response:
        body: dict[str, Any] = await response.json()
        return body


async def leaders(bots: list[RunningBot]) -> list[bool]:
    return [bool((await readyz(bot))["leader"]) for bot in bots]


async def test_updates_are_confirmed_only_once_they_are_stored(api: FakeBotApi, pg_dsn: str):
    async with (
        proxied(pg_dsn) as (proxy, through),
        open_pool(through) as pool,
        running_bot(api, PgUnitOfWorkFactory(pool), welcome_stars=0),
    ):
        user = api.user(4601)
        await user.send("/start")
        proxy.cut()
        update_id = await user.send("zzqpolled", wait=False)
        await asyncio.sleep(1.5)
        assert api.confirmed <= update_id, "confirmed while the store was unreachable"
        proxy.restore()
        texts = await answers(api, 4601, at_least=2)
        assert api.confirmed > update_id
        assert sum("zzqpolled" in text for text in texts) == 1, texts


async def wait_leader(bot: RunningBot, *, within_s: float) -> None:
    for _ in range(int(within_s * 10)):
        if (await readyz(bot))["leader"]:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"not the leader within {within_s} s")


async def test_one_instance_polls_and_another_takes_over_when_it_stops(
    api: FakeBotApi, pg_store: UnitOfWorkFactory
):
    async with AsyncExitStack() as second_stack:
        async with AsyncExitStack() as first_stack:
            first = await first_stack.enter_async_context(
                running_bot(api, pg_store, welcome_stars=0)
            )
            await wait_leader(first, within_s=5)
            second = await second_stack.enter_async_context(
                running_bot(api, pg_store, welcome_stars=0)
            )
            user = api.user(4602)
            await user.send("/start")
            await user.wait_text("Main menu")
            assert (await readyz(second))["ready"]
            assert await leaders([first, second]) == [True, False]
        # the leader stopped and gave the lease up: the other takes over at its next renewal
        await wait_leader(second, within_s=5)
        await user.send("/help")
        await user.wait_text("/start")
    assert not api.errors(409), "two instances polled at once"
