"""Pure rendering: core screens and records → message text (HTML) and an inline keyboard.

Nothing here does I/O or decides a rule; the wizard's screens come from
``kiebot_core.domain.wizard`` and are only drawn. Every user-provided value is escaped and
clipped, so a view always fits Telegram's limits.
"""

import json
from collections.abc import Mapping, Sequence

import attrs
from aiogram.types import InlineKeyboardMarkup

from kiebot_core.domain.catalog import (
    InputKind,
    InputSpec,
    JsonValue,
    MediaKind,
    MenuSection,
    ModelSpec,
    Registry,
)
from kiebot_core.domain.favorites import Favorite
from kiebot_core.domain.generation import Generation, GenerationState
from kiebot_core.domain.ledger import (
    USER_ACCOUNTS,
    AccountKind,
    Balance,
    LedgerKind,
    LedgerTransaction,
)
from kiebot_core.domain.outcomes import Rejected
from kiebot_core.domain.payments import Payment, PaymentState, StarPackage, smallest_covering
from kiebot_core.domain.pricing import (
    Alternative,
    PriceSettings,
    Quote,
    canonical,
    starting_price,
)
from kiebot_core.domain.promotions import FreeAllowance, ReferralSummary
from kiebot_core.domain.reasons import ReasonCode, reason_text
from kiebot_core.domain.texts import Language
from kiebot_core.domain.wizard import AskScreen, ConfirmScreen, Option, StepKind
from kiebot_core.use_cases.payments import Purchase
from kiebot_telegram.callbacks import (
    CONFIRM_STEP,
    Begin,
    Card,
    Fav,
    FavAct,
    Lang,
    ListKind,
    Nav,
    Pay,
    PayAct,
    Priv,
    PrivacyAct,
    Run,
    RunAct,
    Screen,
    Wiz,
    WizardAct,
    charge_ref,
    input_ref,
    model_ref,
)
from kiebot_telegram.formatting import MAX_CAPTION, MAX_TEXT, clip, escape, fits
from kiebot_telegram.keyboards import (
    Row,
    back_menu_row,
    button,
    chunked,
    markup,
    pager,
    pages,
    per_row_for,
)
from kiebot_telegram.texts import Msg, t

MODELS_PER_PAGE = 8
OPTIONS_PER_PAGE = 12
HISTORY_PER_PAGE = 5
FAVORITES_PER_PAGE = 5
_SUMMARY_CLIPS = (300, 120, 40)
_LIVE_STATES = frozenset(
    {GenerationState.PENDING, GenerationState.SUBMITTED, GenerationState.RUNNING}
)
_STATUS_TEXT = {
    GenerationState.PENDING: Msg.STATUS_PENDING,
    GenerationState.SUBMITTED: Msg.STATUS_SUBMITTED,
    GenerationState.RUNNING: Msg.STATUS_RUNNING,
    GenerationState.DELIVERING: Msg.STATUS_DELIVERING,
    GenerationState.SUCCEEDED: Msg.STATUS_SUCCEEDED,
    GenerationState.FAILED: Msg.STATUS_FAILED,
    GenerationState.CANCELLED: Msg.STATUS_CANCELLED,
}
_STATE_MARK = {
    GenerationState.SUCCEEDED: "✅",
    GenerationState.FAILED: "❌",
    GenerationState.CANCELLED: "✖️",
}
_SEND_MEDIA = {
    MediaKind.IMAGE: Msg.STEP_SEND_IMAGE,
    MediaKind.VIDEO: Msg.STEP_SEND_VIDEO,
    MediaKind.AUDIO: Msg.STEP_SEND_AUDIO,
}
_WHAT_STEP = {
    StepKind.CHOICE: Msg.WHAT_CHOICE,
    StepKind.TOGGLE: Msg.WHAT_CHOICE,
    StepKind.NUMBER: Msg.WHAT_NUMBER,
    StepKind.LIST: Msg.WHAT_ITEMS,
    StepKind.TEXT: Msg.WHAT_TEXT,
}
WHAT_MEDIA = {
    MediaKind.IMAGE: Msg.WHAT_IMAGE,
    MediaKind.VIDEO: Msg.WHAT_VIDEO,
    MediaKind.AUDIO: Msg.WHAT_AUDIO,
}


@attrs.frozen
class View:
    """One screen: HTML text and an optional inline keyboard."""

    text: str
    markup: InlineKeyboardMarkup | None = None


def model_title(model: ModelSpec | None, model_id: str, language: Language) -> str:
    """The model's display title (its id when the registry no longer knows it), escaped."""
    return escape(model.title(language) if model is not None else model_id)


# ------------------------------------------------------------------ menu and catalog


def menu_view(
    language: Language, registry: Registry, balance: Balance | None, lead: str = ""
) -> View:
    """The main menu: sections, Popular, Search, Favorites, History, Balance, Language, Help."""
    sections = [
        button(section.title(language), Nav(to=Screen.SECTION, arg=section.id))
        for section in registry.sections
        if any(registry.by_flow(flow) for flow in section.flows)
    ]
    rows = [
        *chunked(sections, 2),
        [
            button(t(language, Msg.BTN_POPULAR), Nav(to=Screen.LIST, arg=ListKind.POPULAR)),
            button(t(language, Msg.BTN_SEARCH), Nav(to=Screen.SEARCH)),
        ],
        [
            button(t(language, Msg.BTN_FAVORITES), Nav(to=Screen.FAVORITES)),
            button(t(language, Msg.BTN_HISTORY), Nav(to=Screen.HISTORY)),
        ],
        [
            button(t(language, Msg.BTN_BALANCE), Nav(to=Screen.BALANCE)),
            button(t(language, Msg.BTN_SETTINGS), Nav(to=Screen.SETTINGS)),
            button(t(language, Msg.BTN_HELP), Nav(to=Screen.HELP)),
        ],
    ]
    parts = [lead] if lead else []
    parts.append(t(language, Msg.MENU))
    if balance is not None:
        parts.append(t(language, Msg.MENU_BALANCE, available=balance.available))
    return View("\n\n".join(parts), markup(rows))


