"""Input validation and normalization against the registry.

Two steps, both pure:

* :func:`parse_answer` turns text a person typed (a CLI ``--set`` value, a bot message) into a
  typed value for one input;
* :func:`normalize` checks a whole set of typed answers against a model and builds the exact
  ``input`` object KIE expects (JSON types per ``value_type``, required defaults filled in),
  or refuses with a reason code and the offending input named.
"""

import json
import math
from collections.abc import Mapping, Sequence
from decimal import Decimal, InvalidOperation
from urllib.parse import urlsplit

import attrs

from kiebot_core.domain.catalog import (
    AtLeastOneOf,
    ExactlyOneOf,
    InputKind,
    InputSpec,
    JsonValue,
    ModelSpec,
    RequiredWhen,
)
from kiebot_core.domain.outcomes import Rejected
from kiebot_core.domain.pricing import canonical, effective_values
from kiebot_core.domain.reasons import ReasonCode

MAX_URL_LENGTH = 2048
_TRUE_WORDS = frozenset({"true", "yes", "y", "on", "1", "да"})
_FALSE_WORDS = frozenset({"false", "no", "n", "off", "0", "нет"})


@attrs.frozen
class NormalizedInput:
    """A model's ``input`` object exactly as it is sent to KIE."""

    model_id: str
    values: Mapping[str, JsonValue]


def _invalid(spec: InputSpec, detail: str) -> Rejected:
    return Rejected(ReasonCode.INVALID_INPUT, spec.name, detail)


def _missing(name: str, detail: str = "required") -> Rejected:
    return Rejected(ReasonCode.MISSING_INPUT, name, detail)


def is_given(value: JsonValue) -> bool:
    """False for None, an empty or blank string and an empty list: "no answer"."""
    if value is None:
        return False
    if isinstance(value, str):
        return bool(value.strip())
    if isinstance(value, list):
        return bool(value)
    return True


def _number(text: str) -> int | float | None:
    try:
        number = Decimal(text.strip())
    except InvalidOperation:
        return None
    if not number.is_finite():
        return None
    return int(number) if number == number.to_integral_value() else float(number)


def _parse_item(spec: InputSpec, text: str) -> JsonValue | Rejected:
    if spec.kind is InputKind.ARRAY and spec.item_type == "object":
        try:
            parsed: JsonValue = json.loads(text)
        except ValueError:
            return _invalid(spec, "each item must be a JSON object")
        return parsed
    return text.strip()


def parse_answer(spec: InputSpec, raw: str | Sequence[str]) -> JsonValue | Rejected:
    """Parse typed text into a value for ``spec``; a sequence gives the items of a list input.

    Numbers, booleans (``true|false``, also yes/no, on/off, да/нет) and enum members are
    recognized; the result still goes through :func:`check_value`.
    """
    if spec.is_list:
        return _parse_list(spec, [raw] if isinstance(raw, str) else list(raw))
    if not isinstance(raw, str):
        if len(raw) != 1:
            return _invalid(spec, "takes one value")
        raw = raw[0]
    return _parse_scalar(spec, raw)


def _parse_list(spec: InputSpec, texts: list[str]) -> JsonValue | Rejected:
    if len(texts) == 1 and texts[0].lstrip().startswith("["):
        try:
            whole: JsonValue = json.loads(texts[0])
        except ValueError:
            return _invalid(spec, "not a JSON list")
        return check_value(spec, whole)
    items: list[JsonValue] = []
    for text in texts:
        item = _parse_item(spec, text)
        if isinstance(item, Rejected):
            return item
        items.append(item)
    return check_value(spec, items)


def _parse_scalar(spec: InputSpec, raw: str) -> JsonValue | Rejected:
    text = raw.strip()
    match spec.kind:
        case InputKind.BOOLEAN:
            word = text.lower()
            if word in _TRUE_WORDS:
                return True
            if word in _FALSE_WORDS:
                return False
            return _invalid(spec, "expected true or false")
        case InputKind.INTEGER | InputKind.NUMBER:
            number = _number(text)
            return (
                _invalid(spec, "expected a number")
                if number is None
                else check_value(spec, number)
            )
        case _:
            return check_value(spec, raw if spec.kind is InputKind.STRING else text)


def _check_range(spec: InputSpec, number: float) -> Rejected | None:
    if spec.minimum is not None and number < spec.minimum:
        return _invalid(spec, f"must be at least {spec.minimum:g}")
    if spec.maximum is not None and number > spec.maximum:
        return _invalid(spec, f"must be at most {spec.maximum:g}")
    return None


def _check_url(spec: InputSpec, value: JsonValue) -> str | Rejected:
    if not isinstance(value, str):
        return _invalid(spec, "expected a URL")
    parts = urlsplit(value)
    if parts.scheme not in {"http", "https"} or not parts.netloc or len(value) > MAX_URL_LENGTH:
        return _invalid(spec, "expected an http(s) URL of an uploaded file")
    return value


def _check_string(spec: InputSpec, value: JsonValue) -> JsonValue | Rejected:
    if not isinstance(value, str):
        return _invalid(spec, "expected text")
    if spec.min_length is not None and len(value) < spec.min_length:
        return _invalid(spec, f"must be at least {spec.min_length} characters")
    if spec.max_length is not None and len(value) > spec.max_length:
        return _invalid(spec, f"must be at most {spec.max_length} characters")
    if spec.minimum is not None or spec.maximum is not None:
        # A numeric string (e.g. a duration KIE wants as "5").
        number = _number(value)
        if number is None:
            return _invalid(spec, "expected a number")
        out_of_range = _check_range(spec, number)
        if out_of_range is not None:
            return out_of_range
    return value


