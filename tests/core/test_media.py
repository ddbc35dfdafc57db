"""Measuring media length (what per-second prices of an input's length are quoted from)."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kiebot_core.domain import wizard
from kiebot_core.domain.catalog import JsonValue
from kiebot_core.domain.generation import Deadlines, Generation, GenerationState
from kiebot_core.domain.ids import CorrelationId, GenerationId, ProviderTaskId
from kiebot_core.domain.ledger import AccountKind, Balance, settle_key
from kiebot_core.domain.pricing import MediaFacts, PriceSettings, Quote, quote
from kiebot_core.domain.registry import load_registry
from kiebot_core.testing.generation import ScriptedGenerationGateway, succeeds
from kiebot_core.use_cases.generation import GenerationStarted, StartCommand, start_generation
from kiebot_kie.media import media_seconds
from kiebot_kie.sandbox.media import mp4, png, wav
from tests.core.test_pipeline import USER, balance, drive, fund, make_pipeline, start

TOPAZ = "topaz/video-upscale"  # 8 credits a second; the longest case is 60 s
CLIP = "https://files.example/clip.mp4"


def test_audio_and_video_lengths_are_read_and_rounded_up_to_whole_seconds():
    assert media_seconds(wav("a", seconds=3.25)) == Decimal(4)
    assert media_seconds(wav("a", seconds=2)) == Decimal(2)
    assert media_seconds(mp4("v", seconds=7)) == Decimal(7)


def test_files_without_a_length_are_unknown():
    assert media_seconds(png("p")) is None
    assert media_seconds(b"") is None
    assert media_seconds(mp4("v")[:40]) is None


@given(st.binary(max_size=2048))
def test_any_bytes_measure_to_a_positive_length_or_nothing(data: bytes):
    seconds = media_seconds(data)
    assert seconds is None or seconds > 0


@given(st.binary(max_size=512), st.integers(0, 4000))
def test_damaged_media_never_breaks_the_measurement(noise: bytes, cut: int):
    damaged = mp4("v", seconds=3)[:cut] + noise
    seconds = media_seconds(damaged)
    assert seconds is None or seconds > 0


def test_a_measured_file_makes_the_wizard_quote_exact_and_survives_storage():
    registry = load_registry()
    model = registry.get(TOPAZ)
    assert model is not None
    prices = PriceSettings()
    state = wizard.start(model, {"video_url": CLIP})
    state = wizard.skip_all_optional(model, state)
    unknown = wizard.screen(model, state, prices)
    assert isinstance(unknown, wizard.ConfirmScreen)
    assert unknown.quote == quote(model, {"video_url": CLIP}, prices)
    assert getattr(unknown.quote, "is_upper_bound", None) is True
    measured = wizard.with_duration(state, CLIP, Decimal(3))
    exact = wizard.screen(model, measured, prices)
    assert isinstance(exact, wizard.ConfirmScreen)
    assert exact.quote == quote(
        model, {"video_url": CLIP}, prices, MediaFacts(media_seconds=Decimal(3))
    )
    assert getattr(exact.quote, "is_upper_bound", None) is False
    assert getattr(exact.quote, "stars", None) == 20  # 3 s x 8 credits x 0.4 x 2, rounded up
    restored = wizard.load(wizard.dump(measured), registry)
    assert restored == measured
    # A file no longer among the answers does not count; a damaged record is dropped.
    replaced = wizard.with_duration(state, "https://files.example/old.mp4", Decimal(50))
    assert wizard.media_facts(replaced) == MediaFacts()
    bad: dict[str, JsonValue] = {CLIP: "NaN", "x": 5}
    loaded = wizard.load({**wizard.dump(measured), "durations": bad}, registry)
    assert isinstance(loaded, wizard.WizardState)
    assert loaded.durations == {}


RESULT = "https://files.example/upscaled.mp4"


@pytest.mark.parametrize(
    ("measured", "charged"),
    [(Decimal(2), 13), (None, 384)],
    ids=["measured result", "unmeasurable result"],
)
async def test_an_estimated_price_is_charged_by_the_results_measured_length(
    measured: Decimal | None, charged: int
):
    gateway = ScriptedGenerationGateway()
    gateway.script(*succeeds(RESULT))
    if measured is not None:
        gateway.result_lengths[RESULT] = measured
    pipeline = make_pipeline(gateway=gateway)
    await fund(pipeline, 400)
    started = await start(pipeline, {"video_url": CLIP}, model_id=TOPAZ)
    assert started.quote.is_upper_bound
    assert started.quote.stars == 384  # the longest case: 60 s
    assert await balance(pipeline) == Balance(available=16, held=384)
    done = await drive(pipeline, started.generation_id)
    assert done.state is GenerationState.SUCCEEDED
    assert (done.estimated, done.held, done.charged) == (True, 384, charged)
    # The margin report compares KIE's consumption with what the measured run was quoted.
    assert done.credits == (Decimal(16) if measured is not None else Decimal(480))
    assert await balance(pipeline) == Balance(available=400 - charged)
    async with pipeline.uow() as uow:
        settled = await uow.ledger.get(settle_key(done.id))
    assert settled is not None
    assert settled.amount_of(AccountKind.REVENUE) == charged


async def test_an_exact_price_is_never_measured_again():
    gateway = ScriptedGenerationGateway()
    gateway.script(*succeeds(RESULT))
    gateway.result_lengths[RESULT] = Decimal(1)
    pipeline = make_pipeline(gateway=gateway)
    await fund(pipeline, 100)
    started = await start_generation(
        pipeline,
        StartCommand(
            USER,
            TOPAZ,
            {"video_url": CLIP},
            CorrelationId("cor_1"),
            MediaFacts(media_seconds=Decimal(3)),
        ),
    )
    assert isinstance(started, GenerationStarted)
    assert (started.quote.stars, started.quote.is_upper_bound) == (20, False)
    done = await drive(pipeline, started.generation_id)
    assert (done.estimated, done.charged) == (False, 20)
    assert await balance(pipeline) == Balance(available=80)


def test_a_measured_price_never_charges_more_than_the_hold():
    model = load_registry().get(TOPAZ)
    assert model is not None
    gateway_quote = quote(model, {"video_url": CLIP}, PriceSettings())
    assert isinstance(gateway_quote, Quote)
    generation = Generation.start(
        id=GenerationId("gen_1"),
        user_id=USER,
        model_id=TOPAZ,
        category=model.category,
        input={"video_url": CLIP},
        credits=Decimal(8),
        stars=7,
        correlation_id=CorrelationId("cor_1"),
        now=datetime(2026, 1, 1, tzinfo=UTC),
        deadlines=Deadlines(),
        held=7,
        estimated=True,
    )
    running = generation.submitted(ProviderTaskId("task_1"), generation.created_at)
    assert isinstance(running, Generation)
    ready = running.result_ready(running.created_at, urls=(RESULT,), measured=gateway_quote)
    assert isinstance(ready, Generation)
    assert gateway_quote.stars > 7
    assert ready.charged == 7
