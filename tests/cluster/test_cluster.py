"""Real ``kiebot-bot --webhook`` processes behind the round-robin proxy (tests/cluster/harness)."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import aiohttp
from aiohttp import web

from tests.cluster.harness import (
    RoundRobinProxy,
    random_user_base,
    round_robin_proxy,
    start_cluster,
)
from tests.telegram.harness import free_port

USERS = 20


@asynccontextmanager
async def backend(name: str, port: int = 0) -> AsyncIterator[int]:
    """A tiny HTTP server answering its name; its port."""

    async def hello(_: web.Request) -> web.Response:
        return web.Response(text=name)

    app = web.Application()
    app.router.add_get("/", hello)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    try:
        yield site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    finally:
        await runner.cleanup()


async def fetch(proxy: RoundRobinProxy) -> tuple[int, str]:
    # A new connection per request: the proxy balances connections.
    connector = aiohttp.TCPConnector(force_close=True)
    timeout = aiohttp.ClientTimeout(total=5)
    async with (
        aiohttp.ClientSession(connector=connector, timeout=timeout) as http,
        http.get(proxy.url + "/") as response,
    ):
        return response.status, await response.text()


async def test_the_proxy_rotates_skips_a_dead_backend_and_answers_502_when_none_is_up():
    dead = free_port()
    async with backend("a") as a, backend("b") as b, round_robin_proxy([a, dead, b]) as proxy:
        answers = [await fetch(proxy) for _ in range(6)]
        assert sorted(answers) == [(200, "a")] * 3 + [(200, "b")] * 3
        assert proxy.refused[dead] >= 2
        assert proxy.joined == {a: 3, b: 3}
    async with round_robin_proxy([dead]) as proxy:
        assert await fetch(proxy) == (502, "no instance is reachable")
        assert proxy.unavailable == 1


async def test_two_instances_answer_every_update_once(pg_dsn: str, tmp_path: Path):
    async with start_cluster(pg_dsn, tmp_path, instances=2) as cluster:
        api = cluster.api
        base = random_user_base()
        users = [api.user(base + n, f"User{n}", "en") for n in range(USERS)]
        for user in users:
            await user.send("/start", wait=False)
            await user.send(f"zzq{user.id}", wait=False)

        await cluster.wait_until(
            lambda: all(len(user.bot_messages()) >= 2 for user in users), within_s=45
        )
        await api.settle(quiet=0.5)

        for user in users:
            texts = [message.shown for message in user.bot_messages()]
            why = f"{user.transcript()}\n{cluster.logs()}"
            assert len(texts) == 2, why
            assert "Main menu" in texts[0], why
            assert f"«zzq{user.id}»" in texts[1], why
        assert not api.errors(400), [(c.method, c.description) for c in api.errors(400)]
        assert api.webhook_url == cluster.webhook_url
        states = await cluster.readiness()
        assert all(state is not None and state.ready for state in states.values()), states
        leader = await cluster.wait_leader()
        assert leader in cluster.bots
        # Both instances took webhook connections through the proxy.
        assert all(cluster.proxy.joined[bot.port] > 0 for bot in cluster.bots), (
            cluster.proxy.joined
        )
    assert [bot.exit_codes for bot in cluster.bots] == [[0], [0]], cluster.logs()