def _check_enum(spec: InputSpec, value: JsonValue) -> JsonValue | Rejected:
    options = spec.enum or ()
    if isinstance(value, list | dict) or value is None:
        return _invalid(spec, "expected one of the listed values")
    key = canonical(value)
    for option in options:
        if canonical(option) == key or (
            isinstance(option, str) and isinstance(value, str) and option.lower() == key.lower()
        ):
            return option
    return _invalid(spec, "expected one of: " + ", ".join(canonical(o) for o in options))


def _check_number(spec: InputSpec, value: JsonValue) -> JsonValue | Rejected:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return _invalid(spec, "expected a number")
    if isinstance(value, float) and not math.isfinite(value):
        return _invalid(spec, "expected a finite number")
    if spec.kind is InputKind.INTEGER:
        if isinstance(value, float) and not value.is_integer():
            return _invalid(spec, "expected a whole number")
        value = int(value)
    return _check_range(spec, value) or value


def _check_item(spec: InputSpec, item: JsonValue) -> Rejected | None:
    if spec.media_kind is not None:
        checked = _check_url(spec, item)
        return checked if isinstance(checked, Rejected) else None
    if spec.item_type == "object":
        if not isinstance(item, dict) or not item:
            return _invalid(spec, "each item must be a JSON object")
        unknown = set(item) - set(spec.item_fields)
        if unknown:
            return _invalid(spec, f"unknown item fields: {', '.join(sorted(unknown))}")
        return None
    if not isinstance(item, str) or not item.strip():
        return _invalid(spec, "each item must be non-empty text")
    return None


def _check_list(spec: InputSpec, value: JsonValue) -> JsonValue | Rejected:
    if not isinstance(value, list):
        return _invalid(spec, "expected a list")
    if spec.min_items is not None and len(value) < spec.min_items:
        return _invalid(spec, f"needs at least {spec.min_items} items")
    if spec.max_items is not None and len(value) > spec.max_items:
        return _invalid(spec, f"takes at most {spec.max_items} items")
    for item in value:
        problem = _check_item(spec, item)
        if problem is not None:
            return problem
    return value


def check_value(spec: InputSpec, value: JsonValue) -> JsonValue | Rejected:
    """Check one typed value against ``spec`` and return it with KIE's JSON type."""
    match spec.kind:
        case InputKind.STRING:
            return _check_string(spec, value)
        case InputKind.ENUM:
            return _check_enum(spec, value)
        case InputKind.BOOLEAN:
            return value if isinstance(value, bool) else _invalid(spec, "expected true or false")
        case InputKind.INTEGER | InputKind.NUMBER:
            return _check_number(spec, value)
        case InputKind.IMAGE_URL | InputKind.VIDEO_URL | InputKind.AUDIO_URL:
            return _check_url(spec, value)
        case InputKind.IMAGE_URLS | InputKind.VIDEO_URLS | InputKind.AUDIO_URLS | InputKind.ARRAY:
            return _check_list(spec, value)


def is_required(model: ModelSpec, name: str, values: Mapping[str, JsonValue]) -> bool:
    """Whether ``name`` must be given, counting ``RequiredWhen`` rules over effective values."""
    spec = model.input(name)
    if spec is not None and spec.required:
        return True
    effective = effective_values(model, values)
    return any(
        isinstance(rule, RequiredWhen)
        and rule.input_name == name
        and all(
            canonical(effective.get(key)) == canonical(expected)
            for key, expected in rule.when.items()
        )
        for rule in model.rules
    )


def _check_rules(model: ModelSpec, values: Mapping[str, JsonValue]) -> Rejected | None:
    for rule in model.rules:
        match rule:
            case ExactlyOneOf(inputs) | AtLeastOneOf(inputs):
                given = [name for name in inputs if is_given(values.get(name))]
                if not given:
                    return _missing(inputs[0], "one of " + ", ".join(inputs) + " is required")
                if isinstance(rule, ExactlyOneOf) and len(given) > 1:
                    return Rejected(
                        ReasonCode.INVALID_INPUT,
                        given[1],
                        "give only one of " + ", ".join(inputs),
                    )
            case RequiredWhen(name, _):
                if is_required(model, name, values) and not is_given(values.get(name)):
                    return _missing(name, "required with the other choices made")
    return None


def normalize(model: ModelSpec, answers: Mapping[str, JsonValue]) -> NormalizedInput | Rejected:
    """Validate ``answers`` for ``model`` and build KIE's ``input`` object.

    Unknown names, wrong types, out-of-range values, a missing required input or a broken
    cross-field rule give a ``Rejected`` naming the input. Required inputs left out get their
    documented default, because KIE does not fill defaults in for required fields.
    """
    values: dict[str, JsonValue] = {}
    for name, value in answers.items():
        spec = model.input(name)
        if spec is None:
            return Rejected(ReasonCode.INVALID_INPUT, name, f"{model.id} has no input {name}")
        if not is_given(value):
            continue
        checked = check_value(spec, value)
        if isinstance(checked, Rejected):
            return checked
        values[name] = checked
    for spec in model.inputs:
        if spec.name in values or not spec.required:
            continue
        if not spec.has_default:
            return _missing(spec.name)
        values[spec.name] = spec.default
    problem = _check_rules(model, values)
    if problem is not None:
        return problem
    ordered = {spec.name: values[spec.name] for spec in model.inputs if spec.name in values}
    return NormalizedInput(model.id, ordered)
