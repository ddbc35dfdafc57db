"""Margin: the Stars users paid for a model against the KIE credits its runs consumed.

Users are charged the quote; KIE reports ``creditsConsumed`` per task. A model whose runs
consumed more credits than its quotes assumed is flagged: its price table no longer covers its
real cost.
"""

from collections.abc import Iterable
from decimal import Decimal

import attrs

from kiebot_core.domain.pricing import PriceSettings


@attrs.frozen(kw_only=True)
class ModelMargin:
    """One model's delivered generations over a period."""

    model_id: str
    generations: int
    """Succeeded generations."""
    stars: int
    """Stars kept: captured minus refunded."""
    credits_quoted: Decimal
    """What the price table said the runs cost, in KIE credits."""
    credits_consumed: Decimal
    """What KIE reported, for the runs that reported it."""
    reported: int
    """How many runs reported ``creditsConsumed``."""
    quoted_reported: Decimal
    """What the price table said the reporting runs cost (compared with ``credits_consumed``)."""

    def cost_in_stars(self, prices: PriceSettings) -> Decimal:
        """The consumed credits at the operator's rate, before markup."""
        return self.credits_consumed * prices.stars_per_credit

    def margin_stars(self, prices: PriceSettings) -> Decimal:
        """Stars kept minus the consumed credits' cost."""
        return self.stars - self.cost_in_stars(prices)

    @property
    def underpriced(self) -> bool:
        """True when the runs that reported consumed more credits than their quotes assumed."""
        return self.credits_consumed > self.quoted_reported


@attrs.frozen
class DeliveredRun:
    """One succeeded generation, as the margin report counts it."""

    model_id: str
    credits: Decimal
    credits_consumed: Decimal | None
    stars: int
    """Stars kept for it: captured minus refunded."""


def margins(runs: Iterable[DeliveredRun]) -> list[ModelMargin]:
    """The per-model totals of ``runs``, sorted by model id."""
    totals: dict[str, ModelMargin] = {}
    for run in runs:
        total = totals.get(run.model_id) or ModelMargin(
            model_id=run.model_id,
            generations=0,
            stars=0,
            credits_quoted=Decimal(0),
            credits_consumed=Decimal(0),
            reported=0,
            quoted_reported=Decimal(0),
        )
        reported = run.credits_consumed is not None
        totals[run.model_id] = attrs.evolve(
            total,
            generations=total.generations + 1,
            stars=total.stars + run.stars,
            credits_quoted=total.credits_quoted + run.credits,
            credits_consumed=total.credits_consumed + (run.credits_consumed or 0),
            reported=total.reported + reported,
            quoted_reported=total.quoted_reported + (run.credits if reported else 0),
        )
    return [totals[model_id] for model_id in sorted(totals)]
