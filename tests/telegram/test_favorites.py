"""⭐ Favorites: saved from a delivered result, listed from the menu, run again, deleted."""

from datetime import UTC, datetime, timedelta

from kiebot_core.domain.favorites import Favorite
from kiebot_core.domain.ids import FavoriteId, UserId
from kiebot_core.domain.reasons import ReasonCode, reason_text
from kiebot_core.domain.texts import Language
from kiebot_core.ports.storage import UnitOfWorkFactory
from kiebot_core.testing.memory import MemoryUnitOfWorkFactory
from kiebot_telegram.callbacks import Fav, FavAct
from tests.telegram.fake_bot_api import FakeBotApi, FakeUser
from tests.telegram.flows import open_model, title, wait_finished
from tests.telegram.harness import RunningBot, running_bot

BANANA = "nano-banana-pro"
AT = datetime(2026, 1, 1, tzinfo=UTC)


async def favorites_of(store: UnitOfWorkFactory, user: FakeUser) -> list[Favorite]:
    async with store() as uow:
        return await uow.favorites.for_user(UserId(user.id), limit=100)


def preset(n: int, user_id: int, model_id: str = BANANA) -> Favorite:
    return Favorite(
        id=FavoriteId(f"fav_{n:02d}"),
        user_id=UserId(user_id),
        model_id=model_id,
        answers={"prompt": f"fox number {n}"},
        title=f"fox number {n}",
        created_at=AT + timedelta(minutes=n),
    )


async def test_favorite_a_result_then_run_it_from_the_menu_and_delete_it(
    api: FakeBotApi, bot: RunningBot
):
    user = api.user()
    await user.send("/start")
    await open_model(user, BANANA)
    await user.send("a fox in the snow")
    await user.press("⏩ Skip optional")
    await user.press("✅ Confirm")
    await wait_finished(bot, user)
    photo = next(m for m in user.bot_messages() if m.media == "photo")

    saved = await user.press("⭐ Favorite", photo)
    assert saved.text == "⭐ Saved to your favorites."
    again = await user.press("⭐ Favorite", photo)
    assert again.text == "⭐ Already in your favorites."
    [favorite] = await favorites_of(bot.store, user)
    assert favorite.model_id == BANANA
    assert favorite.answers["prompt"] == "a fox in the snow"
    assert favorite.title == "a fox in the snow"

    await user.press("🏠 Menu", photo)
    await user.press("⭐ Favorites")
    listing = user.last()
    assert "Your favorites" in listing.shown
    assert title(BANANA) in listing.shown
    assert "a fox in the snow" in listing.shown
    assert listing.labels() == ["▶️ 1", "🗑 1", "🏠 Menu"]

    await user.press("▶️ 1", listing)
    confirm = user.last()
    assert confirm.message_id == listing.message_id  # the list turns into the wizard
    assert "Check and confirm" in confirm.shown
    assert "a fox in the snow" in confirm.shown
    assert "Price: 15 ⭐" in confirm.shown
    assert any(label.startswith("✅ Confirm") for label in confirm.labels())

    await user.press("🏠 Menu", confirm)
    await user.press("⭐ Favorites")
    removed = await user.press("🗑 1")
    assert removed.text == "🗑 Removed from your favorites."
    assert "No favorites yet" in user.last().shown
    assert await favorites_of(bot.store, user) == []


async def test_many_favorites_are_paginated_and_deleting_keeps_the_page(api: FakeBotApi):
    store = MemoryUnitOfWorkFactory()
    user = api.user(2001, "Ben", "ru")
    async with store() as uow:
        for n in range(1, 8):
            await uow.favorites.add(preset(n, user.id))
        await uow.commit()
    async with running_bot(api, store):
        await user.send("/start")
        await user.press("⭐ Избранное")
        first = user.last()
        assert "стр. 1/2" in first.shown
        assert "fox number 7" in first.shown  # newest first
        assert "fox number 2" not in first.shown
        await user.press("▶️", first)
        second = user.last()
        assert "стр. 2/2" in second.shown
        assert "fox number 1" in second.shown
        record = await user.press("🗑 7", second)  # the 7th entry: the oldest, fox number 1
        assert record.text == "🗑 Удалено из избранного."
        assert "стр. 2/2" in user.last().shown
        assert "fox number 2" in user.last().shown
        assert "fox number 1" not in user.last().shown
        assert [f.id for f in await favorites_of(store, user)][-1] == "fav_02"
        assert len(await favorites_of(store, user)) == 6
    assert not api.errors(400), [(c.method, c.description) for c in api.errors(400)]
    assert not api.unanswered()


async def test_a_favorite_of_a_disabled_or_unknown_model_says_so(api: FakeBotApi):
    store = MemoryUnitOfWorkFactory()
    user = api.user()
    disabled, unknown = preset(1, user.id), preset(2, user.id, "gone/model-v0")
    async with store() as uow:
        await uow.toggles.set(BANANA, enabled=False)
        await uow.favorites.add(disabled)
        await uow.favorites.add(unknown)
        await uow.commit()
    reason = reason_text(ReasonCode.MODEL_DISABLED, Language.EN)
    async with running_bot(api, store):
        await user.send("/start")
        await user.press("⭐ Favorites")
        listing = user.last()
        assert listing.shown.count(reason) == 2
        assert "gone/model-v0" in listing.shown
        assert listing.labels() == ["🗑 1", "🗑 2", "🏠 Menu"]  # nothing to run
        for favorite in (disabled, unknown):
            data = Fav(act=FavAct.RUN, id=favorite.id).pack()  # a button from an older list
            record = await user.press_data(data, listing)
            assert record.show_alert
            assert record.text == reason
        assert "Your favorites" in user.last().shown
    assert not api.errors(400), [(c.method, c.description) for c in api.errors(400)]
    assert not api.unanswered()
