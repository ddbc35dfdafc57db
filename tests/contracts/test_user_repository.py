import attrs
import pytest

from kiebot_core.domain.errors import DuplicateError, NotFoundError
from kiebot_core.domain.ids import UserId
from kiebot_core.domain.texts import Language
from tests.contracts.builders import make_user
from tests.contracts.stores import BACKENDS, Store

pytestmark = pytest.mark.parametrize("uow", BACKENDS, indirect=True)


async def test_an_unknown_user_is_none(uow: Store) -> None:
    async with uow() as tx:
        assert await tx.users.get(UserId(404)) is None


async def test_an_added_user_reads_back_equal(uow: Store) -> None:
    user = make_user(
        5,
        at=uow.now(),
        language=Language.RU,
        referrer_id=UserId(3),
        is_admin=True,
        terms_version=2,
    )
    async with uow() as tx:
        await tx.users.add(user)
        await tx.commit()
    async with uow() as tx:
        assert await tx.users.get(UserId(5)) == user


async def test_adding_an_existing_id_is_a_duplicate_and_the_unit_stays_usable(uow: Store) -> None:
    async with uow() as tx:
        await tx.users.add(make_user(1, at=uow.now()))
        await tx.commit()
    async with uow() as tx:
        with pytest.raises(DuplicateError):
            await tx.users.add(make_user(1, at=uow.now(), language=Language.RU))
        await tx.users.add(make_user(2, at=uow.now()))
        await tx.commit()
    async with uow() as tx:
        first = await tx.users.get(UserId(1))
        assert first is not None
        assert first.language is Language.EN
        assert await tx.users.get(UserId(2)) is not None


async def test_save_replaces_every_field(uow: Store) -> None:
    user = make_user(1, at=uow.now())
    async with uow() as tx:
        await tx.users.add(user)
        await tx.commit()
    changed = attrs.evolve(
        user,
        language=Language.RU,
        is_banned=True,
        is_admin=True,
        terms_version=3,
        referrer_id=UserId(9),
    )
    async with uow() as tx:
        await tx.users.save(changed)
        await tx.commit()
    async with uow() as tx:
        assert await tx.users.get(user.id) == changed


async def test_saving_a_user_never_added_is_not_found(uow: Store) -> None:
    async with uow() as tx:
        with pytest.raises(NotFoundError):
            await tx.users.save(make_user(8, at=uow.now()))


async def test_an_uncommitted_add_is_rolled_back(uow: Store) -> None:
    async with uow() as tx:
        await tx.users.add(make_user(1, at=uow.now()))
    async with uow() as tx:
        assert await tx.users.get(UserId(1)) is None
