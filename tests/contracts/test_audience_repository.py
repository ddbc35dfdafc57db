from datetime import timedelta

import pytest

from kiebot_core.domain.broadcasts import Segment
from kiebot_core.domain.ids import UserId
from kiebot_core.domain.texts import Language
from tests.contracts.builders import make_payment, make_user
from tests.contracts.stores import BACKENDS, Store

pytestmark = pytest.mark.parametrize("uow", BACKENDS, indirect=True)


async def _users(uow: Store) -> None:
    now = uow.now()
    async with uow() as tx:
        await tx.users.add(make_user(1, at=now - timedelta(days=60)))
        await tx.users.add(
            make_user(
                2,
                at=now - timedelta(days=60),
                language=Language.RU,
                last_seen_at=now - timedelta(days=2),
            )
        )
        await tx.users.add(make_user(3, at=now - timedelta(days=1), language=Language.RU))
        await tx.users.add(make_user(4, at=now, is_banned=True))
        await tx.payments.add(make_payment("c1", at=now, user_id=2))
        await tx.payments.add(make_payment("c2", at=now, user_id=2))
        await tx.payments.add(make_payment("c3", at=now, user_id=4))
        await tx.commit()


async def test_everyone_but_banned_users_by_default(uow: Store) -> None:
    await _users(uow)
    async with uow() as tx:
        assert await tx.audience.select(Segment()) == [1, 2, 3]


async def test_segments_by_language_activity_and_payments(uow: Store) -> None:
    await _users(uow)
    week_ago = uow.now() - timedelta(days=7)
    async with uow() as tx:
        assert await tx.audience.select(Segment(language=Language.RU)) == [2, 3]
        assert await tx.audience.select(Segment(language=Language.EN)) == [1]
        assert await tx.audience.select(Segment(active_since=week_ago)) == [2, 3]
        assert await tx.audience.select(Segment(paid=True)) == [2]
        assert await tx.audience.select(Segment(paid=False)) == [1, 3]
        assert await tx.audience.select(
            Segment(language=Language.RU, active_since=week_ago, paid=False)
        ) == [3]


async def test_users_who_blocked_the_bot_are_left_out_until_they_come_back(uow: Store) -> None:
    await _users(uow)
    at = uow.now()
    async with uow() as tx:
        await tx.audience.mark_blocked(UserId(2), at)
        await tx.audience.mark_blocked(UserId(99), at)
        await tx.commit()
    async with uow() as tx:
        assert await tx.audience.select(Segment()) == [1, 3]
        blocked = await tx.audience.blocked_at(UserId(2))
        assert blocked is not None
        uow.assert_close(blocked, at)
        assert await tx.audience.blocked_at(UserId(1)) is None
        assert await tx.audience.blocked_at(UserId(99)) is None
        await tx.audience.mark_blocked(UserId(2), at + timedelta(hours=1))
        await tx.commit()
    async with uow() as tx:
        again = await tx.audience.blocked_at(UserId(2))
        assert again is not None
        uow.assert_close(again, at)
        await tx.audience.mark_reachable(UserId(2))
        await tx.audience.mark_reachable(UserId(2))
        await tx.commit()
    async with uow() as tx:
        assert await tx.audience.select(Segment()) == [1, 2, 3]
        assert await tx.audience.blocked_at(UserId(2)) is None
