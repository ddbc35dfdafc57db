"""The parameter-entry wizard: a pure state machine both the bot and the CLI render.

    state                      event                   next state
    ─────────────────────────  ──────────────────────  ────────────────────────────────────
    asking X                   answer / add items+done  next unanswered step, or confirming
    asking X (optional)        skip                    next unanswered step, or confirming
    asking X (has default)     use_default             next unanswered step, or confirming
    asking X                   skip_all_optional       first required step still empty, or
                                                       confirming
    asking X / confirming      back                    the step visited before, or Exited
    confirming                 edit(Y)                 asking Y, then straight back to confirming
    confirming                 finish                  Ready(input, quote) or Rejected(input)

Steps are the model's asked inputs (overlay ``ask``) that apply to the answers so far: the
other members of an answered ``exactly_one_of`` group drop out, and an input a ``required_when``
rule makes required joins in. Every other input is "advanced": reachable with ``edit`` from the
confirmation. The state is a small frozen value; :func:`dump` and :func:`load` store it with a
version tag so a stored wizard survives an upgrade or is rejected cleanly.
"""

import enum
from collections.abc import Mapping, Sequence
from decimal import Decimal, InvalidOperation

import attrs

from kiebot_core.domain.catalog import (
    AtLeastOneOf,
    ExactlyOneOf,
    InputKind,
    InputSpec,
    JsonValue,
    ModelSpec,
    Registry,
    RequiredWhen,
)
from kiebot_core.domain.outcomes import Rejected
from kiebot_core.domain.pricing import (
    MediaFacts,
    PriceSettings,
    Quote,
    canonical,
    option_prices,
    quote,
)
from kiebot_core.domain.reasons import ReasonCode
from kiebot_core.domain.validation import (
    NormalizedInput,
    check_value,
    is_given,
    is_required,
    normalize,
    parse_answer,
)

VERSION = 1


class StepKind(enum.StrEnum):
    """How a step is answered."""

    TEXT = "text"
    CHOICE = "choice"
    TOGGLE = "toggle"
    NUMBER = "number"
    MEDIA = "media"
    LIST = "list"


_KIND_OF_INPUT: Mapping[InputKind, StepKind] = {
    InputKind.STRING: StepKind.TEXT,
    InputKind.ENUM: StepKind.CHOICE,
    InputKind.BOOLEAN: StepKind.TOGGLE,
    InputKind.INTEGER: StepKind.NUMBER,
    InputKind.NUMBER: StepKind.NUMBER,
    InputKind.IMAGE_URL: StepKind.MEDIA,
    InputKind.IMAGE_URLS: StepKind.MEDIA,
    InputKind.VIDEO_URL: StepKind.MEDIA,
    InputKind.VIDEO_URLS: StepKind.MEDIA,
    InputKind.AUDIO_URL: StepKind.MEDIA,
    InputKind.AUDIO_URLS: StepKind.MEDIA,
    InputKind.ARRAY: StepKind.LIST,
}


@attrs.frozen(kw_only=True)
class WizardState:
    """Where one person is in one model's wizard."""

    model_id: str
    answers: Mapping[str, JsonValue] = attrs.field(factory=dict)
    current: str | None = None
    """The input being asked; None on the confirmation screen."""
    history: tuple[str, ...] = ()
    """Steps visited before ``current``, for Back."""
    editing: bool = False
    """True when ``current`` was opened from the confirmation with ``edit``."""
    durations: Mapping[str, Decimal] = attrs.field(factory=dict)
    """Seconds of uploaded media by file URL (what the shell measured), for exact quotes."""

    @property
    def is_confirming(self) -> bool:
        """True on the confirmation screen."""
        return self.current is None


@attrs.frozen
class Exited:
    """Back was pressed on the first step: the shell shows the model card again."""

    model_id: str


@attrs.frozen
class Option:
    """One button of a choice or toggle step."""

    value: JsonValue
    label: str
    stars: int | None
    """The price with this option, shown only when the options' prices differ."""
    selected: bool


@attrs.frozen(kw_only=True)
class AskScreen:
    """A step asking for one input."""

    model_id: str
    input: InputSpec
    kind: StepKind
    step: int
    total: int
    value: JsonValue
    """The current answer (or the default, for display), None when there is none."""
    options: tuple[Option, ...] = ()
    can_skip: bool
    can_use_default: bool
    can_finish_list: bool
    """True for list inputs holding enough items to move on ("Done")."""


