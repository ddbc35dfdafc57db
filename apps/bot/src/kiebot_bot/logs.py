"""The bot's logs: one JSON object per line (structlog), with the correlation id, secrets redacted.

Every library logs through the standard ``logging`` module (aiogram, httpx, asyncpg, our own
packages); one handler renders each record as JSON::

    {"ts": "2026-…Z", "level": "info", "logger": "kiebot_kie.gateway",
     "event": "KIE task … created", "correlation_id": "cor_…"}

Before a line is written, every secret of the settings (bot token, KIE key, callback HMAC key,
webhook secret, database and Redis passwords) becomes ``***`` and every Telegram file URL
(``…/file/bot<token>/…``: it carries the bot token) becomes ``<telegram-file-url>``, wherever
they appear: in the message, its arguments, extra fields or a traceback.
"""

import contextlib
import logging
import re
import sys
from collections.abc import Iterator, Mapping, Sequence
from contextvars import ContextVar
from typing import IO, Any

import structlog
from structlog.typing import EventDict, Processor, WrappedLogger

from kiebot_core.domain.generation import Generation
from kiebot_core.ports.delivery import ResultDelivery
from kiebot_telegram.middlewares import current_correlation_id

REDACTED = "***"
TELEGRAM_FILE_URL = "<telegram-file-url>"

_FILE_URL = re.compile(r"""(?:https?://)?[^\s"'<>()]*/file/bot[^\s"'<>()]*""", re.IGNORECASE)
"""A Bot API file download URL (any server): ``<base>/file/bot<token>/<path>``."""
_TOKEN_IN_PATH = re.compile(r"(/bot)\d{3,}:[A-Za-z0-9_-]{20,}")
"""A bot token in a URL path (``/bot<token>/method``), even one the settings do not know."""
_QUIET_LOGGERS = ("aiogram.event",)
"""Loggers that say "update handled" per update at INFO: too chatty for production."""

_job_correlation: ContextVar[str | None] = ContextVar("kiebot_job_correlation", default=None)


class Redactor:
    """Takes secrets and Telegram file URLs out of text."""

    def __init__(self, secrets: Sequence[str]) -> None:
        # Longest first, so a secret containing another is replaced whole.
        self._secrets = sorted({secret for secret in secrets if secret}, key=len, reverse=True)

    def text(self, text: str) -> str:
        """``text`` with every secret and Telegram file URL replaced."""
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, REDACTED)
        text = _FILE_URL.sub(TELEGRAM_FILE_URL, text)
        return _TOKEN_IN_PATH.sub(rf"\1{REDACTED}", text)

    def value(self, value: object) -> object:
        """``value`` with its text redacted, inside mappings and sequences too."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, Mapping):
            return {key: self.value(item) for key, item in value.items()}
        if isinstance(value, list | tuple):
            return [self.value(item) for item in value]
        return value

    def event_dict(self, _: WrappedLogger, __: str, event: EventDict) -> EventDict:
        """A structlog processor: redact every value of the event."""
        return {key: self.value(item) for key, item in event.items()}


class RedactingFilter(logging.Filter):
    """Replaces every secret and Telegram file URL in a log record's message (any handler)."""

    def __init__(self, secrets: Sequence[str]) -> None:
        super().__init__()
        self._redactor = Redactor(secrets)

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        redacted = self._redactor.text(text)
        if redacted != text:
            record.msg, record.args = redacted, ()
        return True


def correlation_id() -> str | None:
    """The correlation id of the user action being handled here, if any.

    An update's (set while the dispatcher handles it), else a generation job's.
    """
    found = current_correlation_id()
    return found if found != "-" else _job_correlation.get()


@contextlib.contextmanager
def correlated(correlation: str) -> Iterator[None]:
    """Log with ``correlation`` as the correlation id for the block (a job's work)."""
    token = _job_correlation.set(correlation)
    try:
        yield
    finally:
        _job_correlation.reset(token)


def add_correlation_id(_: WrappedLogger, __: str, event: EventDict) -> EventDict:
    """A structlog processor: the current correlation id (null outside a user action)."""
    event.setdefault("correlation_id", correlation_id())
    return event


def _drop_color_message(_: WrappedLogger, __: str, event: EventDict) -> EventDict:
    event.pop("color_message", None)
    return event


class _RedactedJsonFormatter(structlog.stdlib.ProcessorFormatter):
    """structlog's formatter, with the rendered line redacted once more (escaped forms)."""

    def __init__(self, redactor: Redactor, **options: Any) -> None:
        super().__init__(**options)
        self._redactor = redactor

    def format(self, record: logging.LogRecord) -> str:
        return self._redactor.text(super().format(record))


def json_formatter(secrets: Sequence[str]) -> logging.Formatter:
    """The formatter rendering any ``logging`` record as one redacted JSON line."""
    redactor = Redactor(secrets)
    shared: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True, key="ts"),
        structlog.stdlib.ExtraAdder(),
        add_correlation_id,
        _drop_color_message,
    ]
    return _RedactedJsonFormatter(
        redactor,
        foreign_pre_chain=shared,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            redactor.event_dict,
            structlog.processors.JSONRenderer(default=str),
        ],
    )


def configure_logging(
    secrets: Sequence[str], level: int = logging.INFO, stream: IO[str] | None = None
) -> logging.Handler:
    """JSON lines on ``stream`` (stderr) for every logger, secrets redacted; the handler."""
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.setFormatter(json_formatter(secrets))
    handler.addFilter(RedactingFilter(secrets))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in _QUIET_LOGGERS:
        logging.getLogger(name).setLevel(max(level, logging.WARNING))
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.stdlib.filter_by_level,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    return handler


class CorrelatedDelivery(ResultDelivery):
    """A ``ResultDelivery`` whose logs carry the generation's correlation id."""

    def __init__(self, inner: ResultDelivery) -> None:
        self._inner = inner

    async def deliver(self, generation: Generation) -> tuple[str, ...]:
        with correlated(generation.correlation_id):
            return await self._inner.deliver(generation)

    async def report_failure(self, generation: Generation) -> None:
        with correlated(generation.correlation_id):
            await self._inner.report_failure(generation)

    async def report_refund(self, generation: Generation, stars: int, reason: str) -> None:
        with correlated(generation.correlation_id):
            await self._inner.report_refund(generation, stars, reason)
