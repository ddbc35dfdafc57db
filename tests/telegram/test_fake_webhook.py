"""The fake Bot API delivers updates by webhook like Telegram: a tiny receiver on loopback."""

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
import attrs
import pytest
from aiogram import Dispatcher
from aiogram.methods import SendMessage
from aiogram.types import Message
from aiogram.webhook.aiohttp_server import SimpleRequestHandler
from aiohttp import web

from kiebot_telegram.dispatcher import make_bot
from tests.telegram.fake_bot_api import SECRET_HEADER, WEBHOOK_CONFLICT, FakeBotApi

SECRET = "s3cret_TOKEN-1"  # noqa: S105  # a made-up webhook secret


@attrs.define
class Receiver:
    """A webhook: records what it gets; answers ``statuses`` in turn, then 200 with ``reply``.

    A request for an update id in ``holds`` is answered only once its event is set.
    """

    statuses: list[int] = attrs.Factory(list)
    reply: dict[str, Any] = attrs.Factory(dict)
    holds: dict[int, asyncio.Event] = attrs.Factory(dict)
    received: list[dict[str, Any]] = attrs.Factory(list)
    secrets: list[str | None] = attrs.Factory(list)
    content_types: list[str] = attrs.Factory(list)
    port: int = 0
    runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def ids(self) -> list[int]:
        return [update["update_id"] for update in self.received]

    def texts(self) -> list[str]:
        return [update["message"]["text"] for update in self.received if "message" in update]

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/hook", self.handle)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", self.port, reuse_address=True)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()
            self.runner = None

    async def handle(self, request: web.Request) -> web.Response:
        update = await request.json()
        self.received.append(update)
        self.secrets.append(request.headers.get(SECRET_HEADER))
        self.content_types.append(request.content_type)
        hold = self.holds.get(update["update_id"])
        if hold is not None:
            await hold.wait()
        status = self.statuses.pop(0) if self.statuses else 200
        return web.json_response(self.reply if status == 200 else {}, status=status)


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    hook = Receiver()
    await hook.start()
    yield hook
    for hold in hook.holds.values():
        hold.set()
    await hook.stop()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
def fast(api: FakeBotApi) -> FakeBotApi:
    api.webhook_retry_delay = 0.02
    api.webhook_retry_max = 0.1
    return api


async def call(
    http: aiohttp.ClientSession, api: FakeBotApi, method: str, **params: Any
) -> tuple[int, dict[str, Any]]:
    async with http.post(f"{api.base_url}/bot{api.token}/{method}", json=params) as response:
        return response.status, await response.json()


async def set_webhook(
    http: aiohttp.ClientSession, api: FakeBotApi, url: str, **params: Any
) -> None:
    status, body = await call(http, api, "setWebhook", url=url, **params)
    assert (status, body) == (200, {"ok": True, "result": True})


async def info(http: aiohttp.ClientSession, api: FakeBotApi) -> dict[str, Any]:
    status, body = await call(http, api, "getWebhookInfo")
    assert status == 200
    result: dict[str, Any] = body["result"]
    return result


async def until(predicate: Callable[[], object], within_s: float = 3.0) -> None:
    deadline = time.monotonic() + within_s
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)


async def test_updates_arrive_in_order_with_the_secret_token(
    api: FakeBotApi, receiver: Receiver, http: aiohttp.ClientSession
):
    await set_webhook(http, api, receiver.url, secret_token=SECRET)
    assert (api.webhook_url, api.webhook_secret) == (receiver.url, SECRET)
    user = api.user()

    ids = [await user.send(text, wait=False) for text in ("one", "two", "three")]
    await api.processed(ids[-1])

    assert receiver.texts() == ["one", "two", "three"]
    assert receiver.secrets == [SECRET] * 3
    assert receiver.content_types == ["application/json"] * 3
    assert api.webhook_delivered == ids
    assert api.webhook_errors == []
    assert api.updates == []
    assert api.confirmed == ids[-1] + 1
    assert await info(http, api) == {
        "url": receiver.url,
        "has_custom_certificate": False,
        "pending_update_count": 0,
        "max_connections": 40,
    }


async def test_an_update_the_webhook_refuses_is_sent_again(
    api: FakeBotApi, receiver: Receiver, http: aiohttp.ClientSession
):
    receiver.statuses = [500]
    await set_webhook(http, api, receiver.url)

    update_id = await api.user().send("hello")  # waits until acknowledged

    assert receiver.ids() == [update_id, update_id]
    assert receiver.secrets == [None, None]
    assert api.webhook_delivered == [update_id]
    assert api.webhook_errors == [(update_id, 500)]
    webhook = await info(http, api)
    assert (
        webhook["last_error_message"]
        == "Wrong response from the webhook: 500 Internal Server Error"
    )
    assert abs(webhook["last_error_date"] - time.time()) < 5
    assert webhook["pending_update_count"] == 0