@attrs.frozen(kw_only=True)
class ConfirmScreen:
    """The summary before a run: answers, price (or why there is none), advanced inputs."""

    model_id: str
    summary: tuple[tuple[InputSpec, JsonValue], ...]
    quote: Quote | Rejected
    advanced: tuple[InputSpec, ...]


@attrs.frozen
class Ready:
    """The confirmed run: the exact KIE input and its price."""

    input: NormalizedInput
    quote: Quote


Screen = AskScreen | ConfirmScreen


def _excluded_by_choice(model: ModelSpec, name: str, answers: Mapping[str, JsonValue]) -> bool:
    return any(
        isinstance(rule, ExactlyOneOf)
        and name in rule.inputs
        and any(other != name and is_given(answers.get(other)) for other in rule.inputs)
        for rule in model.rules
    )


def _conditional(model: ModelSpec, name: str) -> bool:
    return any(isinstance(rule, RequiredWhen) and rule.input_name == name for rule in model.rules)


def steps(model: ModelSpec, answers: Mapping[str, JsonValue]) -> tuple[str, ...]:
    """The inputs the wizard asks, in order, given the answers so far."""
    names = list(model.asked) + [
        rule.input_name
        for rule in model.rules
        if isinstance(rule, RequiredWhen) and rule.input_name not in model.asked
    ]
    return tuple(
        name
        for name in names
        if not _excluded_by_choice(model, name, answers)
        and (not _conditional(model, name) or is_required(model, name, answers))
    )


def must_answer(model: ModelSpec, state: WizardState, name: str) -> bool:
    """Whether step ``name`` cannot be skipped.

    It cannot when it is required, or when it is the last chance to answer a choice group
    (``exactly_one_of`` / ``at_least_one_of``) nobody answered yet.
    """
    if is_required(model, name, state.answers):
        return True
    order = steps(model, state.answers)
    later = order[order.index(name) + 1 :] if name in order else ()
    return any(
        isinstance(rule, ExactlyOneOf | AtLeastOneOf)
        and name in rule.inputs
        and not any(is_given(state.answers.get(member)) for member in rule.inputs)
        and not any(member in later for member in rule.inputs)
        for rule in model.rules
    )


def start(model: ModelSpec, preset: Mapping[str, JsonValue] | None = None) -> WizardState:
    """A new wizard, optionally pre-filled (a favorite, a repeat, a quick action).

    Preset values that do not fit the model are dropped; the first step without an answer is
    asked, or the confirmation is shown when everything is answered.
    """
    answers = {
        name: value
        for name, value in (preset or {}).items()
        if (spec := model.input(name)) is not None
        and is_given(value)
        and not isinstance(check_value(spec, value), Rejected)
    }
    state = WizardState(model_id=model.id, answers=answers)
    return attrs.evolve(state, current=_next_unanswered(model, answers, after=None))


def _next_unanswered(
    model: ModelSpec, answers: Mapping[str, JsonValue], after: str | None
) -> str | None:
    order = steps(model, answers)
    start_at = order.index(after) + 1 if after in order else 0
    return next((name for name in order[start_at:] if not is_given(answers.get(name))), None)


def _advance(model: ModelSpec, state: WizardState, answers: dict[str, JsonValue]) -> WizardState:
    current = state.current
    history = state.history if current is None else (*state.history, current)
    following = None if state.editing else _next_unanswered(model, answers, after=current)
    return attrs.evolve(state, answers=answers, current=following, history=history, editing=False)


def _asked_spec(model: ModelSpec, state: WizardState) -> InputSpec | Rejected:
    spec = model.input(state.current) if state.current is not None else None
    if spec is None:
        return Rejected(ReasonCode.STALE_ACTION, detail="no step is being asked")
    return spec


def answer(model: ModelSpec, state: WizardState, value: JsonValue) -> WizardState | Rejected:
    """Answer the current step with a typed value (a button's value, an uploaded URL list)."""
    spec = _asked_spec(model, state)
    if isinstance(spec, Rejected):
        return spec
    checked = check_value(spec, value)
    if isinstance(checked, Rejected):
        return checked
    return _advance(model, state, {**state.answers, spec.name: checked})


def answer_text(
    model: ModelSpec, state: WizardState, text: str | Sequence[str]
) -> WizardState | Rejected:
    """Answer the current step with typed text, parsed by the input's type."""
    spec = _asked_spec(model, state)
    if isinstance(spec, Rejected):
        return spec
    parsed = parse_answer(spec, text)
    if isinstance(parsed, Rejected):
        return parsed
    return _advance(model, state, {**state.answers, spec.name: parsed})


