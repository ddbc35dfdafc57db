"""The ``RateLimiter`` contract, over the memory fake, PostgreSQL and Redis.

Each test gets a fresh limiter and a second one sharing its store, as another instance of the
bot would (memory: the same object). The memory limiter runs on a ``FrozenClock`` that tests
advance; PostgreSQL and Redis keep time on the server, so there windows really pass (short).
"""

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from datetime import timedelta

import attrs
import pytest

from kiebot_core.domain.limits import RateDecision
from kiebot_core.ports.limits import RateLimiter
from kiebot_core.testing.limits import MemoryRateLimiter
from kiebot_core.testing.runtime import FrozenClock
from kiebot_pg.limits import PgRateLimiter
from kiebot_pg.pool import PgPool, open_pool
from kiebot_redis.client import open_redis
from kiebot_redis.limits import RedisRateLimiter
from tests.pg.databases import cloned_database
from tests.redis.support import open_redis_space

LIMITERS = ["memory", "pg", "redis"]
MINUTE = timedelta(minutes=1)
REAL_WINDOW = timedelta(milliseconds=600)
"""A window that really passes in a test (PostgreSQL and Redis time)."""


@attrs.define
class Limits:
    """One implementation under test: two instances over one store, and the store's time."""

    name: str
    limiter: RateLimiter
    other: RateLimiter
    """Another instance's limiter over the same store."""
    stored: Callable[[], Awaitable[set[str]]]
    """The keys whose counts the store holds now."""
    clock: FrozenClock | None = None

    @property
    def window(self) -> timedelta:
        """A window tests can let pass."""
        return MINUTE if self.clock is not None else REAL_WINDOW

    async def elapse(self, delta: timedelta) -> None:
        """Let ``delta`` of the store's time pass."""
        if self.clock is None:
            await asyncio.sleep(delta.total_seconds() + 0.05)
        else:
            self.clock.advance(delta)

    def assert_close(self, actual: timedelta, expected: timedelta) -> None:
        """Exactly on the frozen clock; within the delay to the server on a real one."""
        if self.clock is None:
            assert expected - timedelta(seconds=2) <= actual <= expected, (actual, expected)
        else:
            assert actual == expected

    async def hit(self, key: str, limit: int, window: timedelta = MINUTE) -> RateDecision:
        return await self.limiter.hit(key, limit=limit, window=window)


async def _pg_keys(pool: PgPool) -> set[str]:
    return {row["key"] for row in await pool.fetch("SELECT key FROM rate_limits")}


@pytest.fixture(params=LIMITERS)
async def limits(request: pytest.FixtureRequest) -> AsyncIterator[Limits]:
    if request.param == "memory":
        clock = FrozenClock()
        memory = MemoryRateLimiter(clock)

        async def memory_keys() -> set[str]:
            return set(memory.keys)

        yield Limits("memory", memory, memory, memory_keys, clock)
    elif request.param == "pg":
        admin_dsn: str = request.getfixturevalue("pg_admin_dsn")
        template: str = request.getfixturevalue("pg_template")
        async with AsyncExitStack() as stack:
            dsn = await stack.enter_async_context(cloned_database(admin_dsn, template))
            pool = await stack.enter_async_context(open_pool(dsn, max_size=8))
            other = await stack.enter_async_context(open_pool(dsn, max_size=8))
            yield Limits("pg", PgRateLimiter(pool), PgRateLimiter(other), lambda: _pg_keys(pool))
    else:
        url: str = request.getfixturevalue("redis_url")
        async with open_redis_space(url) as space, open_redis(url) as second:
            yield Limits(
                "redis",
                RedisRateLimiter(space.client, prefix=space.prefix),
                RedisRateLimiter(second, prefix=space.prefix),
                space.keys,
            )


async def test_hits_up_to_the_limit_are_allowed_and_the_rest_refused(limits: Limits):
    decisions = [await limits.hit("user:1", 3) for _ in range(5)]
    assert [d.allowed for d in decisions] == [True, True, True, False, False]
    assert [d.hits for d in decisions] == [1, 2, 3, 4, 5]
    assert [d.is_first_refusal for d in decisions] == [False, False, False, True, False]


async def test_a_refusal_says_how_long_until_the_window_ends(limits: Limits):
    allowed = await limits.hit("user:1", 1)
    refused = await limits.hit("user:1", 1)
    assert allowed.retry_after == timedelta(0)
    assert allowed.retry_after_s == 0
    limits.assert_close(refused.retry_after, MINUTE)
    assert 58 <= refused.retry_after_s <= 60


async def test_keys_are_counted_apart(limits: Limits):
    assert (await limits.hit("user:1", 1)).allowed
    assert not (await limits.hit("user:1", 1)).allowed
    assert (await limits.hit("user:2", 1)).allowed
    assert (await limits.hit("user:1:other", 1)).allowed


async def test_another_instance_sees_the_same_count(limits: Limits):
    assert (await limits.limiter.hit("user:1", limit=2, window=MINUTE)).hits == 1
    second = await limits.other.hit("user:1", limit=2, window=MINUTE)
    assert (second.hits, second.allowed) == (2, True)
    third = await limits.limiter.hit("user:1", limit=2, window=MINUTE)
    assert (third.hits, third.allowed) == (3, False)


async def test_a_new_window_starts_once_the_last_one_ended(limits: Limits):
    window = limits.window
    assert (await limits.hit("user:1", 1, window)).allowed
    assert not (await limits.hit("user:1", 1, window)).allowed
    await limits.elapse(window)
    again = await limits.hit("user:1", 1, window)
    assert (again.allowed, again.hits) == (True, 1)


async def test_refused_hits_do_not_extend_the_window(limits: Limits):
    window = limits.window
    assert (await limits.hit("user:1", 1, window)).allowed
    await limits.elapse(window / 2)
    assert not (await limits.hit("user:1", 1, window)).allowed
    assert not (await limits.hit("user:1", 1, window)).allowed
    await limits.elapse(window / 2)
    assert (await limits.hit("user:1", 1, window)).allowed


async def test_racing_hits_of_two_instances_admit_exactly_the_limit(limits: Limits):
    racers = [limits.limiter, limits.other] * 20
    decisions = await asyncio.gather(
        *(racer.hit("user:race", limit=10, window=MINUTE) for racer in racers)
    )
    assert sum(d.allowed for d in decisions) == 10
    assert sorted(d.hits for d in decisions) == list(range(1, 41))
    assert sum(d.is_first_refusal for d in decisions) == 1


async def test_ended_windows_are_not_kept(limits: Limits):
    window = limits.window
    await limits.hit("user:old", 1, window)
    await limits.elapse(window)
    await limits.hit("user:new", 1, window)
    assert await limits.stored() == {"user:new"}


async def test_a_limit_below_one_or_a_window_under_a_millisecond_is_a_programming_error(
    limits: Limits,
):
    with pytest.raises(ValueError, match="at least one hit"):
        await limits.hit("user:1", 0)
    with pytest.raises(ValueError, match="at least 1 ms"):
        await limits.hit("user:1", 1, timedelta(0))
    assert await limits.stored() == set()