def section_of(registry: Registry, flow: str) -> MenuSection | None:
    """The menu section that shows ``flow``."""
    return next((s for s in registry.sections if flow in s.flows), None)


def section_view(language: Language, registry: Registry, section: MenuSection) -> View:
    """A section with several flows: one button per flow that has models."""
    flows = [(flow, len(registry.by_flow(flow))) for flow in section.flows]
    buttons = [
        button(
            t(
                language,
                Msg.FLOW_ITEM,
                title=registry.flow_titles[flow](language),
                count=count,
            ),
            Nav(to=Screen.LIST, arg=f"{ListKind.FLOW}{flow}"),
        )
        for flow, count in flows
        if count
    ]
    rows = [*chunked(buttons, 1), back_menu_row(language, None)]
    return View(t(language, Msg.SECTION, title=escape(section.title(language))), markup(rows))


def list_arg(kind: ListKind, arg: str = "") -> str:
    """The ``Nav.arg`` of a model list: the kind letter followed by its argument (a flow)."""
    return f"{kind}{arg}"


def parse_list_arg(value: str) -> tuple[ListKind, str] | None:
    """The list kind and argument of ``Nav.arg``, or None when it is not a list."""
    if not value:
        return None
    try:
        return ListKind(value[0]), value[1:]
    except ValueError:
        return None


def list_back(registry: Registry, kind: ListKind, arg: str) -> Nav | None:
    """Where Back leads from a model list: the flow's section when it has several flows."""
    if kind is ListKind.FLOW:
        section = section_of(registry, arg)
        if section is not None and sum(1 for f in section.flows if registry.by_flow(f)) > 1:
            return Nav(to=Screen.SECTION, arg=section.id)
    return None


def model_list_view(
    language: Language,
    registry: Registry,
    prices: PriceSettings,
    *,
    kind: ListKind,
    arg: str,
    page: int,
    models: Sequence[ModelSpec],
    query: str = "",
) -> View:
    """One page of a model list with "from N ⭐" prices and the page n/N pager."""
    total = pages(len(models), MODELS_PER_PAGE)
    page = min(max(page, 0), total - 1)
    shown = models[page * MODELS_PER_PAGE : (page + 1) * MODELS_PER_PAGE]
    buttons = []
    for model in shown:
        stars = starting_price(model, prices)
        label = (
            t(language, Msg.MODEL_ITEM, title=model.title(language), stars=stars)
            if stars is not None
            else model.title(language)
        )
        buttons.append(
            button(label, Card(model=model_ref(model.id), src=kind, arg=arg, page=page))
        )
    list_ref = list_arg(kind, arg)

    def link(n: int) -> Nav:
        return Nav(to=Screen.LIST, arg=list_ref, page=n)

    rows: list[Row] = [
        *chunked(buttons, 1),
        pager(language, page, total, link),
        back_menu_row(language, list_back(registry, kind, arg)),
    ]
    numbers = {"page": page + 1, "pages": total}
    if kind is ListKind.FLOW:
        flow_title = registry.flow_titles.get(arg)
        title = escape(flow_title(language) if flow_title is not None else arg)
        text = t(language, Msg.LIST_FLOW, title=title, **numbers)
    elif kind is ListKind.SEARCH:
        text = t(language, Msg.LIST_SEARCH, query=escape(clip(query, 60)), **numbers)
    else:
        text = t(language, Msg.LIST_POPULAR, **numbers)
    if not models:
        text += "\n\n" + t(language, Msg.LIST_EMPTY)
    return View(text, markup(rows))


def card_back(kind: ListKind, arg: str, page: int) -> Nav | None:
    """Where Back leads from a model card: the list it was opened from."""
    if kind is ListKind.NONE:
        return None
    return Nav(to=Screen.LIST, arg=list_arg(kind, arg), page=page)


def card_view(
    language: Language,
    registry: Registry,
    prices: PriceSettings,
    model: ModelSpec,
    *,
    kind: ListKind,
    arg: str,
    page: int,
    free: FreeAllowance | None = None,
) -> View:
    """A model's card: title, pitch, flows, price, free runs left; Start / Back / Menu.

    ``free`` is today's free runs, for a model of the free tier.
    """
    stars = starting_price(model, prices)
    price = (
        t(language, Msg.CARD_PRICE, stars=stars)
        if stars is not None
        else t(language, Msg.CARD_NO_PRICE)
    )
    if free is not None:
        price += "\n" + free_line(language, free)
    flows = ", ".join(
        escape(registry.flow_titles[flow](language))
        for flow in model.flows
        if flow in registry.flow_titles
    )
    text = t(
        language,
        Msg.CARD,
        title=escape(model.title(language)),
        pitch=escape(model.pitch(language)),
        flows=flows,
        price=price,
    )
    ref = model_ref(model.id)
    rows = [
        [
            button(
                t(language, Msg.BTN_START_MODEL),
                Begin(model=ref, src=kind, arg=arg, page=page),
            )
        ],
        back_menu_row(language, card_back(kind, arg, page)),
    ]
    return View(text, markup(rows))


