"""Deterministic clock and ids for tests."""

from datetime import UTC, datetime, timedelta

from kiebot_core.ports.runtime import Clock, IdFactory

EPOCH = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


class FrozenClock(Clock):
    """A clock that moves only when told to."""

    def __init__(self, now: datetime = EPOCH) -> None:
        self._now = now

    def now(self) -> datetime:
        return self._now

    def advance(self, delta: timedelta) -> None:
        """Move the clock forward by ``delta``."""
        self._now += delta


class SequentialIds(IdFactory):
    """Ids numbered per prefix: ``gen_1``, ``gen_2``, ``cor_1`` and so on."""

    def __init__(self) -> None:
        self._counters: dict[str, int] = {}

    def new(self, prefix: str) -> str:
        self._counters[prefix] = self._counters.get(prefix, 0) + 1
        return f"{prefix}_{self._counters[prefix]}"
