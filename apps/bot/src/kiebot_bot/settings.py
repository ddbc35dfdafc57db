"""The bot's settings, read once from the environment into a frozen value (secrets hidden)."""

import enum
import re
from collections.abc import Mapping
from datetime import timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from urllib.parse import urlsplit

import attrs

from kiebot_core.domain.breakers import BreakerSettings
from kiebot_core.domain.credits import DEFAULT_ALERT_BELOW
from kiebot_core.domain.errors import SettingsError
from kiebot_core.domain.generation import Deadlines
from kiebot_core.domain.payments import PaymentSettings
from kiebot_core.domain.pricing import PriceSettings
from kiebot_core.domain.promotions import FreeTier
from kiebot_core.domain.registry import load_registry
from kiebot_core.domain.retention import Retention
from kiebot_core.domain.settings import (
    free_tier_from_env,
    payment_settings_from_env,
    price_settings_from_env,
    retention_from_env,
    whole_number,
)

DEFAULT_KIE_BASE_URL = "https://api.kie.ai"
DEFAULT_KIE_UPLOAD_BASE_URL = "https://kieai.redpandaai.co"
_DURATION = re.compile(r"^\s*(\d+)\s*([smh]?)\s*$")
_UNIT_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600}
_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"", "0", "false", "no", "off"})


class Mode(enum.StrEnum):
    """How the bot receives updates."""

    POLLING = "polling"
    WEBHOOK = "webhook"


@attrs.frozen(kw_only=True)
class BotSettings:
    """Everything ``kiebot-bot`` reads from the environment."""

    mode: Mode = Mode.POLLING
    telegram_bot_token: str = attrs.field(repr=False)
    telegram_api_base: str | None = None
    """Any Bot API server (``TELEGRAM_API_BASE``); None: the public one."""
    database_url: str = attrs.field(repr=False)
    kie_api_key: str | None = attrs.field(default=None, repr=False)
    kie_base_url: str = DEFAULT_KIE_BASE_URL
    kie_upload_base_url: str = DEFAULT_KIE_UPLOAD_BASE_URL
    kie_callback_hmac_key: str | None = attrs.field(default=None, repr=False)
    use_sandbox: bool = False
    sandbox_dir: Path | None = None
    sandbox_fast: bool = False
    public_base_url: str | None = None
    webhook_url: str | None = None
    """Where Telegram posts updates in webhook mode (``WEBHOOK_URL``; its path is served)."""
    webhook_secret: str | None = attrs.field(default=None, repr=False)
    """``WEBHOOK_SECRET``: Telegram sends it with every update; others get 401."""
    host: str = "127.0.0.1"
    port: int = 8080
    prices: PriceSettings = attrs.Factory(PriceSettings)
    payments: PaymentSettings = attrs.Factory(PaymentSettings)
    deadlines: Deadlines = attrs.Factory(Deadlines)
    welcome_stars: int = 0
    max_concurrent: int = 3
    updates_per_minute: int = 60
    """Updates of one user handled per minute (``KIEBOT_USER_UPDATES_PER_MINUTE``)."""
    redis_url: str | None = attrs.field(default=None, repr=False)
    """``REDIS_URL``: FSM state and rate limits in Redis; None: both in PostgreSQL."""
    admin_ids: frozenset[int] = frozenset()
    free_tier: FreeTier = attrs.Factory(FreeTier)
    retention: Retention = attrs.Factory(Retention)
    """How long the leader keeps old events, processed updates and unpaid orders."""
    breaker: BreakerSettings = attrs.Factory(BreakerSettings)
    """When a model's burst of KIE failures switches it off (``KIEBOT_BREAKER_*``)."""
    credits_alert: Decimal = DEFAULT_ALERT_BELOW
    """KIE credits below which the admins are told (``KIEBOT_KIE_CREDITS_ALERT``)."""
    credits_check: timedelta = timedelta(minutes=5)
    """How often the leader checks the KIE credits (``KIEBOT_KIE_CREDITS_CHECK``)."""
    broadcast_per_second: float = 25.0
    """Broadcast messages a second at most (``KIEBOT_BROADCAST_PER_SECOND``)."""

    @property
    def secrets(self) -> tuple[str, ...]:
        """Values that must never appear in a log line."""
        values = (
            self.telegram_bot_token,
            self.kie_api_key,
            self.kie_callback_hmac_key,
            self.webhook_secret,
        )
        found = [value for value in values if value]
        for url in (self.database_url, self.redis_url or ""):
            password = re.search(r"://[^:/@]*:([^@]+)@", url)
            if password:
                found.append(password.group(1))
        return tuple(found)

    @property
    def callback_url(self) -> str | None:
        """Where KIE posts task callbacks (needs ``PUBLIC_BASE_URL``)."""
        if not self.public_base_url:
            return None
        return self.public_base_url.rstrip("/") + "/kie/callback"