def search_prompt_view(language: Language) -> View:
    """Asks for a search query."""
    return View(t(language, Msg.SEARCH_PROMPT), markup([back_menu_row(language, None)]))


def search_nothing_view(language: Language, query: str) -> View:
    """No model matched ``query``."""
    text = t(language, Msg.SEARCH_NOTHING, query=escape(clip(query, 60)))
    rows = [
        [button(t(language, Msg.BTN_SEARCH), Nav(to=Screen.SEARCH))],
        back_menu_row(language, None),
    ]
    return View(text, markup(rows))


# ------------------------------------------------------------------ the wizard


def _is_media_list(value: JsonValue, spec: InputSpec) -> bool:
    return spec.media_kind is not None and isinstance(value, list)


def show_value(language: Language, spec: InputSpec, value: JsonValue, limit: int = 60) -> str:
    """A value as the user reads it (escaped): Yes/No, file counts, clipped text."""
    if value is None or value in ("", []):
        return t(language, Msg.VALUE_NONE)
    if isinstance(value, bool):
        return t(language, Msg.YES if value else Msg.NO)
    if spec.media_kind is not None:
        count = len(value) if isinstance(value, list) else 1
        return t(language, Msg.VALUE_FILES, count=count)
    if isinstance(value, list):
        return t(language, Msg.VALUE_ITEMS, count=len(value))
    if isinstance(value, dict):
        return escape(clip(json.dumps(value, ensure_ascii=False), limit))
    return escape(clip(canonical(value), limit))


def option_arg(spec: InputSpec, value: JsonValue) -> str:
    """The button argument of an option: its index in the enum, or 1/0 for a toggle."""
    if spec.kind is InputKind.BOOLEAN:
        return "1" if value is True else "0"
    key = canonical(value)
    return str(next(i for i, v in enumerate(spec.enum or ()) if canonical(v) == key))


def option_value(spec: InputSpec, arg: str) -> JsonValue | Rejected:
    """The option a button argument names, or ``Rejected(STALE_ACTION)``."""
    stale = Rejected(ReasonCode.STALE_ACTION, spec.name, f"no option {arg!r}")
    if spec.kind is InputKind.BOOLEAN:
        return {"1": True, "0": False}.get(arg, stale)
    options = spec.enum or ()
    if not arg.isdigit() or int(arg) >= len(options):
        return stale
    return options[int(arg)]


def _option_label(language: Language, option: Option) -> str:
    if isinstance(option.value, bool):
        label = t(language, Msg.YES if option.value else Msg.NO)
    else:
        label = option.label
    if option.stars is not None:
        label = f"{label} · {option.stars} ⭐"
    return f"✅ {label}" if option.selected else label


def _options_rows(language: Language, screen: AskScreen, tok: str, page: int) -> list[Row]:
    options = screen.options
    total = pages(len(options), OPTIONS_PER_PAGE)
    page = min(max(page, 0), total - 1)
    shown = options[page * OPTIONS_PER_PAGE : (page + 1) * OPTIONS_PER_PAGE]
    step = input_ref(screen.input.name)
    labels = [_option_label(language, option) for option in shown]
    buttons = [
        button(
            label,
            Wiz(
                tok=tok,
                step=step,
                act=WizardAct.OPTION,
                arg=option_arg(screen.input, option.value),
            ),
        )
        for label, option in zip(labels, shown, strict=True)
    ]
    rows = chunked(buttons, per_row_for(labels))

    def link(n: int) -> Wiz:
        return Wiz(tok=tok, step=step, act=WizardAct.OPTIONS_PAGE, arg=str(n))

    rows.append(pager(language, page, total, link))
    return rows


def options_page_of(screen: AskScreen) -> int:
    """The options page that shows the selected option (the first page when none is)."""
    index = next((i for i, option in enumerate(screen.options) if option.selected), 0)
    return index // OPTIONS_PER_PAGE


def _range_hint(language: Language, spec: InputSpec) -> str:
    low = f"{spec.minimum:g}" if spec.minimum is not None else None
    high = f"{spec.maximum:g}" if spec.maximum is not None else None
    if low is not None and high is not None:
        return t(language, Msg.RANGE_BOTH, low=low, high=high)
    if low is not None:
        return t(language, Msg.RANGE_MIN, low=low)
    if high is not None:
        return t(language, Msg.RANGE_MAX, high=high)
    return ""


def instruction(language: Language, screen: AskScreen) -> str:
    """What the user should do on this step."""
    spec = screen.input
    match screen.kind:
        case StepKind.CHOICE | StepKind.TOGGLE:
            return t(language, Msg.STEP_CHOOSE)
        case StepKind.NUMBER:
            return t(language, Msg.STEP_SEND_NUMBER, range=_range_hint(language, spec))
        case StepKind.MEDIA:
            media = spec.media_kind or MediaKind.IMAGE
            text = t(language, _SEND_MEDIA[media])
            if spec.is_list and spec.max_items:
                text += " " + t(language, Msg.STEP_MAX_ITEMS, count=spec.max_items)
            return text
        case StepKind.LIST:
            return t(language, Msg.STEP_SEND_ITEMS)
        case StepKind.TEXT:
            return t(language, Msg.STEP_SEND_TEXT)


