"""Broadcasts on Telegram: the messages users get, the author's screens, and the sending channel.

The admin's router (``kiebot_telegram.routers.broadcasts``) writes a draft in the
conversation and creates the broadcast; the leader's ``BroadcastSender`` sends it through
:class:`TelegramBroadcastChannel`, which maps Telegram's answers to the core's outcomes (403:
the user blocked the bot; 429: flood control with its ``retry_after``; no answer: unconfirmed,
never sent twice) and keeps the author's progress message up to date.
"""

import enum
import logging
import math
from datetime import timedelta

import aiohttp
import attrs
from aiogram import Bot
from aiogram.exceptions import (
    AiogramError,
    TelegramAPIError,
    TelegramForbiddenError,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
)
from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup

from kiebot_core.domain.broadcasts import (
    Broadcast,
    BroadcastButton,
    BroadcastCounts,
    BroadcastState,
    Delivered,
    SendOutcome,
    TryAgain,
    Unconfirmed,
    Undeliverable,
    Unreachable,
    estimated_duration,
)
from kiebot_core.domain.ids import UserId
from kiebot_core.domain.texts import Language
from kiebot_core.ports.operations import BroadcastChannel
from kiebot_core.ports.storage import UnitOfWorkFactory
from kiebot_core.use_cases.broadcasts import show_progress_in
from kiebot_telegram.formatting import escape
from kiebot_telegram.keyboards import button, markup
from kiebot_telegram.messaging import edit_by_id, send
from kiebot_telegram.progress import user_language
from kiebot_telegram.texts import Msg, t
from kiebot_telegram.views import View

_log = logging.getLogger(__name__)

ACTIVE_DAYS = (0, 7, 30, 90)
"""The activity windows offered (0: any time)."""
NETWORK_RETRY = timedelta(seconds=2)
"""How long to wait after a connection to Telegram could not be made."""
_NEVER_CONNECTED = (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError)
"""The session's errors that mean the request never left: the connection was refused, the
name did not resolve, the handshake failed or timed out."""


class BcAct(enum.StrEnum):
    """What a broadcast button does (the router checks that an admin pressed it)."""

    NO_BUTTON = "b"
    """No link button under the message."""
    LANGUAGE = "l"
    """Audience: the language ``arg`` (empty: all)."""
    ACTIVE = "a"
    """Audience: active in the last ``arg`` days (0: any time)."""
    PAID = "p"
    """Audience: ``1`` made a purchase, ``0`` never did, empty: anyone."""
    PREVIEW = "v"
    """Show the message as it will arrive, with the count (the dry run)."""
    EDIT = "e"
    """Back from the preview to the audience."""
    SEND = "y"
    """Send the draft whose token is ``arg``."""
    CANCEL = "x"
    """Drop the draft."""
    STOP = "s"
    """Stop the broadcast ``arg``."""


class Bc(CallbackData, prefix="bc"):
    """A broadcast action (admins only)."""

    act: BcAct
    arg: str = ""


@attrs.frozen(kw_only=True)
class Draft:
    """A broadcast being prepared, as the conversation keeps it."""

    text: str
    button: BroadcastButton | None = None
    language: Language | None = None
    days: int = 0
    """Only users active in the last ``days`` days (0: any time)."""
    paid: bool | None = None
    token: str = ""


def message_markup(link: BroadcastButton | None) -> InlineKeyboardMarkup | None:
    """The keyboard under a broadcast message: its link button, if it has one."""
    if link is None:
        return None
    return markup([[InlineKeyboardButton(text=link.label, url=link.url)]])


def _chosen(language: Language, label: str, *, chosen: bool) -> str:
    return t(language, Msg.BTN_BC_CHOSEN, label=label) if chosen else label


def _language_name(language: Language, of: Language | None) -> str:
    match of:
        case None:
            return t(language, Msg.BC_ANY_LANGUAGE)
        case Language.RU:
            return t(language, Msg.BC_LANGUAGE_RU)
        case Language.EN:
            return t(language, Msg.BC_LANGUAGE_EN)


