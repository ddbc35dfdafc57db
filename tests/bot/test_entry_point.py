"""``kiebot-bot --polling`` as a process: PostgreSQL, the sandbox, the fake Bot API, SIGTERM."""

import asyncio
import os
import signal
import socket
import sys
from pathlib import Path

import aiohttp

from tests.telegram.fake_bot_api import FakeBotApi


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _ready(port: int, within_s: float = 20.0) -> dict[str, object]:
    deadline = asyncio.get_running_loop().time() + within_s
    async with aiohttp.ClientSession() as http:
        while True:
            try:
                async with http.get(f"http://127.0.0.1:{port}/readyz") as response:
                    body = await response.json()
                    if body.get("ready"):
                        return dict(body)
            except aiohttp.ClientError:
                pass
            assert asyncio.get_running_loop().time() < deadline, "the bot never got ready"
            await asyncio.sleep(0.1)


async def test_the_bot_process_serves_and_stops_on_sigterm(
    api: FakeBotApi, pg_dsn: str, tmp_path: Path
):
    port = _free_port()
    env = {
        **os.environ,
        "TELEGRAM_BOT_TOKEN": api.token,
        "TELEGRAM_API_BASE": api.base_url,
        "DATABASE_URL": pg_dsn,
        "PORT": str(port),
        "KIEBOT_HOME": str(tmp_path),
        "KIEBOT_SANDBOX_FAST": "1",
        "KIEBOT_WELCOME_STARS": "50",
    }
    env.pop("KIE_API_KEY", None)
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "kiebot_bot",
        "--polling",
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        body = await _ready(port)
        assert body["database"] is True
        assert body["leader"] is True
        assert body["migrations_current"] is True
        user = api.user()
        await user.send("/start", wait=False)
        await user.wait_text("50 ⭐ were added")
        process.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(process.wait(), 15)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    _, err = await process.communicate()
    log = err.decode()
    assert code == 0, log
    assert "KIE SANDBOX" in log
    assert api.token not in log
    assert api.token.split(":")[1] not in log
    assert not api.errors(400)
