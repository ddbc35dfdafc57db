from tests.telegram.fake_bot_api import FakeBotApi
from tests.telegram.harness import RunningBot


async def test_start_in_english_shows_the_menu_and_the_welcome_gift(
    api: FakeBotApi, bot: RunningBot
):
    user = api.user(language_code="en-US")
    await user.send("/start")
    menu = user.last()
    assert "Hi, Ann!" in menu.shown
    assert "100 ⭐ were added" in menu.shown
    assert "Main menu" in menu.shown
    assert "🔥 Popular" in menu.labels()
    assert (await bot.balance(user.id)).available == 100


async def test_start_in_russian(api: FakeBotApi, bot: RunningBot):
    user = api.user(language_code="ru")
    await user.send("/start")
    assert "Главное меню" in user.last().shown
    assert "🔥 Популярное" in user.last().labels()
