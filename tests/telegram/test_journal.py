"""The sent-message journal: an update the inbox hands out again does not answer twice."""

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from aiogram import Bot, Dispatcher, Router
from aiogram.types import CallbackQuery, Message

from kiebot_core.ports.runtime import SystemClock
from kiebot_core.ports.storage import UnitOfWorkFactory
from kiebot_telegram.dispatcher import make_bot
from kiebot_telegram.inbox import Inbox
from kiebot_telegram.journal import current_scope
from kiebot_telegram.middlewares import NoSilenceMiddleware
from tests.telegram.fake_bot_api import FakeBotApi, FakeUser


class WorkerDiedError(Exception):
    """Stands for a crash between the handler's calls and the update being marked done."""


MessageHandler = Callable[[Message, Bot], Awaitable[None]]


def on_messages(handler: MessageHandler) -> Router:
    router = Router()
    router.message()(handler)
    return router


@asynccontextmanager
async def inbox_over(
    api: FakeBotApi, store: UnitOfWorkFactory, router: Router
) -> AsyncIterator[Inbox]:
    """An inbox feeding a dispatcher with only ``router`` (its errors reach the inbox)."""
    bot = make_bot(api.token, api.base_url)
    dispatcher = Dispatcher()
    dispatcher.update.outer_middleware(NoSilenceMiddleware())
    dispatcher.include_router(router)
    try:
        yield Inbox(bot, dispatcher, store, SystemClock())
    finally:
        await bot.session.close()


async def receive(api: FakeBotApi, inbox: Inbox) -> int:
    """Store the update the fake Bot API queued last; its id."""
    payload: dict[str, Any] = api.updates[-1]
    assert await inbox.receive(payload) is True
    update_id: int = payload["update_id"]
    return update_id


async def send(api: FakeBotApi, inbox: Inbox, user: FakeUser, text: str) -> int:
    await user.send(text, wait=False)
    return await receive(api, inbox)


async def handle_everything(inbox: Inbox) -> None:
    while await inbox.process_due():
        pass


async def methods_recorded(store: UnitOfWorkFactory, bot: Bot, update_id: int) -> list[str]:
    found = []
    async with store() as uow:
        seq = 1
        while (recorded := await uow.sent_messages.recorded(bot.id, update_id, seq)) is not None:
            found.append(recorded.method)
            seq += 1
    return found


async def test_a_retried_update_does_not_send_again_what_it_sent_before(
    api: FakeBotApi, memory_and_pg: UnitOfWorkFactory
) -> None:
    greetings: list[Message] = []

    async def answer(message: Message, bot: Bot) -> None:
        await bot.get_me()
        await bot.send_chat_action(message.chat.id, "typing")
        greetings.append(await message.answer("Hello"))
        if len(greetings) == 1:
            raise WorkerDiedError
        await message.answer("Bye")

    user = api.user()
    async with inbox_over(api, memory_and_pg, on_messages(answer)) as inbox:
        update_id = await send(api, inbox, user, "hi")
        assert await inbox.process_due() == 1
        assert [m.shown for m in user.bot_messages()] == ["Hello"]
        assert await inbox.process_due() == 1
        assert await inbox.process_due() == 0
        recorded = await methods_recorded(memory_and_pg, inbox.bot, update_id)

    assert [m.shown for m in user.bot_messages()] == ["Hello", "Bye"]
    assert len(api.calls_of("sendMessage")) == 2
    first, replayed = greetings
    assert replayed == first
    assert replayed.bot is inbox.bot
    # Reading calls and chat actions are made on every run and never numbered.
    assert len(api.calls_of("getMe")) == 2
    assert len(api.calls_of("sendChatAction")) == 2
    assert recorded == ["sendMessage", "sendMessage"]


async def test_every_update_sends_its_own_answers(
    api: FakeBotApi, store: UnitOfWorkFactory
) -> None:
    async def echo(message: Message, bot: Bot) -> None:
        await message.answer(f"You said {message.text}")

    user = api.user()
    async with inbox_over(api, store, on_messages(echo)) as inbox:
        for text in ("a", "b", "a"):
            await send(api, inbox, user, text)
        await handle_everything(inbox)

    assert [m.shown for m in user.bot_messages()] == ["You said a", "You said b", "You said a"]


