"""Clock and id ports, with their standard-library implementations."""

import uuid
from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    """The current time."""

    def now(self) -> datetime:
        """The current time, timezone-aware (UTC)."""
        ...


class IdFactory(Protocol):
    """New unique ids."""

    def new(self, prefix: str) -> str:
        """A new id starting with ``prefix`` and ``_`` (``gen_…``, ``cor_…``), never reused."""
        ...


class SystemClock(Clock):
    """The machine's clock."""

    def now(self) -> datetime:
        return datetime.now(UTC)


class Uuid4Ids(IdFactory):
    """Random ids: the prefix and 16 hex digits of a UUID4."""

    def new(self, prefix: str) -> str:
        return f"{prefix}_{uuid.uuid4().hex[:16]}"
