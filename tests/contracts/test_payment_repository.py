from datetime import timedelta

import attrs
import pytest

from kiebot_core.domain.errors import NotFoundError
from kiebot_core.domain.ids import PaymentChargeId, UserId
from kiebot_core.domain.payments import PaymentState
from tests.contracts.builders import make_payment
from tests.contracts.stores import BACKENDS, Store

pytestmark = pytest.mark.parametrize("uow", BACKENDS, indirect=True)


async def test_a_charge_is_registered_once(uow: Store) -> None:
    payment = make_payment(at=uow.now())
    async with uow() as tx:
        assert await tx.payments.add(payment) is True
        assert await tx.payments.add(attrs.evolve(payment, stars=1)) is False
        await tx.commit()
    async with uow() as tx:
        assert await tx.payments.add(payment) is False
        assert await tx.payments.get(payment.charge_id) == payment


async def test_an_unknown_charge_is_none(uow: Store) -> None:
    async with uow() as tx:
        assert await tx.payments.get(PaymentChargeId("nope")) is None


async def test_save_replaces_the_state(uow: Store) -> None:
    payment = make_payment(at=uow.now())
    async with uow() as tx:
        await tx.payments.add(payment)
        await tx.commit()
    refunded = attrs.evolve(payment, state=PaymentState.REFUNDED)
    async with uow() as tx:
        await tx.payments.save(refunded)
        await tx.commit()
    async with uow() as tx:
        assert await tx.payments.get(payment.charge_id) == refunded


async def test_saving_an_unknown_payment_is_not_found(uow: Store) -> None:
    async with uow() as tx:
        with pytest.raises(NotFoundError):
            await tx.payments.save(make_payment(at=uow.now()))


async def test_an_uncommitted_payment_is_rolled_back(uow: Store) -> None:
    payment = make_payment(at=uow.now())
    async with uow() as tx:
        await tx.payments.add(payment)
    async with uow() as tx:
        assert await tx.payments.get(payment.charge_id) is None
        assert await tx.payments.add(payment) is True


async def test_a_users_payments_are_listed_newest_first(uow: Store) -> None:
    start = uow.now()
    first = make_payment("charge_a", at=start)
    second = make_payment("charge_b", at=start + timedelta(minutes=1))
    other = make_payment("charge_c", at=start + timedelta(minutes=2), user_id=2)
    async with uow() as tx:
        for payment in (first, second, other):
            await tx.payments.add(payment)
        await tx.commit()
    async with uow() as tx:
        assert await tx.payments.for_user(UserId(1), limit=10) == [second, first]
        assert await tx.payments.for_user(UserId(1), limit=1) == [second]
        assert await tx.payments.for_user(UserId(3), limit=10) == []


async def test_every_users_payments_are_listed_newest_first(uow: Store) -> None:
    start = uow.now()
    first = make_payment("charge_a", at=start, user_id=2)
    tied = make_payment("charge_b", at=start + timedelta(minutes=1))
    second = make_payment("charge_c", at=start + timedelta(minutes=1), user_id=3)
    async with uow() as tx:
        assert await tx.payments.recent() == []
        for payment in (first, tied, second):
            await tx.payments.add(payment)
        await tx.commit()
    async with uow() as tx:
        assert await tx.payments.recent() == [second, tied, first]
        assert await tx.payments.recent(limit=2) == [second, tied]
        assert await tx.payments.recent(limit=0) == []
