import json

import pytest

from kiebot_core.domain import wizard
from kiebot_core.domain.catalog import ModelSpec
from kiebot_core.domain.outcomes import Rejected
from kiebot_core.domain.pricing import PriceSettings
from kiebot_core.domain.reasons import ReasonCode
from kiebot_core.domain.registry import load_registry
from kiebot_core.domain.wizard import (
    AskScreen,
    ConfirmScreen,
    Exited,
    Ready,
    StepKind,
    WizardState,
)
from tests.builders import sample_value

REGISTRY = load_registry()
SETTINGS = PriceSettings()


def model(model_id: str) -> ModelSpec:
    found = REGISTRY.get(model_id)
    assert found is not None
    return found


def ok(result: WizardState | Rejected) -> WizardState:
    assert isinstance(result, WizardState), result
    return result


def ask(chosen: ModelSpec, state: WizardState) -> AskScreen:
    shown = wizard.screen(chosen, state, SETTINGS)
    assert isinstance(shown, AskScreen), shown
    return shown


def walk_with_defaults(chosen: ModelSpec) -> WizardState:
    """Answer every asked step the way a hurried user would: defaults, else a sample."""
    state = wizard.start(chosen)
    for _ in range(50):
        if state.is_confirming:
            return state
        shown = ask(chosen, state)
        if shown.can_use_default:
            state = ok(wizard.use_default(chosen, state))
        elif shown.can_skip:
            state = ok(wizard.skip(chosen, state))
        else:
            state = ok(wizard.answer(chosen, state, sample_value(shown.input)))
    pytest.fail("the wizard never reached the confirmation")


@pytest.mark.parametrize("chosen", REGISTRY.enabled(), ids=lambda m: m.id)
def test_every_enabled_model_walks_to_a_priced_confirmation(chosen):
    state = walk_with_defaults(chosen)
    shown = wizard.screen(chosen, state, SETTINGS)
    assert isinstance(shown, ConfirmScreen)
    assert not isinstance(shown.quote, Rejected), shown.quote
    done = wizard.finish(chosen, state, SETTINGS)
    assert isinstance(done, Ready), done
    assert done.quote.stars >= 1


def test_steps_show_progress_and_kinds():
    flux = model("flux-2/flex-image-to-image")
    state = wizard.start(flux)
    first = ask(flux, state)
    assert (first.input.name, first.kind, first.step, first.total) == (
        "input_urls",
        StepKind.MEDIA,
        1,
        4,
    )
    state = ok(wizard.answer(flux, state, ["https://f.example/a.png"]))
    second = ask(flux, state)
    assert (second.input.name, second.kind, second.step) == ("prompt", StepKind.TEXT, 2)
    assert not second.can_skip


def test_choice_buttons_mark_the_current_value_and_price_options_that_change_it():
    flux = model("flux-2/flex-text-to-image")
    state = ok(wizard.answer_text(flux, wizard.start(flux), "a lighthouse"))
    aspect = ask(flux, state)
    assert aspect.input.name == "aspect_ratio"
    assert [o.label for o in aspect.options if o.selected] == ["1:1"]
    assert all(o.stars is None for o in aspect.options)  # aspect ratio does not change the price
    state = ok(wizard.use_default(flux, state))
    resolution = ask(flux, state)
    assert {o.label: o.stars for o in resolution.options} == {"1K": 12, "2K": 20}


def test_options_the_price_table_lacks_are_hidden():
    hailuo = model("hailuo/02-image-to-video-standard")
    state = wizard.start(hailuo, {"duration": "6"})
    state = ok(wizard.edit(hailuo, state, "resolution"))
    assert [o.label for o in ask(hailuo, state).options] == ["512P"]


def test_invalid_text_keeps_the_step_and_names_the_input():
    seedance = model("bytedance/seedance-2")
    state = ok(wizard.edit(seedance, wizard.start(seedance), "duration"))
    problem = wizard.answer_text(seedance, state, "ninety")
    assert isinstance(problem, Rejected)
    assert (problem.reason, problem.input_name) == (ReasonCode.INVALID_INPUT, "duration")


def test_back_returns_to_the_previous_step_and_then_leaves():
    flux = model("flux-2/flex-text-to-image")
    start = wizard.start(flux)
    assert wizard.back(start) == Exited(flux.id)
    second = ok(wizard.answer_text(flux, start, "a cat"))
    previous = wizard.back(second)
    assert isinstance(previous, WizardState)
    assert previous.current == "prompt"
    assert previous.answers == {"prompt": "a cat"}  # nothing typed is lost


def test_skip_is_refused_for_required_inputs_and_allowed_for_optional_ones():
    flux = model("flux-2/flex-text-to-image")
    problem = wizard.skip(flux, wizard.start(flux))
    assert isinstance(problem, Rejected)
    assert problem.reason is ReasonCode.MISSING_INPUT
    nano = model("nano-banana-pro")
    state = wizard.start(nano, {"prompt": "a cat"})
    optional = ask(nano, state)
    assert optional.can_skip
    assert ok(wizard.skip(nano, state)).current != optional.input.name


