"""The FSM storage over the conversation repository, and users the bot refuses."""

import attrs
import pytest
from aiogram.fsm.state import State
from aiogram.fsm.storage.base import StorageKey

from kiebot_core.domain.ids import UserId
from kiebot_core.domain.reasons import ReasonCode, reason_text
from kiebot_core.domain.texts import Language
from kiebot_core.testing.memory import MemoryUnitOfWorkFactory
from kiebot_telegram.storage import ConversationStorage
from tests.telegram.fake_bot_api import FakeBotApi
from tests.telegram.harness import RunningBot

KEY = StorageKey(bot_id=1, chat_id=2, user_id=3)


async def test_state_and_data_live_in_the_store(store: MemoryUnitOfWorkFactory):
    storage = ConversationStorage(store)
    assert await storage.get_state(KEY) is None
    assert await storage.get_data(KEY) == {}
    await storage.set_state(KEY, State("wizard", group_name="Flow"))
    await storage.set_data(KEY, {"wiz": {"answers": {"prompt": "a fox"}}, "msg": 7})
    assert await storage.update_data(KEY, {"msg": 8}) == {
        "wiz": {"answers": {"prompt": "a fox"}},
        "msg": 8,
    }
    again = ConversationStorage(store)  # a restarted process
    assert await again.get_state(KEY) == "Flow:wizard"
    assert (await again.get_data(KEY))["msg"] == 8
    await again.set_state(KEY, None)
    assert await again.get_state(KEY) is None
    assert (await again.get_data(KEY))["msg"] == 8
    async with store() as uow:
        stored = await uow.conversations.get(1, 2, 3)
    assert stored is not None
    assert stored.data["msg"] == 8
    await again.close()


async def test_data_must_be_json(store: MemoryUnitOfWorkFactory):
    storage = ConversationStorage(store)
    with pytest.raises(TypeError):
        await storage.set_data(KEY, {"when": object()})
    with pytest.raises(ValueError, match="destiny"):
        await storage.get_state(StorageKey(bot_id=1, chat_id=2, user_id=3, destiny="other"))


async def test_a_banned_user_gets_the_ban_text_once_then_nothing(api: FakeBotApi, bot: RunningBot):
    user = api.user(language_code="ru")
    await user.send("/start")
    menu = user.last()
    async with bot.store() as uow:
        stored = await uow.users.get(UserId(user.id))
        assert stored is not None
        await uow.users.save(attrs.evolve(stored, is_banned=True))
        await uow.commit()
    await user.send("/start")
    assert user.last().shown == reason_text(ReasonCode.BANNED, Language.RU)
    told = len(user.bot_messages())
    record = await user.press("🔥 Популярное", menu)
    assert record.answered_at is not None
    assert (record.text, record.show_alert) == (None, False)
    await user.send("/start")
    await user.send("hello?")
    assert len(user.bot_messages()) == told


async def test_a_banned_user_pressing_a_button_first_gets_the_text_as_an_alert(
    api: FakeBotApi, bot: RunningBot
):
    user = api.user(language_code="ru")
    await user.send("/start")
    menu = user.last()
    async with bot.store() as uow:
        stored = await uow.users.get(UserId(user.id))
        assert stored is not None
        await uow.users.save(attrs.evolve(stored, is_banned=True))
        await uow.commit()
    record = await user.press("🔥 Популярное", menu)
    assert record.show_alert
    assert record.text == reason_text(ReasonCode.BANNED, Language.RU)
    await user.send("/start")
    assert user.last() == menu