async def test_a_webhook_that_is_down_gets_every_update_once_it_is_up(
    fast: FakeBotApi, receiver: Receiver, http: aiohttp.ClientSession
):
    api = fast
    await receiver.stop()  # the port stays known: connections to it are refused
    await set_webhook(http, api, receiver.url)
    user = api.user()
    ids = [await user.send(text, wait=False) for text in ("first", "second")]

    await until(lambda: len(api.webhook_errors) >= 3)
    assert {update_id for update_id, _ in api.webhook_errors} == {ids[0]}  # the chat waits
    assert all(isinstance(error, aiohttp.ClientConnectorError) for _, error in api.webhook_errors)
    webhook = await info(http, api)
    assert webhook["last_error_message"] == "Connection refused"
    assert webhook["pending_update_count"] == 2

    await receiver.start()
    await api.processed(ids[-1])

    assert receiver.texts() == ["first", "second"]
    assert api.webhook_delivered == ids


async def test_a_webhook_that_does_not_answer_in_time_gets_the_update_again(
    fast: FakeBotApi, receiver: Receiver, http: aiohttp.ClientSession
):
    api = fast
    api.webhook_timeout = 0.1
    await set_webhook(http, api, receiver.url)
    user = api.user()
    update_id = await user.send("slow", wait=False)
    receiver.holds[update_id] = asyncio.Event()

    await until(lambda: api.webhook_errors)
    assert isinstance(api.webhook_errors[0][1], TimeoutError)
    assert (await info(http, api))["last_error_message"] == "Read timeout expired"

    receiver.holds[update_id].set()
    await api.processed(update_id)
    assert receiver.ids()[-1] == update_id
    assert api.webhook_delivered == [update_id]


async def test_only_the_allowed_update_types_are_delivered(
    api: FakeBotApi, receiver: Receiver, http: aiohttp.ClientSession
):
    await set_webhook(http, api, receiver.url, allowed_updates=["message"])
    assert api.webhook_allowed_updates == ["message"]
    user = api.user()

    edited = await api.push({"edited_message": {"message_id": 1, "chat": {"id": user.id}}})
    await api.processed(edited)  # acknowledged without delivery
    sent = await user.send("kept")

    assert receiver.ids() == [sent]
    assert api.webhook_delivered == [sent]
    assert (await info(http, api))["allowed_updates"] == ["message"]

    # Telegram: when a call leaves allowed_updates out, the previous setting stays.
    await set_webhook(http, api, receiver.url)
    assert api.webhook_allowed_updates == ["message"]
    await set_webhook(http, api, receiver.url, allowed_updates=[])
    later = await api.push({"edited_message": {"message_id": 1, "chat": {"id": user.id}}})
    await api.processed(later)
    assert receiver.ids() == [sent, later]
    assert "allowed_updates" not in await info(http, api)


async def test_get_updates_conflicts_with_a_webhook(
    api: FakeBotApi, receiver: Receiver, http: aiohttp.ClientSession
):
    polling = asyncio.create_task(call(http, api, "getUpdates", timeout=5))
    await until(lambda: api._poll_generation == 1)
    await set_webhook(http, api, receiver.url)

    conflict = {"ok": False, "error_code": 409, "description": WEBHOOK_CONFLICT}
    assert await asyncio.wait_for(polling, 2) == (409, conflict)  # the long poll ends
    assert await call(http, api, "getUpdates") == (409, conflict)
    assert WEBHOOK_CONFLICT.startswith("Conflict: can't use getUpdates method while webhook")

    assert await call(http, api, "deleteWebhook") == (200, {"ok": True, "result": True})
    assert await call(http, api, "getUpdates") == (200, {"ok": True, "result": []})


async def test_delete_webhook_stops_the_deliveries(
    api: FakeBotApi, receiver: Receiver, http: aiohttp.ClientSession
):
    await set_webhook(http, api, receiver.url, secret_token=SECRET)
    user = api.user()
    first = await user.send("delivered")

    await call(http, api, "deleteWebhook")
    assert (api.webhook_url, api.webhook_secret) == (None, None)
    second = await user.send("queued", wait=False)
    await asyncio.sleep(0.1)

    assert receiver.ids() == [first]
    assert await info(http, api) == {
        "url": "",
        "has_custom_certificate": False,
        "pending_update_count": 1,
    }
    status, body = await call(http, api, "getUpdates")
    assert status == 200
    assert [update["update_id"] for update in body["result"]] == [second]

    await call(http, api, "deleteWebhook", drop_pending_updates=True)
    await api.processed(second)
    assert api.updates == []
    assert receiver.ids() == [first]


async def test_set_webhook_can_drop_the_pending_updates(
    api: FakeBotApi, receiver: Receiver, http: aiohttp.ClientSession
):
    stale = await api.user().send("stale", wait=False)
    await set_webhook(http, api, receiver.url, drop_pending_updates=True)
    await api.processed(stale)
    fresh = await api.user().send("fresh")
    assert receiver.ids() == [fresh]


