from decimal import Decimal

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from kiebot_core.domain.catalog import DisabledReason, JsonValue, ModelSpec, PriceBasis
from kiebot_core.domain.outcomes import Rejected
from kiebot_core.domain.pricing import (
    MediaFacts,
    PriceLine,
    PriceSettings,
    Quote,
    cheaper_alternative,
    credits_for,
    option_prices,
    price_lines,
    quote,
    starting_price,
)
from kiebot_core.domain.reasons import ReasonCode
from kiebot_core.domain.registry import load_registry
from tests.builders import required_answers

REGISTRY = load_registry()
DEFAULT = PriceSettings()


def model(model_id: str) -> ModelSpec:
    found = REGISTRY.get(model_id)
    assert found is not None
    return found


def priced(result: Quote | Rejected) -> Quote:
    assert isinstance(result, Quote), result
    return result


def test_stars_are_credits_times_rate_and_markup_rounded_up():
    # 14 credits x 0.4 Stars x (1 + 100 %) = 11.2 -> 12 Stars
    found = priced(quote(model("flux-2/flex-text-to-image"), {"resolution": "1K"}, DEFAULT))
    assert (found.credits, found.stars, found.is_upper_bound) == (Decimal(14), 12, False)
    assert (
        priced(quote(model("flux-2/flex-text-to-image"), {"resolution": "2K"}, DEFAULT)).stars
        == 20
    )


@pytest.mark.parametrize(
    ("settings", "credits", "stars"),
    [
        (PriceSettings(), Decimal("0.2"), 1),  # 0.16 -> 1, and never below the minimum
        (PriceSettings(min_stars=5), Decimal(1), 5),
        (PriceSettings(markup_percent=0), Decimal(10), 4),
        (PriceSettings(stars_per_credit=Decimal(1), markup_percent=50), Decimal(3), 5),  # 4.5
    ],
)
def test_conversion_rounds_up_and_respects_the_minimum(settings, credits, stars):
    assert settings.to_stars(credits) == stars


def test_per_second_prices_multiply_by_the_duration():
    kling = model("kling-3.0/video")
    found = credits_for(kling, {"mode": "pro", "sound": True, "duration": "10"})
    assert found == (Decimal(270), False)  # 27 credits/s x 10 s


def test_a_row_that_ignores_a_key_applies_whatever_its_value():
    kling = model("kling-3.0/video")
    assert credits_for(kling, {"mode": "4K", "sound": True, "duration": "5"}) == (
        Decimal(335),
        False,
    )


def test_the_length_of_the_users_media_is_billed_when_known_else_the_longest_case():
    avatar = model("kling/ai-avatar-standard")
    assert credits_for(avatar, {}, MediaFacts(media_seconds=Decimal(12))) == (Decimal(96), False)
    assert credits_for(avatar, {}) == (Decimal(8 * 300), True)


def test_frames_over_frame_rate_give_the_billed_seconds():
    speech = model("wan/2-2-a14b-speech-to-video-turbo")
    amount, is_upper_bound = priced_amount(credits_for(speech, {"resolution": "480p"}))
    # 80 frames at 16 fps = 5 s
    assert not is_upper_bound
    assert amount == 5 * min(row.credits for row in speech.price.rows)


def priced_amount(result: tuple[Decimal, bool] | Rejected) -> tuple[Decimal, bool]:
    assert not isinstance(result, Rejected), result
    return result


def test_per_megapixel_prices_follow_the_image_size_preset_and_count():
    qwen = model("qwen/image-edit")
    one = priced_amount(credits_for(qwen, {"image_size": "square_hd", "num_images": "1"}))[0]
    four = priced_amount(credits_for(qwen, {"image_size": "square_hd", "num_images": "4"}))[0]
    assert one == Decimal(6) * Decimal("1.048576")
    assert four == 4 * one


def test_per_character_prices_count_the_text():
    tts = model("elevenlabs/text-to-speech-turbo-2-5")
    assert credits_for(tts, {"text": "x" * 500}) == (Decimal(3), False)  # 6 per 1000 chars


def test_per_image_prices_multiply_by_the_count_input():
    ideogram = model("ideogram/character")
    one = priced_amount(credits_for(ideogram, {"rendering_speed": "TURBO", "num_images": "1"}))
    three = priced_amount(credits_for(ideogram, {"rendering_speed": "TURBO", "num_images": "3"}))
    assert three[0] == 3 * one[0]


def test_a_combination_missing_from_the_table_is_not_offered():
    hailuo = model("hailuo/02-image-to-video-standard")
    problem = quote(hailuo, {"duration": "6", "resolution": "768P"}, DEFAULT)
    assert isinstance(problem, Rejected)
    assert problem.reason is ReasonCode.PRICE_UNKNOWN
    prices = option_prices(hailuo, {"duration": "6"}, "resolution", ("512P", "768P"), DEFAULT)
    assert prices["768P"] is None
    assert prices["512P"] is not None


def test_derived_facts_pick_their_rows():
    seedance = model("bytedance/seedance-2")
    with_video: dict[str, JsonValue] = {
        "resolution": "480p",
        "duration": 5,
        "reference_video_urls": ["https://f/v.mp4"],
    }
    without: dict[str, JsonValue] = {"resolution": "480p", "duration": 5}
    assert credits_for(seedance, with_video) == (Decimal("11.4") * 5, False)
    assert credits_for(seedance, without) == (Decimal(19) * 5, False)
    upscale = model("topaz/image-upscale")
    assert credits_for(upscale, {}) == (Decimal(40), True)  # size unknown: the 8K tier is held
    small = MediaFacts(output_pixels=1024 * 1024)
    assert credits_for(upscale, {}, small) == (Decimal(10), False)


