"""A delivery double that records what would have reached the user."""

import attrs

from kiebot_core.domain.errors import KiebotError
from kiebot_core.domain.generation import Generation
from kiebot_core.ports.delivery import ResultDelivery


@attrs.define
class RecordingDelivery(ResultDelivery):
    """Records deliveries, failure and refund notices; raises ``fail_with`` once per item."""

    delivered: list[Generation] = attrs.field(factory=list)
    failures: list[Generation] = attrs.field(factory=list)
    refunds: list[tuple[Generation, int, str]] = attrs.field(factory=list)
    fail_with: list[KiebotError] = attrs.field(factory=list)

    async def deliver(self, generation: Generation) -> tuple[str, ...]:
        if self.fail_with:
            raise self.fail_with.pop(0)
        self.delivered.append(generation)
        return tuple(
            f"delivered:{generation.id}:{i}" for i, _ in enumerate(generation.result_urls)
        )

    async def report_failure(self, generation: Generation) -> None:
        self.failures.append(generation)

    async def report_refund(self, generation: Generation, stars: int, reason: str) -> None:
        self.refunds.append((generation, stars, reason))
