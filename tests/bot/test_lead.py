"""The leader loop: singleton work runs exactly while the lease is held, never past it."""

import asyncio
import time
from datetime import timedelta
from typing import Self

import attrs

from kiebot_bot.health import Readiness
from kiebot_bot.runtime import lead
from kiebot_core.ports.storage import UnitOfWork
from kiebot_core.testing.memory import MemoryUnitOfWorkFactory
from kiebot_core.use_cases.leadership import Leadership

TTL = timedelta(seconds=1)
RENEW = timedelta(milliseconds=300)


def leading(readiness: Readiness) -> bool:
    return readiness.leader


@attrs.define
class HangingStore:
    """The shared store, or a database that stops answering (every call hangs) when ``hung``."""

    store: MemoryUnitOfWorkFactory
    hung: bool = False

    def __call__(self) -> UnitOfWork:
        if self.hung:
            return _Hanging()  # type: ignore[return-value]
        return self.store()


class _Hanging:
    async def __aenter__(self) -> Self:
        await asyncio.Event().wait()
        return self

    async def __aexit__(self, *_: object) -> None:
        return None


async def test_work_stops_before_the_lease_can_pass_to_another_when_the_store_hangs():
    store = HangingStore(MemoryUnitOfWorkFactory())
    leadership = Leadership(store, "bot", "a", ttl=TTL, renew_every=RENEW)
    readiness = Readiness()
    started, stopped, stopped_at = asyncio.Event(), asyncio.Event(), []

    async def work() -> None:
        started.set()
        try:
            await asyncio.Event().wait()
        finally:
            stopped_at.append(time.monotonic())
            stopped.set()

    stop = asyncio.Event()
    loop = asyncio.create_task(lead(leadership, stop, work, readiness))
    await asyncio.wait_for(started.wait(), 5)
    assert leading(readiness)
    last_renewal = time.monotonic()
    store.hung = True
    await asyncio.wait_for(stopped.wait(), 5)
    assert stopped_at[0] - last_renewal < TTL.total_seconds(), "worked past the lease"
    assert not leading(readiness)
    stop.set()
    store.hung = False
    await asyncio.wait_for(loop, 5)


async def test_stopping_cancels_the_work_and_gives_the_lease_up():
    store = MemoryUnitOfWorkFactory()
    leadership = Leadership(store, "bot", "a", ttl=TTL, renew_every=RENEW)
    other = Leadership(store, "bot", "b", ttl=TTL, renew_every=RENEW)
    readiness = Readiness()
    started, cancelled = asyncio.Event(), asyncio.Event()

    async def work() -> None:
        started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.set()
            raise

    stop = asyncio.Event()
    loop = asyncio.create_task(lead(leadership, stop, work, readiness))
    await asyncio.wait_for(started.wait(), 5)
    assert not await other.renew()
    stop.set()
    await asyncio.wait_for(loop, 5)
    assert cancelled.is_set()
    assert await other.renew(), "the lease was given up at once"
