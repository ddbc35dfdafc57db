import json
import math
from importlib import resources
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kiebot_core.domain.catalog import JsonValue, ModelSpec
from kiebot_core.domain.outcomes import Rejected
from kiebot_core.domain.reasons import ReasonCode
from kiebot_core.domain.registry import load_registry
from kiebot_core.domain.validation import NormalizedInput, normalize, parse_answer
from tests.builders import required_answers

REGISTRY = load_registry()
RAW = {
    model["id"]: {item["name"]: item for item in model["inputs"]}
    for model in json.loads(
        resources.files("kiebot_core").joinpath("data", "catalog.json").read_text("utf-8")
    )["models"]
}


def model(model_id: str) -> ModelSpec:
    found = REGISTRY.get(model_id)
    assert found is not None
    return found


def accepted(result: NormalizedInput | Rejected) -> dict[str, JsonValue]:
    assert isinstance(result, NormalizedInput), result
    return dict(result.values)


def rejected(result: NormalizedInput | Rejected) -> Rejected:
    assert isinstance(result, Rejected), result
    return result


def kie_documents_as_valid(raw: dict[str, Any], value: Any) -> bool:
    """An independent reading of the catalog's schema, straight from the JSON."""
    kind = raw["type"]
    if kind == "enum":
        return any(value == option and type(value) is type(option) for option in raw["enum"])
    if kind == "boolean":
        return isinstance(value, bool)
    if kind in {"integer", "number"}:
        if isinstance(value, bool) or not isinstance(value, int | float):
            return False
        if kind == "integer" and not isinstance(value, int):
            return False
        if isinstance(value, float) and not math.isfinite(value):
            return False
        return bool(raw.get("min", -math.inf) <= value <= raw.get("max", math.inf))
    if kind == "string":
        if not isinstance(value, str):
            return False
        if "min" in raw or "max" in raw:
            number = float(value)
            if not raw.get("min", -math.inf) <= number <= raw.get("max", math.inf):
                return False
        return bool(raw.get("min_length", 0) <= len(value) <= raw.get("max_length", math.inf))
    if kind.endswith("_url"):
        return isinstance(value, str) and value.startswith(("http://", "https://"))
    assert kind.endswith("_urls") or kind == "array"
    if not isinstance(value, list):
        return False
    if not raw.get("min_items", 0) <= len(value) <= raw.get("max_items", math.inf):
        return False
    if kind.endswith("_urls"):
        return all(isinstance(v, str) and v.startswith(("http://", "https://")) for v in value)
    item_type = raw.get("items", {}).get("type")
    if item_type == "object":
        fields = set(raw["items"]["fields"])
        return all(isinstance(v, dict) and v and set(v) <= fields for v in value)
    return all(isinstance(v, str) and v.strip() for v in value)


def values_for(spec_raw: dict[str, Any]) -> st.SearchStrategy[Any]:
    garbage = st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-(10**6), 10**6),
        st.floats(allow_nan=True, allow_infinity=True),
        st.text(max_size=30),
        st.lists(st.text(max_size=5), max_size=3),
        st.sampled_from(["https://files.example/a.png", "ftp://x/y", "http://"]),
    )
    options = [garbage]
    if spec_raw.get("enum"):
        enum = spec_raw["enum"]
        options.append(st.sampled_from(enum))
        options.append(st.sampled_from([str(o) for o in enum]))
    if spec_raw["type"].endswith("_urls"):
        options.append(st.lists(st.just("https://files.example/a.png"), min_size=1, max_size=12))
    return st.one_of(*options)


@st.composite
def model_and_answers(draw: st.DrawFn) -> tuple[ModelSpec, dict[str, Any]]:
    chosen = draw(st.sampled_from(REGISTRY.enabled()))
    answers: dict[str, Any] = dict(required_answers(chosen)) if draw(st.booleans()) else {}
    names = draw(st.lists(st.sampled_from([s.name for s in chosen.inputs]), max_size=4))
    for name in names:
        answers[name] = draw(values_for(RAW[chosen.id][name]))
    return chosen, answers


@settings(max_examples=400, deadline=None)
@given(model_and_answers())
def test_anything_the_validator_accepts_is_valid_for_kie(case):
    chosen, answers = case
    result = normalize(chosen, answers)
    if isinstance(result, Rejected):
        assert result.reason in {ReasonCode.INVALID_INPUT, ReasonCode.MISSING_INPUT}
        assert result.input_name is not None
        return
    for name, value in result.values.items():
        assert kie_documents_as_valid(RAW[chosen.id][name], value), (name, value)
    required = {s.name for s in chosen.inputs if s.required}
    assert required <= set(result.values)
    json.dumps(dict(result.values))  # always serializable