@pytest.mark.parametrize(
    ("params", "description"),
    [
        (
            {"secret_token": "not allowed!"},
            "Bad Request: secret token contains unallowed characters",
        ),
        ({"secret_token": "x" * 257}, "Bad Request: secret token contains unallowed characters"),
        ({"max_connections": 0}, "Bad Request: bad webhook: max_connections must be between 1"),
        ({"max_connections": 101}, "Bad Request: bad webhook: max_connections must be between 1"),
        ({"allowed_updates": "message"}, "Bad Request: can't parse allowed_updates JSON object"),
        (
            {"url": "ftp://127.0.0.1/hook"},
            "Bad Request: bad webhook: An HTTPS URL must be provided for webhook",
        ),
    ],
)
async def test_set_webhook_refuses_bad_parameters(
    api: FakeBotApi,
    receiver: Receiver,
    http: aiohttp.ClientSession,
    params: dict[str, Any],
    description: str,
):
    status, body = await call(http, api, "setWebhook", **{"url": receiver.url, **params})
    assert (status, body["ok"], body["error_code"]) == (400, False, 400)
    assert body["description"].startswith(description)
    assert api.webhook_url is None
    assert await call(http, api, "getUpdates") == (200, {"ok": True, "result": []})


async def test_a_chat_waits_for_its_previous_update_while_other_chats_go_on(
    api: FakeBotApi, receiver: Receiver, http: aiohttp.ClientSession
):
    await set_webhook(http, api, receiver.url)
    ann, bob = api.user(1001, "Ann"), api.user(1002, "Bob")
    ann_first = await ann.send("ann 1", wait=False)
    receiver.holds[ann_first] = asyncio.Event()
    ann_second = await ann.send("ann 2", wait=False)

    bob_first = await bob.send("bob 1")  # delivered while Ann's first is held open

    assert receiver.ids() == [ann_first, bob_first]
    assert api.webhook_delivered == [bob_first]
    assert api.confirmed == ann_first  # the oldest update still unacknowledged

    receiver.holds[ann_first].set()
    await api.processed(ann_second)
    assert receiver.ids() == [ann_first, bob_first, ann_second]
    assert api.webhook_delivered == [bob_first, ann_first, ann_second]
    assert api.confirmed == bob_first + 1  # the newest


async def test_max_connections_bounds_the_requests_in_flight(
    api: FakeBotApi, receiver: Receiver, http: aiohttp.ClientSession
):
    await set_webhook(http, api, receiver.url, max_connections=1)
    ann, bob = api.user(1001, "Ann"), api.user(1002, "Bob")
    ann_first = await ann.send("ann 1", wait=False)
    receiver.holds[ann_first] = asyncio.Event()
    bob_first = await bob.send("bob 1", wait=False)

    await until(lambda: receiver.received)
    await asyncio.sleep(0.05)
    assert receiver.ids() == [ann_first]

    receiver.holds[ann_first].set()
    await api.processed(bob_first)
    assert receiver.ids() == [ann_first, bob_first]
    assert (await info(http, api))["max_connections"] == 1


async def test_a_method_in_the_webhook_answer_is_run(
    api: FakeBotApi, receiver: Receiver, http: aiohttp.ClientSession
):
    user = api.user()
    receiver.reply = {"method": "sendMessage", "chat_id": user.id, "text": "<b>hi</b>"}
    receiver.reply["parse_mode"] = "HTML"
    await set_webhook(http, api, receiver.url)

    await user.send("hello")
    assert user.last().shown == "hi"
    assert user.last().entities == [{"type": "bold", "offset": 0, "length": 2}]

    receiver.reply = {"method": "sendMessage", "chat_id": 999, "text": "nobody"}
    update_id = await user.send("again")  # acknowledged although the reply failed
    assert api.webhook_delivered[-1] == update_id
    assert [call.description for call in api.errors(400)] == ["Bad Request: chat not found"]


async def test_an_aiogram_bot_runs_on_the_webhook(api: FakeBotApi, http: aiohttp.ClientSession):
    bot = make_bot(api.token, api.base_url)
    dispatcher = Dispatcher()

    @dispatcher.message()
    async def echo(message: Message) -> SendMessage:
        return message.answer(f"echo: <i>{message.text}</i>")  # answered in the webhook reply

    app = web.Application()
    SimpleRequestHandler(
        dispatcher, bot, secret_token=SECRET, handle_in_background=False
    ).register(app, path="/hook")
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        url = f"http://127.0.0.1:{port}/hook"
        assert await bot.set_webhook(
            url,
            secret_token=SECRET,
            allowed_updates=["message", "callback_query"],
            max_connections=5,
            drop_pending_updates=True,
        )
        webhook = await bot.get_webhook_info()
        assert (webhook.url, webhook.max_connections) == (url, 5)
        assert webhook.allowed_updates == ["message", "callback_query"]
        assert api.webhook_secret == SECRET

        user = api.user()
        await user.send("ping")
        assert user.last().shown == "echo: ping"
        assert api.webhook_errors == []

        assert await bot.delete_webhook()
        assert (await bot.get_webhook_info()).url == ""
    finally:
        await runner.cleanup()
        await bot.session.close()
