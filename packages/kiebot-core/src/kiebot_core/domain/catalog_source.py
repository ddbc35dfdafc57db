"""The KIE research catalog (``kie/models.json``) turned into the registry's machine layer.

The research catalog is transcribed from KIE's pages; the machine layer (``data/catalog.json``)
is what the registry loads. ``scripts/build_catalog.py`` writes the shipped machine layer with
:func:`machine_layer`, and ``kiebot models sync`` converts a newer research catalog with the
same function, so a synced catalog and a shipped one are built by one set of rules.
"""

from collections.abc import Mapping
from typing import Any

# How a price row is multiplied, by the catalog's free-text "unit". Bases:
#   run        one charge per task
#   output     one charge per produced file (times the count input, when the model has one)
#   second     per second of output (the duration input) or of the user's media
#   megapixel  per megapixel of output (image_size preset times the count input)
#   kchar      per 1000 characters of the text input(s)
BASIS_BY_UNIT_PREFIX = (
    ("per image", "output"),
    ("per megapixel", "megapixel"),
    ("per 1000 characters", "kchar"),
    ("per 5-second video", "run"),
    ("per second", "second"),
    ("per request", "run"),
    ("per video", "run"),
    ("per upscale", "run"),
    ("per extension", "run"),
    ("unclear", "run"),
)

COUNT_INPUTS = ("num_images", "n")
DURATION_INPUTS = ("duration", "duration_seconds")
FRAMES_INPUTS = ("num_frames", "frames_per_second")

# Per-second models whose billed length comes from the user's media (no duration input), or
# whose duration input may be left to KIE. The hold uses this longest case until the pipeline
# knows the real length; the numbers come from each model's documented media limits.
MAX_BILLED_SECONDS = {
    "happyhorse/video-edit": 60,  # "3-60 s"
    "infinitalk/from-audio": 15,  # pricing row: "up to 15 seconds"
    "kling-2.6/motion-control": 30,  # motion video "3-30 s"
    "kling-3.0/motion-control": 30,  # same family limit
    "kling/ai-avatar-pro": 300,  # audio "up to 5 minutes"
    "kling/ai-avatar-standard": 300,
    "omnihuman-1-5": 60,  # audio "under 60 s"
    "topaz/video-upscale": 60,  # no documented limit; 50 MB cap, one minute assumed
    "volcengine/video-to-video-lip-sync": 240,  # audio "lite 1-240 s"
    "wan/2-2-animate-move": 30,  # no documented limit; 10 MB cap, 30 s assumed
    "wan/2-2-animate-replace": 30,
    "wan/2-7-videoedit": 10,  # "2-10 s"
    "elevenlabs/audio-isolation": 300,  # 10 MB of audio, five minutes assumed
    "grok-imagine/image-to-video": 30,  # duration optional, 6-30 s
    "grok-imagine/text-to-video": 30,
    "bytedance/seedance-1.5-pro": 12,  # duration optional, 4-12 s
    "elevenlabs/sound-effect-v2": 22,  # duration_seconds optional, up to 22 s
}

# Count inputs without a documented default: the number of files KIE makes when it is omitted.
COUNT_WHEN_OMITTED = {
    "wan/2-7-image": 12,  # "1-4 (default 4) normally, 1-12 (default 12) in sequential mode"
    "wan/2-7-image-pro": 12,
}

# Per-megapixel models whose output size follows the input image: the largest documented
# output (2048 x 2048) is held.
MAX_MEGAPIXELS = {"qwen/image-to-image": "4.194304"}

# Transcription slips in the research catalog, corrected here so the registry's load-time checks
# pass; each is a placeholder or a label where KIE means a plain value.
WHEN_VALUE_ERRATA = {
    # The price rows carry the pricing page's labels; the input's enum is std|pro.
    ("kling-3.0/motion-control", "mode"): {"std (720p)": "std", "pro (1080p)": "pro"},
}

