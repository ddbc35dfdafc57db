"""The cattrs converter for the JSON columns this adapter writes and reads.

Strict: a stored document must have exactly the shape its column promises (JSON values only,
strings where strings are expected, no unknown keys in attrs documents). A document that does
not fit raises (``ValueError``, ``TypeError`` or a cattrs validation error): it was not
written by this adapter and is not trusted.
"""

import json
import math
from collections.abc import Mapping
from typing import Any, cast

import cattrs

from kiebot_core.domain.catalog import JsonValue

_JsonObject = Mapping[str, JsonValue]


def _is_json_value(type_: Any) -> bool:
    return bool(type_ == JsonValue)


def _checked(value: object, path: str = "$") -> JsonValue:
    """``value`` as plain JSON (dicts, lists, str, int, finite float, bool, None)."""
    match value:
        case None | bool() | int() | str():
            return value
        case float() if math.isfinite(value):
            return value
        case Mapping():
            checked: dict[str, JsonValue] = {}
            for key, item in value.items():
                if not isinstance(key, str):
                    raise TypeError(f"{path}: object key {key!r} is not a string")
                checked[key] = _checked(item, f"{path}.{key}")
            return checked
        case list() | tuple():
            return [_checked(item, f"{path}[{index}]") for index, item in enumerate(value)]
        case _:
            raise TypeError(f"{path}: {type(value).__name__} is not a JSON value")


def _strict_str(value: object, _: type[str]) -> str:
    if not isinstance(value, str):
        raise TypeError(f"expected a string, got {type(value).__name__}")
    return value


def make_converter() -> cattrs.Converter:
    """A fresh strict converter for this adapter's JSON columns."""
    converter = cattrs.Converter(forbid_extra_keys=True)
    converter.register_structure_hook(str, _strict_str)
    converter.register_structure_hook_func(_is_json_value, lambda value, _: _checked(value))
    converter.register_unstructure_hook_func(_is_json_value, _checked)
    return converter


CONVERTER = make_converter()
"""The adapter's one converter."""


def _dumps(data: object) -> str:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def _loads(text: str | bytes) -> object:
    return json.loads(text)


def dump_object(value: _JsonObject) -> str:
    """A JSON object (a generation's input, an event or update payload) as JSON text."""
    return _dumps(CONVERTER.unstructure(value, _JsonObject))


def load_object(text: str | bytes) -> dict[str, JsonValue]:
    """The JSON object stored as ``text``."""
    data = _loads(text)
    if not isinstance(data, dict):
        raise TypeError(f"expected a JSON object, got {type(data).__name__}")
    return CONVERTER.structure(data, dict[str, JsonValue])


def dump_value(value: JsonValue) -> str:
    """Any JSON value (a result object) as JSON text."""
    return _dumps(CONVERTER.unstructure(value, JsonValue))


def load_value(text: str | bytes) -> JsonValue:
    """The JSON value stored as ``text``."""
    return cast("JsonValue", CONVERTER.structure(_loads(text), JsonValue))  # type: ignore[arg-type]  # a type alias, not a class


def dump_strings(values: tuple[str, ...]) -> str:
    """A tuple of strings (result URLs, delivered refs) as a JSON array."""
    return _dumps(CONVERTER.unstructure(values, tuple[str, ...]))


def load_strings(text: str | bytes) -> tuple[str, ...]:
    """The tuple of strings stored as a JSON array."""
    data = _loads(text)
    if not isinstance(data, list):
        raise TypeError(f"expected a JSON array, got {type(data).__name__}")
    return CONVERTER.structure(data, tuple[str, ...])
