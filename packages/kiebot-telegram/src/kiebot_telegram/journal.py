"""The sent-message journal: an inbox update handled again does not answer twice.

The inbox hands out updates at least once: a worker that crashed (or failed) after its handler
had sent something handles the update again later. While the inbox handles an update
(:func:`journaled`), :class:`JournalMiddleware` numbers the update's visible calls (messages
sent, edited or deleted, queries answered, refunds) and records Telegram's answer to each in
``uow.sent_messages``. When the handler, run again, makes its n-th call and the n-th call was
recorded, it gets the recorded answer and Telegram is not called. Reading calls (``getFile``,
``getMe``, ...) and chat actions are never journaled, so they do not shift the numbering.

A call is recorded once Telegram answered it: a call that failed, or whose answer was lost
(a timeout), is made again on the retry.
"""

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import attrs
from aiogram import Bot, methods
from aiogram.client.session.middlewares.base import (
    BaseRequestMiddleware,
    NextRequestMiddlewareType,
)
from aiogram.methods import TelegramMethod
from aiogram.methods.base import Response, TelegramType

from kiebot_core.domain.catalog import JsonValue
from kiebot_core.domain.coordination import InboxUpdate
from kiebot_core.domain.json_values import checked_json
from kiebot_core.ports.storage import UnitOfWorkFactory

_log = logging.getLogger(__name__)

JOURNALED: tuple[type[TelegramMethod[Any]], ...] = (
    # Messages sent.
    methods.SendMessage,
    methods.SendPhoto,
    methods.SendVideo,
    methods.SendAudio,
    methods.SendDocument,
    methods.SendAnimation,
    methods.SendVoice,
    methods.SendVideoNote,
    methods.SendSticker,
    methods.SendMediaGroup,
    methods.SendPaidMedia,
    methods.SendLocation,
    methods.SendVenue,
    methods.SendContact,
    methods.SendPoll,
    methods.SendDice,
    methods.SendGame,
    methods.SendInvoice,
    methods.CopyMessage,
    methods.CopyMessages,
    methods.ForwardMessage,
    methods.ForwardMessages,
    # Messages changed.
    methods.EditMessageText,
    methods.EditMessageCaption,
    methods.EditMessageMedia,
    methods.EditMessageReplyMarkup,
    methods.EditMessageLiveLocation,
    methods.StopMessageLiveLocation,
    methods.StopPoll,
    methods.DeleteMessage,
    methods.DeleteMessages,
    methods.PinChatMessage,
    methods.UnpinChatMessage,
    methods.SetMessageReaction,
    # Queries answered (Telegram refuses a second answer) and Stars refunded.
    methods.AnswerCallbackQuery,
    methods.AnswerInlineQuery,
    methods.AnswerPreCheckoutQuery,
    methods.AnswerShippingQuery,
    methods.RefundStarPayment,
)
"""The methods whose calls are journaled: what the user would see (or be charged) twice."""


@attrs.define
class JournalScope:
    """The inbox update being handled in this task, and how many journaled calls it made."""

    store: UnitOfWorkFactory
    bot_id: int
    update_id: int
    attempt: int = 1
    """Which handling of the update this is (a retry after a crash or a failure is 2 or more)."""
    calls: int = 0


_scope: ContextVar[JournalScope | None] = ContextVar("kiebot_journal_scope", default=None)


def current_scope() -> JournalScope | None:
    """The inbox update being handled in this task, or None outside one."""
    return _scope.get()


def inbox_request() -> str | None:
    """A name for the inbox update being handled (``tg:<bot id>:<update id>``), or None.

    Effects keyed by it happen once however often the update is handled.
    """
    scope = _scope.get()
    return None if scope is None else f"tg:{scope.bot_id}:{scope.update_id}"


@contextmanager
def journaled(store: UnitOfWorkFactory, update: InboxUpdate) -> Iterator[JournalScope]:
    """Journal the calls made in this block for ``update`` (the inbox handling it).

    Each run of the block numbers the calls from 1 again, so a retry meets the calls of the
    run before it in the same order.
    """
    scope = JournalScope(store, update.bot_id, update.update_id, attempt=max(update.attempts, 1))
    token = _scope.set(scope)
    try:
        yield scope
    finally:
        _scope.reset(token)


# aiogram types a request middleware's answer as ``Response[T]``, but the session's
# ``make_request`` (the end of the chain) returns the ``T`` itself, the method's result: the
# journal records and replays that, read the way the session reads Telegram's answers.
_RESPONSE: Any = Response


def _result_json(method: TelegramMethod[Any], result: object) -> JsonValue:
    """Telegram's answer to ``method`` as JSON (the aiogram type as the Bot API spells it)."""
    response_type = _RESPONSE[method.__returning__]
    response = response_type(ok=True, result=result)
    return checked_json(
        response.model_dump(mode="json", by_alias=True, exclude_none=True).get("result")
    )


def _replayed(bot: Bot, method: TelegramMethod[Any], result: JsonValue) -> Any:
    """A recorded answer as the aiogram type ``method`` returns, bound to ``bot``.

    Raises:
        ValueError: ``result`` does not fit that type (pydantic's ``ValidationError``).
    """
    response_type = _RESPONSE[method.__returning__]
    return response_type.model_validate(
        {"ok": True, "result": result}, context={"bot": bot}
    ).result


class JournalMiddleware(BaseRequestMiddleware):
    """Makes each journaled call of an inbox update once, across the update's retries.

    Outside an inbox update (:func:`journaled`) it only passes calls on. Install it inside
    the middlewares that must see every call of an update, replayed ones included (the trace
    of :class:`~kiebot_telegram.middlewares.NoSilenceMiddleware`), and outside the retries,
    so one call is one number however many attempts it takes.
    """

    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[TelegramType],
        bot: Bot,
        method: TelegramMethod[TelegramType],
    ) -> Response[TelegramType]:
        """Answer from the journal when this call was made before, else make and record it.

        Raises what the call raises, and ``StorageUnavailableError`` when the journal cannot
        be read (the update is then retried, rather than risking a second answer).
        """
        scope = _scope.get()
        if scope is None or not isinstance(method, JOURNALED):
            return await make_request(bot, method)
        scope.calls += 1
        seq = scope.calls
        name = method.__api_method__
        async with scope.store() as uow:
            recorded = await uow.sent_messages.recorded(scope.bot_id, scope.update_id, seq)
        if recorded is not None:
            if recorded.method == name:
                try:
                    replayed: Response[TelegramType] = _replayed(bot, method, recorded.result)
                except ValueError:
                    _log.exception("update %s: %s #%d unreadable", scope.update_id, name, seq)
                else:
                    _log.info("update %s: %s #%d made before", scope.update_id, name, seq)
                    return replayed
            else:
                # The handler took another path this time; its calls are new ones.
                _log.warning(
                    "update %s: call #%d was %s before, now %s; making it",
                    scope.update_id,
                    seq,
                    recorded.method,
                    name,
                )
            return await make_request(bot, method)
        result = await make_request(bot, method)
        try:
            async with scope.store() as uow:
                await uow.sent_messages.record(
                    scope.bot_id, scope.update_id, seq, name, _result_json(method, result)
                )
                await uow.commit()
        except Exception:  # noqa: BLE001  # the call was made: failing the handler would repeat it
            _log.exception("update %s: %s #%d made but not journaled", scope.update_id, name, seq)
        return result
