import logging

import pytest

from kiebot_bot.__main__ import main
from kiebot_bot.logs import RedactingFilter
from kiebot_bot.settings import Mode, load_settings
from kiebot_bot.wiring import open_bot
from kiebot_core.domain.errors import SettingsError

TOKEN = "123456789:SECRET-token-value"  # noqa: S105  # a made-up token
BASE = {"TELEGRAM_BOT_TOKEN": TOKEN, "DATABASE_URL": "postgresql://kiebot:pa55word@db/kiebot"}


@pytest.mark.parametrize("missing", ["TELEGRAM_BOT_TOKEN", "DATABASE_URL"])
def test_a_missing_required_setting_is_named(missing: str):
    env = {name: value for name, value in BASE.items() if name != missing}
    with pytest.raises(SettingsError) as caught:
        load_settings(env)
    assert caught.value.variable == missing


def test_main_stops_with_one_line_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
):
    monkeypatch.delenv("TELEGRAM_BOT_TOKEN", raising=False)
    assert main(["--polling"]) == 2
    err = capsys.readouterr().err
    assert err == "kiebot-bot: TELEGRAM_BOT_TOKEN is not set\n"


WEBHOOK = {**BASE, "KIEBOT_SANDBOX": "1", "WEBHOOK_URL": "https://bot.example/tg/hook"}


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({**BASE, "WEBHOOK_URL": "https://x/h", "WEBHOOK_SECRET": "s"}, "KIE_API_KEY"),
        ({**BASE, "KIEBOT_SANDBOX": "1", "WEBHOOK_SECRET": "s"}, "WEBHOOK_URL"),
        (WEBHOOK, "WEBHOOK_SECRET"),
        ({**WEBHOOK, "WEBHOOK_SECRET": "not allowed!"}, "WEBHOOK_SECRET"),
        ({**WEBHOOK, "WEBHOOK_SECRET": "s", "WEBHOOK_URL": "ftp://x/h"}, "WEBHOOK_URL"),
    ],
)
def test_webhook_mode_needs_its_url_secret_and_a_kie_key(env: dict[str, str], named: str):
    with pytest.raises(SettingsError) as caught:
        load_settings(env, Mode.WEBHOOK)
    assert caught.value.variable == named


def test_webhook_mode_without_a_secret_stops_with_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
):
    for name, value in WEBHOOK.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("WEBHOOK_SECRET", raising=False)
    assert main(["--webhook"]) == 2
    assert capsys.readouterr().err == (
        "kiebot-bot: WEBHOOK_SECRET is not set (required in webhook mode)\n"
    )


def test_the_webhook_secret_is_a_secret():
    settings = load_settings({**WEBHOOK, "WEBHOOK_SECRET": "hook-secret_1"}, Mode.WEBHOOK)
    assert settings.webhook_url == "https://bot.example/tg/hook"
    assert "hook-secret_1" not in repr(settings)
    assert "hook-secret_1" in settings.secrets


def test_secrets_stay_out_of_repr_and_logs():
    settings = load_settings({**BASE, "KIE_API_KEY": "kie-secret", "KIE_CALLBACK_HMAC_KEY": "h"})
    shown = repr(settings)
    for secret in (TOKEN, "kie-secret", "pa55word"):
        assert secret not in shown
    assert set(settings.secrets) >= {TOKEN, "kie-secret", "pa55word"}
    record = logging.LogRecord(
        "x", logging.INFO, __file__, 1, "calling %s/bot%s/getMe", ("http://api", TOKEN), None
    )
    RedactingFilter(settings.secrets).filter(record)
    assert TOKEN not in record.getMessage()
    assert "/bot***/getMe" in record.getMessage()


def test_the_sandbox_rule():
    assert load_settings(BASE).use_sandbox
    assert not load_settings({**BASE, "KIE_API_KEY": "k"}).use_sandbox
    assert load_settings({**BASE, "KIE_API_KEY": "k", "KIEBOT_SANDBOX": "1"}).use_sandbox
    with pytest.raises(SettingsError) as caught:
        load_settings(BASE, Mode.WEBHOOK)
    assert caught.value.variable == "KIE_API_KEY"
    hooked = {**BASE, "KIEBOT_SANDBOX": "1", "WEBHOOK_URL": "https://x/h", "WEBHOOK_SECRET": "s"}
    assert load_settings(hooked, Mode.WEBHOOK).use_sandbox


