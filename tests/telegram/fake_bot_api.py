"""A fake Telegram Bot API on loopback, with Telegram's response shapes and validation.

It serves ``/bot<token>/<method>`` and ``/file/bot<token>/<path>`` like api.telegram.org, so a
real aiogram ``Bot`` talks to it through ``TelegramAPIServer.from_base``. It keeps every chat's
messages, answers ``getUpdates`` by long polling, and lets a test act as users
(:class:`FakeUser`: send text or files, press buttons by their label) and read what the bot
showed.

Validation follows Telegram: HTML entity parsing (``can't parse entities``), text ≤ 4096 and
captions ≤ 1024 after parsing, ``message is not modified`` for an edit that changes nothing,
callback data of 1-64 bytes, one answer per callback query, ``chat not found``, file size
limits (photo uploads ≤ 10 MB, uploads ≤ 50 MB, downloads ≤ 20 MB, URLs ≤ 5/20 MB), and 429
with ``retry_after`` when a test asks for it (:meth:`FakeBotApi.flood`), as any other refusal
(:meth:`FakeBotApi.refuse`), and a call carried out whose answer is lost on the way back
(:meth:`FakeBotApi.lose_answer`).

Payments follow Telegram Stars: ``sendInvoice`` (currency ``XTR``, empty provider token,
exactly one price, payload 1-128 bytes), ``answerPreCheckoutQuery`` (once per query, an error
message when refusing), ``refundStarPayment`` (``CHARGE_ALREADY_REFUNDED`` the second time),
``getStarTransactions`` (pages of 1-100: each charge's incoming payment and, once refunded, its
outgoing refund, in date order). A user pays an invoice with :meth:`FakeUser.pay`: a
``pre_checkout_query`` update, then, when the bot approved it, a ``successful_payment`` message;
:meth:`FakeBotApi.charge` records a charge without any update (one the bot never heard of);
:meth:`FakeBotApi.force_refund` is a refund Telegram makes on its own (a ``refunded_payment``
message).

Updates reach the bot by ``getUpdates`` long polling or, once the bot called ``setWebhook``, by
webhook, like Telegram: each update is POSTed as JSON to the URL (with the
``X-Telegram-Bot-Api-Secret-Token`` header when a secret token was set), at most
``max_connections`` at once, oldest first, one at a time per chat; a 2xx answer acknowledges it,
anything else (another status, a refused connection, a timeout) is recorded in
:attr:`FakeBotApi.webhook_errors` and ``getWebhookInfo`` and retried after a growing backoff, so
nothing is lost. A method call in the answer (JSON, or the form aiogram's webhook handler sends)
is run like a call of the bot. ``getUpdates`` fails with 409 while a webhook is set;
``deleteWebhook`` stops the deliveries. :meth:`FakeBotApi.processed` and ``FakeUser``'s
``wait=True`` work in both modes.
"""

import asyncio
import functools
import io
import itertools
import json
import re
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, Self

import aiohttp
import attrs
from aiohttp import web

PHOTO_UPLOAD_LIMIT = 10 * 1024 * 1024
UPLOAD_LIMIT = 50 * 1024 * 1024
DOWNLOAD_LIMIT = 20 * 1024 * 1024
URL_PHOTO_LIMIT = 5 * 1024 * 1024
URL_FILE_LIMIT = 20 * 1024 * 1024
TEXT_LIMIT = 4096
CAPTION_LIMIT = 1024
CALLBACK_DATA_LIMIT = 64
CALLBACK_ANSWER_LIMIT = 200
DEFAULT_TOKEN = "123456789:TEST-fake-token_abc"  # noqa: S105  # a made-up test token
"""The bot token of a ``FakeBotApi()``: the tests' logs must never show it."""
MAX_BUTTONS = 100
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"  # noqa: S105  # a header name
WEBHOOK_CONFLICT = (
    "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete "
    "the webhook first"
)

NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup are "
    "exactly the same as a current content and reply markup of the message"
)
QUERY_INVALID = "Bad Request: query is too old and response timeout expired or query ID is invalid"
CHAT_ACTIONS = frozenset(
    {
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    }
)
_JSON_FIELDS = frozenset(
    {
        "reply_markup",
        "commands",
        "scope",
        "allowed_updates",
        "entities",
        "caption_entities",
        "link_preview_options",
        "reply_parameters",
        "prices",
        "suggested_tip_amounts",
    }
)
_ENTITY_OF_TAG = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "code": "code",
    "pre": "pre",
    "a": "text_link",
    "tg-spoiler": "spoiler",
    "span": "spoiler",
    "blockquote": "blockquote",
    "tg-emoji": "custom_emoji",
}
_NAMED_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_ACTION_FIELDS = (
    "callback_data",
    "url",
    "web_app",
    "login_url",
    "switch_inline_query",
    "switch_inline_query_current_chat",
    "switch_inline_query_chosen_chat",
    "copy_text",
    "callback_game",
    "pay",
)


class ApiError(Exception):
    """A Bot API error answer."""

    def __init__(self, description: str, code: int = 400, **parameters: Any) -> None:
        super().__init__(description)
        self.description = description
        self.code = code
        self.parameters = parameters


