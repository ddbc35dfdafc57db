"""No secret in the logs of the end-to-end suites: every record at DEBUG, checked as it is made.

``no_secrets_in_logs`` is autouse in tests/telegram and tests/e2e (their conftests import it).
For each test it lowers the root logger (and every logger set above it) to DEBUG, reads every
record any library makes — its message, its arguments, its traceback, its extra fields —
before any handler could redact it, and fails the test when one contains the fake Bot API's
token or the token's secret part, the KIE key the tests use, the webhook secret, or a Telegram
file URL (``/file/bot…``: it carries the token). The bot's own handler redacts what slips
through (``kiebot_bot.logs``); this guard makes sure nothing needs to.
"""

import contextlib
import logging
import re
import traceback
from collections.abc import Iterator

import pytest

from tests.telegram.fake_bot_api import DEFAULT_TOKEN
from tests.telegram.harness import KIE_TEST_KEY, WEBHOOK_TEST_SECRET

SECRETS: dict[str, str] = {
    "the bot token": DEFAULT_TOKEN,
    "the bot token's secret part": DEFAULT_TOKEN.split(":", 1)[1],
    "the KIE key": KIE_TEST_KEY,
    "the webhook secret": WEBHOOK_TEST_SECRET,
}
TELEGRAM_FILE_URL = re.compile(r"/file/bot", re.IGNORECASE)
MAX_REPORTED = 10
"""Leaks described in a failure (the first ones; the count says how many in all)."""

_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
}
"""The attributes every record has; the others are a call's ``extra`` fields."""


class SecretLoggedError(AssertionError):
    """A log record carried a secret or a Telegram file URL."""


def record_text(record: logging.LogRecord) -> str:
    """Everything of ``record`` a handler could write: message, arguments, traceback, extras."""
    parts = [str(record.msg)]
    try:
        parts.append(record.getMessage())
    except Exception as error:  # noqa: BLE001  # a malformed record: its parts are still read
        parts.append(f"<unformattable: {error!r}>")
    if record.args:
        parts.append(repr(record.args))
    if record.exc_info and record.exc_info[1] is not None:
        parts.append("".join(traceback.format_exception(record.exc_info[1])))
    parts.extend(text for text in (record.exc_text, record.stack_info) if text)
    parts.extend(f"{k}={v!r}" for k, v in vars(record).items() if k not in _STANDARD)
    return "\n".join(parts)


def leaks_in(text: str) -> list[str]:
    """The names of the secrets in ``text`` (and "a Telegram file URL")."""
    found = [name for name, secret in SECRETS.items() if secret in text]
    if TELEGRAM_FILE_URL.search(text):
        found.append("a Telegram file URL")
    return found


class LogGuard(logging.Handler):
    """A handler that notes every record carrying a secret (the records are not kept)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.leaks: list[str] = []
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        text = record_text(record)
        found = leaks_in(text)
        if not found:
            return
        self.count += 1
        if len(self.leaks) < MAX_REPORTED:
            where = f"{record.name} {record.levelname} ({record.pathname}:{record.lineno})"
            self.leaks.append(f"{', '.join(found)} in {where}:\n  {text[:600]!r}")

    def check(self) -> None:
        """Raise ``SecretLoggedError`` describing the leaks noted so far, if any."""
        if self.count:
            shown = "\n".join(self.leaks)
            raise SecretLoggedError(f"{self.count} log record(s) carry a secret:\n{shown}")

    def forget(self) -> None:
        """Drop the leaks noted so far (a test that logs one on purpose)."""
        self.leaks.clear()
        self.count = 0


@contextlib.contextmanager
def guarded() -> Iterator[LogGuard]:
    """Every record at DEBUG goes to a new ``LogGuard`` for the block (levels restored after)."""
    guard = LogGuard()
    root = logging.getLogger()
    lowered = {
        logger: logger.level
        for logger in root.manager.loggerDict.values()
        if isinstance(logger, logging.Logger) and logger.level > logging.DEBUG
    }
    root_level = root.level
    for logger in lowered:
        logger.setLevel(logging.DEBUG)
    root.setLevel(logging.DEBUG)
    root.addHandler(guard)
    try:
        yield guard
    finally:
        root.removeHandler(guard)
        root.setLevel(root_level)
        for logger, level in lowered.items():
            logger.setLevel(level)


@pytest.fixture(autouse=True)
def no_secrets_in_logs() -> Iterator[LogGuard]:
    """Capture every record at DEBUG for the test; fail it if one carried a secret."""
    with guarded() as guard:
        yield guard
    guard.check()
