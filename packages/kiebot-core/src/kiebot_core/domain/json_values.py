"""JSON text for the JSON columns the storage adapters write and read (standard library only).

Written compactly (no spaces, non-ASCII kept as is); NaN and the infinities are refused, and
every ``JsonValue`` is checked to be plain JSON first. Reading is strict: a stored document
must have exactly the shape its column promises (a JSON object, a JSON array of strings, any
JSON value). A document that does not fit raises ``TypeError`` (or ``ValueError`` when it is
not JSON at all): it was not written by kiebot and is not trusted.
"""

import json
import math
from collections.abc import Mapping
from typing import TypeVar

from kiebot_core.domain.catalog import JsonValue

_T = TypeVar("_T")


def checked_json(value: object) -> JsonValue:
    """``value`` as plain JSON, copied: dicts, lists, str, int, finite float, bool, None.

    Any mapping becomes a ``dict`` and any tuple a ``list``; ``str``, ``int`` and ``bool``
    values (subclasses included) are kept as they are.

    Args:
        value: What should be a JSON value.

    Returns:
        A copy of ``value`` made of ``dict``, ``list`` and scalars only.

    Raises:
        TypeError: ``value`` holds something else (a set, a NaN or infinite float, an object)
            or a mapping key that is not a string; the message gives its path (``$.a[0]``).
    """
    return _checked(value, "$")


def _checked(value: object, path: str) -> JsonValue:
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


def _dumps(data: object) -> str:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def _loaded(text: str | bytes, expected: type[_T], name: str) -> _T:
    data = json.loads(text)
    if not isinstance(data, expected):
        raise TypeError(f"expected a JSON {name}, got {type(data).__name__}")
    return data


def dump_object(value: Mapping[str, JsonValue]) -> str:
    """A JSON object (a generation's input, an event or update payload) as JSON text.

    Args:
        value: The object; each of its values is checked with ``checked_json``. Its keys are
            written as ``json.dumps`` writes keys (the signature promises strings).

    Raises:
        TypeError: A value is not plain JSON, or a key is not a JSON scalar.
    """
    return _dumps({key: _checked(item, f"$.{key}") for key, item in value.items()})


def load_object(text: str | bytes) -> dict[str, JsonValue]:
    """The JSON object stored as ``text``.

    Raises:
        ValueError: ``text`` is not JSON (``json.JSONDecodeError``).
        TypeError: It is JSON but not an object, or it holds NaN or an infinity.
    """
    data = _loaded(text, dict, "object")
    return {key: _checked(item, f"$.{key}") for key, item in data.items()}


def dump_value(value: JsonValue) -> str:
    """Any JSON value (a result object) as JSON text.

    Raises:
        TypeError: ``value`` is not plain JSON (see ``checked_json``).
    """
    return _dumps(checked_json(value))


def load_value(text: str | bytes) -> JsonValue:
    """The JSON value stored as ``text``.

    Raises:
        ValueError: ``text`` is not JSON (``json.JSONDecodeError``).
        TypeError: It holds NaN or an infinity.
    """
    return checked_json(json.loads(text))


def dump_strings(values: tuple[str, ...]) -> str:
    """A tuple of strings (result URLs, delivered refs) as a JSON array.

    Args:
        values: The strings, written in order. They are not checked (the signature promises
            strings); ``load_strings`` refuses anything else when reading them back.

    Raises:
        TypeError: An item cannot be written as JSON at all.
        ValueError: An item is NaN or an infinity.
    """
    return _dumps(list(values))


def load_strings(text: str | bytes) -> tuple[str, ...]:
    """The tuple of strings stored as a JSON array.

    Raises:
        ValueError: ``text`` is not JSON (``json.JSONDecodeError``).
        TypeError: It is JSON but not an array, or an item is not a string.
    """
    strings: list[str] = []
    for index, item in enumerate(_loaded(text, list, "array")):
        if not isinstance(item, str):
            raise TypeError(f"$[{index}]: expected a string, got {type(item).__name__}")
        strings.append(item)
    return tuple(strings)
