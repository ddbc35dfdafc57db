"""The leader lease as instances see it: one leader, stepping down in time, fenced writes."""

from datetime import timedelta

import attrs
import pytest

from kiebot_core.domain.errors import StaleWriteError, StorageUnavailableError
from kiebot_core.ports.storage import UnitOfWork
from kiebot_core.testing.memory import MemoryDatabase, MemoryUnitOfWorkFactory
from kiebot_core.testing.runtime import FrozenClock
from kiebot_core.use_cases.leadership import LEASE_TTL, RENEW_EVERY, Leadership, NotLeaderError


class LocalClock:
    """An instance's own monotonic clock, moved by the test."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@attrs.define
class FlakyStore:
    """The shared store, or an outage when ``down``."""

    store: MemoryUnitOfWorkFactory
    down: bool = False

    def __call__(self) -> UnitOfWork:
        if self.down:
            raise StorageUnavailableError("cut")
        return self.store()


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock()


@pytest.fixture
def store(clock: FrozenClock) -> MemoryUnitOfWorkFactory:
    return MemoryUnitOfWorkFactory(MemoryDatabase(clock))


def instance(store: object, name: str) -> tuple[Leadership, LocalClock]:
    local = LocalClock()
    return Leadership(store, "bot", name, monotonic=local), local  # type: ignore[arg-type]


async def test_one_instance_leads_and_the_other_waits(store: MemoryUnitOfWorkFactory):
    first, _ = instance(store, "a")
    second, _ = instance(store, "b")
    assert await first.renew()
    assert not await second.renew()
    assert first.is_leader
    assert not second.is_leader
    assert await first.renew(), "the holder renews its own lease"
    assert first.lease is not None
    assert first.lease.epoch == 1


async def test_a_dead_leader_is_replaced_after_the_ttl_with_a_new_epoch(
    store: MemoryUnitOfWorkFactory, clock: FrozenClock
):
    first, _ = instance(store, "a")
    second, _ = instance(store, "b")
    await first.renew()
    clock.advance(LEASE_TTL - timedelta(seconds=1))
    assert not await second.renew()
    clock.advance(timedelta(seconds=1))
    assert await second.renew()
    assert second.lease is not None
    assert second.lease.epoch == 2


async def test_a_leader_cut_off_from_the_store_steps_down_before_its_lease_runs_out(
    store: MemoryUnitOfWorkFactory,
):
    flaky = FlakyStore(store)
    leader, local = instance(flaky, "a")
    assert await leader.renew()
    flaky.down = True
    local.now += (LEASE_TTL - RENEW_EVERY).total_seconds() - 0.1
    assert await leader.renew(), "a short outage keeps the lease"
    local.now += 0.1
    assert not await leader.renew()
    assert not leader.is_leader
    assert leader.lease is None


async def test_a_stale_leaders_writes_are_fenced_out(
    store: MemoryUnitOfWorkFactory, clock: FrozenClock
):
    old, _ = instance(store, "a")
    new, _ = instance(store, "b")
    await old.renew()
    clock.advance(LEASE_TTL)  # the store's clock moved on; the old leader's own did not
    await new.renew()
    assert old.is_leader, "the old leader has not noticed yet"
    async with store() as uow:
        with pytest.raises(StaleWriteError):
            await old.fence(uow)
    async with store() as uow:
        await new.fence(uow)


async def test_a_released_lease_is_taken_over_at_once(store: MemoryUnitOfWorkFactory):
    first, _ = instance(store, "a")
    second, _ = instance(store, "b")
    await first.renew()
    await first.release()
    assert not first.is_leader
    assert await second.renew()
    async with store() as uow:
        with pytest.raises(NotLeaderError):
            await first.fence(uow)
