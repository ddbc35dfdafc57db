"""Small text helpers for Telegram's HTML: escaping, clipping and Telegram's length rules."""

import html
import re

MAX_TEXT = 4096
"""A message's text, counted after entity parsing (UTF-16 code units)."""
MAX_CAPTION = 1024
"""A media caption, counted the same way."""
MAX_CALLBACK_ANSWER = 200
"""The text of an ``answerCallbackQuery`` toast or alert."""
MAX_CALLBACK_DATA = 64
"""Bytes of one button's ``callback_data``."""

_TAG = re.compile(r"<[^>]*>")


def escape(text: object) -> str:
    """``text`` made safe to put inside Telegram HTML (``<``, ``>`` and ``&`` escaped)."""
    return html.escape(str(text), quote=False)


def clip(text: str, limit: int) -> str:
    """``text`` shortened to at most ``limit`` characters, ending with ``…`` when cut."""
    text = text.strip()
    if len(text) <= limit:
        return text
    return text[: max(0, limit - 1)].rstrip() + "…"


def plain(markup: str) -> str:
    """The text Telegram shows for HTML ``markup``: tags removed, entities decoded, trimmed."""
    return html.unescape(_TAG.sub("", markup)).strip()


def telegram_length(text: str) -> int:
    """The length Telegram counts: UTF-16 code units."""
    return len(text.encode("utf-16-le")) // 2


def fits(markup: str, limit: int) -> bool:
    """True when the HTML ``markup`` shows at most ``limit`` characters."""
    return telegram_length(plain(markup)) <= limit
