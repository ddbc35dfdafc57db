import json
from decimal import Decimal
from pathlib import Path

import attrs

from kiebot_core.domain.catalog import Category, DisabledReason
from kiebot_core.domain.catalog_sync import catalog_problems
from kiebot_core.domain.pricing import PriceSettings, Quote, cheapest_for_flow, quote
from kiebot_core.domain.registry import build_registry, load_registry, problems
from kiebot_core.domain.texts import Language

SHARED_MODELS = Path(__file__).resolve().parents[3] / "shared" / "kie" / "models.json"

LEGACY = {
    "sora-2-characters",
    "sora-2-characters-pro",
    "sora-2-image-to-video",
    "sora-2-pro-image-to-video",
    "sora-2-pro-storyboard",
    "sora-2-pro-text-to-video",
    "sora-2-text-to-video",
    "sora-watermark-remover",
    "elevenlabs/sound-effect-v2",
    "elevenlabs/speech-to-text",
}
# The catalog has no price for these (ARCHITECTURE.md: disabled unless the operator sets one).
PRICE_UNKNOWN = {
    "omnihuman-1-5/human-identification",
    "omnihuman-1-5/subject-detection",
    "wan/2-6-flash-image-to-video",
    "wan/2-6-flash-video-to-video",
}


def test_registry_covers_all_121_models_with_unique_ids():
    registry = load_registry()
    ids = [model.id for model in registry.models]
    assert len(ids) == 121
    assert len(set(ids)) == 121


def test_exactly_the_documented_models_are_disabled_and_why():
    disabled = load_registry().disabled()
    expected = dict.fromkeys(LEGACY, DisabledReason.LEGACY_UNVERIFIED)
    expected |= dict.fromkeys(PRICE_UNKNOWN, DisabledReason.PRICE_UNKNOWN)
    assert disabled == expected


def test_the_shipped_catalog_passes_every_check_a_synced_one_must_pass():
    # One set of checks (kiebot_core.domain.catalog_sync.catalog_problems) for the shipped
    # catalog and for `kiebot models sync`: no invalid spec, texts in every language, every
    # enabled model passing the load-time checks, every flow in a menu section with a title.
    assert catalog_problems(load_registry()) == []


def test_a_model_with_a_broken_default_is_found_out():
    model = load_registry().get("flux-2/flex-text-to-image")
    assert model is not None
    aspect = model.input("aspect_ratio")
    assert aspect is not None
    broken = attrs.evolve(
        model,
        inputs=tuple(
            attrs.evolve(spec, default="7:5") if spec.name == "aspect_ratio" else spec
            for spec in model.inputs
        ),
    )
    assert problems(broken, load_registry().sections) == [
        "default of aspect_ratio is not in its enum"
    ]


def test_a_rule_naming_an_unknown_input_is_found_out():
    from kiebot_core.domain.catalog import AtLeastOneOf

    model = load_registry().get("flux-2/flex-text-to-image")
    assert model is not None
    broken = attrs.evolve(model, rules=(AtLeastOneOf(("prompt", "nonexistent")),))
    assert "rule names unknown input nonexistent" in problems(broken, load_registry().sections)


def test_an_operator_price_enables_a_model_the_catalog_cannot_price():
    registry = build_registry(price_overrides={"wan/2-6-flash-image-to-video": Decimal(30)})
    model = registry.get("wan/2-6-flash-image-to-video")
    assert model is not None
    assert model.enabled
    assert model.price.credits == Decimal(30)


def test_queries_return_enabled_models_only():
    registry = load_registry()
    videos = registry.by_category(Category.VIDEO)
    assert videos
    assert all(m.category is Category.VIDEO and m.enabled for m in videos)
    assert not any(m.id.startswith("sora-2") for m in videos)
    t2i = registry.by_flow("text_to_image")
    assert "nano-banana-pro" in {m.id for m in t2i}  # a multi-mode model counts for its modes
    popular = registry.popular(5)
    assert [m.popularity for m in popular] == sorted((m.popularity for m in popular), reverse=True)


def test_search_matches_ids_tags_and_titles_in_both_languages():
    registry = load_registry()
    assert registry.search("kling")
    assert all("kling" in m.searchable_text() for m in registry.search("kling"))
    russian_word = load_registry().get("flux-2/flex-image-to-image")
    assert russian_word is not None
    word = russian_word.title(Language.RU).split()[-1]
    assert russian_word in registry.search(word)
    assert registry.search("") == ()
    assert registry.search("no-such-model-anywhere") == ()


def test_cheapest_model_for_a_flow_is_the_lowest_default_price():
    registry = load_registry()
    found = cheapest_for_flow(registry, "text_to_image", PriceSettings())
    assert found is not None
    cheapest, best = found
    assert "text_to_image" in cheapest.flows
    for model in registry.by_flow("text_to_image"):
        other = quote(model, {}, PriceSettings())
        assert isinstance(other, Quote)
        assert best.credits <= other.credits


def test_shipped_machine_layer_is_regenerated_from_the_research_catalog():
    import importlib.util

    script = Path(__file__).resolve().parents[2] / "scripts" / "build_catalog.py"
    spec = importlib.util.spec_from_file_location("build_catalog", script)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    shipped = json.loads(
        (Path(__file__).resolve().parents[2] / module.TARGET.relative_to(module.ROOT)).read_text()
    )
    assert module.build(SHARED_MODELS) == shipped


def test_an_example_that_is_not_one_of_the_choices_is_not_shown():
    flux = load_registry().get("flux-2/flex-text-to-image")
    assert flux is not None
    resolution = flux.input("resolution")
    prompt = flux.input("prompt")
    assert resolution is not None
    assert prompt is not None
    assert resolution.ui.example(Language.EN) == "720p"  # written for video models
    assert resolution.example(Language.EN) is None
    assert prompt.example(Language.RU) == prompt.ui.example(Language.RU)
