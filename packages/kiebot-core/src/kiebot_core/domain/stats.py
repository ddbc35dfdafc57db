"""Operator statistics: users, generations per model, money and the funnel over a period.

A store reads the raw figures in one unit of work (``ReportRepository.activity``); the stats
use case adds the margin report and the operator's prices. Durations are percentiles by the
nearest-rank rule (PostgreSQL's ``percentile_disc``), so every store gives the same answer.
"""

import math
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from decimal import Decimal

import attrs

from kiebot_core.domain.generation import GenerationState
from kiebot_core.domain.margin import ModelMargin
from kiebot_core.domain.pricing import PriceSettings

MEDIAN = 0.5
P95 = 0.95


def nearest_rank(values: Sequence[timedelta], fraction: float) -> timedelta | None:
    """The ``fraction`` percentile of ``values`` by nearest rank; None for no values.

    The first value (in ascending order) whose position reaches ``fraction`` of the count,
    exactly as PostgreSQL's ``percentile_disc`` picks it.
    """
    if not values:
        return None
    ordered = sorted(values)
    rank = max(math.ceil(fraction * len(ordered)), 1)
    return ordered[rank - 1]


@attrs.frozen(kw_only=True)
class ModelRuns:
    """One model's generations started in the period."""

    model_id: str
    states: Mapping[GenerationState, int]
    """How many are in each state now (states without any are left out)."""
    p50: timedelta | None = None
    """The median time from start to delivery of the succeeded ones."""
    p95: timedelta | None = None
    """The 95th percentile of the same."""

    @property
    def total(self) -> int:
        """Every generation of the model in the period."""
        return sum(self.states.values())

    @property
    def succeeded(self) -> int:
        """Delivered."""
        return self.states.get(GenerationState.SUCCEEDED, 0)

    @property
    def failed(self) -> int:
        """Ended without a result (cancellations not included)."""
        return self.states.get(GenerationState.FAILED, 0)

    @property
    def failure_rate(self) -> float | None:
        """Failed among the finished (succeeded or failed); None before any finished."""
        finished = self.succeeded + self.failed
        return None if finished == 0 else self.failed / finished


Percentiles = tuple[timedelta | None, timedelta | None]
"""A model's p50 and p95 time from start to delivery (None without a delivered run)."""


def percentiles(durations: Sequence[timedelta]) -> Percentiles:
    """The nearest-rank p50 and p95 of ``durations``."""
    return nearest_rank(durations, MEDIAN), nearest_rank(durations, P95)


def model_runs(
    states: Iterable[tuple[str, GenerationState, int]],
    delivery: Mapping[str, Percentiles],
) -> tuple[ModelRuns, ...]:
    """Per-model runs from (model, state, count) rows and each model's delivery percentiles.

    Sorted by model id; models without a generation are left out.
    """
    counts: dict[str, dict[GenerationState, int]] = {}
    for model_id, state, count in states:
        if count:
            per_model = counts.setdefault(model_id, {})
            per_model[state] = per_model.get(state, 0) + count
    return tuple(
        ModelRuns(
            model_id=model_id,
            states=counts[model_id],
            p50=delivery.get(model_id, (None, None))[0],
            p95=delivery.get(model_id, (None, None))[1],
        )
        for model_id in sorted(counts)
    )


@attrs.frozen(kw_only=True)
class UserFigures:
    """Users now, by when they were last seen."""

    total: int = 0
    active_today: int = 0
    """Seen since the start of the current UTC day."""
    active_week: int = 0
    """Seen in the last 7 UTC days (today included)."""


@attrs.frozen(kw_only=True)
class Funnel:
    """What became of the users who joined in the period."""

    started: int = 0
    """Joined (their first /start)."""
    generated: int = 0
    """...of them, started at least one generation."""
    paid: int = 0
    """...of them, made at least one Stars payment."""


@attrs.frozen(kw_only=True)
class MoneyFigures:
    """Stars that moved in the period."""

    stars_in: int = 0
    """Stars users paid through Telegram."""
    payments: int = 0
    purchase_refunds: int = 0
    """Payments refunded through Telegram (by the user, support or Telegram itself)."""
    purchase_refunded_stars: int = 0
    """The Stars those payments had brought."""
    generation_refunds: int = 0
    """Delivered generations whose charge an operator gave back."""
    generation_refunded_stars: int = 0


@attrs.frozen(kw_only=True)
class Activity:
    """The raw figures of a period, as one store read them."""

    users: UserFigures = attrs.Factory(UserFigures)
    runs: tuple[ModelRuns, ...] = ()
    """Per model, sorted by model id."""
    funnel: Funnel = attrs.Factory(Funnel)
    money: MoneyFigures = attrs.Factory(MoneyFigures)

    @property
    def states(self) -> Mapping[GenerationState, int]:
        """Generations of every model by state."""
        total: dict[GenerationState, int] = {}
        for runs in self.runs:
            for state, count in runs.states.items():
                total[state] = total.get(state, 0) + count
        return total


@attrs.frozen(kw_only=True)
class Stats:
    """The operator's statistics of a period: activity, KIE cost and margin."""

    since: datetime
    activity: Activity
    margins: Sequence[ModelMargin]
    prices: PriceSettings

    @property
    def credits_consumed(self) -> Decimal:
        """KIE credits the delivered runs consumed, as KIE reported them."""
        return sum((m.credits_consumed for m in self.margins), Decimal(0))

    @property
    def credits_quoted(self) -> Decimal:
        """KIE credits the delivered runs were quoted at."""
        return sum((m.credits_quoted for m in self.margins), Decimal(0))

    @property
    def stars_kept(self) -> int:
        """Stars captured for delivered runs, minus those given back."""
        return sum(m.stars for m in self.margins)

    @property
    def margin_stars(self) -> Decimal:
        """Stars kept minus the consumed credits' cost at the operator's rate."""
        return sum((m.margin_stars(self.prices) for m in self.margins), Decimal(0))
