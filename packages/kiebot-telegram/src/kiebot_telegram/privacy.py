"""/privacy screens: what is stored, the export button, and deleting with a confirmation.

Pure rendering and the buttons' payloads; the handlers are ``kiebot_telegram.routers.privacy``
and the rules are the core's (``kiebot_core.use_cases.privacy``).
"""

from kiebot_core.domain.texts import Language
from kiebot_core.use_cases.privacy import StoredData
from kiebot_telegram.callbacks import Priv, PrivacyAct
from kiebot_telegram.keyboards import back_menu_row, button, markup
from kiebot_telegram.texts import Msg, t
from kiebot_telegram.views import View

EXPORT_FILE = "kiebot-my-data.json"
"""The name of the exported file."""


def privacy_view(language: Language, data: StoredData) -> View:
    """What is stored, with Export and Delete."""
    text = t(
        language,
        Msg.PRIVACY,
        generations=data.generations,
        payments=data.payments,
        moves=data.moves,
        favorites=data.favorites,
    )
    rows = [
        [button(t(language, Msg.BTN_EXPORT_DATA), Priv(act=PrivacyAct.EXPORT))],
        [button(t(language, Msg.BTN_DELETE_DATA), Priv(act=PrivacyAct.DELETE))],
        back_menu_row(language, None),
    ]
    return View(text, markup(rows))


def export_caption(language: Language, data: StoredData) -> str:
    """The caption of the exported file."""
    return t(
        language,
        Msg.EXPORT_CAPTION,
        generations=data.generations,
        payments=data.payments,
        moves=data.moves,
        favorites=data.favorites,
    )


def delete_confirm_view(language: Language, data: StoredData) -> View:
    """Are you sure? (with the balance that will be lost)."""
    available = data.balance.available
    balance = t(language, Msg.DELETE_BALANCE_LOST, available=available) if available else ""
    rows = [
        [button(t(language, Msg.BTN_DELETE_YES), Priv(act=PrivacyAct.DELETE_CONFIRMED))],
        back_menu_row(language, Priv(act=PrivacyAct.SHOW)),
    ]
    return View(t(language, Msg.DELETE_CONFIRM, balance=balance), markup(rows))


def deleted_view(language: Language) -> View:
    """Done: nothing to press (the next message starts afresh)."""
    return View(t(language, Msg.DATA_DELETED))