def add_item(model: ModelSpec, state: WizardState, item: JsonValue) -> WizardState | Rejected:
    """Add one item (a sent photo's URL, a JSON object) to the current list step.

    The wizard moves on by itself when the list is full; otherwise ``finish_list`` moves on.
    """
    spec = _asked_spec(model, state)
    if isinstance(spec, Rejected):
        return spec
    if not spec.is_list:
        return answer(model, state, item)
    current = state.answers.get(spec.name)
    items = [*(current if isinstance(current, list) else []), item]
    checked = check_value(attrs.evolve(spec, min_items=None), items)
    if isinstance(checked, Rejected):
        return checked
    answers = {**state.answers, spec.name: checked}
    if spec.max_items is not None and len(items) >= spec.max_items:
        return _advance(model, state, answers)
    return attrs.evolve(state, answers=answers)


def finish_list(model: ModelSpec, state: WizardState) -> WizardState | Rejected:
    """Move on from a list step with the items added so far ("Done")."""
    spec = _asked_spec(model, state)
    if isinstance(spec, Rejected):
        return spec
    return answer(model, state, state.answers.get(spec.name))


def skip(model: ModelSpec, state: WizardState) -> WizardState | Rejected:
    """Leave an optional step empty (KIE applies its own default)."""
    spec = _asked_spec(model, state)
    if isinstance(spec, Rejected):
        return spec
    if must_answer(model, state, spec.name):
        return Rejected(ReasonCode.MISSING_INPUT, spec.name, "this input cannot be skipped")
    answers = {k: v for k, v in state.answers.items() if k != spec.name}
    return _advance(model, state, answers)


def use_default(model: ModelSpec, state: WizardState) -> WizardState | Rejected:
    """Answer the current step with its documented default."""
    spec = _asked_spec(model, state)
    if isinstance(spec, Rejected):
        return spec
    if not spec.has_default:
        return Rejected(ReasonCode.MISSING_INPUT, spec.name, "this input has no default")
    return _advance(model, state, {**state.answers, spec.name: spec.default})


def skip_all_optional(model: ModelSpec, state: WizardState) -> WizardState:
    """Jump to the confirmation, stopping at the first required step that has no value."""

    def blocks(name: str) -> bool:
        spec = model.input(name)
        return (
            spec is not None
            and not spec.has_default
            and not is_given(state.answers.get(name))
            and must_answer(model, attrs.evolve(state, current=name), name)
        )

    pending = next((name for name in steps(model, state.answers) if blocks(name)), None)
    history = state.history if state.current is None else (*state.history, state.current)
    return attrs.evolve(state, current=pending, history=history, editing=False)


def back(state: WizardState) -> WizardState | Exited:
    """Return to the previously visited step (answers are kept), or leave the wizard."""
    if not state.history:
        return Exited(state.model_id)
    *earlier, previous = state.history
    return attrs.evolve(state, current=previous, history=tuple(earlier), editing=False)


def edit(model: ModelSpec, state: WizardState, name: str) -> WizardState | Rejected:
    """From the confirmation, open any input (asked or advanced) and come back after it."""
    if model.input(name) is None:
        return Rejected(ReasonCode.INVALID_INPUT, name, f"{model.id} has no input {name}")
    history = state.history if state.current is None else (*state.history, state.current)
    return attrs.evolve(state, current=name, history=history, editing=True)


def progress(model: ModelSpec, state: WizardState) -> tuple[int, int]:
    """Step k of n for the current step (n of n on the confirmation)."""
    order = steps(model, state.answers)
    total = len(order)
    if state.current in order:
        return order.index(state.current) + 1, total
    return total, total


def _options(
    model: ModelSpec, state: WizardState, spec: InputSpec, settings: PriceSettings
) -> tuple[Option, ...]:
    if spec.kind is InputKind.ENUM:
        values: tuple[JsonValue, ...] = spec.enum or ()
    elif spec.kind is InputKind.BOOLEAN:
        values = (True, False)
    else:
        return ()
    prices = option_prices(
        model, state.answers, spec.name, values, settings, facts=media_facts(state)
    )
    is_price_key = spec.name in model.price.keys
    offered = [v for v in values if not is_price_key or prices[canonical(v)] is not None]
    shown_prices = {prices[canonical(v)] for v in offered}
    selected = state.answers.get(spec.name, spec.default)
    return tuple(
        Option(
            value=v,
            label=canonical(v),
            stars=prices[canonical(v)] if len(shown_prices) > 1 else None,
            selected=selected is not None and canonical(selected) == canonical(v),
        )
        for v in offered
    )