def _active_name(language: Language, days: int) -> str:
    if days <= 0:
        return t(language, Msg.BC_ACTIVE_ANY)
    return t(language, Msg.BC_ACTIVE_DAYS, days=days)


def _paid_name(language: Language, paid: bool | None) -> str:  # noqa: FBT001  # a tri-state
    if paid is None:
        return t(language, Msg.BC_PAID_ANY)
    return t(language, Msg.BC_PAID_YES if paid else Msg.BC_PAID_NO)


def audience_view(language: Language, draft: Draft, count: int) -> View:
    """Step 3: who gets it (each choice redraws the live count)."""
    text = t(
        language,
        Msg.BC_AUDIENCE,
        lang=_language_name(language, draft.language),
        active=_active_name(language, draft.days),
        paid=_paid_name(language, draft.paid),
        count=count,
    )
    languages = [
        button(
            _chosen(language, t(language, Msg.BTN_BC_LANG_ALL), chosen=draft.language is None),
            Bc(act=BcAct.LANGUAGE),
        ),
        *(
            button(
                _chosen(language, option.value.upper(), chosen=draft.language is option),
                Bc(act=BcAct.LANGUAGE, arg=option.value),
            )
            for option in Language
        ),
    ]
    active = [
        button(
            _chosen(
                language,
                t(language, Msg.BTN_BC_ACTIVE_DAYS, days=days)
                if days
                else t(language, Msg.BTN_BC_ACTIVE_ANY),
                chosen=draft.days == days,
            ),
            Bc(act=BcAct.ACTIVE, arg=str(days)),
        )
        for days in ACTIVE_DAYS
    ]
    paid = [
        button(
            _chosen(language, t(language, key), chosen=draft.paid is value),
            Bc(act=BcAct.PAID, arg="" if value is None else str(int(value))),
        )
        for key, value in (
            (Msg.BTN_BC_PAID_ANY, None),
            (Msg.BTN_BC_PAID_YES, True),
            (Msg.BTN_BC_PAID_NO, False),
        )
    ]
    rows = [
        languages,
        active,
        paid,
        [button(t(language, Msg.BTN_BC_PREVIEW), Bc(act=BcAct.PREVIEW))],
        [button(t(language, Msg.BTN_CANCEL), Bc(act=BcAct.CANCEL))],
    ]
    return View(text, markup(rows))


def confirm_view(language: Language, draft: Draft, count: int, per_second: float) -> View:
    """Under the preview: the count, the time it takes, and Send / Change / Cancel."""
    cancel = button(t(language, Msg.BTN_CANCEL), Bc(act=BcAct.CANCEL))
    edit = button(t(language, Msg.BTN_BC_EDIT), Bc(act=BcAct.EDIT))
    if count == 0:
        return View(t(language, Msg.BC_NOBODY), markup([[edit], [cancel]]))
    minutes = math.ceil(estimated_duration(count, per_second).total_seconds() / 60)
    text = t(
        language,
        Msg.BC_PREVIEW,
        count=count,
        lang=_language_name(language, draft.language),
        active=_active_name(language, draft.days),
        paid=_paid_name(language, draft.paid),
        minutes=max(1, minutes),
        rate=f"{per_second:g}",
    )
    send_button = button(
        t(language, Msg.BTN_BC_SEND, count=count), Bc(act=BcAct.SEND, arg=draft.token)
    )
    return View(text, markup([[send_button], [edit], [cancel]]))


def progress_view(language: Language, broadcast: Broadcast, counts: BroadcastCounts) -> View:
    """The author's progress message while it sends, with ⏹ Stop."""
    text = t(
        language,
        Msg.BC_PROGRESS,
        id=escape(broadcast.id),
        done=counts.handled,
        total=broadcast.total,
        sent=counts.sent,
        blocked=counts.blocked,
        failed=counts.failed,
    )
    stop = button(t(language, Msg.BTN_BC_STOP), Bc(act=BcAct.STOP, arg=broadcast.id))
    return View(text, markup([[stop]]))


