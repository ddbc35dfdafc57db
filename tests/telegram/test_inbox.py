"""The inbox: the chat each update belongs to, what is an update, and claims held while handled."""

import asyncio
import contextlib
from datetime import timedelta
from typing import Any

import pytest
from aiogram import Bot
from aiogram.types import Message
from hypothesis import given
from hypothesis import strategies as st

from kiebot_core.testing.memory import MemoryUnitOfWorkFactory
from kiebot_telegram import inbox as inbox_module
from kiebot_telegram.inbox import chat_of, is_update
from tests.telegram.fake_bot_api import FakeBotApi
from tests.telegram.test_journal import inbox_over, on_messages, send

PERSON = {"id": 42, "is_bot": False, "first_name": "Ann"}
CHAT = {"id": -100, "type": "group"}


@pytest.mark.parametrize(
    ("update", "chat"),
    [
        ({"update_id": 1, "message": {"chat": CHAT, "from": PERSON}}, -100),
        ({"update_id": 1, "edited_message": {"chat": CHAT}}, -100),
        ({"update_id": 1, "my_chat_member": {"chat": CHAT, "from": PERSON}}, -100),
        ({"update_id": 1, "callback_query": {"from": PERSON, "message": {"chat": CHAT}}}, -100),
        ({"update_id": 1, "callback_query": {"from": PERSON, "inline_message_id": "x"}}, 42),
        ({"update_id": 1, "pre_checkout_query": {"from": PERSON, "id": "q"}}, None),
        ({"update_id": 1, "message": {"chat": {"id": "not a number"}}}, None),
        ({"update_id": 1}, None),
    ],
)
def test_each_update_belongs_to_its_chat(update: dict[str, Any], chat: int | None):
    assert chat_of(update) == chat


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=12,
)
keys = st.sampled_from(["update_id", "message", "callback_query", "chat", "id", "from", "x"])


@given(st.dictionaries(keys, json_values | st.dictionaries(keys, json_values), max_size=4))
def test_any_json_object_gives_a_chat_or_none_and_never_fails(payload: dict[str, Any]):
    chat = chat_of(payload)
    assert chat is None or isinstance(chat, int)
    assert is_update(payload) is (
        isinstance(payload.get("update_id"), int) and not isinstance(payload["update_id"], bool)
    )


@pytest.mark.parametrize("payload", [[], "x", 1, None, {"update_id": True}, {"update_id": "1"}])
def test_what_is_not_an_update(payload: object):
    assert not is_update(payload)


async def test_updates_in_hand_keep_their_claims_and_are_handed_back_when_stopped(
    api: FakeBotApi, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr(inbox_module, "CLAIM_LEASE", timedelta(milliseconds=300))
    monkeypatch.setattr(inbox_module, "HEARTBEAT", timedelta(milliseconds=100))
    started, release = asyncio.Event(), asyncio.Event()

    async def slow(message: Message, bot: Bot) -> None:  # aiogram passes it by name
        started.set()
        await release.wait()
        await message.answer("done")

    store = MemoryUnitOfWorkFactory()
    async with inbox_over(api, store, on_messages(slow)) as inbox:
        user = api.user()
        await send(api, inbox, user, "hello")
        stop = asyncio.Event()
        running = asyncio.create_task(inbox.run(stop, idle_s=0.05))
        await asyncio.wait_for(started.wait(), 5)
        await asyncio.sleep(1.0)  # three leases long: only the heartbeat keeps the claim
        async with store() as uow:
            assert await uow.inbox.claim(limit=10, lease=timedelta(seconds=1)) == []
        running.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await running
        async with store() as uow:
            handed_back = await uow.inbox.claim(limit=10, lease=timedelta(seconds=1))
        assert [update.attempts for update in handed_back] == [2], "claimable again at once"
    assert not any(message.shown == "done" for message in user.bot_messages())