def utf16_length(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _flag(value: Any) -> bool:
    """A Boolean parameter: JSON ``true`` or the form value ``"true"``."""
    return value is True or str(value).lower() == "true"


def _json_field(key: str, value: Any) -> Any:
    """A form field that carries JSON (``reply_markup``, ``allowed_updates``...), decoded."""
    if key not in _JSON_FIELDS or not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except ValueError:
        raise ApiError(f"Bad Request: can't parse {key} JSON object") from None


def update_type(update: dict[str, Any]) -> str:
    """An update's type: its one field besides ``update_id`` (``message``, ``callback_query``)."""
    return next((key for key in update if key != "update_id"), "")


def update_chat(update: dict[str, Any]) -> int | None:
    """The chat an update belongs to (a private chat's id is its user's), if any."""
    body = update.get(update_type(update))
    if not isinstance(body, dict):
        return None
    for holder in (body, body.get("message")):
        chat = holder.get("chat") if isinstance(holder, dict) else None
        if isinstance(chat, dict) and "id" in chat:
            return int(chat["id"])
    sender = body.get("from") or body.get("user")
    if isinstance(sender, dict) and "id" in sender:
        return int(sender["id"])
    return None


class _HtmlParser:
    """Telegram's HTML rules: a few tags, four named entities, every tag closed in order."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.out: list[str] = []
        self.stack: list[tuple[str, int, dict[str, str]]] = []
        self.entities: list[dict[str, Any]] = []
        self.length = 0

    def fail(self, problem: str) -> ApiError:
        return ApiError(f"Bad Request: can't parse entities: {problem}")

    def emit(self, text: str) -> None:
        self.out.append(text)
        self.length += utf16_length(text)

    def close(self, name: str, offset: int) -> None:
        if not self.stack:
            raise self.fail(f"Unexpected end tag at byte offset {offset}")
        open_name, start, attributes = self.stack.pop()
        if open_name != name:
            raise self.fail(
                f'Unmatched end tag at byte offset {offset}, expected "</{open_name}>", '
                f'found "</{name}>"'
            )
        if self.length > start:
            entity: dict[str, Any] = {
                "type": _ENTITY_OF_TAG[open_name],
                "offset": start,
                "length": self.length - start,
            }
            if open_name == "a":
                entity["url"] = attributes["href"]
            self.entities.append(entity)

    def open(self, inner: str, offset: int) -> None:
        match = re.match(r"([a-zA-Z][\w-]*)(.*)$", inner, re.DOTALL)
        if match is None:
            raise self.fail(f'Unsupported start tag "{inner}" at byte offset {offset}')
        name = match.group(1).lower()
        attributes = {
            key.lower(): value
            for key, value in re.findall(r'([\w-]+)\s*=\s*"([^"]*)"', match.group(2))
        }
        if name not in _ENTITY_OF_TAG:
            raise self.fail(f'Unsupported start tag "{name}" at byte offset {offset}')
        if name == "span" and attributes.get("class") != "tg-spoiler":
            raise self.fail(f'Unsupported start tag "span" at byte offset {offset}')
        if name == "a" and not attributes.get("href"):
            raise self.fail(f"Can't find a href for the link at byte offset {offset}")
        self.stack.append((name, self.length, attributes))

    def tag(self, i: int) -> int:
        offset = len(self.source[:i].encode())
        end = self.source.find(">", i)
        if end == -1:
            raise self.fail(f"Unclosed start tag at byte offset {offset}")
        inner = self.source[i + 1 : end]
        if inner.startswith("/"):
            self.close(inner[1:].strip().lower(), offset)
        else:
            self.open(inner, offset)
        return end + 1

    def entity(self, i: int) -> int:
        match = re.match(r"&(#x[0-9a-fA-F]+|#[0-9]+|[a-zA-Z]+);", self.source[i:])
        if match is None:
            self.emit("&")
            return i + 1
        ref = match.group(1)
        if ref.startswith("#x"):
            self.emit(chr(int("0" + ref[1:], 0)))
        elif ref.startswith("#"):
            self.emit(chr(int(ref[1:])))
        else:
            self.emit(_NAMED_ENTITIES.get(ref, match.group(0)))
        return i + len(match.group(0))

    def parse(self) -> tuple[str, list[dict[str, Any]]]:
        i = 0
        while i < len(self.source):
            char = self.source[i]
            if char == "<":
                i = self.tag(i)
            elif char == "&":
                i = self.entity(i)
            else:
                self.emit(char)
                i += 1
        if self.stack:
            raise self.fail(
                f'Can\'t find end tag corresponding to start tag "{self.stack[-1][0]}"'
            )
        return _trim("".join(self.out), self.entities)


def parse_html(source: str) -> tuple[str, list[dict[str, Any]]]:
    """Telegram's HTML → (plain text, entities); raises ApiError like Telegram does."""
    return _HtmlParser(source).parse()


def _trim(text: str, entities: list[dict[str, Any]]) -> tuple[str, list[dict[str, Any]]]:
    # Telegram drops leading and trailing whitespace; entities move and shrink with the text.
    stripped = text.strip()
    if not stripped:
        return "", []
    lead = utf16_length(text[: len(text) - len(text.lstrip())])
    total = utf16_length(stripped)
    kept = []
    for entity in entities:
        start = max(entity["offset"] - lead, 0)
        end = min(entity["offset"] + entity["length"] - lead, total)
        if end > start:
            kept.append({**entity, "offset": start, "length": end - start})
    return stripped, sorted(kept, key=lambda e: (e["offset"], -e["length"]))


def formatted(text: str | None, parse_mode: str | None) -> tuple[str, list[dict[str, Any]]]:
    if text is None:
        return "", []
    if parse_mode is None or parse_mode == "":
        return text.strip(), []
    if parse_mode.upper() != "HTML":
        raise ApiError(f"Bad Request: unsupported parse_mode {parse_mode!r} in the fake")
    return parse_html(text)


def check_markup(raw: Any) -> dict[str, Any] | None:
    if raw is None:
        return None
    if not isinstance(raw, dict) or not isinstance(raw.get("inline_keyboard"), list):
        raise ApiError("Bad Request: can't parse reply keyboard markup JSON object")
    count = 0
    for row in raw["inline_keyboard"]:
        if not isinstance(row, list):
            raise ApiError('Bad Request: field "inline_keyboard" must be an Array of Arrays')
        for button in row:
            count += 1
            if not isinstance(button, dict) or not button.get("text"):
                raise ApiError("Bad Request: text buttons are unallowed in the inline keyboard")
            actions = [field for field in _ACTION_FIELDS if field in button]
            if len(actions) != 1:
                raise ApiError("Bad Request: can't parse inline keyboard button")
            data = button.get("callback_data")
            if data is not None and not 1 <= len(str(data).encode()) <= CALLBACK_DATA_LIMIT:
                raise ApiError("Bad Request: BUTTON_DATA_INVALID")
            url = button.get("url")
            if url is not None and not re.match(r"^(https?|tg)://", str(url)):
                raise ApiError("Bad Request: BUTTON_URL_INVALID")
    if count > MAX_BUTTONS:
        raise ApiError("Bad Request: reply markup is too long")
    return raw if raw["inline_keyboard"] else None


@attrs.define
class FakeFile:
    file_id: str
    unique_id: str
    data: bytes
    path: str
    kind: str
    mime_type: str = "application/octet-stream"
    name: str | None = None


@attrs.define
class FakeMessage:
    message_id: int
    chat_id: int
    from_bot: bool
    date: int
    text: str | None = None
    entities: list[dict[str, Any]] = attrs.Factory(list)
    caption: str | None = None
    caption_entities: list[dict[str, Any]] = attrs.Factory(list)
    media: str | None = None
    file: FakeFile | None = None
    reply_markup: dict[str, Any] | None = None
    deleted: bool = False
    edits: int = 0
    invoice: dict[str, Any] | None = None
    """The invoice shown (``Invoice``); its payload is kept in ``invoice_payload``."""
    invoice_payload: str | None = None
    extra: dict[str, Any] = attrs.Factory(dict)
    """More message fields as sent (``successful_payment``, ``refunded_payment``)."""
    sender_id: int | None = None
    """Who sent a user's message in a group (in a private chat: the chat's user)."""

    @property
    def shown(self) -> str:
        """The text or caption the user sees."""
        return self.text if self.text is not None else (self.caption or "")

    def buttons(self) -> list[dict[str, Any]]:
        if not self.reply_markup:
            return []
        return [b for row in self.reply_markup["inline_keyboard"] for b in row]

    def labels(self) -> list[str]:
        return [b["text"] for b in self.buttons()]


@attrs.define
class ApiCall:
    method: str
    params: dict[str, Any]
    ok: bool
    at: float
    error_code: int | None = None
    description: str | None = None

    @property
    def chat_id(self) -> int | None:
        raw = self.params.get("chat_id")
        try:
            return int(raw) if raw is not None else None
        except (TypeError, ValueError):
            return None


@attrs.define
class CallbackRecord:
    id: str
    update_id: int
    user_id: int
    data: str
    message_id: int
    created_at: float
    answered_at: float | None = None
    text: str | None = None
    show_alert: bool = False


@attrs.define
class PreCheckoutRecord:
    id: str
    update_id: int
    user_id: int
    payload: str
    total: int
    currency: str
    created_at: float
    answered_at: float | None = None
    ok: bool | None = None
    error_message: str | None = None


@attrs.define
class Charge:
    charge_id: str
    user_id: int
    total: int
    payload: str
    paid_at: float = attrs.Factory(time.time)
    refunded_at: float | None = None

    @property
    def refunded(self) -> bool:
        return self.refunded_at is not None

    def refund(self) -> None:
        self.refunded_at = time.time()


@attrs.define
class _Delivery:
    """The webhook deliveries' state: the task sending them and the requests in flight."""

    task: asyncio.Task[None] | None = None
    wake: asyncio.Event = attrs.Factory(asyncio.Event)
    """Set when something may be due: an update arrived, a request ended."""
    in_flight: dict[int, asyncio.Task[None]] = attrs.Factory(dict)
    failures: dict[int, int] = attrs.Factory(dict)
    """Failed attempts so far, by update id."""
    retry_at: dict[int, float] = attrs.Factory(dict)
    """When an update that failed may be sent again (monotonic time), by update id."""


@attrs.define
class UserInfo:
    id: int
    first_name: str
    language_code: str | None
    blocked: bool = False
    username: str | None = None


class FakeBotApi:
    """The fake server. Use ``async with FakeBotApi() as api`` (or ``start``/``close``)."""

    handled: Callable[[int], Awaitable[bool]] | None = None
    """Set for a bot that confirms updates before handling them (it stores them first):
    whether it has finished an update; ``processed`` then also waits for that."""

    def __init__(  # noqa: PLR0915  # one field for each behaviour a test can ask of the fake
        self,
        token: str = DEFAULT_TOKEN,
        bot_name: str = "kiebot_test_bot",
    ) -> None:
        self.token = token
        self.bot_id = int(token.split(":", 1)[0])
        self.bot_user = {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": "Kiebot Test",
            "username": bot_name,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
        }
        self.users: dict[int, UserInfo] = {}
        self.chats: dict[int, dict[int, FakeMessage]] = {}
        self.groups: dict[int, str] = {}  # the bot's group chats (:meth:`group`): titles
        self.files: dict[str, FakeFile] = {}
        self.calls: list[ApiCall] = []
        self.callbacks: dict[str, CallbackRecord] = {}
        self.pre_checkouts: dict[str, PreCheckoutRecord] = {}
        self.charges: dict[str, Charge] = {}
        self.commands: dict[str | None, list[dict[str, Any]]] = {}
        self.updates: list[dict[str, Any]] = []
        self.fetched_at: dict[int, float] = {}
        self.observers: list[Callable[[ApiCall], None]] = []
        """Called with every call as it is recorded (a benchmark times the bot's answers)."""
        self.confirmed = 0
        self._ids = itertools.count(1)
        self._update_ids = itertools.count(1000)
        self._floods: dict[str, list[int]] = {}
        self._refusals: dict[str, list[tuple[int, str]]] = {}
        self._lost_answers: dict[tuple[str, int], int] = {}
        self._changed = asyncio.Condition()
        self._poll_generation = 0
        self._closing = False
        self._runner: web.AppRunner | None = None
        self._port = 0
        self._http: aiohttp.ClientSession | None = None
        self.webhook_url: str | None = None
        """The webhook ``setWebhook`` registered; None while the bot polls."""
        self.webhook_secret: str | None = None
        """Its ``secret_token``, sent in the ``X-Telegram-Bot-Api-Secret-Token`` header."""
        self.webhook_allowed_updates: list[str] | None = None
        """The update types delivered (None or empty: all); kept when a call leaves it out."""
        self.webhook_max_connections = 40
        self.webhook_errors: list[tuple[int, int | Exception]] = []
        """Failed deliveries: (update_id, the HTTP status or the exception), in order."""
        self.webhook_delivered: list[int] = []
        """The update ids a webhook acknowledged (2xx), in the order it did."""
        self.webhook_last_error_date: int | None = None
        self.webhook_last_error_message: str | None = None
        self.webhook_timeout = 10.0
        """Seconds a webhook has to answer before the delivery counts as failed."""
        self.webhook_retry_delay = 0.1
        """The first retry's delay; it doubles with every failure of the same update..."""
        self.webhook_retry_max = 1.0
        """...up to this."""
        self._latest_update_id = 0
        self._acknowledged: set[int] = set()
        self._called = asyncio.Event()  # set by every recorded call (``processed`` waits on it)
        self._delivery = _Delivery()

    # ------------------------------------------------------------------ lifecycle

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._port}"

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        app = web.Application(client_max_size=UPLOAD_LIMIT + 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._api)
        app.router.add_get("/file/bot{token}/{path:.+}", self._download)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        server = site._server
        self._port = server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self._http = aiohttp.ClientSession()

    async def close(self) -> None:
        self._closing = True
        await self._stop_webhook_delivery()
        async with self._changed:
            self._changed.notify_all()
        if self._http is not None:
            await self._http.close()
        if self._runner is not None:
            await self._runner.cleanup()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.close()

    # ------------------------------------------------------------------ test controls

    def user(
        self,
        user_id: int = 1001,
        first_name: str = "Ann",
        language_code: str | None = "en",
        *,
        username: str | None = None,
    ) -> "FakeUser":
        info = self.users.setdefault(user_id, UserInfo(user_id, first_name, language_code))
        info.language_code = language_code
        info.username = username
        self.chats.setdefault(user_id, {})
        return FakeUser(self, info)

    def group(self, chat_id: int = -1001234567890, title: str = "Team") -> int:
        """A supergroup the bot is a member of; users talk there with ``FakeUser.in_group``."""
        self.groups[chat_id] = title
        self.chats.setdefault(chat_id, {})
        return chat_id

    def flood(self, method: str, retry_after: int = 1, times: int = 1) -> None:
        """The next ``times`` calls of ``method`` get 429 with ``retry_after``."""
        self._floods.setdefault(method, []).extend([retry_after] * times)

    def refuse(self, method: str, description: str, code: int = 400, times: int = 1) -> None:
        """The next ``times`` calls of ``method`` fail with ``code`` and ``description``."""
        self._refusals.setdefault(method, []).extend([(code, description)] * times)

    def lose_answer(self, method: str, chat_id: int, times: int = 1) -> None:
        """The next ``times`` calls of ``method`` to ``chat_id`` are carried out (a message is
        shown), then the connection drops before the answer: the bot cannot know it worked.
        Recorded as ok, with the description ``answer lost``."""
        key = (method, chat_id)
        self._lost_answers[key] = self._lost_answers.get(key, 0) + times

    def errors(self, code: int = 400) -> list[ApiCall]:
        return [call for call in self.calls if call.error_code == code]

    def unanswered(self) -> list[CallbackRecord]:
        return [record for record in self.callbacks.values() if record.answered_at is None]

    def unanswered_pre_checkouts(self) -> list[PreCheckoutRecord]:
        return [r for r in self.pre_checkouts.values() if r.answered_at is None]

    def charge(self, user_id: int, total: int, payload: str = "", charge_id: str = "") -> Charge:
        """Record a successful Stars payment of ``user_id`` (no update is sent for it)."""
        charge = Charge(
            charge_id=charge_id or f"stxFAKE{next(self._ids):08d}x{user_id}",
            user_id=user_id,
            total=total,
            payload=payload,
        )
        self.charges[charge.charge_id] = charge
        return charge

    async def force_refund(self, charge_id: str, *, wait: bool = True) -> int:
        """Telegram refunds a charge on its own: the user's chat gets ``refunded_payment``."""
        charge = self.charges[charge_id]
        charge.refund()
        user = FakeUser(self, self.users[charge.user_id])
        return await user.push_service_message("refunded_payment", charge, wait=wait)

    def messages(self, chat_id: int) -> list[FakeMessage]:
        return [m for m in self.chats.get(chat_id, {}).values() if not m.deleted]

    def calls_of(self, method: str) -> list[ApiCall]:
        return [call for call in self.calls if call.method == method]

    def add_file(
        self, data: bytes, kind: str, mime_type: str, name: str | None = None
    ) -> FakeFile:
        number = next(self._ids)
        extension = {"photo": "jpg", "video": "mp4", "audio": "mp3"}.get(kind, "bin")
        file = FakeFile(
            file_id=f"{kind.upper()}-{number:06d}-fakefileid",
            unique_id=f"u{number:06d}",
            data=data,
            path=f"{kind}s/file_{number}.{extension}",
            kind=kind,
            mime_type=mime_type,
            name=name,
        )
        self.files[file.file_id] = file
        return file

    async def push(self, update: dict[str, Any]) -> int:
        update_id = next(self._update_ids)
        self.updates.append({"update_id": update_id, **update})
        self._latest_update_id = update_id
        self._delivery.wake.set()
        async with self._changed:
            self._changed.notify_all()
        return update_id

    async def processed(self, update_id: int, within_s: float = 10.0) -> None:
        """Wait until the bot confirmed ``update_id`` (asked for updates after it, or its
        webhook acknowledged it) and, with ``handled`` set, until it finished handling it."""
        async with asyncio.timeout(within_s):
            async with self._changed:
                await self._changed.wait_for(
                    lambda: self.confirmed > update_id or update_id in self._acknowledged
                )
            while self.handled is not None and not await self.handled(update_id):  # noqa: ASYNC110  # the bot's store has no event to wait on
                await asyncio.sleep(0.01)

    async def settle(self, quiet: float = 0.15, within_s: float = 10.0) -> None:
        """Wait until no call has arrived for ``quiet`` seconds."""
        deadline = time.monotonic() + within_s
        while time.monotonic() < deadline:
            last = self.calls[-1].at if self.calls else 0.0
            since = time.monotonic() - last
            if since >= quiet:
                return
            await asyncio.sleep(quiet - since)
        raise TimeoutError("the bot never went quiet")

    # ------------------------------------------------------------------ HTTP

    def _methods(self) -> dict[str, Callable[[dict[str, Any]], Awaitable[Any]]]:
        return {
            "getMe": self._get_me,
            "deleteWebhook": self._delete_webhook,
            "setWebhook": self._set_webhook,
            "getWebhookInfo": self._get_webhook_info,
            "setMyCommands": self._set_my_commands,
            "getUpdates": self._get_updates,
            "sendMessage": self._send_message,
            "editMessageText": self._edit_message_text,
            "editMessageReplyMarkup": self._edit_message_reply_markup,
            "deleteMessage": self._delete_message,
            "answerCallbackQuery": self._answer_callback_query,
            "sendChatAction": self._send_chat_action,
            "getFile": self._get_file,
            "sendPhoto": self._send_photo,
            "sendVideo": self._send_video,
            "sendAudio": self._send_audio,
            "sendDocument": self._send_document,
            "sendInvoice": self._send_invoice,
            "answerPreCheckoutQuery": self._answer_pre_checkout_query,
            "refundStarPayment": self._refund_star_payment,
            "getStarTransactions": self._get_star_transactions,
        }

    async def _params(self, request: web.Request) -> dict[str, Any]:
        params: dict[str, Any] = dict(request.query)
        if request.content_type == "application/json":
            params.update(await request.json())
            return params
        if request.method == "POST":
            form = await request.post()
            for key, value in form.items():
                if isinstance(value, web.FileField):
                    params[key] = value
                else:
                    params[key] = _json_field(key, value)
        return params

    async def _api(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return web.json_response(
                {"ok": False, "error_code": 401, "description": "Unauthorized"}, status=401
            )
        method = request.match_info["method"]
        handler = self._methods().get(method)
        if handler is None:
            return web.json_response(
                {"ok": False, "error_code": 404, "description": "Not Found: method not found"},
                status=404,
            )
        try:
            params = await self._params(request)
        except ApiError as error:
            return self._error(method, {}, error)
        call_params = {k: v for k, v in params.items() if not isinstance(v, web.FileField)}
        floods = self._floods.get(method)
        if floods:
            retry_after = floods.pop(0)
            return self._error(
                method,
                call_params,
                ApiError(
                    f"Too Many Requests: retry after {retry_after}",
                    code=429,
                    retry_after=retry_after,
                ),
            )
        refusals = self._refusals.get(method)
        if refusals:
            code, description = refusals.pop(0)
            return self._error(method, call_params, ApiError(description, code=code))
        try:
            result = await handler(params)
        except ApiError as error:
            return self._error(method, call_params, error)
        done = ApiCall(method, call_params, ok=True, at=time.monotonic())
        lost = (method, done.chat_id or 0)
        if self._lost_answers.get(lost, 0) > 0 and request.transport is not None:
            self._lost_answers[lost] -= 1
            self._record(attrs.evolve(done, description="answer lost"))
            request.transport.abort()  # the client sees the server disconnect, with no answer
            return web.Response()
        if method != "getUpdates" or result:
            self._record(ApiCall(method, call_params, ok=True, at=time.monotonic()))
        return web.json_response({"ok": True, "result": result})

    def _record(self, call: ApiCall) -> None:
        self.calls.append(call)
        self._called.set()
        for observer in self.observers:
            observer(call)

    def _error(self, method: str, params: dict[str, Any], error: ApiError) -> web.Response:
        self._record(
            ApiCall(
                method,
                params,
                ok=False,
                at=time.monotonic(),
                error_code=error.code,
                description=error.description,
            )
        )
        body: dict[str, Any] = {
            "ok": False,
            "error_code": error.code,
            "description": error.description,
        }
        if error.parameters:
            body["parameters"] = error.parameters
        return web.json_response(body, status=error.code)

    async def _download(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return web.Response(status=401, text="Unauthorized")
        path = request.match_info["path"]
        file = next((f for f in self.files.values() if f.path == path), None)
        if file is None:
            return web.Response(status=404, text="Not Found")
        return web.Response(body=file.data, content_type="application/octet-stream")

    # ------------------------------------------------------------------ shapes

    def _chat(self, chat_id: int) -> dict[str, Any]:
        if chat_id in self.groups:
            return {"id": chat_id, "type": "supergroup", "title": self.groups[chat_id]}
        info = self.users.get(chat_id)
        return {
            "id": chat_id,
            "type": "private",
            "first_name": info.first_name if info else "User",
        }

    def _user_json(self, user_id: int) -> dict[str, Any]:
        info = self.users.get(user_id)
        return self._from(info or UserInfo(user_id, f"User {user_id}", None))

    def _from(self, info: UserInfo) -> dict[str, Any]:
        body: dict[str, Any] = {"id": info.id, "is_bot": False, "first_name": info.first_name}
        if info.language_code:
            body["language_code"] = info.language_code
        if info.username:
            body["username"] = info.username
        return body

    def _file_json(self, file: FakeFile) -> dict[str, Any]:
        body: dict[str, Any] = {
            "file_id": file.file_id,
            "file_unique_id": file.unique_id,
            "file_size": len(file.data),
        }
        if file.kind == "photo":
            return {**body, "width": 96, "height": 96}
        body["mime_type"] = file.mime_type
        if file.name:
            body["file_name"] = file.name
        if file.kind == "video":
            body.update(width=96, height=96, duration=2)
        if file.kind == "audio":
            body["duration"] = 1
        return body

    def message_json(self, message: FakeMessage) -> dict[str, Any]:
        body: dict[str, Any] = {
            "message_id": message.message_id,
            "date": message.date,
            "chat": self._chat(message.chat_id),
        }
        if message.from_bot:
            body["from"] = self.bot_user
        else:
            sender = message.chat_id if message.sender_id is None else message.sender_id
            body["from"] = self._from(self.users[sender])
        if message.edits:
            body["edit_date"] = int(time.time())
        if message.text is not None:
            body["text"] = message.text
            if message.entities:
                body["entities"] = message.entities
        if message.media is not None and message.file is not None:
            file_json = self._file_json(message.file)
            if message.media == "photo":
                small = {**file_json, "file_id": message.file.file_id, "width": 48, "height": 48}
                body["photo"] = [small, file_json]
            else:
                body[message.media] = file_json
            if message.caption:
                body["caption"] = message.caption
                if message.caption_entities:
                    body["caption_entities"] = message.caption_entities
        if message.invoice is not None:
            body["invoice"] = message.invoice
        body.update(message.extra)
        if message.reply_markup:
            body["reply_markup"] = message.reply_markup
        return body

    # ------------------------------------------------------------------ helpers

    def _target_chat(self, params: dict[str, Any]) -> int:
        try:
            chat_id = int(params.get("chat_id", ""))
        except ValueError:
            raise ApiError("Bad Request: chat not found") from None
        if chat_id not in self.chats:
            raise ApiError("Bad Request: chat not found")
        info = self.users.get(chat_id)
        if info is not None and info.blocked:
            raise ApiError("Forbidden: bot was blocked by the user", code=403)
        return chat_id

    def _message(self, params: dict[str, Any]) -> FakeMessage:
        chat_id = self._target_chat(params)
        try:
            message_id = int(params.get("message_id", ""))
        except ValueError:
            raise ApiError("Bad Request: message to edit not found") from None
        message = self.chats[chat_id].get(message_id)
        if message is None or message.deleted:
            raise ApiError("Bad Request: message to edit not found")
        if not message.from_bot:
            raise ApiError("Bad Request: message can't be edited")
        return message

    def _new_message(self, chat_id: int, *, from_bot: bool, **fields: Any) -> FakeMessage:
        message = FakeMessage(
            message_id=next(self._ids),
            chat_id=chat_id,
            from_bot=from_bot,
            date=int(time.time()),
            **fields,
        )
        self.chats[chat_id][message.message_id] = message
        return message

    # ------------------------------------------------------------------ methods

    async def _get_me(self, _: dict[str, Any]) -> dict[str, Any]:
        return self.bot_user

    async def _set_my_commands(self, params: dict[str, Any]) -> bool:
        commands = params.get("commands")
        if not isinstance(commands, list) or not 1 <= len(commands) <= 100:
            raise ApiError("Bad Request: commands must be non-empty")
        for command in commands:
            if not re.fullmatch(r"[a-z0-9_]{1,32}", str(command.get("command", ""))):
                raise ApiError("Bad Request: BOT_COMMAND_INVALID")
            if not 1 <= len(str(command.get("description", ""))) <= 256:
                raise ApiError("Bad Request: BOT_COMMAND_DESCRIPTION_INVALID")
        self.commands[params.get("language_code")] = commands
        return True

    async def _get_updates(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        offset = int(params.get("offset") or 0)
        limit = int(params.get("limit") or 100)
        timeout = float(params.get("timeout") or 0)
        if self.webhook_url is not None:
            raise ApiError(WEBHOOK_CONFLICT, code=409)
        self._poll_generation += 1
        generation = self._poll_generation
        async with self._changed:
            self.confirmed = max(self.confirmed, offset)
            self.updates = [u for u in self.updates if u["update_id"] >= self.confirmed]
            self._changed.notify_all()
            deadline = time.monotonic() + timeout
            while True:
                if self._poll_generation != generation:
                    raise ApiError(
                        "Conflict: terminated by other getUpdates request; make sure that only "
                        "one bot instance is running",
                        code=409,
                    )
                if self.webhook_url is not None:
                    raise ApiError(WEBHOOK_CONFLICT, code=409)
                pending = self.updates[:limit]
                if pending or self._closing:
                    now = time.monotonic()
                    for update in pending:
                        self.fetched_at.setdefault(update["update_id"], now)
                    return pending
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return []
                try:
                    async with asyncio.timeout(remaining):
                        await self._changed.wait()
                except TimeoutError:
                    return []

    # ------------------------------------------------------------------ webhook

    async def _set_webhook(self, params: dict[str, Any]) -> bool:
        url = str(params.get("url") or "")
        drop = _flag(params.get("drop_pending_updates"))
        if not url:  # Telegram: an empty URL removes the webhook
            await self._remove_webhook(drop=drop)
            return True
        if not url.startswith(("http://", "https://")):  # the fake takes http for loopback
            raise ApiError("Bad Request: bad webhook: An HTTPS URL must be provided for webhook")
        secret = params.get("secret_token")
        secret = None if secret is None or secret == "" else str(secret)
        if secret is not None and not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", secret):
            raise ApiError("Bad Request: secret token contains unallowed characters")
        try:
            max_connections = int(params.get("max_connections", 40))
        except ValueError:
            raise ApiError("Bad Request: bad webhook: wrong max_connections") from None
        if not 1 <= max_connections <= 100:
            raise ApiError("Bad Request: bad webhook: max_connections must be between 1 and 100")
        allowed = self.webhook_allowed_updates
        if params.get("allowed_updates") is not None:
            allowed = _json_field("allowed_updates", params["allowed_updates"])
            if not isinstance(allowed, list) or not all(isinstance(t, str) for t in allowed):
                raise ApiError("Bad Request: can't parse allowed_updates JSON object")
        await self._stop_webhook_delivery()
        if drop:
            self._drop_pending()
        self.webhook_url = url
        self.webhook_secret = secret
        self.webhook_max_connections = max_connections
        self.webhook_allowed_updates = allowed
        self._delivery.failures.clear()
        self._delivery.retry_at.clear()
        self._delivery.task = asyncio.create_task(self._deliver_webhook())
        async with self._changed:  # a long poll in progress ends with the conflict
            self._changed.notify_all()
        return True

    async def _delete_webhook(self, params: dict[str, Any]) -> bool:
        await self._remove_webhook(drop=_flag(params.get("drop_pending_updates")))
        return True

    async def _remove_webhook(self, *, drop: bool) -> None:
        self.webhook_url = None
        self.webhook_secret = None
        await self._stop_webhook_delivery()
        if drop:
            self._drop_pending()
        async with self._changed:
            self._changed.notify_all()

    async def _get_webhook_info(self, _: dict[str, Any]) -> dict[str, Any]:
        info: dict[str, Any] = {
            "url": self.webhook_url or "",
            "has_custom_certificate": False,
            "pending_update_count": len(self.updates),
        }
        if self.webhook_url is not None:
            info["max_connections"] = self.webhook_max_connections
        if self.webhook_last_error_date is not None:
            info["last_error_date"] = self.webhook_last_error_date
            info["last_error_message"] = self.webhook_last_error_message
        if self.webhook_allowed_updates:
            info["allowed_updates"] = self.webhook_allowed_updates
        return info

    def _drop_pending(self) -> None:
        self._acknowledge(*(update["update_id"] for update in self.updates))

    def _acknowledge(self, *update_ids: int) -> None:
        """The updates leave the queue; ``confirmed`` moves to the oldest one still queued."""
        gone = set(update_ids)
        self.updates = [u for u in self.updates if u["update_id"] not in gone]
        self._acknowledged |= gone
        for update_id in gone:
            self._delivery.failures.pop(update_id, None)
            self._delivery.retry_at.pop(update_id, None)
        oldest = min((u["update_id"] for u in self.updates), default=self._latest_update_id + 1)
        self.confirmed = max(self.confirmed, oldest)

    async def _stop_webhook_delivery(self) -> None:
        """Stop delivering: requests in flight are abandoned (their updates stay queued)."""
        task, self._delivery.task = self._delivery.task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    async def _deliver_webhook(self) -> None:
        try:
            while not self._closing:
                self._delivery.wake.clear()
                if self._drop_unwanted():
                    async with self._changed:
                        self._changed.notify_all()
                for update in self._due_updates():
                    update_id = update["update_id"]
                    task = asyncio.create_task(self._post_update(update))
                    self._delivery.in_flight[update_id] = task
                    task.add_done_callback(functools.partial(self._delivery_done, update_id))
                now = time.monotonic()
                retries = [at - now for at in self._delivery.retry_at.values() if at > now]
                try:
                    async with asyncio.timeout(min(retries, default=None)):
                        await self._delivery.wake.wait()
                except TimeoutError:
                    pass
        finally:
            in_flight = list(self._delivery.in_flight.values())
            for task in in_flight:
                task.cancel()
            await asyncio.gather(*in_flight, return_exceptions=True)
            self._delivery.in_flight.clear()

    def _delivery_done(self, update_id: int, task: asyncio.Task[None]) -> None:
        if self._delivery.in_flight.get(update_id) is task:
            del self._delivery.in_flight[update_id]
        self._delivery.wake.set()

    def _drop_unwanted(self) -> bool:
        """Acknowledge, undelivered, the queued updates of types the webhook did not ask for."""
        wanted = self.webhook_allowed_updates
        if not wanted:
            return False
        unwanted = [
            update["update_id"]
            for update in self.updates
            if update["update_id"] not in self._delivery.in_flight
            and update_type(update) not in wanted
        ]
        self._acknowledge(*unwanted)
        return bool(unwanted)

    def _due_updates(self) -> list[dict[str, Any]]:
        """The updates to send now: oldest first, within ``max_connections``, and only the
        oldest unacknowledged update of each chat (not while it waits for its retry)."""
        now = time.monotonic()
        slots = self.webhook_max_connections - len(self._delivery.in_flight)
        held: set[tuple[str, int]] = set()
        due: list[dict[str, Any]] = []
        for update in self.updates:
            if slots <= 0:
                break
            update_id = update["update_id"]
            chat = update_chat(update)
            key = ("update", update_id) if chat is None else ("chat", chat)
            if key in held:
                continue
            held.add(key)
            if (
                update_id in self._delivery.in_flight
                or self._delivery.retry_at.get(update_id, 0.0) > now
            ):
                continue
            due.append(update)
            slots -= 1
        return due

    async def _post_update(self, update: dict[str, Any]) -> None:
        assert self._http is not None
        assert self.webhook_url is not None
        update_id = update["update_id"]
        headers = {SECRET_HEADER: self.webhook_secret} if self.webhook_secret else {}
        self.fetched_at.setdefault(update_id, time.monotonic())
        reply: dict[str, Any] | None = None
        failure: tuple[int | Exception, str] | None = None
        try:
            async with (
                asyncio.timeout(self.webhook_timeout),
                self._http.post(
                    self.webhook_url, json=update, headers=headers, allow_redirects=False
                ) as response,
            ):
                if 200 <= response.status < 300:
                    reply = await self._webhook_reply(response)
                else:
                    message = f"{response.status} {response.reason or ''}".strip()
                    failure = (response.status, f"Wrong response from the webhook: {message}")
        except TimeoutError as error:
            failure = (error, "Read timeout expired")
        except aiohttp.ClientConnectorError as error:
            failure = (error, "Connection refused")
        except aiohttp.ClientError as error:
            failure = (error, f"Connection error: {error}")
        if failure is not None:
            self._delivery_failed(update_id, *failure)
            return
        if reply is not None:
            await self._run_reply(reply)
        self._acknowledge(update_id)
        self.webhook_delivered.append(update_id)
        async with self._changed:
            self._changed.notify_all()

    def _delivery_failed(self, update_id: int, error: int | Exception, message: str) -> None:
        self.webhook_errors.append((update_id, error))
        self.webhook_last_error_date = int(time.time())
        self.webhook_last_error_message = message
        failures = self._delivery.failures.get(update_id, 0) + 1
        self._delivery.failures[update_id] = failures
        delay = min(self.webhook_retry_max, self.webhook_retry_delay * 2 ** (failures - 1))
        self._delivery.retry_at[update_id] = time.monotonic() + delay

    @staticmethod
    async def _webhook_reply(response: aiohttp.ClientResponse) -> dict[str, Any] | None:
        """The method call a webhook answered with (JSON or a form, as aiogram sends), if any."""
        params: dict[str, Any] = {}
        try:
            if response.content_type == "application/json":
                body = await response.json()
                params = dict(body) if isinstance(body, dict) else {}
            elif response.content_type == "multipart/form-data":
                reader = aiohttp.MultipartReader(response.headers, response.content)
                while (part := await reader.next()) is not None:
                    if not isinstance(part, aiohttp.BodyPartReader) or not part.name:
                        continue
                    data = await part.read()
                    if part.filename:
                        params[part.name] = web.FileField(
                            name=part.name,
                            filename=part.filename,
                            file=io.BytesIO(data),
                            content_type=part.headers.get(
                                "Content-Type", "application/octet-stream"
                            ),
                            headers=part.headers,
                        )
                    else:
                        params[part.name] = data.decode()
            else:
                await response.read()
        except ValueError:  # not JSON, a broken form: nothing to run
            return None
        return params if params.get("method") else None

    async def _run_reply(self, params: dict[str, Any]) -> None:
        """Run a webhook's reply like a call; its result goes nowhere, as with Telegram."""
        method = str(params.pop("method"))
        call_params = {k: v for k, v in params.items() if not isinstance(v, web.FileField)}
        handler = self._methods().get(method)
        if handler is None:
            self._error(method, call_params, ApiError("Not Found: method not found", code=404))
            return
        try:
            params = {key: _json_field(key, value) for key, value in params.items()}
            call_params = {k: v for k, v in params.items() if not isinstance(v, web.FileField)}
            await handler(params)
        except ApiError as error:
            self._error(method, call_params, error)
            return
        self._record(ApiCall(method, call_params, ok=True, at=time.monotonic()))

    def _send_text(
        self, params: dict[str, Any], *, edit: bool
    ) -> tuple[str, list[dict[str, Any]], dict[str, Any] | None]:
        text, entities = formatted(params.get("text"), params.get("parse_mode"))
        if not text:
            raise ApiError("Bad Request: message text is empty")
        if utf16_length(text) > TEXT_LIMIT:
            raise ApiError("Bad Request: message is too long")
        markup = check_markup(params.get("reply_markup"))
        del edit
        return text, entities, markup

    async def _send_message(self, params: dict[str, Any]) -> dict[str, Any]:
        chat_id = self._target_chat(params)
        text, entities, markup = self._send_text(params, edit=False)
        message = self._new_message(
            chat_id, from_bot=True, text=text, entities=entities, reply_markup=markup
        )
        return self.message_json(message)

    async def _edit_message_text(self, params: dict[str, Any]) -> dict[str, Any]:
        message = self._message(params)
        if message.text is None:
            raise ApiError("Bad Request: there is no text in the message to edit")
        text, entities, markup = self._send_text(params, edit=True)
        if (
            text == message.text
            and entities == message.entities
            and markup == message.reply_markup
        ):
            raise ApiError(NOT_MODIFIED)
        message.text, message.entities, message.reply_markup = text, entities, markup
        message.edits += 1
        return self.message_json(message)

    async def _edit_message_reply_markup(self, params: dict[str, Any]) -> dict[str, Any]:
        message = self._message(params)
        markup = check_markup(params.get("reply_markup"))
        if markup == message.reply_markup:
            raise ApiError(NOT_MODIFIED)
        message.reply_markup = markup
        message.edits += 1
        return self.message_json(message)

    async def _delete_message(self, params: dict[str, Any]) -> bool:
        try:
            message = self._message(params)
        except ApiError:
            raise ApiError("Bad Request: message to delete not found") from None
        message.deleted = True
        return True

    async def _answer_callback_query(self, params: dict[str, Any]) -> bool:
        record = self.callbacks.get(str(params.get("callback_query_id")))
        if record is None or record.answered_at is not None:
            raise ApiError(QUERY_INVALID)
        text = params.get("text")
        if text is not None and len(str(text)) > CALLBACK_ANSWER_LIMIT:
            raise ApiError("Bad Request: MESSAGE_TOO_LONG")
        record.answered_at = time.monotonic()
        record.text = text
        record.show_alert = str(params.get("show_alert", "false")).lower() == "true"
        return True

    async def _send_chat_action(self, params: dict[str, Any]) -> bool:
        self._target_chat(params)
        if params.get("action") not in CHAT_ACTIONS:
            raise ApiError("Bad Request: wrong parameter action in request")
        return True

    async def _get_file(self, params: dict[str, Any]) -> dict[str, Any]:
        file = self.files.get(str(params.get("file_id")))
        if file is None:
            raise ApiError("Bad Request: invalid file_id")
        if len(file.data) > DOWNLOAD_LIMIT:
            raise ApiError("Bad Request: file is too big")
        return {
            "file_id": file.file_id,
            "file_unique_id": file.unique_id,
            "file_size": len(file.data),
            "file_path": file.path,
        }

    async def _fetch_url(self, url: str, limit: int) -> bytes:
        assert self._http is not None
        try:
            async with self._http.get(url) as response:
                if response.status != 200:
                    raise ApiError("Bad Request: failed to get HTTP URL content")
                data = await response.read()
        except aiohttp.ClientError:
            raise ApiError("Bad Request: failed to get HTTP URL content") from None
        if len(data) > limit:
            raise ApiError("Bad Request: failed to get HTTP URL content")
        return data

    async def _media(self, kind: str, params: dict[str, Any]) -> dict[str, Any]:
        chat_id = self._target_chat(params)
        value = params.get(kind)
        if isinstance(value, str) and value.startswith("attach://"):
            value = params.get(value.removeprefix("attach://"))
            if not isinstance(value, web.FileField):
                raise ApiError("Bad Request: wrong file identifier/HTTP URL specified")
        mime = {"photo": "image/jpeg", "video": "video/mp4", "audio": "audio/mpeg"}.get(
            kind, "application/octet-stream"
        )
        if isinstance(value, web.FileField):
            data = value.file.read()
            limit = PHOTO_UPLOAD_LIMIT if kind == "photo" else UPLOAD_LIMIT
            if len(data) > UPLOAD_LIMIT:
                raise ApiError("Request Entity Too Large", code=413)
            if len(data) > limit:
                raise ApiError("Bad Request: PHOTO_SAVE_FILE_INVALID")
            if kind == "photo" and not data.startswith((b"\x89PNG", b"\xff\xd8")):
                raise ApiError("Bad Request: IMAGE_PROCESS_FAILED")
            file = self.add_file(data, kind, value.content_type or mime, value.filename)
        elif isinstance(value, str) and value.startswith(("http://", "https://")):
            limit = URL_PHOTO_LIMIT if kind == "photo" else URL_FILE_LIMIT
            file = self.add_file(await self._fetch_url(value, limit), kind, mime)
        elif isinstance(value, str) and value in self.files:
            file = self.files[value]
            if file.kind != kind:
                raise ApiError(
                    f"Bad Request: can't use file of type {file.kind.title()} as {kind.title()}"
                )
        else:
            raise ApiError("Bad Request: wrong file identifier/HTTP URL specified")
        caption, caption_entities = formatted(params.get("caption"), params.get("parse_mode"))
        if utf16_length(caption) > CAPTION_LIMIT:
            raise ApiError("Bad Request: message caption is too long")
        markup = check_markup(params.get("reply_markup"))
        message = self._new_message(
            chat_id,
            from_bot=True,
            caption=caption or None,
            caption_entities=caption_entities,
            media=kind,
            file=file,
            reply_markup=markup,
        )
        return self.message_json(message)

    async def _send_invoice(self, params: dict[str, Any]) -> dict[str, Any]:
        chat_id = self._target_chat(params)
        title = str(params.get("title") or "")
        description = str(params.get("description") or "")
        payload = str(params.get("payload") or "")
        currency = str(params.get("currency") or "")
        prices = params.get("prices")
        if not 1 <= len(title) <= 32:
            raise ApiError("Bad Request: INVOICE_TITLE_INVALID")
        if not 1 <= len(description) <= 255:
            raise ApiError("Bad Request: INVOICE_DESCRIPTION_INVALID")
        if not 1 <= len(payload.encode()) <= 128:
            raise ApiError("Bad Request: INVOICE_PAYLOAD_INVALID")
        if not isinstance(prices, list) or not prices:
            raise ApiError("Bad Request: can't parse prices JSON object")
        if currency != "XTR":
            raise ApiError("Bad Request: the fake sells for Telegram Stars (XTR) only")
        if params.get("provider_token"):
            raise ApiError("Bad Request: PROVIDER_TOKEN_INVALID")
        if len(prices) != 1:
            raise ApiError("Bad Request: STARS_INVOICE_INVALID")
        price = prices[0]
        amount = price.get("amount") if isinstance(price, dict) else None
        if not isinstance(amount, int) or not 1 <= amount <= 10_000 or not price.get("label"):
            raise ApiError("Bad Request: CURRENCY_TOTAL_AMOUNT_INVALID")
        markup = check_markup(params.get("reply_markup"))
        message = self._new_message(
            chat_id,
            from_bot=True,
            invoice={
                "title": title,
                "description": description,
                "start_parameter": str(params.get("start_parameter") or ""),
                "currency": currency,
                "total_amount": amount,
            },
            invoice_payload=payload,
            reply_markup=markup,
        )
        return self.message_json(message)

    async def _answer_pre_checkout_query(self, params: dict[str, Any]) -> bool:
        record = self.pre_checkouts.get(str(params.get("pre_checkout_query_id")))
        if record is None or record.answered_at is not None:
            raise ApiError(QUERY_INVALID)
        ok = str(params.get("ok", "")).lower() == "true"
        error_message = params.get("error_message")
        if not ok and not error_message:
            raise ApiError("Bad Request: error_message must be non-empty when ok is False")
        record.answered_at = time.monotonic()
        record.ok = ok
        record.error_message = None if ok else str(error_message)
        return True

    async def _refund_star_payment(self, params: dict[str, Any]) -> bool:
        charge = self.charges.get(str(params.get("telegram_payment_charge_id")))
        if charge is None or str(charge.user_id) != str(params.get("user_id")):
            raise ApiError("Bad Request: CHARGE_NOT_FOUND")
        if charge.refunded:
            raise ApiError("Bad Request: CHARGE_ALREADY_REFUNDED")
        charge.refund()
        return True

    async def _get_star_transactions(self, params: dict[str, Any]) -> dict[str, Any]:
        try:
            offset = int(params.get("offset") or 0)
            limit = int(params.get("limit") or 100)
        except ValueError:
            raise ApiError("Bad Request: wrong parameter offset or limit") from None
        if offset < 0 or not 1 <= limit <= 100:
            raise ApiError("Bad Request: LIMIT_INVALID")
        moves: list[tuple[float, dict[str, Any]]] = []
        for charge in self.charges.values():
            partner = {
                "type": "user",
                "transaction_type": "invoice_payment",
                "user": self._user_json(charge.user_id),
                "invoice_payload": charge.payload,
            }
            moves.append(
                (charge.paid_at, {"source": partner, **self._move(charge, charge.paid_at)})
            )
            if charge.refunded_at is not None:
                refund = {"receiver": partner, **self._move(charge, charge.refunded_at)}
                moves.append((charge.refunded_at, refund))
        moves.sort(key=lambda move: move[0])
        return {"transactions": [move for _, move in moves[offset : offset + limit]]}

    @staticmethod
    def _move(charge: Charge, at: float) -> dict[str, Any]:
        return {"id": charge.charge_id, "amount": charge.total, "date": int(at)}

    async def _send_photo(self, params: dict[str, Any]) -> dict[str, Any]:
        return await self._media("photo", params)

    async def _send_video(self, params: dict[str, Any]) -> dict[str, Any]:
        return await self._media("video", params)

    async def _send_audio(self, params: dict[str, Any]) -> dict[str, Any]:
        return await self._media("audio", params)

    async def _send_document(self, params: dict[str, Any]) -> dict[str, Any]:
        return await self._media("document", params)


class FakeUser:
    """One Telegram user in a private chat with the bot (or in a group: :meth:`in_group`)."""

    def __init__(self, api: FakeBotApi, info: UserInfo, chat_id: int | None = None) -> None:
        self.api = api
        self.info = info
        self.chat_id = info.id if chat_id is None else chat_id
        """Where this user talks and reads: their private chat, or a group."""

    @property
    def id(self) -> int:
        return self.info.id

    def in_group(self, chat_id: int) -> "FakeUser":
        """The same user writing in (and reading) the group ``chat_id`` (``FakeBotApi.group``)."""
        assert chat_id in self.api.groups, f"no group {chat_id}"
        return FakeUser(self.api, self.info, chat_id)

    def block(self) -> None:
        self.info.blocked = True

    # ------------------------------------------------------------------ reading

    def messages(self) -> list[FakeMessage]:
        return self.api.messages(self.chat_id)

    def bot_messages(self) -> list[FakeMessage]:
        return [m for m in self.messages() if m.from_bot]

    def last(self) -> FakeMessage:
        found = self.bot_messages()
        assert found, "the bot sent nothing"
        return found[-1]

    def with_buttons(self) -> list[FakeMessage]:
        return [m for m in self.bot_messages() if m.buttons()]

    def find(self, text: str) -> FakeMessage:
        for message in reversed(self.bot_messages()):
            if text in message.shown:
                return message
        raise AssertionError(f"no bot message contains {text!r}: {self.transcript()}")

    def transcript(self) -> str:
        lines = []
        for message in self.messages():
            who = "bot" if message.from_bot else "user"
            media = f"[{message.media}] " if message.media else ""
            lines.append(
                f"{who}#{message.message_id}: {media}{message.shown!r} {message.labels()}"
            )
        return "\n".join(lines)

    async def wait_for(self, predicate: Callable[[], object], within_s: float = 10.0) -> None:
        deadline = time.monotonic() + within_s
        while not predicate():
            if time.monotonic() > deadline:
                raise AssertionError(f"condition not met in {within_s} s:\n{self.transcript()}")
            await asyncio.sleep(0.02)

    async def wait_text(self, text: str, within_s: float = 10.0) -> FakeMessage:
        await self.wait_for(lambda: any(text in m.shown for m in self.bot_messages()), within_s)
        return self.find(text)

    # ------------------------------------------------------------------ acting

    def _message_json(self, message: FakeMessage) -> dict[str, Any]:
        return self.api.message_json(message)

    async def _push_message(self, wait: bool, **fields: Any) -> int:
        message = self.api._new_message(self.chat_id, from_bot=False, sender_id=self.id, **fields)
        body = self._message_json(message)
        if message.text and message.text.startswith("/"):
            command = message.text.split()[0]
            body["entities"] = [
                {"type": "bot_command", "offset": 0, "length": utf16_length(command)}
            ]
        update_id = await self.api.push({"message": body})
        if wait:
            await self.api.processed(update_id)
        return update_id

    async def send(self, text: str, *, wait: bool = True) -> int:
        return await self._push_message(wait, text=text)

    async def send_photo(
        self, data: bytes, caption: str | None = None, *, wait: bool = True
    ) -> int:
        file = self.api.add_file(data, "photo", "image/jpeg")
        return await self._push_message(wait, media="photo", file=file, caption=caption)

    async def send_document(
        self, data: bytes, name: str, mime_type: str, *, wait: bool = True
    ) -> int:
        file = self.api.add_file(data, "document", mime_type, name)
        return await self._push_message(wait, media="document", file=file)

    async def send_video(self, data: bytes, *, wait: bool = True) -> int:
        file = self.api.add_file(data, "video", "video/mp4", "clip.mp4")
        return await self._push_message(wait, media="video", file=file)

    async def send_audio(self, data: bytes, *, wait: bool = True) -> int:
        file = self.api.add_file(data, "audio", "audio/wav", "voice.wav")
        return await self._push_message(wait, media="audio", file=file)

    def invoices(self) -> list[FakeMessage]:
        return [m for m in self.bot_messages() if m.invoice is not None]

    async def pre_checkout(
        self, payload: str, total: int, currency: str = "XTR"
    ) -> PreCheckoutRecord:
        """Press Pay: Telegram asks the bot with a ``pre_checkout_query``; its answer."""
        query_id = f"pcq{next(self.api._ids)}"
        record = PreCheckoutRecord(
            id=query_id,
            update_id=0,
            user_id=self.id,
            payload=payload,
            total=total,
            currency=currency,
            created_at=time.monotonic(),
        )
        self.api.pre_checkouts[query_id] = record
        record.update_id = await self.api.push(
            {
                "pre_checkout_query": {
                    "id": query_id,
                    "from": self.api._from(self.info),
                    "currency": currency,
                    "total_amount": total,
                    "invoice_payload": payload,
                }
            }
        )
        await self.api.processed(record.update_id)
        return record

    async def pay(self, invoice: FakeMessage | None = None) -> str | None:
        """Pay an invoice (the latest by default); the charge id, or None when refused."""
        if invoice is None:
            found = self.invoices()
            assert found, f"no invoice:\n{self.transcript()}"
            invoice = found[-1]
        assert invoice.invoice is not None
        assert invoice.invoice_payload is not None
        total = invoice.invoice["total_amount"]
        answer = await self.pre_checkout(invoice.invoice_payload, total)
        if not answer.ok:
            return None
        charge = self.api.charge(self.id, total, invoice.invoice_payload)
        await self.push_service_message("successful_payment", charge)
        return charge.charge_id

    async def deliver_again(self, charge_id: str) -> int:
        """Telegram delivers the same ``successful_payment`` once more."""
        return await self.push_service_message("successful_payment", self.api.charges[charge_id])

    async def push_service_message(self, field: str, charge: Charge, *, wait: bool = True) -> int:
        body: dict[str, Any] = {
            "currency": "XTR",
            "total_amount": charge.total,
            "invoice_payload": charge.payload,
            "telegram_payment_charge_id": charge.charge_id,
        }
        if field == "successful_payment":
            body["provider_payment_charge_id"] = ""
        return await self._push_message(wait, extra={field: body})

    def button(
        self, label: str, message: FakeMessage | None = None
    ) -> tuple[FakeMessage, dict[str, Any]]:
        candidates = [message] if message is not None else list(reversed(self.with_buttons()))
        for candidate in candidates:
            for exact in (True, False):
                for button in candidate.buttons():
                    text = button["text"]
                    if (text == label) if exact else (label in text):
                        return candidate, button
        raise AssertionError(f"no button {label!r}:\n{self.transcript()}")

    async def press(
        self, label: str, message: FakeMessage | None = None, *, wait: bool = True
    ) -> CallbackRecord:
        found, button = self.button(label, message)
        return await self.press_data(button["callback_data"], found, wait=wait)

    async def press_data(
        self, data: str, message: FakeMessage, *, wait: bool = True
    ) -> CallbackRecord:
        query_id = f"cq{next(self.api._ids)}"
        record = CallbackRecord(
            id=query_id,
            update_id=0,
            user_id=self.id,
            data=data,
            message_id=message.message_id,
            created_at=time.monotonic(),
        )
        self.api.callbacks[query_id] = record
        record.update_id = await self.api.push(
            {
                "callback_query": {
                    "id": query_id,
                    "from": self.api._from(self.info),
                    "message": self._message_json(message),
                    "chat_instance": f"ci{self.id}",
                    "data": data,
                }
            }
        )
        if wait:
            await self.api.processed(record.update_id)
        return record


def iter_labels(messages: list[FakeMessage]) -> Iterator[str]:
    for message in messages:
        yield from message.labels()
