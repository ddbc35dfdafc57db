"""Webhook mode: updates are stored in the inbox before they are acknowledged, then handled."""

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from kiebot_core.domain.ids import UserId
from kiebot_core.domain.ledger import Balance
from kiebot_core.ports.storage import UnitOfWorkFactory
from kiebot_pg.pool import open_pool
from kiebot_pg.uow import PgUnitOfWorkFactory
from tests.proxy import proxied
from tests.telegram.fake_bot_api import FakeBotApi
from tests.telegram.harness import WEBHOOK_PATH, WEBHOOK_TEST_SECRET, RunningBot, running_bot
from tests.telegram.test_payments import top_up

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"  # noqa: S105  # a header name


@pytest.fixture
def store(memory_and_pg: UnitOfWorkFactory) -> UnitOfWorkFactory:
    """Every webhook flow runs on the in-memory store and on PostgreSQL."""
    return memory_and_pg


@pytest.fixture
async def bot(api: FakeBotApi, store: UnitOfWorkFactory) -> AsyncIterator[RunningBot]:
    async with running_bot(api, store, webhook=True, welcome_stars=0) as running:
        yield running
    assert not api.errors(400), [(c.method, c.description) for c in api.errors(400)]


async def post(bot: RunningBot, update: dict[str, Any], secret: str | None) -> int:
    headers = {SECRET_HEADER: secret} if secret is not None else {}
    url = f"http://127.0.0.1:{bot.http_port}{WEBHOOK_PATH}"
    async with aiohttp.ClientSession() as http, http.post(url, json=update, headers=headers) as r:
        return r.status


async def answers(api: FakeBotApi, chat: int, *, at_least: int) -> list[str]:
    """The bot's messages in ``chat`` once it sent ``at_least`` and then went quiet."""
    called = asyncio.Event()
    api.observers.append(lambda _: called.set())
    async with asyncio.timeout(30):
        while True:
            called.clear()
            if len([m for m in api.messages(chat) if m.from_bot]) >= at_least:
                break
            await called.wait()
    await api.settle(quiet=0.5)
    return [m.shown for m in api.messages(chat) if m.from_bot]


def text_update(update_id: int, user_id: int, text: str) -> dict[str, Any]:
    person = {"id": user_id, "is_bot": False, "first_name": "Dee", "language_code": "en"}
    return {
        "update_id": update_id,
        "message": {
            "message_id": update_id,
            "date": 1_800_000_000,
            "chat": {"id": user_id, "type": "private", "first_name": "Dee"},
            "from": person,
            "text": text,
        },
    }


async def test_the_bot_registers_its_webhook_and_serves_users_and_payments(
    api: FakeBotApi, bot: RunningBot
):
    assert api.webhook_url == f"http://127.0.0.1:{bot.http_port}{WEBHOOK_PATH}"
    assert api.webhook_secret == WEBHOOK_TEST_SECRET
    assert api.webhook_allowed_updates is not None
    assert {"message", "callback_query", "pre_checkout_query"} <= set(api.webhook_allowed_updates)
    user = api.user()
    await user.send("/start")
    assert "Main menu" in user.last().shown
    await top_up(user)
    await api.settle()
    assert await bot.balance(user.id) == Balance(available=50)
    assert not api.unanswered_pre_checkouts()


async def test_a_request_without_the_secret_is_refused_and_stores_nothing(bot: RunningBot):
    bot.api.user(4321)
    update = text_update(9_000_001, 4321, "/start")
    assert await post(bot, update, None) == 401
    assert await post(bot, update, "wrong-secret") == 401
    assert await post(bot, {"not": "an update"}, WEBHOOK_TEST_SECRET) == 400
    async with bot.store() as uow:
        assert await uow.inbox.pending(limit=10) == []
    await bot.api.settle()
    assert bot.api.messages(4321) == []


async def test_a_repeated_update_is_stored_and_answered_once(bot: RunningBot):
    bot.api.user(4322)
    update = text_update(9_000_002, 4322, "zzqunknownmodel")
    assert await post(bot, update, WEBHOOK_TEST_SECRET) == 200
    assert await post(bot, update, WEBHOOK_TEST_SECRET) == 200
    answered = await answers(bot.api, 4322, at_least=1)
    assert len(answered) == 1, answered
    assert "zzqunknownmodel" in answered[0]


async def test_updates_are_answered_in_order_within_each_chat(bot: RunningBot):
    chats = (4401, 4402, 4403)
    for chat in chats:
        bot.api.user(chat)
    sent = {chat: [f"zzq{chat}x{n}" for n in range(6)] for chat in chats}
    update_ids = {chat: 9_100_000 + 100 * k for k, chat in enumerate(chats)}

    async def deliver(chat: int) -> list[int]:
        # Telegram sends one chat's updates one after another, and chats in parallel.
        return [
            await post(bot, text_update(update_ids[chat] + n, chat, query), WEBHOOK_TEST_SECRET)
            for n, query in enumerate(sent[chat])
        ]

    statuses = await asyncio.gather(*(deliver(chat) for chat in chats))
    assert {status for delivered in statuses for status in delivered} == {200}
    for chat in chats:
        texts = await answers(bot.api, chat, at_least=len(sent[chat]))
        answered = [query for text in texts for query in sent[chat] if f"«{query}»" in text]
        assert answered == sent[chat]


async def test_an_update_that_cannot_be_stored_is_not_acknowledged(api: FakeBotApi, pg_dsn: str):
    async with (
        proxied(pg_dsn) as (proxy, through),
        open_pool(through) as pool,
        running_bot(api, PgUnitOfWorkFactory(pool), webhook=True, welcome_stars=0) as bot,
    ):
        api.user(4501)
        update = text_update(9_300_001, 4501, "zzqoutage")
        proxy.cut()
        assert await post(bot, update, WEBHOOK_TEST_SECRET) == 503
        proxy.restore()
        for _ in range(50):  # the pool reconnects on its own
            if await post(bot, update, WEBHOOK_TEST_SECRET) == 200:
                break
            await asyncio.sleep(0.1)
        texts = await answers(api, 4501, at_least=1)
        assert any("zzqoutage" in text for text in texts), texts
        async with bot.store() as uow:
            assert await uow.users.get(UserId(4501)) is not None
