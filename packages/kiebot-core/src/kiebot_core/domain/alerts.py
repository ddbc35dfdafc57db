"""What the bot tells its admins on its own: a kind and the facts to fill in (never secrets)."""

import enum
from collections.abc import Mapping

import attrs


class AlertKind(enum.StrEnum):
    """Why the admins are told something."""

    CIRCUIT_OPENED = "circuit_opened"
    """A model failed too often at the provider and was switched off."""
    CIRCUIT_TRIAL = "circuit_trial"
    """A switched-off model's cooldown passed: it is back on, on trial."""
    CREDITS_LOW = "credits_low"
    """The provider account's credits fell below the alert level."""
    CREDITS_EXHAUSTED = "credits_exhausted"
    """The credits ran out: new generations are paused."""
    CREDITS_RESUMED = "credits_resumed"
    """Credits are back after running out: new generations run again."""
    CREDITS_RECOVERED = "credits_recovered"
    """The credits are back above the alert level."""


AlertValue = str | int
"""A fact an alert carries (a model id, a count, a number of credits as text)."""


@attrs.frozen
class AdminAlert:
    """One notice for every admin, rendered in each admin's language by the shell."""

    kind: AlertKind
    values: Mapping[str, AlertValue] = attrs.field(factory=dict)
