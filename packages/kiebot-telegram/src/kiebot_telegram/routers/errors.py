"""The error boundary: a failed update is logged with its correlation id, never shown.

The user gets the reason text (``internal_error`` unless the failure carries its own reason);
an inbox update that failed because a store is down is retried instead.
"""

import logging
from typing import Any

from aiogram import Bot, Router
from aiogram.exceptions import TelegramAPIError
from aiogram.types import ErrorEvent

from kiebot_core.domain.errors import KiebotError, StorageUnavailableError
from kiebot_core.domain.reasons import ReasonCode, reason_text
from kiebot_core.domain.texts import Language, language_for
from kiebot_core.domain.users import User
from kiebot_telegram.formatting import MAX_CALLBACK_ANSWER, clip, escape
from kiebot_telegram.journal import current_scope
from kiebot_telegram.middlewares import UpdateTrace
from kiebot_telegram.services import BotServices
from kiebot_telegram.texts import Msg, t

_log = logging.getLogger(__name__)


def _new_correlation_id(data: dict[str, Any]) -> str:
    # The update failed before it got one (in aiogram's own FSM middleware): give it one now.
    services = data.get("services")
    return services.ids.new("cor") if isinstance(services, BotServices) else "-"


def _language(data: dict[str, Any]) -> Language:
    user = data.get("user")
    if isinstance(user, User):
        return user.language
    sender = data.get("event_from_user")
    return language_for(getattr(sender, "language_code", None))


async def on_error(event: ErrorEvent, bot: Bot, **data: Any) -> bool:
    """Log the failure and tell the user in their language; the update counts as handled.

    A store that cannot be reached while an inbox update is handled is raised instead: the
    inbox hands the update back and handles it again (a payment is never lost to an outage).
    """
    correlation_id = str(data.get("correlation_id") or _new_correlation_id(data))
    error = event.exception
    if isinstance(error, StorageUnavailableError) and current_scope() is not None:
        _log.warning("update %s waits for the store [%s]", event.update.update_id, correlation_id)
        raise error
    _log.error(
        "update %s failed [%s]: %s",
        event.update.update_id,
        correlation_id,
        type(error).__name__,
        exc_info=error,
    )
    reason = error.reason_code if isinstance(error, KiebotError) else ReasonCode.INTERNAL_ERROR
    language = _language(data)
    text = reason_text(reason, language)
    trace = data.get("trace")
    answered = isinstance(trace, UpdateTrace) and trace.callback_answered
    try:
        callback, message = event.update.callback_query, event.update.message
        if callback is not None and not answered:
            await bot.answer_callback_query(
                callback.id, text=clip(text, MAX_CALLBACK_ANSWER), show_alert=True
            )
        elif callback is not None or message is not None:
            chat_id = message.chat.id if message is not None else callback.from_user.id  # type: ignore[union-attr]  # one of the two is set
            code = t(language, Msg.ERROR_CODE, code=escape(correlation_id))
            await bot.send_message(chat_id, f"{escape(text)}\n{code}")
    except TelegramAPIError as failure:
        _log.error("the error notice failed too [%s]: %s", correlation_id, failure.message)
    return True


def make_router() -> Router:
    """A new router with this module's handlers (one per dispatcher)."""
    router = Router(name="errors")
    router.errors.register(on_error)
    return router
