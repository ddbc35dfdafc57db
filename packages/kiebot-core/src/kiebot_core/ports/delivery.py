"""How a finished generation reaches its user (a Telegram chat, or files on disk)."""

from typing import Protocol

from kiebot_core.domain.generation import Generation


class ResultDelivery(Protocol):
    """Sends results and failure notices. Failures raise ``DeliveryError``."""

    async def deliver(self, generation: Generation) -> tuple[str, ...]:
        """Send the result of a generation in DELIVERING state.

        Returns where it went (Telegram file ids, local paths). Called again after a crash, it
        may send again: callers record the result in the same transaction as the capture.
        """
        ...

    async def report_failure(self, generation: Generation) -> None:
        """Tell the user that a generation ended failed or cancelled, with its reason's text."""
        ...

    async def report_refund(self, generation: Generation, stars: int, reason: str) -> None:
        """Tell the user ``stars`` of a generation's charge are back on their balance, and why."""
        ...