async def test_a_retried_callback_query_is_answered_once(
    api: FakeBotApi, store: UnitOfWorkFactory
) -> None:
    runs: list[str] = []
    router = Router()

    @router.callback_query()
    async def pressed(query: CallbackQuery) -> None:
        runs.append(str(query.data))
        await query.answer("Done")
        if len(runs) == 1:
            raise WorkerDiedError

    user = api.user()
    async with inbox_over(api, store, router) as inbox:
        menu = await inbox.bot.send_message(user.id, "Pick one")
        record = await user.press_data("go", user.find("Pick one"), wait=False)
        await receive(api, inbox)
        await handle_everything(inbox)

    assert menu.text == "Pick one"
    assert runs == ["go", "go"]
    assert record.answered_at is not None
    assert record.text == "Done"
    assert len(api.calls_of("answerCallbackQuery")) == 1
    assert not api.errors(400)


async def test_a_retry_that_takes_another_path_makes_its_new_calls(
    api: FakeBotApi, store: UnitOfWorkFactory
) -> None:
    sent: list[Message] = []

    async def answer(message: Message, bot: Bot) -> None:
        if not sent:
            sent.append(await message.answer("Hello"))
            raise WorkerDiedError
        # The first call of this run is another method than the first call of the run before.
        await bot.delete_message(message.chat.id, sent[0].message_id)
        await message.answer("Hello again")

    user = api.user()
    async with inbox_over(api, store, on_messages(answer)) as inbox:
        await send(api, inbox, user, "hi")
        await handle_everything(inbox)

    assert [m.shown for m in user.bot_messages()] == ["Hello again"]
    assert len(api.calls_of("deleteMessage")) == 1
    assert len(api.calls_of("sendMessage")) == 2


async def test_a_call_retried_through_flood_control_is_one_journaled_call(
    api: FakeBotApi, store: UnitOfWorkFactory
) -> None:
    runs: list[int] = []

    async def answer(message: Message, bot: Bot) -> None:
        runs.append(len(runs))
        await message.answer("Hello")
        if len(runs) == 1:
            raise WorkerDiedError

    user = api.user()
    api.flood("sendMessage")
    async with inbox_over(api, store, on_messages(answer)) as inbox:
        update_id = await send(api, inbox, user, "hi")
        await handle_everything(inbox)
        recorded = await methods_recorded(store, inbox.bot, update_id)

    assert runs == [0, 1]
    assert [call.error_code for call in api.calls_of("sendMessage")] == [429, None]
    assert [m.shown for m in user.bot_messages()] == ["Hello"]
    assert recorded == ["sendMessage"]


async def test_a_call_telegram_refused_is_made_again_on_the_retry(
    api: FakeBotApi, store: UnitOfWorkFactory
) -> None:
    async def answer(message: Message, bot: Bot) -> None:
        await message.answer("Hello")

    user = api.user()
    user.block()
    async with inbox_over(api, store, on_messages(answer)) as inbox:
        update_id = await send(api, inbox, user, "hi")
        assert await inbox.process_due() == 1
        assert await methods_recorded(store, inbox.bot, update_id) == []
        user.info.blocked = False
        await handle_everything(inbox)

    assert [call.error_code for call in api.calls_of("sendMessage")] == [403, None]
    assert [m.shown for m in user.bot_messages()] == ["Hello"]


async def test_nothing_is_journaled_outside_an_inbox_update(
    api: FakeBotApi, store: UnitOfWorkFactory
) -> None:
    scopes: list[object] = []

    async def answer(message: Message, bot: Bot) -> None:
        scopes.append(current_scope())
        await message.answer("Hello")

    user = api.user()
    async with inbox_over(api, store, on_messages(answer)) as inbox:
        await user.send("hi", wait=False)
        payload = api.updates[-1]
        # The same update fed twice without the inbox is handled twice, answers and all.
        await inbox.dispatcher.feed_raw_update(inbox.bot, payload)
        await inbox.dispatcher.feed_raw_update(inbox.bot, payload)
        await inbox.bot.send_message(user.id, "Hello")
        recorded = await methods_recorded(store, inbox.bot, payload["update_id"])

    assert scopes == [None, None]
    assert [m.shown for m in user.bot_messages()] == ["Hello", "Hello", "Hello"]
    assert recorded == []
