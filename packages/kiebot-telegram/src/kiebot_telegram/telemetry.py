"""One ``update`` event per handled update: what the user did and every screen the bot showed.

:class:`UpdateEventMiddleware` (an outer update middleware, inside the correlation one) times
each update and stores, under its correlation id, the input (a command, the label of the
button pressed, the text sent clipped, the kind of file) and the screens the bot sent or
edited for it (their first line and buttons), which :class:`ScreenRecorder` (a session
middleware) collects from the Bot API calls. ``kiebot replay`` rebuilds a user's journey
from these events; ``/debug`` shows them in a generation's timeline. An update that fails
gets the failure's reason code. Storing the event never fails the update: a store that
cannot take it is logged and the update goes on. The update with which a user deleted their
data (``kiebot_telegram.forgetting``) is stored without their id and without what they did.
"""

import logging
import time
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from typing import Any

from aiogram import BaseMiddleware, Bot
from aiogram.client.session.middlewares.base import (
    BaseRequestMiddleware,
    NextRequestMiddlewareType,
)
from aiogram.methods import (
    AnswerCallbackQuery,
    DeleteMessage,
    EditMessageCaption,
    EditMessageReplyMarkup,
    EditMessageText,
    SendAudio,
    SendDocument,
    SendInvoice,
    SendMessage,
    SendPhoto,
    SendVideo,
    TelegramMethod,
)
from aiogram.methods.base import Response, TelegramType
from aiogram.types import (
    CallbackQuery,
    InlineKeyboardMarkup,
    Message,
    TelegramObject,
    Update,
)

from kiebot_core.domain.catalog import JsonValue
from kiebot_core.domain.errors import KiebotError
from kiebot_core.domain.ids import CorrelationId, UserId
from kiebot_core.domain.reasons import ReasonCode
from kiebot_core.domain.telemetry import UPDATE_TAG, Event, EventKind, safe_text
from kiebot_telegram.forgetting import UpdateMarks, update_marks
from kiebot_telegram.formatting import plain
from kiebot_telegram.journal import current_scope
from kiebot_telegram.services import BotServices

_log = logging.getLogger(__name__)

Handler = Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]]

SCREEN_TEXT = 100
"""Characters of a screen's text kept in an event (its first lines)."""
SCREEN_LINES = 2
ANSWER_TEXT = 200
"""Characters of a user's typed answer kept in an event (prompts are the user's own data)."""
MAX_SCREENS = 6
MAX_BUTTONS = 12

_SHOWN = (
    SendMessage,
    EditMessageText,
    EditMessageCaption,
    EditMessageReplyMarkup,
    SendPhoto,
    SendVideo,
    SendAudio,
    SendDocument,
    SendInvoice,
    AnswerCallbackQuery,
    DeleteMessage,
)
_screens: ContextVar[list[dict[str, JsonValue]] | None] = ContextVar(
    "kiebot_update_screens", default=None
)
_calls: ContextVar[list[JsonValue] | None] = ContextVar("kiebot_update_calls", default=None)


def note_call(name: str, started: float, **details: JsonValue) -> None:
    """Add a provider call made while handling this update (``kie.upload``) to its event.

    ``started`` is the call's ``time.perf_counter()`` start; details that are None are left
    out. Outside an update it does nothing.
    """
    calls = _calls.get()
    if calls is None:
        return
    call: dict[str, JsonValue] = {
        "call": name,
        "ms": round((time.perf_counter() - started) * 1000),
    }
    call.update({key: value for key, value in details.items() if value is not None})
    calls.append(call)


def _labels(markup: object) -> list[JsonValue]:
    if not isinstance(markup, InlineKeyboardMarkup):
        return []
    labels: list[JsonValue] = [button.text for row in markup.inline_keyboard for button in row]
    return labels[:MAX_BUTTONS]


def screen_of(method: TelegramMethod[Any]) -> dict[str, JsonValue] | None:
    """What a Bot API call shows the user, for the update's event (None: it shows nothing)."""
    if not isinstance(method, _SHOWN):
        return None
    raw = getattr(method, "text", None) or getattr(method, "caption", None)
    if raw is None and isinstance(method, SendInvoice):
        raw = method.title
    screen: dict[str, JsonValue] = {"method": method.__api_method__}
    if isinstance(raw, str) and raw.strip():
        # A screen's first line is often its model's title; the second says which step.
        lines = [line.strip() for line in plain(raw).splitlines() if line.strip()]
        screen["text"] = safe_text(" / ".join(lines[:SCREEN_LINES]), SCREEN_TEXT)
    labels = _labels(getattr(method, "reply_markup", None))
    if labels:
        screen["buttons"] = labels
    if isinstance(method, AnswerCallbackQuery) and "text" not in screen:
        return None
    return screen


