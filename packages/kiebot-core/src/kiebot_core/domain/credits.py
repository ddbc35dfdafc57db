"""The provider account's credits: an alert below a level, new generations paused at zero.

    ok ──(below ``alert_below``)──► low ──(zero or less, or a run refused for them)──► paused
     ▲                               │                                                  │
     └──────────(topped up)──────────┘                                                  │
     └─────────────────────(topped up to ``alert_below`` or more)───────────────────────┘

A pause holds until the credits reach the alert level again, not merely above zero: the
provider refuses a run as soon as the credits are below its cost, so lifting the pause at the
first credit would pause again at the next run, telling the admins every minute.

Each move down is told to the admins once (the state is stored, so a new leader does not
tell them again); moving back up is told once too.
"""

from datetime import datetime
from decimal import Decimal

import attrs

from kiebot_core.domain.alerts import AdminAlert, AlertKind

DEFAULT_ALERT_BELOW = Decimal(1000)


@attrs.frozen(kw_only=True)
class CreditsPolicy:
    """When the admins hear about the credits."""

    alert_below: Decimal = DEFAULT_ALERT_BELOW
    """Below this many credits the admins are told (``KIEBOT_KIE_CREDITS_ALERT``); a pause
    lifts only at this many (and more than zero)."""


@attrs.frozen(kw_only=True)
class CreditsState:
    """The provider account's credits as last checked."""

    credits: Decimal
    checked_at: datetime
    is_low: bool
    is_paused: bool
    """True while new generations are refused (no credits left)."""


def _number(value: Decimal) -> str:
    return f"{value.normalize():f}"


def assess(
    previous: CreditsState | None, credits: Decimal, at: datetime, policy: CreditsPolicy
) -> tuple[CreditsState, list[AdminAlert]]:
    """The state after a check that found ``credits``, and what to tell the admins.

    Nothing is told when the state does not move (the check before found the same side of
    each line), so each crossing is told once. Paused, it stays paused below ``alert_below``.
    """
    was_low = previous is not None and previous.is_low
    was_paused = previous is not None and previous.is_paused
    is_paused = credits <= 0 or (was_paused and credits < policy.alert_below)
    is_low = credits < policy.alert_below or is_paused
    state = CreditsState(credits=credits, checked_at=at, is_low=is_low, is_paused=is_paused)
    values: dict[str, str | int] = {
        "credits": _number(credits),
        "threshold": _number(policy.alert_below),
    }
    alerts: list[AdminAlert] = []
    if is_paused and not was_paused:
        alerts.append(AdminAlert(AlertKind.CREDITS_EXHAUSTED, values))
    elif was_paused and not is_paused:
        alerts.append(AdminAlert(AlertKind.CREDITS_RESUMED, values))
    elif is_low and not was_low:
        alerts.append(AdminAlert(AlertKind.CREDITS_LOW, values))
    elif was_low and not is_low:
        alerts.append(AdminAlert(AlertKind.CREDITS_RECOVERED, values))
    return state, alerts
