"""Retention: the settings, and the pruning use case over the in-memory store."""

from datetime import datetime, timedelta

import attrs
import pytest

from kiebot_core.domain.errors import SettingsError, StaleWriteError
from kiebot_core.domain.ids import CorrelationId, OrderId, UserId
from kiebot_core.domain.payments import ORDER_VALIDITY, Order
from kiebot_core.domain.retention import Retention
from kiebot_core.domain.settings import retention_from_env
from kiebot_core.ports.storage import UnitOfWork
from kiebot_core.testing.memory import MemoryDatabase, MemoryUnitOfWorkFactory
from kiebot_core.testing.runtime import FrozenClock
from kiebot_core.use_cases.retention import prune_old_records
from tests.contracts.builders import make_event, make_payment, make_update

DAY = timedelta(days=1)


def test_retention_defaults_and_settings() -> None:
    assert retention_from_env({}) == Retention(events=30 * DAY, inbox=7 * DAY, orders=30 * DAY)
    assert retention_from_env(
        {
            "KIEBOT_EVENT_RETENTION_DAYS": " 90 ",
            "KIEBOT_INBOX_RETENTION_DAYS": "1",
            "KIEBOT_ORDER_RETENTION_DAYS": "",
        }
    ) == Retention(events=90 * DAY, inbox=DAY, orders=30 * DAY)


@pytest.mark.parametrize(
    "name",
    ["KIEBOT_EVENT_RETENTION_DAYS", "KIEBOT_INBOX_RETENTION_DAYS", "KIEBOT_ORDER_RETENTION_DAYS"],
)
@pytest.mark.parametrize("raw", ["0", "-3", "7d", "1.5", "36501"])
def test_a_malformed_retention_names_its_variable(name: str, raw: str) -> None:
    with pytest.raises(SettingsError) as raised:
        retention_from_env({name: raw})
    assert raised.value.variable == name


def test_a_retention_is_positive() -> None:
    with pytest.raises(ValueError, match="inbox"):
        Retention(inbox=timedelta(0))


def test_cutoffs_are_now_minus_each_retention() -> None:
    clock = FrozenClock()
    cutoffs = Retention().cutoffs(clock.now())
    assert clock.now() - cutoffs.events == 30 * DAY
    assert clock.now() - cutoffs.inbox == 7 * DAY
    assert clock.now() - cutoffs.orders == 30 * DAY


async def plant(store: MemoryUnitOfWorkFactory, clock: FrozenClock) -> None:
    """At every age from 0 to 40 days: an event, a processed update with its answer
    journaled, and an unpaid order;
    one paid order 40 days old; and a pending update 40 days old."""
    now = clock.now()
    async with store() as uow:
        for age in range(41):
            at = now - age * DAY
            await uow.events.append(make_event(at=at, kind=str(age)))
            await uow.orders.add(order(f"ord_{age}", at - ORDER_VALIDITY))
            await uow.inbox.store(make_update(age, at=at, chat_id=age))
        await uow.orders.add(order("ord_paid", now - 40 * DAY))
        await uow.payments.add(attrs.evolve(make_payment(at=now - 40 * DAY), order_id="ord_paid"))
        await uow.inbox.store(make_update(1000, at=now - 40 * DAY, chat_id=1000))
        await uow.commit()
    # An update is done at its age: the clock walks forward from 40 days ago.
    clock.advance(-40 * DAY)
    for age in range(40, -1, -1):
        async with store() as uow:
            await uow.inbox.done(7, age)
            await uow.sent_messages.record(7, age, 1, "sendMessage", {"message_id": age})
            await uow.commit()
        if age:
            clock.advance(DAY)


def order(order_id: str, created_at: datetime) -> Order:
    return Order(
        id=OrderId(order_id),
        user_id=UserId(1),
        stars=50,
        bonus=0,
        terms_version=1,
        created_at=created_at,
    )


def counts(store: MemoryUnitOfWorkFactory) -> tuple[int, int, int]:
    state = store.database.state
    return len(state.events), len(state.inbox), len(state.orders)


async def test_pruning_keeps_what_the_retention_keeps() -> None:
    clock = FrozenClock()
    store = MemoryUnitOfWorkFactory(MemoryDatabase(clock))
    await plant(store, clock)
    assert counts(store) == (41, 42, 42)
    report = await prune_old_records(store, clock, Retention())
    # Older than the cut-off only: 31..40 days for events and orders, 8..40 for updates.
    assert (report.events, report.inbox, report.sent, report.orders) == (10, 33, 33, 10)
    assert report.total == 86
    assert len(store.database.state.sent_messages) == 8
    assert not report.dry_run
    assert counts(store) == (31, 9, 32)
    async with store() as uow:
        kinds = [e.kind for e in await uow.events.chain(CorrelationId("cor_1"))]
        assert kinds == [str(age) for age in range(30, -1, -1)]
        assert await uow.orders.get(OrderId("ord_paid")) is not None
        assert await uow.orders.get(OrderId("ord_30")) is not None
        assert await uow.orders.get(OrderId("ord_31")) is None
        assert [u.update_id for u in await uow.inbox.pending(limit=10)] == [1000]
    again = await prune_old_records(store, clock, Retention())
    assert again.total == 0


async def test_a_dry_run_counts_and_deletes_nothing() -> None:
    clock = FrozenClock()
    store = MemoryUnitOfWorkFactory(MemoryDatabase(clock))
    await plant(store, clock)
    retention = Retention(events=DAY, inbox=DAY, orders=DAY)
    dry = await prune_old_records(store, clock, retention, dry_run=True)
    assert dry.dry_run
    assert (dry.events, dry.inbox, dry.orders) == (39, 39, 39)
    assert counts(store) == (41, 42, 42)
    real = await prune_old_records(store, clock, retention)
    assert (real.events, real.inbox, real.orders) == (39, 39, 39)
    assert real.cutoffs == dry.cutoffs


async def test_a_refusing_fence_stops_the_pruning_before_it_deletes() -> None:
    clock = FrozenClock()
    store = MemoryUnitOfWorkFactory(MemoryDatabase(clock))
    await plant(store, clock)
    fenced: list[UnitOfWork] = []

    async def fence(uow: UnitOfWork) -> None:
        fenced.append(uow)
        raise StaleWriteError("lease", "leader")

    with pytest.raises(StaleWriteError):
        await prune_old_records(store, clock, Retention(), fence=fence)
    assert len(fenced) == 1
    assert counts(store) == (41, 42, 42)
