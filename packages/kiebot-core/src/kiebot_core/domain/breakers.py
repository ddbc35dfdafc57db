"""The per-model circuit breaker: a burst of provider failures switches a model off for a while.

    closed ──(``failures`` provider failures within ``window``)──► OPEN (model switched off)
      ▲                                                            │ cooldown passed
      │                                                            ▼
      └──────────(``window`` without a failure)─────────────── TRIAL (model switched on)
                                                                   │ any provider failure
                                                                   ▼
                                                  OPEN again, with the cooldown doubled

A closed circuit is not stored. An admin switching the model (on or off) by hand takes over:
its circuit is closed at once and the breaker leaves the switch alone; while an admin keeps a
model off, its failures are not counted and never open a circuit (whose recovery would switch
the model back on). Only failures the provider causes count; a user's mistake (an invalid or
oversized input, a content refusal) never does, so no user can switch a model off for everyone.
"""

import enum
from datetime import datetime, timedelta

import attrs

from kiebot_core.domain.reasons import ReasonCode

COUNTED = frozenset(
    {
        ReasonCode.PROVIDER_FAILED,
        ReasonCode.PROVIDER_TIMEOUT,
        ReasonCode.PROVIDER_UNAVAILABLE,
        ReasonCode.PROVIDER_FEATURE_DISABLED,
    }
)
"""Failures that count against a model: the ones the provider itself causes, for that model.

``PROVIDER_REJECTED`` is not among them: the provider answers 400/413/422 for an input it
refuses (a bad or oversized file, a parameter it does not take), which one user can repeat at
will. Account-wide problems (no credits, a bad key, the provider's rate limit) are not a
model's fault and are handled elsewhere.
"""


def counts_against_model(reason: ReasonCode) -> bool:
    """True when a generation failing with ``reason`` counts against its model."""
    return reason in COUNTED


@attrs.frozen(kw_only=True)
class BreakerSettings:
    """When a model's circuit opens and how long it stays open."""

    failures: int = 5
    """Provider failures within ``window`` that open the circuit."""
    window: timedelta = timedelta(minutes=10)
    """The sliding window failures are counted in; also how long a trial lasts."""
    cooldown: timedelta = timedelta(minutes=15)
    """How long the first opening lasts; each opening after a failed trial doubles it."""
    max_cooldown: timedelta = timedelta(hours=4)

    def __attrs_post_init__(self) -> None:
        """Refuse settings no breaker can keep (a programmer or settings-loader error)."""
        if self.failures < 1:
            raise ValueError("a circuit opens after at least one failure")
        if self.window <= timedelta(0) or self.cooldown <= timedelta(0):
            raise ValueError("the window and the cooldown must be positive")

    def cooldown_after(self, trips: int) -> timedelta:
        """How long the ``trips``-th opening in a row lasts."""
        doubled = self.cooldown * (1 << min(max(0, trips - 1), 30))
        return min(doubled, max(self.max_cooldown, self.cooldown))


class CircuitState(enum.StrEnum):
    """A stored circuit's state (a closed circuit is not stored)."""

    OPEN = "open"
    """The model is switched off until ``retry_at``."""
    TRIAL = "trial"
    """The model is back on; a provider failure before ``retry_at`` opens it again."""


@attrs.frozen(kw_only=True)
class Circuit:
    """One model's open or trial circuit."""

    model_id: str
    state: CircuitState
    trips: int
    """Openings in a row (1 for the first); reset when a trial passes."""
    reason: ReasonCode
    """The failure that opened it last."""
    detail: str = ""
    """The provider's text for that failure (for admins and logs)."""
    failures: int
    """Failures counted when it opened last."""
    changed_at: datetime
    retry_at: datetime
    """OPEN: when the model is tried again. TRIAL: when the trial passes."""

    @classmethod
    def opened(
        cls,
        previous: "Circuit | None",
        *,
        model_id: str,
        reason: ReasonCode,
        detail: str,
        failures: int,
        at: datetime,
        settings: BreakerSettings,
    ) -> "Circuit":
        """The circuit opened at ``at`` (after a failed trial, for longer)."""
        trips = 1 if previous is None else previous.trips + 1
        return cls(
            model_id=model_id,
            state=CircuitState.OPEN,
            trips=trips,
            reason=reason,
            detail=detail,
            failures=failures,
            changed_at=at,
            retry_at=at + settings.cooldown_after(trips),
        )

    def on_trial(self, at: datetime, settings: BreakerSettings) -> "Circuit":
        """The model is switched back on at ``at`` and watched for ``settings.window``."""
        return attrs.evolve(
            self, state=CircuitState.TRIAL, changed_at=at, retry_at=at + settings.window
        )

    def is_due(self, at: datetime) -> bool:
        """True when the cooldown (OPEN) or the trial (TRIAL) is over at ``at``."""
        return self.retry_at <= at


def same_circuit(stored: Circuit, expected: Circuit) -> bool:
    """True when ``stored`` is still the circuit ``expected`` was read as.

    The same model, state, trips and ``changed_at``: what moving a circuit compares before it
    writes.
    """
    return (stored.model_id, stored.state, stored.trips, stored.changed_at) == (
        expected.model_id,
        expected.state,
        expected.trips,
        expected.changed_at,
    )