@pytest.mark.parametrize("chosen", REGISTRY.enabled(), ids=lambda m: m.id)
def test_every_enabled_model_has_a_positive_price_for_its_defaults(chosen):
    found = priced(quote(chosen, required_answers(chosen), DEFAULT))
    assert found.credits >= 0
    assert found.stars >= DEFAULT.min_stars
    assert starting_price(chosen, DEFAULT) is not None


@given(st.integers(4, 14))
def test_a_longer_video_never_costs_less(seconds):
    seedance = model("bytedance/seedance-2")
    shorter = priced_amount(credits_for(seedance, {"resolution": "720p", "duration": seconds}))
    longer = priced_amount(credits_for(seedance, {"resolution": "720p", "duration": seconds + 1}))
    assert longer[0] > shorter[0]


@given(st.decimals(min_value=0, max_value=10**6, places=3), st.integers(0, 500))
def test_stars_never_undercharge_the_marked_up_credits(credits, markup):
    settings = PriceSettings(markup_percent=markup)
    stars = settings.to_stars(credits)
    assert isinstance(stars, int)
    exact = credits * settings.stars_per_credit * (100 + markup) / 100
    assert stars >= exact
    assert stars - exact < 1 or stars == settings.min_stars


def test_price_lines_are_the_table_rows_in_credits_and_stars():
    flux = model("flux-2/flex-text-to-image")
    lines = price_lines(flux, DEFAULT)
    assert [(line.when, line.credits) for line in lines] == [
        (row.when, row.credits) for row in flux.price.rows
    ]
    assert all(line.stars == DEFAULT.to_stars(line.credits) for line in lines)
    assert starting_price(flux, DEFAULT) == min(line.stars for line in lines)


def test_a_flat_rate_is_one_unconditional_line_and_no_price_none():
    assert price_lines(model("z-image"), DEFAULT) == (PriceLine({}, Decimal("0.8"), 1),)
    unpriced = model("wan/2-6-flash-video-to-video")
    assert price_lines(unpriced, DEFAULT) == ()
    assert starting_price(unpriced, DEFAULT) is None


WHOLE_RUN = {PriceBasis.RUN, PriceBasis.OUTPUT}


def test_the_cheaper_alternative_is_the_cheapest_other_whole_run_model_of_the_flow():
    pro = model("nano-banana-pro")
    current = priced(quote(pro, {}, DEFAULT))
    found = cheaper_alternative(REGISTRY, pro, current, DEFAULT)
    assert found is not None
    assert (found.flow, found.flow_title) == (pro.flow, REGISTRY.flow_titles[pro.flow])
    assert found.model.id != pro.id
    assert found.model.enabled
    assert found.model.flow == pro.flow
    assert found.stars == starting_price(found.model, DEFAULT)
    assert found.stars < current.stars
    for other in REGISTRY.by_flow(pro.flow):
        if other.flow == pro.flow and other.price.basis in WHOLE_RUN:
            assert found.stars <= (starting_price(other, DEFAULT) or 0)


def test_a_per_unit_starting_price_is_never_offered_as_cheaper():
    kling = model("kling-3.0/video")
    current = priced(quote(kling, {"duration": "5"}, DEFAULT))
    per_second = [
        m
        for m in REGISTRY.by_flow(kling.flow)
        if m.flow == kling.flow and m.id != kling.id and m.price.basis is PriceBasis.SECOND
    ]
    assert min(starting_price(m, DEFAULT) or 0 for m in per_second) < current.stars
    found = cheaper_alternative(REGISTRY, kling, current, DEFAULT)
    assert found is not None
    assert found.model.price.basis in WHOLE_RUN


def test_a_model_doing_the_flow_only_as_an_extra_mode_is_not_compared():
    edit = model("wan/2-6-video-to-video")
    omni = model("gemini-omni-video")  # from 72 stars, but 192 with a video input
    assert edit.flow in omni.flows
    assert edit.flow != omni.flow
    current = priced(quote(edit, required_answers(edit), DEFAULT))
    assert (starting_price(omni, DEFAULT) or 0) < current.stars
    assert cheaper_alternative(REGISTRY, edit, current, DEFAULT) is None


def test_nothing_cheaper_or_an_upper_bound_gives_no_alternative():
    cheapest = model("z-image")
    assert (
        cheaper_alternative(REGISTRY, cheapest, priced(quote(cheapest, {}, DEFAULT)), DEFAULT)
        is None
    )
    pro = model("nano-banana-pro")
    estimate = Quote(pro.id, Decimal(1000), 800, is_upper_bound=True)
    assert cheaper_alternative(REGISTRY, pro, estimate, DEFAULT) is None


def test_the_model_itself_is_never_suggested():
    cheapest = model("z-image")
    found = cheaper_alternative(
        REGISTRY, cheapest, Quote(cheapest.id, Decimal(1000), 800), DEFAULT
    )
    assert found is not None
    assert found.model.id != cheapest.id


def test_a_disabled_model_is_never_suggested():
    pro = model("nano-banana-pro")
    current = priced(quote(pro, {}, DEFAULT))
    usual = cheaper_alternative(REGISTRY, pro, current, DEFAULT)
    assert usual is not None
    switched_off = REGISTRY.with_models(
        [
            attrs.evolve(m, disabled=DisabledReason.OPERATOR) if m.id == usual.model.id else m
            for m in REGISTRY.models
        ]
    )
    instead = cheaper_alternative(switched_off, pro, current, DEFAULT)
    assert instead is not None
    assert instead.model.id != usual.model.id
    assert instead.model.enabled
