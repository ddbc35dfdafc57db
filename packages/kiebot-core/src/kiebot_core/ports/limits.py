"""Rate limits shared by every process of the bot (PostgreSQL or Redis counts the hits)."""

from datetime import timedelta
from typing import Protocol

from kiebot_core.domain.limits import RateDecision


class RateLimiter(Protocol):
    """Counts hits per key in fixed windows, in a store every instance shares."""

    async def hit(self, key: str, *, limit: int, window: timedelta) -> RateDecision:
        """Count one hit on ``key`` and decide whether it is within ``limit`` per ``window``.

        The window starts with the first hit after the previous one ended and is timed by the
        store's clock, never this process's. Every hit counts, refused ones too; none extends
        the window. Exact under concurrency: of N hits at once on a fresh key, exactly
        ``limit`` are allowed. A key's count is gone soon after its window ends.

        Raises:
            StorageUnavailableError: The store cannot be reached; the hit may not be counted.
            ValueError: ``limit`` is below 1 or ``window`` is shorter than 1 ms.
        """
        ...
