"""Button payloads: short, colon-separated ``callback_data`` (never JSON), at most 64 bytes.

Models and inputs are referred to by short hashes of their ids, which stay valid across
restarts and catalog reorderings; an enum option by its index in the input's enum. A wizard's
buttons carry the wizard's token and the step they were drawn for, so a button from an older
screen is recognized as stale instead of acting on the current step.

    prefix  payload                          what
    n       to, arg, page                    navigation: menu, sections, lists, history …
    c       model, src, arg, page            a model card (src/arg/page: the list it came from)
    b       model, src, arg, page            start the wizard of a model
    w       tok, step, act, arg              a wizard action on step ``step``
    r       act, gen                         a run: cancel, repeat, edit & rerun, favorite, resend
    f       act, id, page                    a favorite: run it, delete it (page: of the list)
    l       lang                             switch the language
    p       act, arg                         payments: top up, a package, accept terms, refund
    d       act                              /privacy: the user's data, export, delete
    a       act, arg, page, on               /admin (admins only): stats, users, models, audit
"""

import enum
import hashlib
from collections.abc import Iterable, Mapping
from functools import cache

from aiogram.filters.callback_data import CallbackData

from kiebot_core.domain.catalog import InputSpec, ModelSpec, Registry

MODEL_REF_LENGTH = 6
INPUT_REF_LENGTH = 4
CONFIRM_STEP = "c"
"""The ``step`` of a wizard button drawn on the confirmation screen."""


def _digest(text: str, length: int) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:length]


def model_ref(model_id: str) -> str:
    """The short reference of a model id used in buttons."""
    return _digest(model_id, MODEL_REF_LENGTH)


def input_ref(name: str) -> str:
    """The short reference of an input name (unique within one model)."""
    return _digest(name, INPUT_REF_LENGTH)


@cache
def _model_index(ids: tuple[str, ...]) -> Mapping[str, str]:
    index: dict[str, str] = {}
    for model_id in ids:
        ref = model_ref(model_id)
        if ref in index:
            raise ValueError(f"model refs collide: {index[ref]} and {model_id}")
        index[ref] = model_id
    return index


def model_index(model_ids: Iterable[str]) -> Mapping[str, str]:
    """Reference → model id for ``model_ids``; raises ValueError if two references collide."""
    return _model_index(tuple(model_ids))


def resolve_model(registry: Registry, ref: str) -> ModelSpec | None:
    """The model a button refers to, or None (unknown reference)."""
    model_id = model_index(model.id for model in registry.models).get(ref)
    return registry.get(model_id) if model_id is not None else None


def resolve_input(model: ModelSpec, ref: str) -> InputSpec | None:
    """The input of ``model`` a button refers to, or None (unknown or ambiguous)."""
    found = [spec for spec in model.inputs if input_ref(spec.name) == ref]
    return found[0] if len(found) == 1 else None


class Screen(enum.StrEnum):
    """Where a navigation button leads."""

    HOME = "home"
    SECTION = "sec"
    LIST = "list"
    SEARCH = "srch"
    HISTORY = "hist"
    FAVORITES = "fav"
    BALANCE = "bal"
    PAYSUPPORT = "pays"
    SETTINGS = "set"
    HELP = "help"
    NOOP = "noop"
    """A label button (``page n/N``): answered, changes nothing."""


class ListKind(enum.StrEnum):
    """Which model list (its ``arg`` says which flow)."""

    FLOW = "f"
    POPULAR = "p"
    SEARCH = "s"
    NONE = ""
    """Opened from outside a list (history, a result): Back leads to the menu."""


class WizardAct(enum.StrEnum):
    """What a wizard button does."""

    OPTION = "o"
    OPTIONS_PAGE = "op"
    SKIP = "sk"
    DEFAULT = "df"
    SKIP_ALL = "sa"
    DONE = "dn"
    BACK = "bk"
    MENU = "mn"
    CANCEL = "cx"
    CONFIRM = "ok"
    EDIT_LIST = "el"
    ADVANCED_LIST = "al"
    EDIT = "e"
    SUMMARY = "sm"


