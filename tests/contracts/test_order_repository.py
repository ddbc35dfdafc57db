from datetime import timedelta

import pytest

from kiebot_core.domain.errors import DuplicateError
from kiebot_core.domain.ids import OrderId, UserId
from kiebot_core.domain.payments import ORDER_VALIDITY, Order
from tests.contracts.stores import BACKENDS, Store

pytestmark = pytest.mark.parametrize("uow", BACKENDS, indirect=True)


def make_order(order_id: str = "ord_1", *, store: Store, user_id: int = 1) -> Order:
    return Order(
        id=OrderId(order_id),
        user_id=UserId(user_id),
        stars=100,
        bonus=5,
        terms_version=2,
        created_at=store.now(),
    )


async def test_an_order_is_stored_and_read_back(uow: Store) -> None:
    order = make_order(store=uow)
    async with uow() as tx:
        await tx.orders.add(order)
        await tx.commit()
    async with uow() as tx:
        found = await tx.orders.get(order.id)
    assert found == order
    assert found is not None
    assert found.credited == 105
    assert found.expires_at - found.created_at == ORDER_VALIDITY
    assert found.payload == "ord_1.t2"


async def test_an_unknown_order_is_none(uow: Store) -> None:
    async with uow() as tx:
        assert await tx.orders.get(OrderId("ord_nope")) is None


async def test_an_order_id_is_unique(uow: Store) -> None:
    order = make_order(store=uow)
    async with uow() as tx:
        await tx.orders.add(order)
        await tx.commit()
    async with uow() as tx:
        with pytest.raises(DuplicateError):
            await tx.orders.add(make_order(store=uow, user_id=2))
    async with uow() as tx:
        assert await tx.orders.get(order.id) == order


async def test_another_users_order_is_read_as_it_is(uow: Store) -> None:
    order = make_order(store=uow, user_id=7)
    async with uow() as tx:
        await tx.orders.add(order)
        await tx.commit()
    async with uow() as tx:
        found = await tx.orders.get(order.id)
    assert found is not None
    assert found.user_id == 7


async def test_an_uncommitted_order_is_rolled_back(uow: Store) -> None:
    order = make_order(store=uow)
    async with uow() as tx:
        await tx.orders.add(order)
    async with uow() as tx:
        assert await tx.orders.get(order.id) is None


async def test_times_survive_the_round_trip(uow: Store) -> None:
    order = make_order(store=uow)
    async with uow() as tx:
        await tx.orders.add(order)
        await tx.commit()
    await uow.elapse(timedelta(seconds=0))
    async with uow() as tx:
        found = await tx.orders.get(order.id)
    assert found is not None
    uow.assert_close(found.created_at, order.created_at)
    assert found.created_at.utcoffset() == timedelta(0)