class ScreenRecorder(BaseRequestMiddleware):
    """Collects what each Bot API call shows into the current update's event.

    A session middleware; outside an update it does nothing.
    """

    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[TelegramType],
        bot: Bot,
        method: TelegramMethod[TelegramType],
    ) -> Response[TelegramType]:
        """Note the call's screen, then make it."""
        screens = _screens.get()
        if screens is not None and len(screens) < MAX_SCREENS:
            screen = screen_of(method)
            if screen is not None:
                screens.append(screen)
        return await make_request(bot, method)


def _pressed(callback: CallbackQuery) -> str:
    message = callback.message
    markup = message.reply_markup if isinstance(message, Message) else None
    if markup is not None:
        for row in markup.inline_keyboard:
            for button in row:
                if button.callback_data == callback.data:
                    return f"pressed «{safe_text(button.text, SCREEN_TEXT)}»"
    return f"pressed [{safe_text(callback.data or '', 64)}]"


def _message_input(message: Message) -> str:
    text = message.text or ""
    if text:
        clipped = safe_text(text, ANSWER_TEXT)
        return clipped if text.startswith("/") else f"«{clipped}»"
    if message.successful_payment is not None:
        payment = message.successful_payment
        return f"paid {payment.total_amount} {payment.currency}"
    if message.refunded_payment is not None:
        return "payment refunded by Telegram"
    if message.document is not None:
        return f"document ({message.document.mime_type or 'unknown type'})"
    content = message.content_type
    return str(getattr(content, "value", content))  # "photo", "video", "sticker" …


def input_of(update: Update) -> str:
    """What the user did, in one short line (button labels, not their data)."""
    if update.message is not None:
        return _message_input(update.message)
    if update.callback_query is not None:
        return _pressed(update.callback_query)
    if update.pre_checkout_query is not None:
        query = update.pre_checkout_query
        return f"pre-checkout {query.total_amount} {query.currency}"
    return update.event_type


class UpdateEventMiddleware(BaseMiddleware):
    """Stores one ``update`` event per update, with its input, screens, time and failure."""

    def __init__(self, services: BotServices) -> None:
        """Store events in ``services.store``."""
        self._services = services

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        """Run the handler, then record what happened."""
        if not isinstance(event, Update):
            return await handler(event, data)
        with update_marks() as marks:
            return await self._observed(handler, event, data, marks)

    async def _observed(
        self,
        handler: Handler,
        event: Update,
        data: dict[str, Any],
        marks: UpdateMarks,
    ) -> Any:
        at = self._services.clock.now()
        started = time.perf_counter()
        screens: list[dict[str, JsonValue]] = []
        calls: list[JsonValue] = []
        token, calls_token = _screens.set(screens), _calls.set(calls)
        reason: ReasonCode | None = None
        try:
            return await handler(event, data)
        except Exception as error:
            reason = (
                error.reason_code if isinstance(error, KiebotError) else ReasonCode.INTERNAL_ERROR
            )
            raise
        finally:
            _screens.reset(token)
            _calls.reset(calls_token)
            sender = data.get("event_from_user")
            payload: dict[str, JsonValue] = {
                UPDATE_TAG: event.update_id,
                "type": event.event_type,
                "input": input_of(event),
                "screens": list[JsonValue](screens),
            }
            if calls:
                payload["calls"] = calls
            scope = current_scope()
            if scope is not None and scope.attempt > 1:
                payload["attempt"] = scope.attempt  # the inbox handles it again
            if marks.forgotten:
                # The user deleted their data with this update: nothing of theirs is kept.
                sender, payload = None, {UPDATE_TAG: event.update_id, "forgotten": True}
            await self._store(
                Event(
                    correlation_id=data.get("correlation_id", CorrelationId("-")),
                    kind=EventKind.UPDATE,
                    at=at,
                    user_id=UserId(sender.id) if sender is not None else None,
                    reason=reason,
                    duration_ms=round((time.perf_counter() - started) * 1000),
                    payload=payload,
                )
            )

    async def _store(self, event: Event) -> None:
        try:
            async with self._services.store() as uow:
                await uow.events.append(event)
                await uow.commit()
        except Exception as error:  # noqa: BLE001  # telemetry never fails an update
            update_id = event.payload.get(UPDATE_TAG)
            _log.warning("the event of update %s was not stored: %r", update_id, error)
