"""Sample values and answers that satisfy any registry input, for walking models in tests."""

import math

from kiebot_core.domain.catalog import (
    AtLeastOneOf,
    ExactlyOneOf,
    InputKind,
    InputSpec,
    JsonValue,
    MediaKind,
    ModelSpec,
    RequiredWhen,
)

SAMPLE_URL = {
    MediaKind.IMAGE: "https://files.example/photo.png",
    MediaKind.VIDEO: "https://files.example/clip.mp4",
    MediaKind.AUDIO: "https://files.example/voice.wav",
}


def _sample_text(spec: InputSpec) -> str:
    if spec.minimum is not None or spec.maximum is not None:
        return str(int(spec.minimum if spec.minimum is not None else spec.maximum or 1))
    text = "a red fox in the snow"
    if spec.min_length is not None and len(text) < spec.min_length:
        text = text.ljust(spec.min_length, ".")
    return text[: spec.max_length] if spec.max_length is not None else text


def _sample_number(spec: InputSpec) -> int | float:
    low = spec.minimum if spec.minimum is not None else 1
    return math.ceil(low) if spec.kind is InputKind.INTEGER else low


def sample_value(spec: InputSpec) -> JsonValue:
    """A valid value for ``spec`` (the default when it has one)."""
    if spec.has_default:
        return spec.default
    media = spec.media_kind
    count = max(spec.min_items or 1, 1)
    match spec.kind:
        case InputKind.STRING:
            return _sample_text(spec)
        case InputKind.ENUM:
            return (spec.enum or ("",))[0]
        case InputKind.BOOLEAN:
            return False
        case InputKind.INTEGER | InputKind.NUMBER:
            return _sample_number(spec)
        case InputKind.IMAGE_URL | InputKind.VIDEO_URL | InputKind.AUDIO_URL:
            assert media is not None
            return SAMPLE_URL[media]
        case InputKind.IMAGE_URLS | InputKind.VIDEO_URLS | InputKind.AUDIO_URLS:
            assert media is not None
            return [SAMPLE_URL[media]] * count
        case InputKind.ARRAY:
            if spec.item_type == "object":
                return [dict.fromkeys(spec.item_fields, "1")] * count
            return ["item_1"] * count


def required_answers(model: ModelSpec) -> dict[str, JsonValue]:
    """Values for every input the model needs (required ones, and one of each choice rule)."""
    answers = {spec.name: sample_value(spec) for spec in model.inputs if spec.required}
    for rule in model.rules:
        match rule:
            case ExactlyOneOf(inputs) | AtLeastOneOf(inputs):
                first = model.input(inputs[0])
                assert first is not None
                answers[first.name] = sample_value(first)
            case RequiredWhen(name, _):
                spec = model.input(name)
                assert spec is not None
                answers[name] = sample_value(spec)
    return answers