def test_skip_all_optional_stops_at_a_required_step_without_default():
    flux = model("flux-2/flex-image-to-image")
    state = wizard.skip_all_optional(flux, wizard.start(flux))
    assert state.current == "input_urls"
    state = ok(wizard.answer(flux, state, ["https://f.example/a.png"]))
    state = wizard.skip_all_optional(flux, state)
    assert state.current == "prompt"
    state = ok(wizard.answer_text(flux, state, "make it night"))
    state = wizard.skip_all_optional(flux, state)
    assert state.is_confirming
    done = wizard.finish(flux, state, SETTINGS)
    assert isinstance(done, Ready)
    assert done.input.values["resolution"] == "1K"  # required default filled in


def test_edit_from_the_confirmation_comes_straight_back():
    flux = model("flux-2/flex-text-to-image")
    state = wizard.start(flux, {"prompt": "a cat", "aspect_ratio": "1:1", "resolution": "1K"})
    assert state.is_confirming
    confirm = wizard.screen(flux, state, SETTINGS)
    assert isinstance(confirm, ConfirmScreen)
    assert [spec.name for spec in confirm.advanced] == ["nsfw_checker"]
    state = ok(wizard.edit(flux, state, "resolution"))
    state = ok(wizard.answer_text(flux, state, "2K"))
    assert state.is_confirming
    confirm = wizard.screen(flux, state, SETTINGS)
    assert isinstance(confirm, ConfirmScreen)
    assert not isinstance(confirm.quote, Rejected)
    assert confirm.quote.stars == 20
    advanced = ok(wizard.edit(flux, state, "nsfw_checker"))
    assert ask(flux, advanced).kind is StepKind.TOGGLE


def test_list_steps_collect_items_until_done_or_full():
    flux = model("flux-2/flex-image-to-image")
    state = wizard.start(flux)
    assert not ask(flux, state).can_finish_list
    state = ok(wizard.add_item(flux, state, "https://f.example/1.png"))
    assert state.current == "input_urls"
    assert ask(flux, state).can_finish_list
    state = ok(wizard.finish_list(flux, state))
    assert state.current == "prompt"
    assert state.answers["input_urls"] == ["https://f.example/1.png"]
    single = model("happyhorse-1-1/image-to-video")  # takes exactly one image
    moved = ok(wizard.add_item(single, wizard.start(single), "https://f.example/1.png"))
    assert moved.current != "image_urls"


def test_a_choice_answered_drops_the_other_member_of_exactly_one_of():
    grok = model("grok-imagine/image-to-video")
    state = wizard.start(grok)
    assert state.current == "image_urls"
    state = ok(wizard.answer(grok, state, ["https://f.example/a.png"]))
    assert "task_id" not in wizard.steps(grok, state.answers)


def test_required_when_adds_its_step_only_when_it_applies():
    kling = model("kling-3.0/video")
    single = wizard.steps(kling, {"multi_shots": False})
    multi = wizard.steps(kling, {"multi_shots": True})
    assert "multi_prompt" not in single
    assert "prompt" in single
    assert "multi_prompt" in multi


def test_a_preset_prefills_and_skips_answered_steps():
    flux = model("flux-2/flex-text-to-image")
    state = wizard.start(flux, {"prompt": "poster of a jazz night", "aspect_ratio": "9:16"})
    assert state.current == "resolution"
    dropped = wizard.start(flux, {"prompt": "x", "aspect_ratio": "7:5", "bogus": 1})
    assert dropped.answers == {"prompt": "x"}


def test_state_survives_a_json_round_trip():
    flux = model("flux-2/flex-text-to-image")
    state = ok(wizard.answer_text(flux, wizard.start(flux), "a cat"))
    stored = json.loads(json.dumps(wizard.dump(state)))
    assert wizard.load(stored, REGISTRY) == state


@pytest.mark.parametrize(
    "damage",
    [
        {"v": 0},
        {"model_id": "no/such-model"},
        {"model_id": "sora-2-text-to-video"},  # disabled since
        {"answers": {"resolution": "16K"}},
        {"current": "no_such_input"},
        {"history": "prompt"},
    ],
)
def test_a_stored_wizard_that_no_longer_fits_is_rejected_cleanly(damage):
    flux = model("flux-2/flex-text-to-image")
    stored = wizard.dump(ok(wizard.answer_text(flux, wizard.start(flux), "a cat"))) | damage
    result = wizard.load(stored, REGISTRY)
    assert isinstance(result, Rejected)
    assert result.reason is ReasonCode.WIZARD_EXPIRED


def test_finish_names_the_input_a_rule_needs():
    grok = model("grok-imagine/image-to-video")
    state = wizard.skip_all_optional(grok, wizard.start(grok))
    done = wizard.finish(grok, state, SETTINGS)
    assert isinstance(done, Rejected)
    assert done.input_name == "image_urls"
