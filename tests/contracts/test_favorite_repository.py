from datetime import timedelta

import pytest

from kiebot_core.domain.catalog import JsonValue
from kiebot_core.domain.errors import DuplicateError
from kiebot_core.domain.favorites import TITLE_LENGTH, Favorite
from kiebot_core.domain.ids import FavoriteId, UserId
from tests.contracts.stores import BACKENDS, Store

pytestmark = pytest.mark.parametrize("uow", BACKENDS, indirect=True)

MODEL = "flux-2/pro-text-to-image"


def favorite(
    store: Store,
    favorite_id: str = "fav_1",
    *,
    user_id: int = 1,
    model_id: str = MODEL,
    answers: dict[str, JsonValue] | None = None,
    title: str = "a cat",
    later: timedelta = timedelta(0),
) -> Favorite:
    return Favorite(
        id=FavoriteId(favorite_id),
        user_id=UserId(user_id),
        model_id=model_id,
        answers={"prompt": "a cat", "n": 2} if answers is None else answers,
        title=title,
        created_at=store.now().replace(microsecond=0) + later,
    )


async def test_an_added_favorite_reads_back_equal(uow: Store) -> None:
    saved = favorite(
        uow,
        answers={"prompt": "Кот в шляпе", "n": 2, "hd": True, "ratio": 1.5, "urls": ["u"]},
    )
    async with uow() as tx:
        assert await tx.favorites.add(saved) == saved
        await tx.commit()
    async with uow() as tx:
        assert await tx.favorites.get(saved.id) == saved
        assert await tx.favorites.get(FavoriteId("fav_none")) is None
        assert await tx.favorites.for_user(UserId(1), limit=10) == [saved]


async def test_adding_the_same_preset_again_returns_the_first(uow: Store) -> None:
    first = favorite(uow, answers={"prompt": "a cat", "n": 2})
    async with uow() as tx:
        await tx.favorites.add(first)
        await tx.commit()
    again = favorite(
        uow, "fav_2", answers={"n": 2, "prompt": "a cat"}, title="other", later=timedelta(1)
    )
    async with uow() as tx:
        assert await tx.favorites.add(again) == first
        await tx.commit()
    async with uow() as tx:
        assert await tx.favorites.for_user(UserId(1), limit=10) == [first]
        assert await tx.favorites.get(FavoriteId("fav_2")) is None


async def test_other_answers_models_or_users_are_other_favorites(uow: Store) -> None:
    found = [
        favorite(uow, "fav_1"),
        favorite(uow, "fav_2", answers={"prompt": "a dog", "n": 2}, later=timedelta(seconds=1)),
        favorite(uow, "fav_3", model_id="other/model", later=timedelta(seconds=2)),
        favorite(uow, "fav_4", user_id=2, later=timedelta(seconds=3)),
    ]
    async with uow() as tx:
        for item in found:
            assert await tx.favorites.add(item) == item
        await tx.commit()
    async with uow() as tx:
        assert await tx.favorites.for_user(UserId(1), limit=10) == found[2::-1]
        assert await tx.favorites.for_user(UserId(2), limit=10) == [found[3]]


async def test_another_favorite_with_a_taken_id_is_a_duplicate(uow: Store) -> None:
    async with uow() as tx:
        await tx.favorites.add(favorite(uow))
        with pytest.raises(DuplicateError):
            await tx.favorites.add(favorite(uow, answers={"prompt": "a dog"}))


async def test_for_user_is_newest_first_then_by_id_and_limited(uow: Store) -> None:
    same_time = [favorite(uow, f"fav_{n}", answers={"prompt": str(n)}) for n in "ab"]
    newest = favorite(uow, "fav_0", answers={"prompt": "new"}, later=timedelta(minutes=1))
    async with uow() as tx:
        for item in [*same_time, newest]:
            await tx.favorites.add(item)
        await tx.commit()
    async with uow() as tx:
        everything = await tx.favorites.for_user(UserId(1), limit=10)
        assert [f.id for f in everything] == ["fav_0", "fav_b", "fav_a"]
        assert await tx.favorites.for_user(UserId(1), limit=2) == everything[:2]
        assert await tx.favorites.for_user(UserId(1), limit=0) == []
        assert await tx.favorites.for_user(UserId(9), limit=10) == []


async def test_only_the_owner_removes_a_favorite(uow: Store) -> None:
    saved = favorite(uow)
    async with uow() as tx:
        await tx.favorites.add(saved)
        await tx.commit()
    async with uow() as tx:
        assert not await tx.favorites.remove(UserId(2), saved.id)
        assert not await tx.favorites.remove(UserId(1), FavoriteId("fav_none"))
        await tx.commit()
    async with uow() as tx:
        assert await tx.favorites.get(saved.id) == saved
        assert await tx.favorites.remove(UserId(1), saved.id)
        assert not await tx.favorites.remove(UserId(1), saved.id)
        await tx.commit()
    async with uow() as tx:
        assert await tx.favorites.get(saved.id) is None
        assert await tx.favorites.for_user(UserId(1), limit=10) == []


async def test_a_removed_preset_can_be_saved_again(uow: Store) -> None:
    async with uow() as tx:
        await tx.favorites.add(favorite(uow))
        await tx.favorites.remove(UserId(1), FavoriteId("fav_1"))
        again = favorite(uow, "fav_2")
        assert await tx.favorites.add(again) == again
        await tx.commit()
    async with uow() as tx:
        assert await tx.favorites.for_user(UserId(1), limit=10) == [again]


async def test_an_uncommitted_add_is_rolled_back(uow: Store) -> None:
    async with uow() as tx:
        await tx.favorites.add(favorite(uow))
    async with uow() as tx:
        assert await tx.favorites.get(FavoriteId("fav_1")) is None


async def test_titles_are_collapsed_and_clipped(uow: Store) -> None:
    saved = favorite(uow, title="  a\n\ncat  " + "x" * 100)
    assert len(saved.title) == TITLE_LENGTH
    assert saved.title.startswith("a cat x")
    async with uow() as tx:
        await tx.favorites.add(saved)
        await tx.commit()
    async with uow() as tx:
        assert await tx.favorites.get(saved.id) == saved