def report_view(language: Language, broadcast: Broadcast, counts: BroadcastCounts) -> View:
    """The final report of a finished or stopped broadcast."""
    values = {
        "id": escape(broadcast.id),
        "total": broadcast.total,
        "sent": counts.sent,
        "blocked": counts.blocked,
        "failed": counts.failed,
    }
    if broadcast.state is BroadcastState.CANCELLED:
        text = t(language, Msg.BC_STOPPED, pending=counts.pending + counts.sending, **values)
    else:
        text = t(language, Msg.BC_DONE, **values)
    if counts.unconfirmed:
        text += "\n" + t(language, Msg.BC_UNCONFIRMED, count=counts.unconfirmed)
    return View(text)


@attrs.frozen
class TelegramBroadcastChannel(BroadcastChannel):
    """Sends broadcast messages with ``bot`` and reports to their authors."""

    bot: Bot
    store: UnitOfWorkFactory

    async def send(self, broadcast: Broadcast, user_id: UserId) -> SendOutcome:
        try:
            await self.bot.send_message(
                user_id, broadcast.text, reply_markup=message_markup(broadcast.button)
            )
        except AiogramError as error:
            return self._failed(error)
        return Delivered()

    def _failed(self, error: AiogramError) -> SendOutcome:
        """What a failed send means for the recipient.

        Sent again only when Telegram certainly did not take it (a 429, or no connection).
        Once the request may have reached Telegram, a lost answer (a timeout, a dropped
        connection) or a server error may hide a message that was shown: never resent.
        """
        match error:
            case TelegramRetryAfter():
                return TryAgain(timedelta(seconds=error.retry_after), error.message, is_flood=True)
            case TelegramForbiddenError():
                return Unreachable(error.message)
            case TelegramNetworkError():
                # aiohttp may quote the request URL, which holds the bot token.
                detail = error.message.replace(self.bot.token, "***")
                never_sent = isinstance(error.__cause__, _NEVER_CONNECTED)
                return TryAgain(NETWORK_RETRY, detail) if never_sent else Unconfirmed(detail)
            case TelegramServerError():
                return Unconfirmed(error.message)
            case TelegramAPIError():
                return Undeliverable(error.message)
            case _:  # an answer that is not Telegram's (a proxy's error page)
                return Unconfirmed(type(error).__name__)

    async def _language(self, broadcast: Broadcast) -> Language:
        async with self.store() as uow:
            return await user_language(uow, broadcast.author_id)

    async def progress(self, broadcast: Broadcast, counts: BroadcastCounts) -> None:
        try:
            view = progress_view(await self._language(broadcast), broadcast, counts)
            if broadcast.progress_message_id is None:
                shown = await send(self.bot, broadcast.report_chat_id, view)
                await show_progress_in(self.store, broadcast.id, shown.message_id)
            else:
                await edit_by_id(
                    self.bot, broadcast.report_chat_id, broadcast.progress_message_id, view
                )
        except TelegramAPIError as error:
            _log.warning("progress of %s not shown: %s", broadcast.id, error.message)

    async def finished(self, broadcast: Broadcast, counts: BroadcastCounts) -> None:
        try:
            view = report_view(await self._language(broadcast), broadcast, counts)
            await self._retire_progress(broadcast, view)
            # A new message, not only an edit: the author is notified that it ended.
            await send(self.bot, broadcast.report_chat_id, view)
        except TelegramAPIError as error:
            _log.warning("report of %s not sent: %s", broadcast.id, error.message)

    async def _retire_progress(self, broadcast: Broadcast, view: View) -> None:
        """Delete the progress message (the report replaces it), or else fill it in."""
        message_id = broadcast.progress_message_id
        if message_id is None:
            return
        try:
            await self.bot.delete_message(broadcast.report_chat_id, message_id)
        except TelegramAPIError:
            await edit_by_id(self.bot, broadcast.report_chat_id, message_id, view)
