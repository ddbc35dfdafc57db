"""A rate limiter in memory, timed by a ``Clock`` (a ``FrozenClock`` in tests)."""

from datetime import datetime, timedelta

import attrs

from kiebot_core.domain.limits import RateDecision, check_limit
from kiebot_core.ports.limits import RateLimiter
from kiebot_core.ports.runtime import Clock, SystemClock


@attrs.define
class MemoryRateLimiter(RateLimiter):
    """Fixed windows in a dict: one process's limiter, for tests and single-process tools."""

    clock: Clock = attrs.field(factory=SystemClock)
    _windows: dict[str, tuple[int, datetime]] = attrs.field(factory=dict, init=False)
    """Key → (hits, when its window ends)."""

    async def hit(self, key: str, *, limit: int, window: timedelta) -> RateDecision:
        check_limit(limit, window)
        now = self.clock.now()
        hits, ends_at = self._windows.get(key, (0, now))
        if ends_at <= now:
            self._sweep(now)
            hits, ends_at = 0, now + window
        self._windows[key] = (hits + 1, ends_at)
        return RateDecision.of(hits + 1, limit, ends_at - now)

    @property
    def keys(self) -> frozenset[str]:
        """The keys whose counts are kept now (ended windows go when a new one starts)."""
        return frozenset(self._windows)

    def _sweep(self, now: datetime) -> None:
        for key in [key for key, (_, ends_at) in self._windows.items() if ends_at <= now]:
            del self._windows[key]
