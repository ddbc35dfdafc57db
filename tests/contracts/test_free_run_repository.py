from datetime import date, timedelta

import pytest

from kiebot_core.domain.ids import UserId
from tests.contracts.stores import BACKENDS, Store

pytestmark = pytest.mark.parametrize("uow", BACKENDS, indirect=True)

ALICE = UserId(1)
BOB = UserId(2)
DAY = date(2026, 3, 1)


async def take(uow: Store, user_id: UserId = ALICE, day: date = DAY, *, daily: int = 2) -> bool:
    async with uow() as tx:
        took = await tx.free_runs.take(user_id, day, daily=daily)
        await tx.commit()
    return took


async def give_back(uow: Store, user_id: UserId = ALICE, day: date = DAY) -> None:
    async with uow() as tx:
        await tx.free_runs.give_back(user_id, day)
        await tx.commit()


async def used(uow: Store, user_id: UserId = ALICE, day: date = DAY) -> int:
    async with uow() as tx:
        return await tx.free_runs.used(user_id, day)


async def test_runs_are_taken_up_to_the_daily_number_then_refused(uow: Store) -> None:
    assert await used(uow) == 0
    assert [await take(uow) for _ in range(3)] == [True, True, False]
    assert await used(uow) == 2


async def test_a_refused_take_changes_nothing(uow: Store) -> None:
    assert await take(uow, daily=3)
    assert await take(uow, daily=3)
    assert not await take(uow, daily=1)
    assert not await take(uow, daily=0)
    assert await used(uow) == 2


async def test_a_day_without_free_runs_gives_none(uow: Store) -> None:
    assert not await take(uow, daily=0)
    assert await used(uow) == 0


async def test_each_user_and_each_day_count_apart(uow: Store) -> None:
    assert [await take(uow, daily=1) for _ in range(2)] == [True, False]
    assert await take(uow, BOB, daily=1)
    assert await take(uow, ALICE, DAY + timedelta(days=1), daily=1)
    assert (await used(uow), await used(uow, BOB)) == (1, 1)
    assert await used(uow, ALICE, DAY + timedelta(days=1)) == 1
    assert await used(uow, BOB, DAY - timedelta(days=1)) == 0


async def test_a_run_given_back_can_be_taken_again(uow: Store) -> None:
    assert [await take(uow) for _ in range(3)] == [True, True, False]
    await give_back(uow)
    assert await used(uow) == 1
    assert await take(uow)
    assert await used(uow) == 2


async def test_giving_back_never_goes_below_zero(uow: Store) -> None:
    await give_back(uow)
    assert await used(uow) == 0
    assert await take(uow)
    for _ in range(3):
        await give_back(uow)
    assert await used(uow) == 0
    assert [await take(uow) for _ in range(3)] == [True, True, False]


async def test_an_uncommitted_take_is_rolled_back(uow: Store) -> None:
    async with uow() as tx:
        assert await tx.free_runs.take(ALICE, DAY, daily=1)
        assert await tx.free_runs.used(ALICE, DAY) == 1
        assert not await tx.free_runs.take(ALICE, DAY, daily=1)
    assert await used(uow) == 0
    assert await take(uow, daily=1)