def expects(language: Language, screen: AskScreen) -> str:
    """The "this step expects …" hint for input that does not fit the step."""
    what = _WHAT_STEP.get(screen.kind, Msg.WHAT_TEXT)
    if screen.kind is StepKind.MEDIA:
        what = WHAT_MEDIA[screen.input.media_kind or MediaKind.IMAGE]
    return t(language, Msg.HINT_EXPECTS, what=t(language, what))


def ask_view(
    language: Language,
    model: ModelSpec,
    screen: AskScreen,
    tok: str,
    *,
    page: int | None = None,
    problem: str = "",
) -> View:
    """A wizard step: "Step k/n · Title", help, example, value, options and navigation."""
    spec = screen.input
    header = t(
        language,
        Msg.STEP_HEADER,
        model=escape(model.title(language)),
        step=screen.step,
        total=screen.total,
        title=escape(spec.ui.title(language)),
    )
    if screen.can_skip:
        header += " " + t(language, Msg.STEP_OPTIONAL)
    parts = [header, escape(spec.ui.help(language))]
    example = spec.ui.example(language).strip()
    if example and screen.kind not in {StepKind.CHOICE, StepKind.TOGGLE, StepKind.MEDIA}:
        parts.append(t(language, Msg.STEP_EXAMPLE, example=escape(clip(example, 300))))
    value = screen.value
    if spec.is_list and isinstance(value, list) and value:
        parts.append(t(language, Msg.STEP_ADDED, count=len(value)))
    elif value is not None and screen.kind not in {StepKind.CHOICE, StepKind.TOGGLE}:
        parts.append(t(language, Msg.STEP_CURRENT, value=show_value(language, spec, value, 200)))
    parts.append(instruction(language, screen))
    if problem:
        parts.append(t(language, Msg.STEP_PROBLEM, reason=escape(problem)))
    rows: list[Row] = []
    if screen.options:
        shown_page = options_page_of(screen) if page is None else page
        rows.extend(_options_rows(language, screen, tok, shown_page))
    rows.extend(_step_actions(language, screen, tok))
    rows.append(_wizard_nav(language, tok, input_ref(spec.name)))
    return View(_fit("\n\n".join(parts), MAX_TEXT), markup(rows))


def _step_actions(language: Language, screen: AskScreen, tok: str) -> list[Row]:
    spec, value = screen.input, screen.value
    step = input_ref(spec.name)
    actions: Row = []
    if screen.can_finish_list:
        count = len(value) if isinstance(value, list) else 0
        actions.append(
            button(
                t(language, Msg.BTN_DONE, count=count), Wiz(tok=tok, step=step, act=WizardAct.DONE)
            )
        )
    if screen.can_use_default and screen.kind not in {StepKind.CHOICE, StepKind.TOGGLE}:
        default = show_value(language, spec, spec.default, 16)
        actions.append(
            button(
                _unescape_label(t(language, Msg.BTN_DEFAULT, value=default)),
                Wiz(tok=tok, step=step, act=WizardAct.DEFAULT),
            )
        )
    if screen.can_skip:
        actions.append(
            button(t(language, Msg.BTN_SKIP), Wiz(tok=tok, step=step, act=WizardAct.SKIP))
        )
    rows = chunked(actions, 2)
    if screen.can_skip:
        rows.append(
            [
                button(
                    t(language, Msg.BTN_SKIP_ALL), Wiz(tok=tok, step=step, act=WizardAct.SKIP_ALL)
                )
            ]
        )
    return rows


def _wizard_nav(language: Language, tok: str, step: str) -> Row:
    return [
        button(t(language, Msg.BTN_BACK), Wiz(tok=tok, step=step, act=WizardAct.BACK)),
        button(t(language, Msg.BTN_MENU), Wiz(tok=tok, step=step, act=WizardAct.MENU)),
        button(t(language, Msg.BTN_CANCEL), Wiz(tok=tok, step=step, act=WizardAct.CANCEL)),
    ]


