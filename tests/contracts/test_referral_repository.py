import pytest

from kiebot_core.domain.ids import PaymentChargeId, UserId
from kiebot_core.domain.promotions import ReferralSummary
from tests.contracts.builders import make_user
from tests.contracts.stores import BACKENDS, Store

pytestmark = pytest.mark.parametrize("uow", BACKENDS, indirect=True)

ALICE, BOB, CAROL, DAVE = UserId(1), UserId(2), UserId(3), UserId(4)


def charge_of(invited: UserId) -> PaymentChargeId:
    return PaymentChargeId(f"charge-{invited}")


async def reward(uow: Store, invited: UserId, referrer: UserId, stars: int = 10) -> bool:
    async with uow() as tx:
        rewarded = await tx.referrals.reward(
            invited, referrer, stars, uow.now(), charge_of(invited)
        )
        await tx.commit()
    return rewarded


async def summary(uow: Store, referrer: UserId) -> ReferralSummary:
    async with uow() as tx:
        return await tx.referrals.summary(referrer)


async def test_nobody_invited_sums_to_zero(uow: Store) -> None:
    assert await summary(uow, ALICE) == ReferralSummary()


async def test_an_invited_user_is_rewarded_once_whoever_claims_it(uow: Store) -> None:
    assert await reward(uow, BOB, ALICE, 10)
    assert not await reward(uow, BOB, ALICE, 10)
    assert not await reward(uow, BOB, CAROL, 50)
    assert await summary(uow, ALICE) == ReferralSummary(invited=0, rewarded=1, stars=10)
    assert await summary(uow, CAROL) == ReferralSummary()


async def test_the_summary_counts_invited_users_rewarded_ones_and_stars(uow: Store) -> None:
    async with uow() as tx:
        await tx.users.add(make_user(ALICE, at=uow.now()))
        await tx.users.add(make_user(BOB, at=uow.now(), referrer_id=ALICE))
        await tx.users.add(make_user(CAROL, at=uow.now(), referrer_id=ALICE))
        await tx.users.add(make_user(DAVE, at=uow.now(), referrer_id=BOB))
        await tx.commit()
    assert await summary(uow, ALICE) == ReferralSummary(invited=2, rewarded=0, stars=0)
    assert await reward(uow, BOB, ALICE, 10)
    assert await reward(uow, CAROL, ALICE, 15)
    assert await reward(uow, DAVE, BOB, 10)
    assert await summary(uow, ALICE) == ReferralSummary(invited=2, rewarded=2, stars=25)
    assert await summary(uow, BOB) == ReferralSummary(invited=1, rewarded=1, stars=10)
    assert await summary(uow, DAVE) == ReferralSummary()


async def test_an_uncommitted_reward_is_rolled_back(uow: Store) -> None:
    async with uow() as tx:
        assert await tx.referrals.reward(BOB, ALICE, 10, uow.now(), charge_of(BOB))
        assert await tx.referrals.summary(ALICE) == ReferralSummary(rewarded=1, stars=10)
    assert await summary(uow, ALICE) == ReferralSummary()
    assert await reward(uow, BOB, ALICE, 10)


async def test_the_payment_that_paid_a_reward_is_known(uow: Store) -> None:
    assert await reward(uow, BOB, ALICE)
    assert not await reward(uow, BOB, CAROL)  # a second claim keeps the first charge
    async with uow() as tx:
        assert await tx.referrals.rewarded_by(charge_of(BOB))
        assert not await tx.referrals.rewarded_by(charge_of(CAROL))
        assert not await tx.referrals.rewarded_by(PaymentChargeId("other"))
