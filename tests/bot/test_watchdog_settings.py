"""The settings of the circuit breaker, the KIE credits watch and broadcasts."""

from datetime import timedelta
from decimal import Decimal

import pytest

from kiebot_bot.settings import load_settings
from kiebot_core.domain.breakers import BreakerSettings
from kiebot_core.domain.errors import SettingsError

BASE = {"TELEGRAM_BOT_TOKEN": "123456789:SECRET-token-value", "DATABASE_URL": "postgresql://db/k"}


def test_defaults():
    settings = load_settings(BASE)
    assert settings.breaker == BreakerSettings(
        failures=5, window=timedelta(minutes=10), cooldown=timedelta(minutes=15)
    )
    assert settings.credits_alert == Decimal(1000)
    assert settings.credits_check == timedelta(minutes=5)
    assert settings.broadcast_per_second == 25


def test_every_one_can_be_set():
    settings = load_settings(
        {
            **BASE,
            "KIEBOT_BREAKER_FAILURES": "8",
            "KIEBOT_BREAKER_WINDOW": "5m",
            "KIEBOT_BREAKER_COOLDOWN": "1h",
            "KIEBOT_KIE_CREDITS_ALERT": "2500.5",
            "KIEBOT_KIE_CREDITS_CHECK": "90s",
            "KIEBOT_BROADCAST_PER_SECOND": "10",
        }
    )
    assert settings.breaker.failures == 8
    assert settings.breaker.window == timedelta(minutes=5)
    assert settings.breaker.cooldown == timedelta(hours=1)
    assert settings.credits_alert == Decimal("2500.5")
    assert settings.credits_check == timedelta(seconds=90)
    assert settings.broadcast_per_second == 10


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("KIEBOT_BREAKER_FAILURES", "0"),
        ("KIEBOT_BREAKER_WINDOW", "soon"),
        ("KIEBOT_BREAKER_COOLDOWN", "0m"),
        ("KIEBOT_KIE_CREDITS_ALERT", "-5"),
        ("KIEBOT_KIE_CREDITS_ALERT", "lots"),
        ("KIEBOT_KIE_CREDITS_CHECK", "5 minutes"),
        ("KIEBOT_BROADCAST_PER_SECOND", "31"),
        ("KIEBOT_BROADCAST_PER_SECOND", "0"),
    ],
)
def test_a_malformed_value_is_named(name: str, value: str):
    with pytest.raises(SettingsError) as caught:
        load_settings({**BASE, name: value})
    assert caught.value.variable == name
