import asyncio
import json
import time

import aiohttp
import attrs

from kiebot_bot.health import Readiness
from kiebot_core.testing.memory import MemoryUnitOfWorkFactory
from kiebot_kie.callbacks import signature_headers
from tests.telegram.fake_bot_api import FakeBotApi
from tests.telegram.harness import running_bot


async def _get(port: int, path: str) -> tuple[int, dict[str, object]]:
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"http://127.0.0.1:{port}{path}") as response,
    ):
        return response.status, await response.json()


async def test_healthz_and_readyz(api: FakeBotApi):
    async with running_bot(api, MemoryUnitOfWorkFactory()) as bot:
        assert await _get(bot.http_port, "/healthz") == (200, {"ok": True})
        status, body = await _get(bot.http_port, "/readyz")
        assert status == 200
        assert body["ready"] is True
        assert body["database"] is True
        assert body["leader"] is True
        assert body["handling"] is True
        assert body["sandbox"] is True
        assert body["redis"] is None, "Redis is not used"
        assert body["migrations_current"] is None, "the memory store has no schema"
        assert body["queue_age_s"] == 0.0


async def test_kie_callbacks_are_verified_then_refetched(api: FakeBotApi):
    async with running_bot(api, MemoryUnitOfWorkFactory(), kie_callback_hmac_key="k3y") as bot:
        url = f"http://127.0.0.1:{bot.http_port}/kie/callback"
        body = json.dumps({"code": 200, "data": {"taskId": "task-unknown", "state": "success"}})
        async with aiohttp.ClientSession() as http:
            async with http.post(url, data=body) as response:
                assert response.status == 401
            headers = signature_headers("task-unknown", "k3y", now_s=time.time())
            async with http.post(url, data=body, headers=headers) as response:
                assert response.status == 200
                assert await response.json() == {"ok": True, "known": False}


async def test_a_leader_whose_polls_go_unanswered_is_not_ready():
    readiness = Readiness(leader=True, poll_quiet_limit_s=0.05)
    assert readiness.polling_ok, "not polling yet"
    readiness.polled()
    assert readiness.polling_ok
    await asyncio.sleep(0.1)
    assert [readiness.polling_ok, attrs.evolve(readiness, leader=False).polling_ok] == [
        False,
        True,
    ], "only the leader polls"
