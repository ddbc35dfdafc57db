"""Rate limits: how many hits a key may make in a fixed window, and what one hit decided.

A window starts with the first hit on a key after the previous window ended and lasts the
window's length, timed by the store's clock (so every process sharing the store agrees).
Every hit counts, refused ones too, and none moves the window's end.
"""

import math
from datetime import timedelta

import attrs

USER_UPDATES_WINDOW = timedelta(minutes=1)
"""The window of the per-user update limit (``KIEBOT_USER_UPDATES_PER_MINUTE``)."""


def check_limit(limit: int, window: timedelta) -> None:
    """Refuse a limit no store can keep: ``limit`` below 1 or a window shorter than 1 ms.

    Raises:
        ValueError: A programmer error in the caller.
    """
    if limit < 1:
        raise ValueError(f"a rate limit allows at least one hit, not {limit}")
    if window < timedelta(milliseconds=1):
        raise ValueError(f"a rate limit's window lasts at least 1 ms, not {window}")


@attrs.frozen(kw_only=True)
class RateDecision:
    """What one hit on a rate limit decided."""

    hits: int
    """The hits counted in the current window, this one included."""
    limit: int
    """The hits the window allows."""
    resets_in: timedelta
    """How long until the current window ends (never negative)."""

    @classmethod
    def of(cls, hits: int, limit: int, resets_in: timedelta) -> "RateDecision":
        """The decision for the ``hits``-th hit of a window ending in ``resets_in``."""
        return cls(hits=hits, limit=limit, resets_in=max(resets_in, timedelta(0)))

    @property
    def allowed(self) -> bool:
        """True when the hit is within the limit."""
        return self.hits <= self.limit

    @property
    def is_first_refusal(self) -> bool:
        """True for the first hit over the limit in its window (the one to explain)."""
        return self.hits == self.limit + 1

    @property
    def retry_after(self) -> timedelta:
        """How long to wait before a hit is allowed again (zero when this one was)."""
        return timedelta(0) if self.allowed else self.resets_in

    @property
    def retry_after_s(self) -> int:
        """``retry_after`` in whole seconds, rounded up: at least 1 when refused."""
        if self.allowed:
            return 0
        return max(1, math.ceil(self.resets_in.total_seconds()))
