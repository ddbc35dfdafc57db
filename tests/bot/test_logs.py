"""The bot's logs: JSON lines with the correlation id; never a secret or a Telegram file URL."""

import io
import json
import logging
import re
from collections.abc import Iterator

import aiohttp
import pytest
import structlog

from kiebot_bot.logs import configure_logging, correlated
from kiebot_core.domain.generation import GenerationState
from kiebot_core.testing.memory import MemoryUnitOfWorkFactory
from tests.bot.metrics_support import generate, scrape, top_up
from tests.telegram.fake_bot_api import FakeBotApi
from tests.telegram.flows import PHOTO, open_model, wait_finished
from tests.telegram.harness import WEBHOOK_PATH, running_bot, settings_for
from tests.telegram.test_no_silence import FlakyStore

KIE_KEY = "kie-Key-7c1e0b9d4a"
WEBHOOK_SECRET = "hook-Secret_93af27"  # noqa: S105  # made up for the test
TELEGRAM_FILE = re.compile(r"/file/bot", re.IGNORECASE)


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    """Where the bot's log lines go during the test (the root logger restored after)."""
    root, quiet = logging.getLogger(), logging.getLogger("aiogram.event")
    handlers, level, quiet_level = root.handlers[:], root.level, quiet.level
    stream = io.StringIO()
    yield stream
    root.handlers[:] = handlers
    root.setLevel(level)
    quiet.setLevel(quiet_level)
    structlog.reset_defaults()


def lines(stream: io.StringIO) -> list[dict[str, object]]:
    """Every line written, parsed: each must be one JSON object."""
    parsed = []
    for line in stream.getvalue().splitlines():
        record = json.loads(line)
        assert isinstance(record, dict), line
        parsed.append(record)
    return parsed


def test_a_record_is_one_json_line_with_the_secrets_redacted(captured: io.StringIO):
    token = "123456789:AAH-secretTokenPart_0123456789abcdef"  # noqa: S105  # made up
    configure_logging([token, "kie-k3y", "pa55word"], logging.DEBUG, captured)
    log = logging.getLogger("kiebot_test")
    file_url = f"https://api.telegram.org/file/bot{token}/photos/file_7.jpg"
    with correlated("cor_abc"):
        log.info("calling %s/bot%s/getMe with %s", "https://api.telegram.org", token, "kie-k3y")
        log.warning("downloaded %s", file_url, extra={"password": "pa55word"})
    try:
        _fail(f"failed on {file_url} with key kie-k3y")
    except RuntimeError:
        log.exception("boom")
    log.info("a token the settings do not know: /bot987654321:%s/sendMessage", "x" * 35)
    text = captured.getvalue()
    for secret in (token, "kie-k3y", "pa55word", "x" * 35):
        assert secret not in text
    assert not TELEGRAM_FILE.search(text)
    first, second, third, fourth = lines(captured)
    assert first["event"] == "calling https://api.telegram.org/bot***/getMe with ***"
    assert first["level"] == "info"
    assert first["logger"] == "kiebot_test"
    assert first["correlation_id"] == "cor_abc"
    assert isinstance(first["ts"], str)
    assert first["ts"].endswith("Z")
    assert second["event"] == "downloaded <telegram-file-url>"
    assert second["level"] == "warning"
    assert second["password"] == "***"  # noqa: S105  # the redaction mark
    assert third["correlation_id"] is None
    assert "RuntimeError: failed on <telegram-file-url> with key ***" in str(third["exception"])
    assert fourth["event"] == "a token the settings do not know: /bot***/sendMessage"


def _fail(message: str) -> None:
    raise RuntimeError(message)


async def test_an_end_to_end_run_logs_no_secret_and_no_telegram_file_url(
    api: FakeBotApi, captured: io.StringIO
):
    """A generation from an uploaded photo, a payment, webhook updates (one with a wrong
    secret), a KIE failure and a failing handler, all logged at DEBUG by every library."""
    secrets = settings_for(api, kie_api_key=KIE_KEY, webhook_secret=WEBHOOK_SECRET).secrets
    assert set(secrets) >= {api.token, KIE_KEY, WEBHOOK_SECRET}
    configure_logging(secrets, logging.DEBUG, captured)
    logging.getLogger("aiogram.event").setLevel(logging.DEBUG)
    store = FlakyStore(MemoryUnitOfWorkFactory())
    async with running_bot(
        api, store, webhook=True, kie_api_key=KIE_KEY, webhook_secret=WEBHOOK_SECRET
    ) as bot:
        user = api.user()
        await user.send("/start")
        await open_model(user, "qwen/image-edit")
        await user.send_photo(PHOTO)
        await user.send("make it a watercolor")
        await user.press("⏩ Skip optional")
        await user.press("✅ Confirm")
        edited = await wait_finished(bot, user)
        assert edited.state is GenerationState.SUCCEEDED, user.transcript()
        failed = await generate(bot, user, "[fail] a fox", count=2)
        assert failed.state is GenerationState.FAILED
        await top_up(user)
        store.failures.append(RuntimeError(f"boom with {KIE_KEY}"))
        await user.send("/balance")
        async with (
            aiohttp.ClientSession() as http,
            http.post(
                f"http://127.0.0.1:{bot.http_port}{WEBHOOK_PATH}",
                json={"update_id": 1},
                headers={"X-Telegram-Bot-Api-Secret-Token": "wrong"},
            ) as refused,
        ):
            assert refused.status == 401
        await scrape(bot.http_port)
    text = captured.getvalue()
    for secret in secrets:
        assert secret not in text, secret
    assert not TELEGRAM_FILE.search(text)
    records = lines(captured)
    loggers = {str(record["logger"]) for record in records}
    assert {"httpx", "aiogram.event"} <= loggers, loggers
    assert any(name.startswith("kiebot_") for name in loggers), loggers
    assert any(record["level"] == "debug" for record in records)
    assert any(record["level"] == "error" for record in records), "the failing handler"
    correlated_ids = {r["correlation_id"] for r in records if r["correlation_id"]}
    assert any(str(c).startswith("cor_") for c in correlated_ids)
    # A job's lines carry the correlation id of the update that started its generation.
    assert edited.correlation_id in correlated_ids
