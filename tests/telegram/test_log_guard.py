"""The guard of this suite's logs catches every secret, wherever a record carries it."""

import logging

import pytest

from tests.log_guard import SECRETS, LogGuard, SecretLoggedError, guarded
from tests.telegram.fake_bot_api import DEFAULT_TOKEN, FakeBotApi
from tests.telegram.harness import KIE_TEST_KEY, WEBHOOK_TEST_SECRET

FILE_URL = f"http://127.0.0.1:8081/file/bot{DEFAULT_TOKEN}/photos/file_1.jpg"


def _raise(message: str) -> None:
    raise RuntimeError(message)


def caught(guard: LogGuard, log: logging.Logger) -> str:
    """What the guard's check says about what was logged; the guard is cleared after."""
    with pytest.raises(SecretLoggedError) as raised:
        guard.check()
    guard.forget()
    guard.check()  # nothing left: the test itself passes
    message = str(raised.value)
    assert log.name in message
    return message


def test_the_secrets_are_the_ones_the_harness_uses():
    assert FakeBotApi().token == DEFAULT_TOKEN
    assert set(SECRETS.values()) == {
        DEFAULT_TOKEN,
        DEFAULT_TOKEN.split(":", 1)[1],
        KIE_TEST_KEY,
        WEBHOOK_TEST_SECRET,
    }


def test_a_secret_logged_anywhere_in_a_record_fails_the_test(no_secrets_in_logs: LogGuard):
    guard, log = no_secrets_in_logs, logging.getLogger("kiebot_test.leak")
    log.info("nothing secret here: bot id 123456789, /file/ and a key")
    guard.check()

    log.debug("calling /bot%s/getMe", DEFAULT_TOKEN)  # at DEBUG, in the arguments
    assert "the bot token" in caught(guard, log)
    secret_part = DEFAULT_TOKEN.split(":", 1)[1]
    log.warning(secret_part)  # in the message itself
    assert "the bot token's secret part" in caught(guard, log)
    log.info("KIE answered", extra={"authorization": f"Bearer {KIE_TEST_KEY}"})
    assert "the KIE key" in caught(guard, log)
    try:
        _raise(f"wrong secret: expected {WEBHOOK_TEST_SECRET}")
    except RuntimeError:
        log.exception("webhook refused")  # in the traceback only
    assert "the webhook secret" in caught(guard, log)
    log.error("download failed: %s", FILE_URL.replace(DEFAULT_TOKEN, "<token>"))
    assert "a Telegram file URL" in caught(guard, log)


def test_a_logger_set_above_debug_is_read_at_debug_too(no_secrets_in_logs: LogGuard):
    quiet = logging.getLogger("kiebot_test.quiet")
    quiet.setLevel(logging.WARNING)
    with guarded() as guard:  # as the fixture does before each test
        quiet.debug("token %s", DEFAULT_TOKEN)
        assert logging.getLogger().level == logging.DEBUG
    assert "the bot token" in caught(guard, quiet)
    assert quiet.level == logging.WARNING
    assert "the bot token" in caught(no_secrets_in_logs, quiet)  # the test's own guard too
