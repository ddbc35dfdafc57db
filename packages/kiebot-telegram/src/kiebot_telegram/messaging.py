"""Showing views: edit the message a button belongs to, or send a new one; never a needless edit.

Telegram answers an edit that changes nothing with "message is not modified" (a 400). The
helpers skip such edits: they compare the view with the message as the button's update shows
it, and with what this process last put into that message (the update's copy is older when a
user presses again before the previous edit arrived). The error is still tolerated for what
neither can see (a message changed by another process).
"""

import logging
from collections import OrderedDict

from aiogram import Bot
from aiogram.exceptions import TelegramBadRequest
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message

from kiebot_telegram.formatting import MAX_CALLBACK_ANSWER, clip, plain
from kiebot_telegram.views import View

_log = logging.getLogger(__name__)

NOT_MODIFIED = "message is not modified"
_GONE = ("message to edit not found", "message can't be edited", "there is no text")


SHOWN_CACHE_SIZE = 10_000

Key = tuple[int, int, int]
Shown = tuple[str, object]


def _keyboard(markup: InlineKeyboardMarkup | None) -> object:
    if markup is None or not markup.inline_keyboard:
        return None
    return markup.model_dump(exclude_none=True)


def _shown_as(view: View) -> Shown:
    return plain(view.text), _keyboard(view.markup)


class _LastShown:
    """What this process last put into each message (bounded; a cache, not state)."""

    def __init__(self, size: int = SHOWN_CACHE_SIZE) -> None:
        self._size = size
        self._items: OrderedDict[Key, Shown] = OrderedDict()

    def get(self, key: Key) -> Shown | None:
        return self._items.get(key)

    def put(self, key: Key, shown: Shown) -> None:
        self._items[key] = shown
        self._items.move_to_end(key)
        while len(self._items) > self._size:
            self._items.popitem(last=False)

    def forget(self, key: Key) -> None:
        self._items.pop(key, None)


_last_shown = _LastShown()


def _key(bot: Bot, chat_id: int, message_id: int) -> Key:
    return bot.id, chat_id, message_id


def shows(message: Message, view: View) -> bool:
    """True when ``message`` already shows exactly ``view`` (an edit would change nothing)."""
    return ((message.text or "").strip(), _keyboard(message.reply_markup)) == _shown_as(view)


async def send(bot: Bot, chat_id: int, view: View) -> Message:
    """Send ``view`` as a new message."""
    message = await bot.send_message(chat_id, view.text, reply_markup=view.markup)
    _last_shown.put(_key(bot, chat_id, message.message_id), _shown_as(view))
    return message


async def edit(bot: Bot, message: Message, view: View) -> Message:
    """Show ``view`` in ``message``, or in a new message when it cannot be edited.

    Returns the message that shows the view.
    """
    if message.text is None:
        return await send(bot, message.chat.id, view)
    key = _key(bot, message.chat.id, message.message_id)
    wanted = _shown_as(view)
    if shows(message, view) or _last_shown.get(key) == wanted:
        return message
    try:
        edited = await bot.edit_message_text(
            text=view.text,
            chat_id=message.chat.id,
            message_id=message.message_id,
            reply_markup=view.markup,
        )
    except TelegramBadRequest as error:
        if NOT_MODIFIED in error.message:
            _last_shown.put(key, wanted)
            return message
        if any(reason in error.message for reason in _GONE):
            _last_shown.forget(key)
            return await send(bot, message.chat.id, view)
        raise
    _last_shown.put(key, wanted)
    return edited if isinstance(edited, Message) else message


async def edit_by_id(bot: Bot, chat_id: int, message_id: int, view: View) -> bool:
    """Edit a message known only by id; False when it is gone or cannot be edited."""
    key, wanted = _key(bot, chat_id, message_id), _shown_as(view)
    if _last_shown.get(key) == wanted:
        return True
    try:
        await bot.edit_message_text(
            text=view.text, chat_id=chat_id, message_id=message_id, reply_markup=view.markup
        )
    except TelegramBadRequest as error:
        if NOT_MODIFIED in error.message:
            _last_shown.put(key, wanted)
            return True
        _log.info("message %s not edited: %s", message_id, error.message)
        return False
    _last_shown.put(key, wanted)
    return True


async def drop_keyboard(bot: Bot, chat_id: int, message_id: int) -> None:
    """Remove the keyboard of an older screen so its buttons cannot be pressed (best effort)."""
    key = _key(bot, chat_id, message_id)
    shown = _last_shown.get(key)
    if shown is not None and shown[1] is None:
        return
    try:
        await bot.edit_message_reply_markup(chat_id=chat_id, message_id=message_id)
        if shown is not None:
            _last_shown.put(key, (shown[0], None))
    except TelegramBadRequest as error:
        _log.debug("keyboard of %s not removed: %s", message_id, error.message)


async def show(bot: Bot, target: CallbackQuery | Message, view: View) -> Message:
    """Show ``view`` in answer to ``target``: edited in place for a button, new for a message."""
    if isinstance(target, CallbackQuery):
        message = target.message
        if isinstance(message, Message):
            return await edit(bot, message, view)
        return await send(bot, target.from_user.id, view)
    return await send(bot, target.chat.id, view)


async def toast(callback: CallbackQuery, text: str | None = None, *, alert: bool = False) -> None:
    """Answer a callback query (a toast, an alert, or just stop the spinner)."""
    shown = clip(text, MAX_CALLBACK_ANSWER) if text else None
    await callback.answer(text=shown, show_alert=alert)