def with_duration(state: WizardState, url: str, seconds: Decimal) -> WizardState:
    """``state`` knowing that the media file at ``url`` lasts ``seconds``."""
    return attrs.evolve(state, durations={**state.durations, url: seconds})


def media_facts(state: WizardState) -> MediaFacts:
    """What the answers' media are known to be (see ``MediaFacts.of``)."""
    return MediaFacts.of(state.answers, state.durations)


def screen(model: ModelSpec, state: WizardState, settings: PriceSettings) -> Screen:
    """What to show for ``state``."""
    spec = model.input(state.current) if state.current is not None else None
    if spec is None:
        asked = set(steps(model, state.answers))
        return ConfirmScreen(
            model_id=model.id,
            summary=tuple(
                (s, state.answers.get(s.name, s.default))
                for s in model.inputs
                if s.name in asked or is_given(state.answers.get(s.name))
            ),
            quote=quote(model, state.answers, settings, media_facts(state)),
            advanced=tuple(s for s in model.inputs if s.name not in asked),
        )
    step, total = progress(model, state)
    value = state.answers.get(spec.name, spec.default)
    required = must_answer(model, state, spec.name)
    items = value if isinstance(value, list) else []
    return AskScreen(
        model_id=model.id,
        input=spec,
        kind=_KIND_OF_INPUT[spec.kind],
        step=step,
        total=total,
        value=value,
        options=_options(model, state, spec, settings),
        can_skip=not required,
        can_use_default=spec.has_default,
        can_finish_list=spec.is_list and bool(items) and len(items) >= (spec.min_items or 1),
    )


def finish(model: ModelSpec, state: WizardState, settings: PriceSettings) -> Ready | Rejected:
    """Confirm: the normalized input and its quote, or the first problem (with its input)."""
    normalized = normalize(model, state.answers)
    if isinstance(normalized, Rejected):
        return normalized
    priced = quote(model, normalized.values, settings, media_facts(state))
    if isinstance(priced, Rejected):
        return priced
    return Ready(normalized, priced)


def dump(state: WizardState) -> dict[str, JsonValue]:
    """A JSON-ready form of ``state`` with the version tag."""
    return {
        "v": VERSION,
        "model_id": state.model_id,
        "answers": dict(state.answers),
        "current": state.current,
        "history": list(state.history),
        "editing": state.editing,
        "durations": {url: str(seconds) for url, seconds in state.durations.items()},
    }


def load(data: Mapping[str, JsonValue], registry: Registry) -> WizardState | Rejected:
    """Rebuild a stored wizard, or ``Rejected(WIZARD_EXPIRED)`` when it no longer fits.

    A stored wizard of another version, of an unknown or disabled model, or whose answers or
    steps no longer match the model's inputs is expired: the user starts that model again.
    """
    expired = Rejected(ReasonCode.WIZARD_EXPIRED, detail="stored wizard no longer fits")
    model_id, answers, current = data.get("model_id"), data.get("answers"), data.get("current")
    history, editing = data.get("history"), data.get("editing")
    if (
        data.get("v") != VERSION
        or not isinstance(model_id, str)
        or not isinstance(answers, dict)
        or not isinstance(history, list)
        or not isinstance(editing, bool)
        or not (current is None or isinstance(current, str))
    ):
        return expired
    model = registry.get(model_id)
    if model is None or not model.enabled:
        return expired
    names = [current, *history] if current is not None else list(history)
    if any(not isinstance(n, str) or model.input(n) is None for n in names):
        return expired
    for name, value in answers.items():
        spec = model.input(name)
        if spec is None or isinstance(check_value(spec, value), Rejected):
            return expired
    return WizardState(
        model_id=model_id,
        answers=answers,
        current=current,
        history=tuple(str(n) for n in history),
        editing=editing,
        durations=_durations(data.get("durations")),
    )


def _durations(raw: JsonValue) -> dict[str, Decimal]:
    """Stored durations; a malformed one is dropped (its quote is the longest case again)."""
    if not isinstance(raw, dict):
        return {}
    found: dict[str, Decimal] = {}
    for url, text in raw.items():
        try:
            seconds = Decimal(text) if isinstance(text, str) else None
        except InvalidOperation:
            seconds = None
        if seconds is not None and seconds.is_finite() and seconds > 0:
            found[url] = seconds
    return found
