from datetime import timedelta

import attrs
import pytest

from kiebot_core.domain.errors import NotFoundError
from kiebot_core.domain.ids import UserId
from tests.contracts.builders import make_user
from tests.contracts.stores import BACKENDS, Store

pytestmark = pytest.mark.parametrize("uow", BACKENDS, indirect=True)


async def test_username_last_seen_and_the_ban_notice_read_back_equal(uow: Store) -> None:
    user = make_user(
        1,
        at=uow.now(),
        username="Ann_Smith",
        last_seen_at=uow.now() + timedelta(minutes=1),
        is_banned=True,
        ban_notice_sent=True,
    )
    async with uow() as tx:
        await tx.users.add(user)
        await tx.commit()
    async with uow() as tx:
        assert await tx.users.get(user.id) == user
        changed = attrs.evolve(user, username=None, last_seen_at=None, ban_notice_sent=False)
        await tx.users.save(changed)
        await tx.commit()
    async with uow() as tx:
        assert await tx.users.get(user.id) == changed


async def test_a_username_finds_its_user_in_any_case_with_or_without_the_at(uow: Store) -> None:
    async with uow() as tx:
        await tx.users.add(make_user(1, at=uow.now(), username="Ann_Smith"))
        await tx.users.add(make_user(2, at=uow.now()))
        await tx.commit()
    async with uow() as tx:
        for query in ("Ann_Smith", "ann_smith", "@ANN_SMITH", " @ann_smith "):
            found = await tx.users.by_username(query)
            assert found is not None, query
            assert found.id == UserId(1)
        assert await tx.users.by_username("ann") is None
        assert await tx.users.by_username("") is None


async def test_a_username_two_users_carried_belongs_to_the_one_seen_last(uow: Store) -> None:
    now = uow.now()
    async with uow() as tx:
        await tx.users.add(make_user(1, at=now, username="shop", last_seen_at=now))
        await tx.users.add(
            make_user(2, at=now, username="Shop", last_seen_at=now + timedelta(days=1))
        )
        await tx.users.add(make_user(3, at=now, username="shop"))
        await tx.commit()
    async with uow() as tx:
        found = await tx.users.by_username("shop")
        assert found is not None
        assert found.id == UserId(2)


async def test_update_seen_changes_only_when_and_as_whom_the_user_was_seen(uow: Store) -> None:
    now = uow.now()
    async with uow() as tx:
        await tx.users.add(make_user(1, at=now, username="old"))
        await tx.commit()
    # Another unit of work bans the user after this one read them: the ban stays.
    async with uow() as tx:
        stored = await tx.users.get(UserId(1))
        assert stored is not None
        await tx.users.save(attrs.evolve(stored, is_banned=True))
        await tx.commit()
    later = now + timedelta(hours=5)
    async with uow() as tx:
        await tx.users.update_seen(UserId(1), last_seen_at=later, username="new")
        await tx.commit()
    async with uow() as tx:
        user = await tx.users.get(UserId(1))
    assert user is not None
    assert (user.username, user.last_seen_at, user.is_banned) == ("new", later, True)


async def test_update_seen_of_an_unknown_user_is_not_found(uow: Store) -> None:
    async with uow() as tx:
        with pytest.raises(NotFoundError):
            await tx.users.update_seen(UserId(9), last_seen_at=uow.now(), username=None)
