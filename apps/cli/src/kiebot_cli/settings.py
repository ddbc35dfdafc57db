"""The CLI's settings, read once from the environment."""

from collections.abc import Mapping
from pathlib import Path

import attrs
import platformdirs

from kiebot_core.domain.pricing import PriceSettings
from kiebot_core.domain.retention import Retention
from kiebot_core.domain.settings import price_settings_from_env, retention_from_env

DEFAULT_KIE_BASE_URL = "https://api.kie.ai"
DEFAULT_KIE_UPLOAD_BASE_URL = "https://kieai.redpandaai.co"


@attrs.frozen
class CliSettings:
    """Where the CLI keeps its data, which KIE and which Bot API it talks to (secrets hidden)."""

    home: Path
    database_url: str | None = attrs.field(default=None, repr=False)
    kie_api_key: str | None = attrs.field(default=None, repr=False)
    kie_base_url: str = DEFAULT_KIE_BASE_URL
    kie_upload_base_url: str = DEFAULT_KIE_UPLOAD_BASE_URL
    prices: PriceSettings = attrs.Factory(PriceSettings)
    telegram_bot_token: str | None = attrs.field(default=None, repr=False)
    """The bot's token, for the operator commands that call the Bot API."""
    telegram_api_base: str | None = None
    """Any Bot API server (``TELEGRAM_API_BASE``); None: the public one."""
    retention: Retention = attrs.Factory(Retention)
    """How long ``kiebot db prune`` keeps old records (the bot's ``KIEBOT_*_RETENTION_DAYS``)."""
    operator: str | None = None
    """Who runs operator commands, for the audit trail (``KIEBOT_OPERATOR``; default the OS
    user)."""
    redis_url: str | None = attrs.field(default=None, repr=False)
    """``REDIS_URL``: where the bot keeps wizard state (``kiebot users forget`` erases it)."""

    @property
    def sqlite_path(self) -> Path:
        """The local store: ``KIEBOT_HOME/kiebot.sqlite3``."""
        return self.home / "kiebot.sqlite3"

    @property
    def sandbox_dir(self) -> Path:
        """Where the embedded KIE sandbox keeps its tasks and files."""
        return self.home / "sandbox"

    @property
    def uses_sandbox(self) -> bool:
        """True without ``KIE_API_KEY``: the built-in KIE sandbox runs instead."""
        return not self.kie_api_key


def load_settings(env: Mapping[str, str]) -> CliSettings:
    """Read ``KIEBOT_HOME``, ``DATABASE_URL``, ``KIE_API_KEY``, ``KIE_BASE_URL``,
    ``KIE_UPLOAD_BASE_URL``, the price settings, ``TELEGRAM_BOT_TOKEN``,
    ``TELEGRAM_API_BASE``, the retention, ``KIEBOT_OPERATOR`` and whether ``REDIS_URL`` is
    set; raises ``SettingsError`` on bad values.
    """
    home = env.get("KIEBOT_HOME") or platformdirs.user_data_dir("kiebot", appauthor=False)
    return CliSettings(
        home=Path(home).expanduser(),
        database_url=env.get("DATABASE_URL") or None,
        kie_api_key=env.get("KIE_API_KEY") or None,
        kie_base_url=env.get("KIE_BASE_URL") or DEFAULT_KIE_BASE_URL,
        kie_upload_base_url=env.get("KIE_UPLOAD_BASE_URL") or DEFAULT_KIE_UPLOAD_BASE_URL,
        prices=price_settings_from_env(env),
        telegram_bot_token=(env.get("TELEGRAM_BOT_TOKEN") or "").strip() or None,
        telegram_api_base=(env.get("TELEGRAM_API_BASE") or "").strip() or None,
        retention=retention_from_env(env),
        operator=(env.get("KIEBOT_OPERATOR") or "").strip() or None,
        redis_url=(env.get("REDIS_URL") or "").strip() or None,
    )
