"""Update middlewares (correlation, "no silence", users) and session middlewares (retries).

The session middlewares trace the calls made for each update, answer an inbox update's calls
made before from the journal (``kiebot_telegram.journal``), and honour ``retry_after``.

Order on ``dp.update`` (outermost first): aiogram's errors and user-context middlewares,
:class:`RateLimitMiddleware` (when the services have a limiter),
:class:`FastPathFSMContextMiddleware`, then :class:`CorrelationMiddleware`,
:class:`NoSilenceMiddleware`, :class:`UserMiddleware`. A ``pre_checkout_query`` skips the FSM
(the chat's lock and stored state) and the user registration: it must be answered fast.
Money never waits behind the rate limit: a ``pre_checkout_query`` and a payment's service
message (``successful_payment``, ``refunded_payment``) are neither counted nor refused.
The error boundary itself is an ``errors`` handler (``kiebot_telegram.routers.errors``).
"""

import asyncio
import logging
import secrets
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from typing import Any

import attrs
from aiogram import BaseMiddleware, Bot
from aiogram.client.session.middlewares.base import (
    BaseRequestMiddleware,
    NextRequestMiddlewareType,
)
from aiogram.exceptions import TelegramRetryAfter
from aiogram.fsm.middleware import FSMContextMiddleware
from aiogram.methods import AnswerCallbackQuery, GetUpdates, TelegramMethod
from aiogram.methods.base import Response, TelegramType
from aiogram.types import TelegramObject, Update
from aiogram.types import User as TelegramUser

from kiebot_core.domain.ids import CorrelationId, UserId
from kiebot_core.domain.limits import USER_UPDATES_WINDOW, RateDecision
from kiebot_core.domain.promotions import parse_referral_code
from kiebot_core.domain.reasons import ReasonCode, reason_text
from kiebot_core.domain.texts import language_for
from kiebot_core.domain.users import User
from kiebot_core.use_cases.admin import ban_notice_sent
from kiebot_core.use_cases.promotions import register_user
from kiebot_telegram.context import Context
from kiebot_telegram.formatting import MAX_CALLBACK_ANSWER, clip, plain
from kiebot_telegram.journal import JournalMiddleware, current_scope
from kiebot_telegram.services import BotServices
from kiebot_telegram.telemetry import ScreenRecorder
from kiebot_telegram.texts import Msg, t

_log = logging.getLogger(__name__)

Handler = Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]]

_correlation: ContextVar[str] = ContextVar("kiebot_correlation_id", default="-")


def current_correlation_id() -> str:
    """The correlation id of the update being handled in this task ("-" outside one)."""
    return _correlation.get()


class CorrelationLogFilter(logging.Filter):
    """Adds ``correlation_id`` to every log record (install it on the handlers)."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Annotate ``record``; never drops it."""
        record.correlation_id = _correlation.get()
        return True


@attrs.define
class UpdateTrace:
    """What the bot sent while handling one update."""

    calls: int = 0
    callback_answered: bool = False
    silent: bool = False
    """True when the update is ignored on purpose (a banned user's): no menu hint either."""


_trace: ContextVar[UpdateTrace | None] = ContextVar("kiebot_update_trace", default=None)


class CorrelationMiddleware(BaseMiddleware):
    """Gives each update a new correlation id (``data["correlation_id"]``) and logs it."""

    def __init__(self, services: BotServices) -> None:
        """Draw ids from ``services.ids``."""
        self._services = services

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        """Run the handler under a fresh correlation id."""
        correlation_id = CorrelationId(self._services.ids.new("cor"))
        data["correlation_id"] = correlation_id
        token = _correlation.set(correlation_id)
        try:
            if isinstance(event, Update):
                _log.debug("update %s (%s)", event.update_id, event.event_type)
            return await handler(event, data)
        finally:
            _correlation.reset(token)


def _is_fast_path(event: TelegramObject) -> bool:
    return isinstance(event, Update) and event.pre_checkout_query is not None


class FastPathFSMContextMiddleware(FSMContextMiddleware):
    """aiogram's FSM middleware, skipped for ``pre_checkout_query`` (no lock, no state read)."""

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        """Run the handler with the conversation's state, or at once on the fast path."""
        if _is_fast_path(event):
            data["fsm_storage"] = self.storage
            return await handler(event, data)
        return await super().__call__(handler, event, data)