class RunAct(enum.StrEnum):
    """What a button on a run's messages does."""

    CANCEL = "cx"
    REPEAT = "rp"
    EDIT_RERUN = "er"
    FAVORITE = "fv"
    RESEND = "rs"


class FavAct(enum.StrEnum):
    """What a button of the favorites list does."""

    RUN = "r"
    DELETE = "d"


class PayAct(enum.StrEnum):
    """What a payment button does."""

    TOPUP = "t"
    """Show the packages."""
    PACKAGE = "k"
    """Buy the package of ``arg`` Stars (asks for the terms first when needed)."""
    ACCEPT = "a"
    """Accept terms version ``arg`` (``<version>`` or ``<version>.<package stars>``)."""
    REFUND = "r"
    """Ask to confirm the refund of the purchase whose charge id has the reference ``arg``."""
    REFUND_CONFIRMED = "y"
    """Refund the purchase whose charge id has the reference ``arg``."""
    SUPPORT = "s"
    """Send the admins a support request about the purchase with the reference ``arg``."""
    PROMO = "p"
    """Ask for a promo code."""
    REFERRAL = "f"
    """Show the invitation link and what it brought."""


def charge_ref(charge_id: str) -> str:
    """The short reference of a payment charge id used in buttons (charge ids can be long)."""
    return _digest(charge_id, 12)


class Nav(CallbackData, prefix="n"):
    """Navigation between menu screens."""

    to: Screen
    arg: str = ""
    page: int = 0


class Card(CallbackData, prefix="c"):
    """Open a model's card; ``src``/``arg``/``page`` name the list to go back to."""

    model: str
    src: ListKind = ListKind.NONE
    arg: str = ""
    page: int = 0


class Begin(CallbackData, prefix="b"):
    """Start a model's wizard (from its card)."""

    model: str
    src: ListKind = ListKind.NONE
    arg: str = ""
    page: int = 0


class Wiz(CallbackData, prefix="w"):
    """A wizard action, valid only for wizard ``tok`` on step ``step``."""

    tok: str
    step: str
    act: WizardAct
    arg: str = ""


class Run(CallbackData, prefix="r"):
    """An action on one generation."""

    act: RunAct
    gen: str


class Fav(CallbackData, prefix="f"):
    """An action on one of the user's favorites, from page ``page`` of the list."""

    act: FavAct
    id: str
    page: int = 0


class Lang(CallbackData, prefix="l"):
    """Switch the user's language."""

    lang: str


class Pay(CallbackData, prefix="p"):
    """A payment action."""

    act: PayAct
    arg: str = ""


class AdmAct(enum.StrEnum):
    """What an /admin button does (the router checks that an admin pressed it)."""

    HOME = "h"
    """The admin screen."""
    STATS = "s"
    """Statistics of the last ``arg`` UTC days."""
    USERS = "u"
    """Ask for a user id or @username."""
    USER = "c"
    """The card of user ``arg``."""
    GRANT = "g"
    """Grant Stars to user ``arg`` (asks how many, then why)."""
    BAN = "b"
    """Ban user ``arg`` (asks why)."""
    UNBAN = "ub"
    """Unban user ``arg`` (asks why)."""
    MODELS = "m"
    """The model switches, page ``page``."""
    SWITCH = "t"
    """Switch the model with the reference ``arg`` on (``on``) or off; back to page ``page``."""
    AUDIT = "a"
    """The audit trail, page ``page``."""
    BROADCAST = "bc"
    """Start a new broadcast (``kiebot_telegram.routers.broadcasts``)."""


class Adm(CallbackData, prefix="a"):
    """An /admin action."""

    act: AdmAct
    arg: str = ""
    page: int = 0
    on: bool = False


class PrivacyAct(enum.StrEnum):
    """What a /privacy button does (always about the user who pressed it)."""

    SHOW = "s"
    """The screen: what is stored, Export, Delete."""
    EXPORT = "e"
    """Send the export as a JSON file."""
    DELETE = "d"
    """Ask to confirm the deletion."""
    DELETE_CONFIRMED = "y"
    """Delete (forget) the user."""


class Priv(CallbackData, prefix="d"):
    """A /privacy action."""

    act: PrivacyAct