def _required(env: Mapping[str, str], name: str) -> str:
    value = (env.get(name) or "").strip()
    if not value:
        raise SettingsError(name, "is not set")
    return value


def _optional(env: Mapping[str, str], name: str) -> str | None:
    return (env.get(name) or "").strip() or None


def _flag(env: Mapping[str, str], name: str) -> bool:
    raw = (env.get(name) or "").strip().lower()
    if raw in _TRUE:
        return True
    if raw in _FALSE:
        return False
    raise SettingsError(name, f"expected 1 or 0, got {raw!r}")


def _duration(env: Mapping[str, str], name: str, default: timedelta) -> timedelta:
    raw = env.get(name) or ""
    if not raw.strip():
        return default
    match = _DURATION.match(raw)
    if match is None or int(match.group(1)) == 0:
        raise SettingsError(name, f"expected a duration like 15m, 900s or 1h, got {raw!r}")
    return timedelta(seconds=int(match.group(1)) * _UNIT_SECONDS[match.group(2)])


MAX_BROADCAST_PER_SECOND = 30
"""Telegram's bulk-message limit: about 30 messages a second per bot."""


def _credits_alert(env: Mapping[str, str]) -> Decimal:
    raw = (env.get("KIEBOT_KIE_CREDITS_ALERT") or "").strip()
    if not raw:
        return DEFAULT_ALERT_BELOW
    try:
        value = Decimal(raw)
    except InvalidOperation:
        raise SettingsError(
            "KIEBOT_KIE_CREDITS_ALERT", f"expected a number, got {raw!r}"
        ) from None
    if not value.is_finite() or value < 0:
        raise SettingsError("KIEBOT_KIE_CREDITS_ALERT", "expected a number of credits, 0 or more")
    return value


def _breaker(env: Mapping[str, str]) -> BreakerSettings:
    defaults = BreakerSettings()
    return BreakerSettings(
        failures=whole_number(env, "KIEBOT_BREAKER_FAILURES", defaults.failures, minimum=1),
        window=_duration(env, "KIEBOT_BREAKER_WINDOW", defaults.window),
        cooldown=_duration(env, "KIEBOT_BREAKER_COOLDOWN", defaults.cooldown),
    )


def _broadcast_rate(env: Mapping[str, str]) -> int:
    rate = whole_number(env, "KIEBOT_BROADCAST_PER_SECOND", 25, minimum=1)
    if rate > MAX_BROADCAST_PER_SECOND:
        raise SettingsError(
            "KIEBOT_BROADCAST_PER_SECOND",
            f"must be at most {MAX_BROADCAST_PER_SECOND} (Telegram's limit for bulk messages)",
        )
    return rate


def _admins(env: Mapping[str, str]) -> frozenset[int]:
    raw = env.get("ADMIN_IDS") or ""
    try:
        return frozenset(int(part) for part in re.split(r"[,\s]+", raw.strip()) if part)
    except ValueError:
        raise SettingsError(
            "ADMIN_IDS", "expected Telegram user ids separated by commas"
        ) from None


def _redis_url(env: Mapping[str, str]) -> str | None:
    url = _optional(env, "REDIS_URL")
    if url is None:
        return None
    parts = urlsplit(url)
    if parts.scheme not in {"redis", "rediss"}:
        raise SettingsError("REDIS_URL", "must be a redis:// or rediss:// URL")
    try:
        parts.port  # noqa: B018  # parsing the port is the check
    except ValueError:
        raise SettingsError("REDIS_URL", "has a malformed port") from None
    if not parts.hostname:
        raise SettingsError("REDIS_URL", "names no host")
    return url


_SECRET_TOKEN = re.compile(r"^[A-Za-z0-9_-]{1,256}$")
"""What Telegram accepts as a webhook's secret token."""