def is_money(event: TelegramObject) -> bool:
    """True for an update about a payment, which is never rate-limited or dropped."""
    if not isinstance(event, Update):
        return False
    if event.pre_checkout_query is not None:
        return True
    message = event.message
    return message is not None and (
        message.successful_payment is not None or message.refunded_payment is not None
    )


def _is_retry() -> bool:
    """True while an inbox update is handled again (after a crash or a failure)."""
    scope = current_scope()
    return scope is not None and scope.attempt > 1


class RateLimitMiddleware(BaseMiddleware):
    """At most ``services.updates_per_minute`` updates of each user are handled per minute.

    Hits are counted by ``services.limiter`` (shared by every instance). An update over the
    limit is not handled: the first one in a window gets one message saying how many seconds
    to wait, later ones get nothing, and every callback query over the limit is answered with
    that text so its button stops spinning. Payments pass uncounted (:func:`is_money`), as do
    updates without a human sender and retries of an inbox update (counted the first time). A
    limiter that cannot be reached raises ``StorageUnavailableError`` (the inbox retries the
    update).
    """

    def __init__(self, services: BotServices) -> None:
        """Count hits with ``services.limiter``, which must be set."""
        if services.limiter is None:
            raise ValueError("RateLimitMiddleware needs services.limiter")
        self._services = services
        self._limiter = services.limiter

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        """Run the handler when the sender is within the limit; refuse the update otherwise."""
        sender: TelegramUser | None = data.get("event_from_user")
        if sender is None or sender.is_bot or is_money(event) or _is_retry():
            return await handler(event, data)
        decision = await self._limiter.hit(
            f"updates:{data['bot'].id}:{sender.id}",
            limit=self._services.updates_per_minute,
            window=USER_UPDATES_WINDOW,
        )
        if decision.allowed:
            return await handler(event, data)
        if isinstance(event, Update):
            _log.info("update %s of user %s over the rate limit", event.update_id, sender.id)
            await self._refuse(event, data["bot"], sender, decision)
        return None

    async def _refuse(
        self, update: Update, bot: Bot, sender: TelegramUser, decision: RateDecision
    ) -> None:
        callback, message = update.callback_query, update.message
        if callback is None and (message is None or not decision.is_first_refusal):
            return
        stored = await self._stored(sender)
        if stored is not None and stored.is_banned:
            # A banned user was told once (UserMiddleware); the limit adds nothing.
            if callback is not None:
                await bot.answer_callback_query(callback.id)
            return
        language = stored.language if stored is not None else language_for(sender.language_code)
        text = t(language, Msg.RATE_LIMITED, seconds=decision.retry_after_s)
        if callback is not None:
            await bot.answer_callback_query(
                callback.id, text=clip(plain(text), MAX_CALLBACK_ANSWER)
            )
        elif message is not None:
            await bot.send_message(message.chat.id, text)

    async def _stored(self, sender: TelegramUser) -> User | None:
        async with self._services.store() as uow:
            return await uow.users.get(UserId(sender.id))


class NoSilenceMiddleware(BaseMiddleware):
    """Nothing a user does stays without a reply.

    After the handler, a callback query still unanswered is answered, and a message the bot
    sent nothing for gets the menu hint.
    """

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        """Run the handler, then make sure the user got an answer."""
        trace = UpdateTrace()
        data["trace"] = trace
        token = _trace.set(trace)
        try:
            result = await handler(event, data)
        finally:
            _trace.reset(token)
        if isinstance(event, Update):
            await _ensure_answer(event, data, trace)
        return result


async def _ensure_answer(update: Update, data: dict[str, Any], trace: UpdateTrace) -> None:
    bot: Bot = data["bot"]
    user: User | None = data.get("user")
    language = user.language if user is not None else language_for(None)
    if update.callback_query is not None and not trace.callback_answered:
        _log.warning("callback %s left unanswered; answering it", update.callback_query.data)
        await bot.answer_callback_query(update.callback_query.id)
    elif update.message is not None and trace.calls == 0 and not trace.silent:
        _log.warning("message left without a reply; sending the menu hint")
        await bot.send_message(update.message.chat.id, t(language, Msg.HINT_MENU))


