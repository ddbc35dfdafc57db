"""How long old records are kept before the leader prunes them."""

from datetime import datetime, timedelta

import attrs


def _positive(_: object, attribute: "attrs.Attribute[timedelta]", value: timedelta) -> None:
    if value <= timedelta(0):
        raise ValueError(f"{attribute.name} must be positive, got {value}")


@attrs.frozen(kw_only=True)
class Retention:
    """How long each kind of record outlives its usefulness.

    Events are kept ``events`` after they happened; processed inbox updates ``inbox`` after
    they were done (parked and unprocessed ones are kept however old); orders that were never
    paid ``orders`` after they stopped being payable (a paid order is kept for good).
    """

    events: timedelta = attrs.field(default=timedelta(days=30), validator=_positive)
    inbox: timedelta = attrs.field(default=timedelta(days=7), validator=_positive)
    orders: timedelta = attrs.field(default=timedelta(days=30), validator=_positive)

    def cutoffs(self, now: datetime) -> "Cutoffs":
        """The moments before which records are pruned, seen from ``now``."""
        return Cutoffs(events=now - self.events, inbox=now - self.inbox, orders=now - self.orders)


@attrs.frozen(kw_only=True)
class Cutoffs:
    """The moments that split what is kept from what is pruned.

    Events before ``events``, updates done before ``inbox`` and unpaid orders that expired
    before ``orders`` are pruned.
    """

    events: datetime
    inbox: datetime
    orders: datetime
