"""Operator settings shared by every shell, read from an environment mapping."""

from collections.abc import Mapping
from datetime import timedelta
from decimal import Decimal, InvalidOperation

from kiebot_core.domain.catalog import Registry
from kiebot_core.domain.errors import SettingsError
from kiebot_core.domain.payments import DEFAULT_STAR_PACKAGES, PaymentSettings, parse_star_packages
from kiebot_core.domain.pricing import PriceSettings
from kiebot_core.domain.promotions import FreeTier, cheapest_image_model
from kiebot_core.domain.retention import Retention


def _decimal(env: Mapping[str, str], name: str, default: Decimal) -> Decimal:
    raw = env.get(name)
    if raw is None or not raw.strip():
        return default
    try:
        value = Decimal(raw.strip())
    except InvalidOperation:
        raise SettingsError(name, f"expected a number, got {raw!r}") from None
    if not value.is_finite() or value < 0:
        raise SettingsError(name, f"expected a non-negative number, got {raw!r}")
    return value


def price_settings_from_env(env: Mapping[str, str]) -> PriceSettings:
    """Price settings from the environment.

    ``KIEBOT_STARS_PER_CREDIT`` [0.4], ``KIEBOT_MARKUP_PERCENT`` [100] and
    ``KIEBOT_MIN_STARS`` [1]. Raises ``SettingsError`` naming a malformed variable.
    """
    defaults = PriceSettings()
    markup = _decimal(env, "KIEBOT_MARKUP_PERCENT", Decimal(defaults.markup_percent))
    minimum = _decimal(env, "KIEBOT_MIN_STARS", Decimal(defaults.min_stars))
    for name, value in (("KIEBOT_MARKUP_PERCENT", markup), ("KIEBOT_MIN_STARS", minimum)):
        if value != value.to_integral_value():
            raise SettingsError(name, "expected a whole number")
    return PriceSettings(
        stars_per_credit=_decimal(env, "KIEBOT_STARS_PER_CREDIT", defaults.stars_per_credit),
        markup_percent=int(markup),
        min_stars=max(1, int(minimum)),
    )


def payment_settings_from_env(env: Mapping[str, str]) -> PaymentSettings:
    """Payment settings from the environment.

    ``KIEBOT_STAR_PACKAGES`` ["50,100:5,250:10,500:15,1000:20": ``amount[:bonus%]`` items] and
    ``KIEBOT_TERMS_VERSION`` [1], ``KIEBOT_REFERRAL_STARS`` [10]. Raises ``SettingsError``
    naming a malformed variable.
    """
    raw = (env.get("KIEBOT_STAR_PACKAGES") or "").strip() or DEFAULT_STAR_PACKAGES
    try:
        packages = parse_star_packages(raw)
    except ValueError as error:
        raise SettingsError("KIEBOT_STAR_PACKAGES", str(error)) from None
    version = (env.get("KIEBOT_TERMS_VERSION") or "").strip() or "1"
    if not version.isdigit() or int(version) < 1:
        raise SettingsError(
            "KIEBOT_TERMS_VERSION", f"expected a whole number >= 1, got {version!r}"
        )
    return PaymentSettings(
        packages=packages,
        terms_version=int(version),
        referral_stars=whole_number(env, "KIEBOT_REFERRAL_STARS", 10),
    )


def whole_number(env: Mapping[str, str], name: str, default: int, minimum: int = 0) -> int:
    """The whole number in ``env[name]`` (``default`` when unset or blank).

    Raises ``SettingsError`` naming ``name`` for anything else or a value below ``minimum``.
    """
    raw = (env.get(name) or "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(name, f"expected a whole number, got {raw!r}") from None
    if value < minimum:
        raise SettingsError(name, f"must be at least {minimum}")
    return value


def free_tier_from_env(
    env: Mapping[str, str], registry: Registry, prices: PriceSettings
) -> FreeTier:
    """The free tier from the environment.

    ``KIEBOT_FREE_DAILY`` [3] free runs a UTC day on ``KIEBOT_FREE_MODELS`` (comma-separated
    model ids) [the cheapest enabled image model]. Raises ``SettingsError`` for a malformed
    count or a model that is unknown or disabled.
    """
    daily = whole_number(env, "KIEBOT_FREE_DAILY", 3)
    raw = (env.get("KIEBOT_FREE_MODELS") or "").strip()
    if not raw:
        cheapest = cheapest_image_model(registry.enabled(), prices)
        return FreeTier(daily, frozenset({cheapest} if cheapest else ()))
    models = frozenset(item.strip() for item in raw.split(",") if item.strip())
    for model_id in sorted(models):
        model = registry.get(model_id)
        if model is None or not model.enabled:
            raise SettingsError("KIEBOT_FREE_MODELS", f"{model_id} is not an enabled model")
    return FreeTier(daily, models)


MAX_RETENTION_DAYS = 36500
"""A hundred years: longer is a typo (and would overflow date arithmetic)."""


def _days(env: Mapping[str, str], name: str, default: timedelta) -> timedelta:
    days = whole_number(env, name, default.days, minimum=1)
    if days > MAX_RETENTION_DAYS:
        raise SettingsError(name, f"must be at most {MAX_RETENTION_DAYS}")
    return timedelta(days=days)


def retention_from_env(env: Mapping[str, str]) -> Retention:
    """How long old records are kept, from the environment.

    ``KIEBOT_EVENT_RETENTION_DAYS`` [30] for events, ``KIEBOT_INBOX_RETENTION_DAYS`` [7] for
    processed inbox updates, ``KIEBOT_ORDER_RETENTION_DAYS`` [30] for unpaid orders after they
    expired: whole numbers of days from 1 to 36500. Raises ``SettingsError`` naming a
    malformed variable.
    """
    defaults = Retention()
    return Retention(
        events=_days(env, "KIEBOT_EVENT_RETENTION_DAYS", defaults.events),
        inbox=_days(env, "KIEBOT_INBOX_RETENTION_DAYS", defaults.inbox),
        orders=_days(env, "KIEBOT_ORDER_RETENTION_DAYS", defaults.orders),
    )