class UserMiddleware(BaseMiddleware):
    """Registers the sender and puts ``user`` and ``ctx`` into the handler data.

    A new user gets the language Telegram reports and the welcome grant; every contact records
    the user's @username. A banned user gets the ban text once (a message, or an alert for a
    button), then nothing at all: later updates are ignored, their buttons answered silently.
    Their payments still go through (money is never dropped). A ``pre_checkout_query`` passes
    straight through (the fast path).
    """

    def __init__(self, services: BotServices) -> None:
        """Register users in ``services.store``."""
        self._services = services

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        """Load or register the sender, then run the handler."""
        sender: TelegramUser | None = data.get("event_from_user")
        if sender is None or sender.is_bot or _is_fast_path(event):
            return await handler(event, data)
        services = self._services
        registration = await register_user(
            services.store,
            services.clock,
            UserId(sender.id),
            language_for(sender.language_code),
            welcome_stars=services.welcome_stars,
            invited_by=_invited_by(event),
            username=sender.username,
        )
        user = registration.user
        data["user"] = user
        data["ctx"] = Context(
            bot=data["bot"],
            services=self._services,
            user=user,
            fsm=data["state"],
            correlation_id=data.get("correlation_id", CorrelationId("-")),
            is_new_user=registration.is_new,
            referral_refused=registration.referral_refused,
            welcome_granted=registration.welcomed,
        )
        if user.is_banned and not is_money(event):
            await _refuse_banned(event, data, user, services)
            return None
        return await handler(event, data)


async def _refuse_banned(
    event: TelegramObject, data: dict[str, Any], user: User, services: BotServices
) -> None:
    """The ban text the first time (then remembered), silence after."""
    if not isinstance(event, Update):
        return
    bot: Bot = data["bot"]
    callback, message = event.callback_query, event.message
    trace: UpdateTrace | None = data.get("trace")
    if trace is not None:
        trace.silent = True
    if user.ban_notice_sent:
        if callback is not None:
            await bot.answer_callback_query(callback.id)
        return
    text = reason_text(ReasonCode.BANNED, user.language)
    if callback is not None:
        await bot.answer_callback_query(callback.id, text=text, show_alert=True)
    elif message is not None:
        await bot.send_message(message.chat.id, text)
    else:
        return
    await ban_notice_sent(services.store, user.id)


def _invited_by(event: TelegramObject) -> UserId | None:
    """The inviter named by a ``/start ref_…`` deep link, if the update is one."""
    if not isinstance(event, Update) or event.message is None or not event.message.text:
        return None
    command, _, argument = event.message.text.partition(" ")
    if command.split("@", 1)[0] != "/start":
        return None
    return parse_referral_code(argument.strip())


class RetryAfterMiddleware(BaseRequestMiddleware):
    """Honours Telegram's ``retry_after`` on 429.

    Waits exactly that long (+≤10 % jitter) and tries again, at most ``attempts`` times in
    all; then the error goes to the caller.
    """

    def __init__(self, attempts: int = 3) -> None:
        """Try each request at most ``attempts`` times."""
        self._attempts = attempts

    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[TelegramType],
        bot: Bot,
        method: TelegramMethod[TelegramType],
    ) -> Response[TelegramType]:
        """Make the request, sleeping through flood control."""
        attempt = 1
        while True:
            try:
                return await make_request(bot, method)
            except TelegramRetryAfter as error:
                if attempt >= self._attempts:
                    raise
                delay = error.retry_after * (1 + secrets.randbelow(100) / 1000)
                _log.warning("%s: flood control, retrying in %.1f s", method.__api_method__, delay)
                attempt += 1
                await asyncio.sleep(delay)


class TraceMiddleware(BaseRequestMiddleware):
    """Counts the calls made while an update is handled, for :class:`NoSilenceMiddleware`."""

    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[TelegramType],
        bot: Bot,
        method: TelegramMethod[TelegramType],
    ) -> Response[TelegramType]:
        """Record the call in the current update's trace, then make it."""
        trace = _trace.get()
        if trace is not None and not isinstance(method, GetUpdates):
            trace.calls += 1
            if isinstance(method, AnswerCallbackQuery):
                trace.callback_answered = True
        return await make_request(bot, method)


def install_session_middlewares(bot: Bot) -> None:
    """Put the screen, trace, journal and retry middlewares on ``bot``'s session (once per bot).

    Outermost first: the screens and the trace see calls the journal answers too, and the
    journal numbers a call once however many attempts the retries take.
    """
    bot.session.middleware(ScreenRecorder())
    bot.session.middleware(TraceMiddleware())
    bot.session.middleware(JournalMiddleware())
    bot.session.middleware(RetryAfterMiddleware())