def test_operator_settings_are_read():
    settings = load_settings(
        {
            **BASE,
            "KIEBOT_WELCOME_STARS": "25",
            "KIEBOT_DEADLINE_IMAGE": "10m",
            "KIEBOT_DEADLINE_VIDEO": "1h",
            "KIEBOT_USER_CONCURRENT_GENERATIONS": "5",
            "KIEBOT_STARS_PER_CREDIT": "0.5",
            "TELEGRAM_API_BASE": "http://127.0.0.1:8081",
            "PUBLIC_BASE_URL": "https://bot.example/",
            "ADMIN_IDS": "1, 2",
            "PORT": "9000",
        }
    )
    assert settings.welcome_stars == 25
    assert settings.deadlines.image.total_seconds() == 600
    assert settings.deadlines.video.total_seconds() == 3600
    assert settings.max_concurrent == 5
    assert str(settings.prices.stars_per_credit) == "0.5"
    assert settings.telegram_api_base == "http://127.0.0.1:8081"
    assert settings.callback_url == "https://bot.example/kie/callback"
    assert settings.admin_ids == frozenset({1, 2})
    assert (settings.host, settings.port) == ("127.0.0.1", 9000)
    for name, value in (
        ("KIEBOT_WELCOME_STARS", "many"),
        ("KIEBOT_DEADLINE_IMAGE", "soon"),
        ("KIEBOT_SANDBOX", "maybe"),
        ("PORT", "-1"),
        ("ADMIN_IDS", "me"),
    ):
        with pytest.raises(SettingsError) as caught:
            load_settings({**BASE, name: value})
        assert caught.value.variable == name


def test_a_malformed_token_is_a_settings_error():
    settings = load_settings({**BASE, "TELEGRAM_BOT_TOKEN": "not-a-token"})
    with pytest.raises(SettingsError) as caught:
        open_bot(settings)
    assert caught.value.variable == "TELEGRAM_BOT_TOKEN"


def test_redis_is_optional_and_its_password_a_secret():
    assert load_settings(BASE).redis_url is None
    settings = load_settings({**BASE, "REDIS_URL": "rediss://:r3dis-pw@cache.example:6380/2"})
    assert settings.redis_url == "rediss://:r3dis-pw@cache.example:6380/2"
    assert "r3dis-pw" not in repr(settings)
    assert "r3dis-pw" in settings.secrets
    assert load_settings({**BASE, "REDIS_URL": " redis://127.0.0.1 "}).redis_url == (
        "redis://127.0.0.1"
    )


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("127.0.0.1:6379", "must be a redis:// or rediss:// URL"),
        ("http://cache.example:6379", "must be a redis:// or rediss:// URL"),
        ("unix:///run/redis.sock", "must be a redis:// or rediss:// URL"),
        ("redis://cache.example:port/0", "has a malformed port"),
        ("redis:///0", "names no host"),
    ],
)
def test_a_malformed_redis_url_is_named(url: str, problem: str):
    with pytest.raises(SettingsError) as caught:
        load_settings({**BASE, "REDIS_URL": url})
    assert (caught.value.variable, caught.value.problem) == ("REDIS_URL", problem)


def test_the_updates_per_minute_limit_is_read():
    assert load_settings(BASE).updates_per_minute == 60
    settings = load_settings({**BASE, "KIEBOT_USER_UPDATES_PER_MINUTE": "20"})
    assert settings.updates_per_minute == 20
    for value in ("0", "-5", "many"):
        with pytest.raises(SettingsError) as caught:
            load_settings({**BASE, "KIEBOT_USER_UPDATES_PER_MINUTE": value})
        assert caught.value.variable == "KIEBOT_USER_UPDATES_PER_MINUTE"
