"""Pure builders of inline keyboards: rows of buttons, pagers and the navigation row."""

from collections.abc import Callable, Sequence

from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup

from kiebot_core.domain.texts import Language
from kiebot_telegram.callbacks import Nav, Screen
from kiebot_telegram.texts import Msg, t

Row = list[InlineKeyboardButton]


def button(text: str, data: CallbackData) -> InlineKeyboardButton:
    """A callback button."""
    return InlineKeyboardButton(text=text, callback_data=data.pack())


def markup(rows: Sequence[Row]) -> InlineKeyboardMarkup:
    """A keyboard of the non-empty ``rows``."""
    return InlineKeyboardMarkup(inline_keyboard=[list(row) for row in rows if row])


def chunked(buttons: Sequence[InlineKeyboardButton], per_row: int) -> list[Row]:
    """``buttons`` laid out ``per_row`` to a row."""
    return [list(buttons[i : i + per_row]) for i in range(0, len(buttons), per_row)]


def per_row_for(labels: Sequence[str]) -> int:
    """How many buttons with these labels fit side by side on a phone."""
    longest = max((len(label) for label in labels), default=0)
    if longest <= 8:
        return 3
    if longest <= 18:
        return 2
    return 1


def pages(count: int, size: int) -> int:
    """How many pages ``count`` items fill (at least one)."""
    return max(1, -(-count // size))


PageLink = Callable[[int], CallbackData]
"""Builds the payload that opens page ``n`` of one paginated screen."""


def pager(language: Language, page: int, total_pages: int, to_page: PageLink) -> Row:
    """◀️ n/N ▶️ (arrows only where there is a page to go to); empty for a single page."""
    if total_pages <= 1:
        return []
    row: Row = []
    if page > 0:
        row.append(button(t(language, Msg.BTN_PREV), to_page(page - 1)))
    label = t(language, Msg.PAGE, page=page + 1, pages=total_pages)
    row.append(button(label, Nav(to=Screen.NOOP)))
    if page < total_pages - 1:
        row.append(button(t(language, Msg.BTN_NEXT), to_page(page + 1)))
    return row


def back_menu_row(language: Language, back: CallbackData | None) -> Row:
    """⬅️ Back (when there is somewhere to go back to) and 🏠 Menu."""
    row: Row = []
    if back is not None:
        row.append(button(t(language, Msg.BTN_BACK), back))
    row.append(button(t(language, Msg.BTN_MENU), Nav(to=Screen.HOME)))
    return row