def _webhook(env: Mapping[str, str], mode: Mode) -> tuple[str | None, str | None]:
    url, secret = _optional(env, "WEBHOOK_URL"), _optional(env, "WEBHOOK_SECRET")
    if mode is not Mode.WEBHOOK:
        return url, secret
    if url is None:
        raise SettingsError("WEBHOOK_URL", "is not set (required in webhook mode)")
    if not url.startswith(("https://", "http://")):
        raise SettingsError("WEBHOOK_URL", "must be an https:// URL")
    if secret is None:
        raise SettingsError("WEBHOOK_SECRET", "is not set (required in webhook mode)")
    if not _SECRET_TOKEN.fullmatch(secret):
        raise SettingsError("WEBHOOK_SECRET", "must be 1-256 of A-Z a-z 0-9 _ -")
    return url, secret


def load_settings(env: Mapping[str, str], mode: Mode = Mode.POLLING) -> BotSettings:
    """Read the settings; raises ``SettingsError`` naming the first missing or bad variable.

    The KIE sandbox is used with ``KIEBOT_SANDBOX=1``, and in polling mode whenever
    ``KIE_API_KEY`` is unset.
    """
    token = _required(env, "TELEGRAM_BOT_TOKEN")
    database_url = _required(env, "DATABASE_URL")
    kie_api_key = _optional(env, "KIE_API_KEY")
    use_sandbox = _flag(env, "KIEBOT_SANDBOX") or (mode is Mode.POLLING and kie_api_key is None)
    if mode is Mode.WEBHOOK and not use_sandbox and kie_api_key is None:
        raise SettingsError("KIE_API_KEY", "is not set (required in webhook mode)")
    webhook_url, webhook_secret = _webhook(env, mode)
    home = _optional(env, "KIEBOT_HOME")
    defaults = Deadlines()
    prices = price_settings_from_env(env)
    return BotSettings(
        mode=mode,
        telegram_bot_token=token,
        telegram_api_base=_optional(env, "TELEGRAM_API_BASE"),
        database_url=database_url,
        kie_api_key=kie_api_key,
        kie_base_url=_optional(env, "KIE_BASE_URL") or DEFAULT_KIE_BASE_URL,
        kie_upload_base_url=_optional(env, "KIE_UPLOAD_BASE_URL") or DEFAULT_KIE_UPLOAD_BASE_URL,
        kie_callback_hmac_key=_optional(env, "KIE_CALLBACK_HMAC_KEY"),
        use_sandbox=use_sandbox,
        sandbox_dir=Path(home).expanduser() / "sandbox" if home else None,
        sandbox_fast=_flag(env, "KIEBOT_SANDBOX_FAST"),
        public_base_url=_optional(env, "PUBLIC_BASE_URL"),
        webhook_url=webhook_url,
        webhook_secret=webhook_secret,
        host=_optional(env, "HOST") or ("127.0.0.1" if mode is Mode.POLLING else "0.0.0.0"),  # noqa: S104  # webhook mode serves the world
        port=whole_number(env, "PORT", 8080, minimum=0),
        prices=prices,
        payments=payment_settings_from_env(env),
        deadlines=Deadlines(
            image=_duration(env, "KIEBOT_DEADLINE_IMAGE", defaults.image),
            video=_duration(env, "KIEBOT_DEADLINE_VIDEO", defaults.video),
            audio=_duration(env, "KIEBOT_DEADLINE_AUDIO", defaults.audio),
        ),
        welcome_stars=whole_number(env, "KIEBOT_WELCOME_STARS", 0),
        max_concurrent=whole_number(env, "KIEBOT_USER_CONCURRENT_GENERATIONS", 3, minimum=1),
        updates_per_minute=whole_number(env, "KIEBOT_USER_UPDATES_PER_MINUTE", 60, minimum=1),
        redis_url=_redis_url(env),
        admin_ids=_admins(env),
        free_tier=free_tier_from_env(env, load_registry(), prices),
        retention=retention_from_env(env),
        breaker=_breaker(env),
        credits_alert=_credits_alert(env),
        credits_check=_duration(env, "KIEBOT_KIE_CREDITS_CHECK", timedelta(minutes=5)),
        broadcast_per_second=_broadcast_rate(env),
    )