INPUT_KEYS = (
    "name",
    "type",
    "required",
    "default",
    "enum",
    "value_type",
    "min",
    "max",
    "min_length",
    "max_length",
    "min_items",
    "max_items",
    "items",
    "description",
)


def _default(item: Mapping[str, Any]) -> Any:  # a JSON value
    """The documented default, without the placeholders some pages show ("" or [""])."""
    default = item.get("default")
    if default == "" and "" not in item.get("enum", [""]):
        return None  # e.g. language_code "": "detect automatically", not an enum member
    if isinstance(default, list) and not any(default):
        return None  # e.g. image_urls [""]: an empty example, not a usable default
    return default


def _basis(unit: str) -> str:
    for prefix, basis in BASIS_BY_UNIT_PREFIX:
        if unit.startswith(prefix):
            return basis
    raise ValueError(f"unknown price unit {unit!r}: extend BASIS_BY_UNIT_PREFIX")


def _decimal_text(value: float | None) -> str | None:
    # repr() of a float from JSON is the shortest exact decimal of what the file says.
    return None if value is None else repr(float(value)).removesuffix(".0")


def _price(model: Mapping[str, Any]) -> dict[str, Any]:
    price = model["price"]
    names = {item["name"] for item in model["inputs"]}
    basis = _basis(price["unit"])
    rows = [
        {
            "when": {
                key: [
                    WHEN_VALUE_ERRATA.get((model["id"], key), {}).get(alt, alt)
                    for alt in (value.split("|") if isinstance(value, str) else [value])
                ]
                for key, value in row["when"].items()
            },
            "credits": _decimal_text(row["credits"]),
        }
        for row in price.get("table") or []
    ]
    out: dict[str, Any] = {
        "basis": basis,
        "unit": price["unit"],
        "credits": _decimal_text(price["credits"]),
        "rows": rows,
        "count_input": next((n for n in COUNT_INPUTS if n in names), None),
        "count_when_omitted": COUNT_WHEN_OMITTED.get(model["id"], 1),
    }
    if basis == "second":
        out["duration_input"] = next((n for n in DURATION_INPUTS if n in names), None)
        out["max_seconds"] = MAX_BILLED_SECONDS.get(model["id"])
        # Billed length = frames / frames per second (Wan speech-to-video).
        out["frames_inputs"] = (
            list(FRAMES_INPUTS)
            if set(FRAMES_INPUTS) <= names and not out["duration_input"]
            else None
        )
    if basis == "megapixel":
        out["max_megapixels"] = MAX_MEGAPIXELS.get(model["id"])
    return out


def _input(item: Mapping[str, Any]) -> dict[str, Any]:
    return {key: item[key] for key in INPUT_KEYS if key in item} | {"default": _default(item)}


def is_research_catalog(raw: Mapping[str, Any]) -> bool:
    """True when ``raw`` has the research catalog's shape (models with a ``result`` object)."""
    models = raw.get("models")
    return (
        isinstance(models, list)
        and bool(models)
        and all(
            isinstance(model, dict) and isinstance(model.get("result"), dict) for model in models
        )
    )


def machine_layer(raw: Mapping[str, Any]) -> dict[str, Any]:
    """The machine layer built from the research catalog ``raw`` (parsed ``models.json``).

    Raises ValueError (or KeyError / TypeError) when ``raw`` is not a research catalog.
    """
    models = [
        {
            "id": model["id"],
            "family": model["family"],
            "category": model["category"],
            "flow": model["flow"],
            "modes": model.get("modes", []),
            "status": model["status"],
            "inputs": [_input(item) for item in model["inputs"]],
            "result_kind": model["result"]["kind"],
            "price": _price(model),
            "notes": model.get("uncertain", []),
            "doc_url": model["doc_url"],
        }
        for model in raw["models"]
    ]
    return {"generated_from": "shared/kie/models.json", "models": models}