@pytest.mark.parametrize("chosen", REGISTRY.enabled(), ids=lambda m: m.id)
def test_every_enabled_model_accepts_its_required_answers(chosen):
    accepted(normalize(chosen, required_answers(chosen)))


def test_numbers_kie_wants_as_strings_are_sent_as_strings():
    values = accepted(
        normalize(
            model("ideogram/character"),
            {
                "prompt": "a cat",
                "reference_image_urls": ["https://f.example/a.png"],
                "num_images": 2,
            },
        )
    )
    assert values["num_images"] == "2"


def test_required_inputs_left_out_get_their_documented_default():
    values = accepted(normalize(model("flux-2/flex-text-to-image"), {"prompt": "a cat"}))
    assert values == {"prompt": "a cat", "aspect_ratio": "1:1", "resolution": "1K"}


def test_enum_values_match_regardless_of_case():
    values = accepted(
        normalize(model("flux-2/flex-text-to-image"), {"prompt": "a cat", "resolution": "2k"})
    )
    assert values["resolution"] == "2K"


def test_a_missing_required_input_is_named():
    problem = rejected(normalize(model("flux-2/flex-text-to-image"), {}))
    assert problem.reason is ReasonCode.MISSING_INPUT
    assert problem.input_name == "prompt"


def test_an_unknown_input_is_named():
    problem = rejected(normalize(model("flux-2/flex-text-to-image"), {"prompt": "a", "steps": 3}))
    assert problem == Rejected(
        ReasonCode.INVALID_INPUT, "steps", "flux-2/flex-text-to-image has no input steps"
    )


def test_an_out_of_range_number_is_named():
    chosen = model("bytedance/seedance-2")
    answers = required_answers(chosen) | {"duration": 99}
    problem = rejected(normalize(chosen, answers))
    assert problem.input_name == "duration"
    assert "at most 15" in problem.detail


def test_a_too_long_prompt_is_refused():
    chosen = model("flux-2/flex-text-to-image")
    spec = chosen.input("prompt")
    assert spec is not None
    assert spec.max_length is not None
    problem = rejected(normalize(chosen, {"prompt": "x" * (spec.max_length + 1)}))
    assert problem.input_name == "prompt"


def test_too_many_images_are_refused():
    chosen = model("flux-2/flex-image-to-image")
    answers: dict[str, JsonValue] = {
        "prompt": "a cat",
        "input_urls": ["https://f.example/a.png"] * 9,
    }
    problem = rejected(normalize(chosen, answers))
    assert (problem.input_name, problem.detail) == ("input_urls", "takes at most 8 items")


def test_media_inputs_must_be_http_urls():
    chosen = model("flux-2/flex-image-to-image")
    problem = rejected(normalize(chosen, {"prompt": "a", "input_urls": ["file:///etc/passwd"]}))
    assert problem.input_name == "input_urls"


def test_exactly_one_of_is_enforced_both_ways():
    chosen = model("grok-imagine/image-to-video")
    both: dict[str, JsonValue] = {"image_urls": ["https://f.example/a.png"], "task_id": "task_1"}
    assert rejected(normalize(chosen, both)).reason is ReasonCode.INVALID_INPUT
    neither = rejected(normalize(chosen, {}))
    assert (neither.reason, neither.input_name) == (ReasonCode.MISSING_INPUT, "image_urls")
    accepted(normalize(chosen, {"task_id": "task_1"}))


def test_required_when_follows_the_other_answer():
    chosen = model("kling-3.0/video")
    problem = rejected(normalize(chosen, {"multi_shots": True}))
    assert (problem.reason, problem.input_name) == (ReasonCode.MISSING_INPUT, "multi_prompt")
    accepted(
        normalize(chosen, {"multi_shots": True, "multi_prompt": [{"prompt": "a", "duration": 3}]})
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [("true", True), ("Yes", True), ("да", True), ("off", False), ("нет", False)],
)
def test_typed_booleans(text, expected):
    spec = model("kling-3.0/video").input("sound")
    assert spec is not None
    assert parse_answer(spec, text) is expected


def test_typed_numbers_and_lists():
    duration = model("bytedance/seedance-2").input("duration")
    assert duration is not None
    assert parse_answer(duration, " 7 ") == 7
    assert isinstance(parse_answer(duration, "seven"), Rejected)
    images = model("flux-2/flex-image-to-image").input("input_urls")
    assert images is not None
    urls = ["https://f.example/1.png", "https://f.example/2.png"]
    assert parse_answer(images, urls) == urls
    assert parse_answer(images, json.dumps(urls)) == urls
    shots = model("kling-3.0/video").input("multi_prompt")
    assert shots is not None
    assert parse_answer(shots, ['{"prompt": "a", "duration": 3}']) == [
        {"prompt": "a", "duration": 3}
    ]
    assert isinstance(parse_answer(shots, ["not json"]), Rejected)