def _fit(text: str, limit: int) -> str:
    # Views clip user values already; this is the last guard against a surprise overflow.
    if fits(text, limit):
        return text
    return escape(clip(text.replace("<", " ").replace(">", " "), limit // 2))


def _summary_lines(
    language: Language, summary: Sequence[tuple[InputSpec, JsonValue]], limit: int
) -> list[str]:
    return [
        f"• {escape(spec.ui.title(language))}: {show_value(language, spec, value, limit)}"
        for spec, value in summary
    ]


def free_line(language: Language, free: FreeAllowance) -> str:
    """Today's free runs: how many are left, or when new ones come."""
    if free.left > 0:
        return t(language, Msg.FREE_LEFT, left=free.left, daily=free.daily)
    return t(language, Msg.FREE_USED_UP, daily=free.daily)


def _price_lines(language: Language, quote: Quote, balance: Balance) -> list[str]:
    price_msg = Msg.CONFIRM_PRICE_UP_TO if quote.is_upper_bound else Msg.CONFIRM_PRICE
    lines = [t(language, price_msg, stars=quote.stars)]
    if balance.available >= quote.stars:
        after = balance.available - quote.stars
        lines.append(t(language, Msg.CONFIRM_BALANCE, available=balance.available, after=after))
    else:
        lines.append(
            t(language, Msg.CONFIRM_SHORT, available=balance.available, stars=quote.stars)
        )
    return lines


def _paid_rows(
    language: Language,
    quote: Quote,
    balance: Balance,
    packages: Sequence[StarPackage],
    tok: str,
) -> list[Row]:
    """Top up with the smallest covering package when short (or in debt), then Confirm."""
    rows: list[Row] = []
    shortfall = quote.stars + balance.debt - balance.available
    if shortfall > 0:
        covering = smallest_covering(packages, shortfall)
        top_up = (
            button(t(language, Msg.BTN_TOPUP), Pay(act=PayAct.TOPUP))
            if covering is None
            else button(
                t(language, Msg.BTN_TOPUP_PACKAGE, package=covering.label),
                Pay(act=PayAct.PACKAGE, arg=str(covering.stars)),
            )
        )
        rows.append([top_up])
    confirm = t(language, Msg.BTN_CONFIRM, stars=quote.stars)
    rows.append([button(confirm, Wiz(tok=tok, step=CONFIRM_STEP, act=WizardAct.CONFIRM))])
    return rows


def confirm_view(
    language: Language,
    model: ModelSpec,
    screen: ConfirmScreen,
    tok: str,
    balance: Balance,
    *,
    packages: Sequence[StarPackage] = (),
    problem: str = "",
    cheaper: Alternative | None = None,
    free: FreeAllowance | None = None,
) -> View:
    """The confirmation: the answers, the exact price, the balance after; Confirm, Edit.

    Short of balance (or in debt), it offers the smallest package that covers the run. With
    ``cheaper`` (shown only with a price), a hint names that model with a button to its card.
    With free runs left today (``free``), the run is free and no Stars are mentioned.
    """
    quote = screen.quote
    tail: list[str] = []
    rows: list[Row] = []
    if isinstance(quote, Rejected):
        tail.append(t(language, Msg.CONFIRM_NO_PRICE, reason=reason_text(quote.reason, language)))
    elif free is not None and free.left > 0:
        tail.append(t(language, Msg.CONFIRM_FREE, left=free.left, daily=free.daily))
        confirm = t(language, Msg.BTN_CONFIRM_FREE)
        rows.append([button(confirm, Wiz(tok=tok, step=CONFIRM_STEP, act=WizardAct.CONFIRM))])
    else:
        if free is not None:
            tail.append(free_line(language, free))
        tail.extend(_price_lines(language, quote, balance))
        rows.extend(_paid_rows(language, quote, balance, packages, tok))
    free_run = free is not None and free.left > 0
    if cheaper is not None and not isinstance(quote, Rejected) and not free_run:
        tail.append(_cheaper_line(language, cheaper))
        rows.append(_cheaper_row(language, cheaper))
    if problem:
        tail.append(t(language, Msg.STEP_PROBLEM, reason=escape(problem)))
    header = t(language, Msg.CONFIRM_HEADER, model=escape(model.title(language)))
    text = ""
    for limit in _SUMMARY_CLIPS:
        lines = _summary_lines(language, screen.summary, limit)
        text = "\n\n".join([header, "\n".join(lines), "\n".join(tail)])
        if fits(text, MAX_TEXT):
            break
    edit_row = [
        button(t(language, Msg.BTN_EDIT), Wiz(tok=tok, step=CONFIRM_STEP, act=WizardAct.EDIT_LIST))
    ]
    if screen.advanced:
        edit_row.append(
            button(
                t(language, Msg.BTN_ADVANCED),
                Wiz(tok=tok, step=CONFIRM_STEP, act=WizardAct.ADVANCED_LIST),
            )
        )
    rows.append(edit_row)
    rows.append(_wizard_nav(language, tok, CONFIRM_STEP))
    return View(_fit(text, MAX_TEXT), markup(rows))


def _cheaper_line(language: Language, cheaper: Alternative) -> str:
    return t(
        language,
        Msg.CONFIRM_CHEAPER,
        flow=escape(cheaper.flow_title(language)),
        model=escape(cheaper.model.title(language)),
        stars=cheaper.stars,
    )


def _cheaper_row(language: Language, cheaper: Alternative) -> Row:
    # The card's Back leads to the flow's model list, where the two can be compared.
    return [
        button(
            t(language, Msg.BTN_CHEAPER, model=cheaper.model.title(language)),
            Card(model=model_ref(cheaper.model.id), src=ListKind.FLOW, arg=cheaper.flow),
        )
    ]


def edit_list_view(
    language: Language, model: ModelSpec, screen: ConfirmScreen, tok: str, *, advanced: bool
) -> View:
    """The inputs that can be changed from the confirmation (asked ones, or the advanced)."""
    specs = screen.advanced if advanced else tuple(spec for spec, _ in screen.summary)
    values = {spec.name: value for spec, value in screen.summary}
    title_msg = Msg.ADVANCED_TITLE if advanced else Msg.EDIT_TITLE
    text = t(language, title_msg, model=escape(model.title(language)))
    if not specs:
        text += "\n\n" + t(language, Msg.ADVANCED_NONE)
    buttons = []
    for spec in specs:
        value = values.get(spec.name, spec.default)
        label = f"{spec.ui.title(language)}: {show_value(language, spec, value, 20)}"
        buttons.append(
            button(
                clip(_unescape_label(label), 60),
                Wiz(tok=tok, step=CONFIRM_STEP, act=WizardAct.EDIT, arg=input_ref(spec.name)),
            )
        )
    rows = [
        *chunked(buttons, 1),
        [
            button(
                t(language, Msg.BTN_TO_SUMMARY),
                Wiz(tok=tok, step=CONFIRM_STEP, act=WizardAct.SUMMARY),
            )
        ],
    ]
    return View(text, markup(rows))


def _unescape_label(label: str) -> str:
    # Button labels are plain text: undo the HTML escaping show_value applied.
    return label.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


# ------------------------------------------------------------------ runs


def accepted_text(language: Language, title: str, stars: int, *, free: bool = False) -> str:
    """The confirmation message after Confirm: the instant acknowledgement."""
    if free:
        return t(language, Msg.ACCEPTED_FREE, model=title)
    return t(language, Msg.ACCEPTED, model=title, stars=stars)


def status_view(language: Language, title: str, generation: Generation) -> View:
    """The status message of a run in its current stage (Cancel while it can be cancelled)."""
    text = t(language, _STATUS_TEXT[generation.state], model=title)
    if generation.state not in _LIVE_STATES:
        return View(text)
    cancel = button(t(language, Msg.BTN_CANCEL_RUN), Run(act=RunAct.CANCEL, gen=generation.id))
    return View(text, markup([[cancel]]))


def prompt_of(generation: Generation) -> str:
    """The generation's prompt (or text input), empty when it has none."""
    for name in ("prompt", "text"):
        value = generation.input.get(name)
        if isinstance(value, str) and value.strip():
            return value
    return ""


def result_caption(language: Language, title: str, generation: Generation) -> str:
    """The caption of a delivered result: model and price, then the prompt (≤ 1024)."""
    if generation.is_free:
        head = t(language, Msg.RESULT_CAPTION_FREE, model=title)
    elif generation.held > generation.charged:
        head = t(
            language,
            Msg.RESULT_CAPTION_HELD,
            model=title,
            held=generation.held,
            stars=generation.charged,
        )
    else:
        head = t(language, Msg.RESULT_CAPTION, model=title, stars=generation.charged)
    prompt = prompt_of(generation)
    caption = f"{head}\n{escape(clip(prompt, 700))}" if prompt else head
    return caption if fits(caption, MAX_CAPTION) else head


def result_markup(language: Language, generation: Generation) -> InlineKeyboardMarkup:
    """Repeat, Edit & rerun, Favorite, Menu."""
    gen = generation.id
    return markup(
        [
            [
                button(t(language, Msg.BTN_REPEAT), Run(act=RunAct.REPEAT, gen=gen)),
                button(t(language, Msg.BTN_EDIT_RERUN), Run(act=RunAct.EDIT_RERUN, gen=gen)),
            ],
            [
                button(t(language, Msg.BTN_FAVORITE), Run(act=RunAct.FAVORITE, gen=gen)),
                button(t(language, Msg.BTN_MENU), Nav(to=Screen.HOME)),
            ],
        ]
    )


def failure_view(language: Language, title: str, generation: Generation) -> View:
    """Why a run ended without a result, the Stars given back; Try again / Menu."""
    reason = generation.reason or ReasonCode.INTERNAL_ERROR
    text = t(language, Msg.FAILURE, model=title, reason=escape(reason_text(reason, language)))
    if generation.held > 0:
        text += "\n" + t(language, Msg.RELEASED, stars=generation.held)
    elif generation.is_free:
        text += "\n" + t(language, Msg.FREE_RETURNED)
    rows = [
        [
            button(t(language, Msg.BTN_TRY_AGAIN), Run(act=RunAct.REPEAT, gen=generation.id)),
            button(t(language, Msg.BTN_MENU), Nav(to=Screen.HOME)),
        ]
    ]
    return View(text, markup(rows))


def too_large_text(language: Language, url: str) -> str:
    """A link to a result Telegram cannot carry."""
    return t(language, Msg.RESULT_TOO_LARGE, url=escape(url).replace('"', "&quot;"))


# ------------------------------------------------------------------ history, balance, settings


def history_view(
    language: Language, registry: Registry, generations: Sequence[Generation], page: int
) -> View:
    """One page of the user's generations with Re-send and Repeat buttons per entry."""
    if not generations:
        return View(t(language, Msg.HISTORY_EMPTY), markup([back_menu_row(language, None)]))
    total = pages(len(generations), HISTORY_PER_PAGE)
    page = min(max(page, 0), total - 1)
    first = page * HISTORY_PER_PAGE
    lines = [t(language, Msg.HISTORY_TITLE, page=page + 1, pages=total)]
    rows: list[Row] = []
    for n, generation in enumerate(generations[first : first + HISTORY_PER_PAGE], first + 1):
        model = registry.get(generation.model_id)
        line = t(
            language,
            Msg.HISTORY_ITEM,
            n=n,
            mark=_STATE_MARK.get(generation.state, "⏳"),
            model=model_title(model, generation.model_id, language),
            stars=generation.charged,
            when=generation.created_at.strftime("%d.%m %H:%M"),
        )
        prompt = prompt_of(generation)
        if prompt:
            line += f"\n<i>{escape(clip(prompt, 80))}</i>"
        lines.append(line)
        row: Row = []
        if generation.state is GenerationState.SUCCEEDED and generation.delivered_refs:
            row.append(
                button(t(language, Msg.BTN_RESEND, n=n), Run(act=RunAct.RESEND, gen=generation.id))
            )
        if model is not None and model.enabled:
            row.append(
                button(
                    t(language, Msg.BTN_REPEAT_N, n=n), Run(act=RunAct.REPEAT, gen=generation.id)
                )
            )
        rows.append(row)
    rows.append(pager(language, page, total, lambda n: Nav(to=Screen.HISTORY, page=n)))
    rows.append(back_menu_row(language, None))
    return View(_fit("\n\n".join(lines), MAX_TEXT), markup(rows))


def favorites_view(
    language: Language, registry: Registry, favorites: Sequence[Favorite], page: int
) -> View:
    """One page of the user's favorites with Run and Delete buttons per entry.

    An entry whose model is unknown or switched off says so (``MODEL_DISABLED``) and has no
    Run button.
    """
    if not favorites:
        return View(t(language, Msg.FAVORITES_EMPTY), markup([back_menu_row(language, None)]))
    total = pages(len(favorites), FAVORITES_PER_PAGE)
    page = min(max(page, 0), total - 1)
    first = page * FAVORITES_PER_PAGE
    lines = [t(language, Msg.FAVORITES_TITLE, page=page + 1, pages=total)]
    rows: list[Row] = []
    for n, favorite in enumerate(favorites[first : first + FAVORITES_PER_PAGE], first + 1):
        model = registry.get(favorite.model_id)
        runnable = model is not None and model.enabled
        line = t(
            language,
            Msg.FAVORITES_ITEM,
            n=n,
            model=model_title(model, favorite.model_id, language),
        )
        if favorite.title:
            line += f"\n<i>{escape(clip(favorite.title, 80))}</i>"
        if not runnable:
            reason = escape(reason_text(ReasonCode.MODEL_DISABLED, language))
            line += "\n" + t(language, Msg.FAVORITE_UNAVAILABLE, reason=reason)
        lines.append(line)
        row: Row = []
        if runnable:
            row.append(
                button(
                    t(language, Msg.BTN_FAVORITE_RUN, n=n),
                    Fav(act=FavAct.RUN, id=favorite.id, page=page),
                )
            )
        row.append(
            button(
                t(language, Msg.BTN_FAVORITE_DELETE, n=n),
                Fav(act=FavAct.DELETE, id=favorite.id, page=page),
            )
        )
        rows.append(row)
    rows.append(pager(language, page, total, lambda n: Nav(to=Screen.FAVORITES, page=n)))
    rows.append(back_menu_row(language, None))
    return View(_fit("\n\n".join(lines), MAX_TEXT), markup(rows))


_MOVE_KIND = {
    LedgerKind.PURCHASE: Msg.KIND_PURCHASE,
    LedgerKind.GRANT: Msg.KIND_GRANT,
    LedgerKind.HOLD: Msg.KIND_HOLD,
    LedgerKind.CAPTURE: Msg.KIND_CAPTURE,
    LedgerKind.RELEASE: Msg.KIND_RELEASE,
    LedgerKind.REFUND: Msg.KIND_REFUND,
    LedgerKind.PURCHASE_REFUND: Msg.KIND_PURCHASE_REFUND,
}


def move_amount(transaction: LedgerTransaction) -> int:
    """The Stars a ledger move means to the user: reserved, returned, or gained and lost."""
    if transaction.kind is LedgerKind.HOLD:
        return -transaction.amount_of(AccountKind.HELD)
    if transaction.kind is LedgerKind.RELEASE:
        return transaction.amount_of(AccountKind.AVAILABLE)
    return sum(transaction.amount_of(account) for account in USER_ACCOUNTS)


def move_line(language: Language, move: LedgerTransaction, model: str = "") -> str:
    """One ledger move: the signed amount, its kind, the model (escaped title) and when."""
    return t(
        language,
        Msg.MOVE,
        amount=f"{move_amount(move):+d}",
        kind=t(language, _MOVE_KIND[move.kind]),
        model=f" · {model}" if model else "",
        when=move.recorded_at.strftime("%d.%m %H:%M") if move.recorded_at else "—",
    )


@attrs.frozen
class BalanceScreen:
    """What the balance screen shows besides the balance.

    ``moves`` are the latest ledger moves, ``models`` the model title of each move's generation
    (by reference), ``free`` today's free runs with the titles of the free models; titles are
    escaped HTML.
    """

    moves: Sequence[LedgerTransaction] = ()
    models: Mapping[str, str] = attrs.field(factory=dict)
    free: tuple[FreeAllowance, str] | None = None


def balance_view(
    language: Language, balance: Balance, screen: BalanceScreen | None = None
) -> View:
    """Available and held Stars, debt, free runs, the latest moves; Top up, promo, invite."""
    screen = screen or BalanceScreen()
    parts = [t(language, Msg.BALANCE, available=balance.available, held=balance.held)]
    if balance.debt:
        parts.append(t(language, Msg.BALANCE_DEBT, debt=balance.debt))
    if screen.free is not None:
        allowance, titles = screen.free
        parts.append(
            t(
                language,
                Msg.BALANCE_FREE,
                left=allowance.left,
                daily=allowance.daily,
                models=titles,
            )
        )
    if screen.moves:
        lines = [t(language, Msg.BALANCE_MOVES)]
        lines.extend(
            move_line(language, move, screen.models.get(move.reference, ""))
            for move in screen.moves
        )
        parts.append("\n".join(lines))
    rows = [
        [button(t(language, Msg.BTN_TOPUP), Pay(act=PayAct.TOPUP))],
        [
            button(t(language, Msg.BTN_PROMO), Pay(act=PayAct.PROMO)),
            button(t(language, Msg.BTN_REFERRAL), Pay(act=PayAct.REFERRAL)),
        ],
        back_menu_row(language, None),
    ]
    return View("\n\n".join(parts), markup(rows))


def package_label(language: Language, stars: int, bonus: int) -> str:
    """A package's label (with its bonus Stars, if any)."""
    if bonus:
        return t(language, Msg.BTN_PACKAGE_BONUS, stars=stars, bonus=bonus)
    return t(language, Msg.BTN_PACKAGE, stars=stars)


def topup_view(language: Language, packages: Sequence[StarPackage], lead: str = "") -> View:
    """The packages on offer, one button each."""
    rows: list[Row] = [
        [
            button(
                package_label(language, package.stars, package.bonus),
                Pay(act=PayAct.PACKAGE, arg=str(package.stars)),
            )
        ]
        for package in packages
    ]
    rows.append(back_menu_row(language, Nav(to=Screen.BALANCE)))
    text = t(language, Msg.TOPUP_TITLE)
    return View(f"{lead}\n\n{text}" if lead else text, markup(rows))


def terms_view(
    language: Language, version: int, *, accepted: bool, package: int | None = None
) -> View:
    """The versioned terms; an Accept button until the user accepted this version.

    With ``package``, accepting continues to that package's invoice.
    """
    parts = []
    if package is not None and not accepted:
        parts.append(t(language, Msg.TERMS_FIRST))
    parts.append(t(language, Msg.TERMS, version=version))
    rows: list[Row] = []
    if accepted:
        parts.append(t(language, Msg.TERMS_ACCEPTED))
    else:
        arg = f"{version}.{package}" if package is not None else str(version)
        rows.append([button(t(language, Msg.BTN_ACCEPT_TERMS), Pay(act=PayAct.ACCEPT, arg=arg))])
    rows.append(back_menu_row(language, None))
    return View("\n\n".join(parts), markup(rows))


def paysupport_view(language: Language, purchases: Sequence[Purchase], lead: str = "") -> View:
    """The user's purchases: Refund on those they can refund themselves, else Ask support."""
    parts = [lead] if lead else []
    rows: list[Row] = []
    if not purchases:
        parts.append(t(language, Msg.PAYSUPPORT_EMPTY))
    else:
        parts.append(t(language, Msg.PAYSUPPORT))
        lines = []
        for n, item in enumerate(purchases, 1):
            payment = item.payment
            line = t(
                language,
                Msg.PURCHASE_ITEM,
                n=n,
                stars=payment.stars,
                credited=payment.credited,
                when=payment.created_at.strftime("%d.%m.%Y"),
                charge=escape(clip(payment.charge_id, 80)),
            )
            if payment.state is PaymentState.REFUNDED:
                line += f" · {t(language, Msg.PURCHASE_REFUNDED)}"
            lines.append(line)
            ref = charge_ref(payment.charge_id)
            if item.refundable:
                refund = button(t(language, Msg.BTN_REFUND, n=n), Pay(act=PayAct.REFUND, arg=ref))
                rows.append([refund])
            else:
                ask = button(t(language, Msg.BTN_SUPPORT, n=n), Pay(act=PayAct.SUPPORT, arg=ref))
                rows.append([ask])
        parts.append("\n\n".join(lines))
    rows.append(back_menu_row(language, None))
    return View(_fit("\n\n".join(parts), MAX_TEXT), markup(rows))


def refund_confirm_view(language: Language, payment: Payment) -> View:
    """The second tap of a refund: what leaves the balance; Yes, refund / Back."""
    text = t(
        language,
        Msg.REFUND_CONFIRM,
        stars=payment.stars,
        credited=payment.credited,
        charge=escape(payment.charge_id),
    )
    yes = button(
        t(language, Msg.BTN_REFUND_YES, stars=payment.stars),
        Pay(act=PayAct.REFUND_CONFIRMED, arg=charge_ref(payment.charge_id)),
    )
    back = button(t(language, Msg.BTN_BACK), Nav(to=Screen.PAYSUPPORT))
    return View(text, markup([[yes], [back]]))


def referral_view(language: Language, link: str, stars: int, summary: ReferralSummary) -> View:
    """The user's invitation link, the reward, and what their invitations brought."""
    text = t(
        language,
        Msg.REFERRAL,
        link=escape(link),
        stars=stars,
        invited=summary.invited,
        rewarded=summary.rewarded,
        earned=summary.stars,
    )
    return View(text, markup([back_menu_row(language, Nav(to=Screen.BALANCE))]))


def ticket_text(
    language: Language, user_id: int, name: str, payment: Payment, balance: Balance
) -> str:
    """A support request for the admins: who (``name`` escaped), the charge, the balance."""
    return t(
        language,
        Msg.TICKET_FOR_ADMINS,
        user_id=user_id,
        name=name,
        charge=escape(payment.charge_id),
        stars=payment.stars,
        credited=payment.credited,
        state=payment.state.value,
        when=payment.created_at.strftime("%d.%m.%Y %H:%M"),
        available=balance.available,
        held=balance.held,
        debt=balance.debt,
    )


def settings_view(language: Language) -> View:
    """The language switch, and the way to the user's data (/privacy)."""
    rows = [
        [
            button(_marked(language, Language.RU, Msg.BTN_LANG_RU), Lang(lang=Language.RU)),
            button(_marked(language, Language.EN, Msg.BTN_LANG_EN), Lang(lang=Language.EN)),
        ],
        [button(t(language, Msg.BTN_PRIVACY), Priv(act=PrivacyAct.SHOW))],
        back_menu_row(language, None),
    ]
    text = t(language, Msg.SETTINGS, current=t(language, Msg.LANGUAGE_NAME))
    return View(text, markup(rows))


def _marked(current: Language, language: Language, key: Msg) -> str:
    label = t(language, key)
    return f"✅ {label}" if current is language else label


def help_view(language: Language) -> View:
    """How the bot works and its commands."""
    return View(t(language, Msg.HELP), markup([back_menu_row(language, None)]))


def notice_view(language: Language, text: str) -> View:
    """A short notice with a Menu button."""
    return View(text, markup([back_menu_row(language, None)]))
