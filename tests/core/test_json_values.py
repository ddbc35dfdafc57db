import math

import pytest

from kiebot_core.domain.catalog import JsonValue
from kiebot_core.domain.json_values import (
    checked_json,
    dump_object,
    dump_strings,
    dump_value,
    load_object,
    load_strings,
    load_value,
)


def test_documents_round_trip_compactly() -> None:
    payload: dict[str, JsonValue] = {
        "prompt": "лиса",
        "n": 2,
        "ratio": 1.5,
        "tags": ["a", "b"],
        "x": None,
    }
    text = dump_object(payload)
    assert text == '{"prompt":"лиса","n":2,"ratio":1.5,"tags":["a","b"],"x":null}'
    assert load_object(text) == payload
    assert load_object(text.encode()) == payload
    assert load_value(dump_value([1, {"a": True}])) == [1, {"a": True}]
    assert load_strings(dump_strings(("u1", "u2"))) == ("u1", "u2")


def test_checked_json_copies_to_plain_json() -> None:
    assert checked_json({"a": (1, 2)}) == {"a": [1, 2]}


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({"a": [1, {2}]}, r"\$\.a\[1\]: set is not a JSON value"),
        ({"a": {1: 2}}, r"\$\.a: object key 1 is not a string"),
        (math.inf, r"\$: float is not a JSON value"),
    ],
)
def test_checked_json_refuses_what_is_not_json(value: object, message: str) -> None:
    with pytest.raises(TypeError, match=message):
        checked_json(value)


@pytest.mark.parametrize(
    ("load", "text"),
    [
        (load_object, "[1]"),
        (load_object, '{"a": NaN}'),
        (load_value, "[Infinity]"),
        (load_strings, '{"a": "b"}'),
        (load_strings, '["a", 1]'),
    ],
)
def test_loading_refuses_a_document_of_the_wrong_shape(load, text: str) -> None:
    with pytest.raises(TypeError):
        load(text)


def test_loading_refuses_what_is_not_json() -> None:
    with pytest.raises(ValueError, match="Expecting value"):
        load_value("nope")
