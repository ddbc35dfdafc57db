from datetime import UTC, datetime, timedelta

import attrs
import pytest

from kiebot_core.domain.ids import UserId
from kiebot_core.domain.promotions import PromoCode
from tests.contracts.stores import BACKENDS, Store

pytestmark = pytest.mark.parametrize("uow", BACKENDS, indirect=True)

ALICE = UserId(1)
BOB = UserId(2)
CAROL = UserId(3)
START = datetime(2026, 3, 1, 12, 30, 15, 123456, tzinfo=UTC)


def promo(
    code: str = "SPRING",
    *,
    max_uses: int | None = None,
    later: timedelta = timedelta(0),
    lasts: timedelta | None = None,
) -> PromoCode:
    created_at = START + later
    return PromoCode(
        code=code,
        stars=25,
        max_uses=max_uses,
        expires_at=None if lasts is None else created_at + lasts,
        created_at=created_at,
    )


async def add(uow: Store, *promos: PromoCode) -> None:
    async with uow() as tx:
        for each in promos:
            assert await tx.promos.add(each)
        await tx.commit()


async def redeem(uow: Store, code: str, user_id: UserId) -> bool:
    async with uow() as tx:
        redeemed = await tx.promos.redeem(code, user_id, uow.now())
        await tx.commit()
    return redeemed


async def uses(uow: Store, code: str = "SPRING") -> int:
    async with uow() as tx:
        found = await tx.promos.get(code)
    assert found is not None
    return found.uses


async def redeemed_by(uow: Store, code: str = "SPRING") -> set[UserId]:
    async with uow() as tx:
        return {u for u in (ALICE, BOB, CAROL) if await tx.promos.is_redeemed(code, u)}


async def test_an_added_code_reads_back_equal(uow: Store) -> None:
    limited = promo(max_uses=3, lasts=timedelta(days=7))
    await add(uow, limited, promo("OPEN-ENDED_1"))
    async with uow() as tx:
        assert await tx.promos.get("SPRING") == limited
        assert await tx.promos.get("OPEN-ENDED_1") == promo("OPEN-ENDED_1")
        assert await tx.promos.get("spring") is None
        assert await tx.promos.get("NOPE") is None


async def test_a_code_is_created_once(uow: Store) -> None:
    first = promo()
    async with uow() as tx:
        assert await tx.promos.add(first)
        assert not await tx.promos.add(attrs.evolve(first, stars=1))
        await tx.commit()
    async with uow() as tx:
        assert not await tx.promos.add(attrs.evolve(first, max_uses=1))
        await tx.commit()
    async with uow() as tx:
        assert await tx.promos.get(first.code) == first
        assert await tx.promos.all() == [first]


async def test_every_code_is_listed_newest_first(uow: Store) -> None:
    async with uow() as tx:
        assert await tx.promos.all() == []
    oldest = promo("AAA")
    tied_low, tied_high = promo("BBB", later=timedelta(1)), promo("CCC", later=timedelta(1))
    newest = promo("ABC", later=timedelta(2))
    await add(uow, tied_low, oldest, newest, tied_high)
    async with uow() as tx:
        assert await tx.promos.all() == [newest, tied_high, tied_low, oldest]


async def test_a_user_redeems_a_code_once_and_each_use_is_counted(uow: Store) -> None:
    await add(uow, promo())
    assert await redeemed_by(uow) == set()
    assert await redeem(uow, "SPRING", ALICE)
    assert not await redeem(uow, "SPRING", ALICE)
    assert await redeemed_by(uow) == {ALICE}
    assert await uses(uow) == 1
    assert await redeem(uow, "SPRING", BOB)
    assert await redeemed_by(uow) == {ALICE, BOB}
    assert await uses(uow) == 2


async def test_an_unknown_code_is_not_redeemed(uow: Store) -> None:
    assert not await redeem(uow, "NOSUCH", ALICE)
    assert await redeemed_by(uow, "NOSUCH") == set()


async def test_redemptions_of_one_code_do_not_count_for_another(uow: Store) -> None:
    await add(uow, promo(), promo("SUMMER"))
    assert await redeem(uow, "SPRING", ALICE)
    assert await redeem(uow, "SUMMER", ALICE)
    assert await redeemed_by(uow, "SUMMER") == {ALICE}
    assert (await uses(uow), await uses(uow, "SUMMER")) == (1, 1)


async def test_no_redemption_past_max_uses_and_a_refused_one_leaves_nothing(uow: Store) -> None:
    await add(uow, promo(max_uses=2))
    assert [await redeem(uow, "SPRING", u) for u in (ALICE, BOB, CAROL)] == [True, True, False]
    assert await uses(uow) == 2
    assert await redeemed_by(uow) == {ALICE, BOB}
    async with uow() as tx:
        assert not await tx.promos.redeem("SPRING", CAROL, uow.now())
        assert not await tx.promos.is_redeemed("SPRING", CAROL)
        await tx.commit()
    assert await uses(uow) == 2
    assert await redeemed_by(uow) == {ALICE, BOB}


async def test_an_uncommitted_redemption_is_rolled_back(uow: Store) -> None:
    await add(uow, promo(max_uses=1))
    async with uow() as tx:
        assert await tx.promos.redeem("SPRING", ALICE, uow.now())
        assert await tx.promos.is_redeemed("SPRING", ALICE)
    assert await redeemed_by(uow) == set()
    assert await uses(uow) == 0
    assert await redeem(uow, "SPRING", BOB)
