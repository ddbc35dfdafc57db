from datetime import timedelta

import attrs
import pytest

from kiebot_core.domain.errors import DuplicateError
from kiebot_core.domain.ids import OrderId, UserId
from kiebot_core.domain.payments import ORDER_VALIDITY, Order, PaymentState
from tests.contracts.builders import make_payment
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


async def test_prune_deletes_unpaid_orders_that_expired_before_the_cutoff(uow: Store) -> None:
    now = uow.now()
    cutoff = now - timedelta(days=1)
    expired_long_ago = cutoff - ORDER_VALIDITY - timedelta(days=1)
    created = {
        "ord_unpaid_old": expired_long_ago,
        "ord_paid_old": expired_long_ago,
        "ord_refunded_old": expired_long_ago,
        "ord_expires_at_cutoff": cutoff - ORDER_VALIDITY,
        "ord_just_expired": now - ORDER_VALIDITY - timedelta(hours=1),
        "ord_payable": now - timedelta(hours=1),
    }
    paid = {"ord_paid_old": PaymentState.PROCESSED, "ord_refunded_old": PaymentState.REFUNDED}
    async with uow() as tx:
        for order_id, at in created.items():
            await tx.orders.add(attrs.evolve(make_order(order_id, store=uow), created_at=at))
        for n, (order_id, state) in enumerate(paid.items()):
            payment = make_payment(f"charge_{n}", at=expired_long_ago + timedelta(hours=1))
            await tx.payments.add(attrs.evolve(payment, order_id=order_id, state=state))
        await tx.commit()
    async with uow() as tx:
        assert await tx.orders.prune(cutoff) == 1
        assert await tx.orders.prune(cutoff) == 0
        await tx.commit()
    async with uow() as tx:
        kept = {order_id for order_id in created if await tx.orders.get(OrderId(order_id))}
    assert kept == set(created) - {"ord_unpaid_old"}


async def test_prune_never_deletes_a_paid_order(uow: Store) -> None:
    long_ago = uow.now() - timedelta(days=400)
    async with uow() as tx:
        await tx.orders.add(attrs.evolve(make_order(store=uow), created_at=long_ago))
        await tx.orders.add(attrs.evolve(make_order("ord_2", store=uow), created_at=long_ago))
        await tx.payments.add(attrs.evolve(make_payment(at=long_ago), order_id="ord_1"))
        await tx.commit()
    async with uow() as tx:
        assert await tx.orders.prune(uow.now() + timedelta(days=1)) == 1
        assert await tx.orders.get(OrderId("ord_1")) is not None
        assert await tx.orders.get(OrderId("ord_2")) is None


async def test_an_uncommitted_order_prune_is_rolled_back(uow: Store) -> None:
    long_ago = uow.now() - timedelta(days=400)
    async with uow() as tx:
        await tx.orders.add(attrs.evolve(make_order(store=uow), created_at=long_ago))
        await tx.commit()
    async with uow() as tx:
        assert await tx.orders.prune(uow.now()) == 1
    async with uow() as tx:
        assert await tx.orders.get(OrderId("ord_1")) is not None
