from datetime import timedelta
from decimal import Decimal

import pytest

from kiebot_core.domain.catalog import Category
from kiebot_core.domain.generation import TRANSITIONS, Deadlines, Generation, GenerationState
from kiebot_core.domain.ids import CorrelationId, GenerationId, ProviderTaskId, UserId
from kiebot_core.domain.outcomes import Rejected
from kiebot_core.domain.reasons import ReasonCode
from kiebot_core.testing.runtime import EPOCH

LATER = EPOCH + timedelta(seconds=5)


def pending(category: Category = Category.IMAGE) -> Generation:
    return Generation.start(
        id=GenerationId("gen_1"),
        user_id=UserId(7),
        model_id="flux-2/flex-text-to-image",
        category=category,
        input={"prompt": "a cat"},
        credits=Decimal(14),
        stars=12,
        correlation_id=CorrelationId("cor_1"),
        now=EPOCH,
        deadlines=Deadlines(),
    )


def moved(result: Generation | Rejected) -> Generation:
    assert isinstance(result, Generation), result
    return result


def test_the_happy_path_ends_succeeded_with_the_result_recorded():
    generation = moved(pending().submitted(ProviderTaskId("task_1"), LATER))
    generation = moved(generation.running(LATER))
    generation = moved(generation.running(LATER))  # progress reports repeat
    generation = moved(generation.result_ready(LATER, urls=("https://r/1.png",)))
    generation = moved(generation.delivered(LATER, ("file_1",)))
    assert generation.state is GenerationState.SUCCEEDED
    assert generation.task_id == "task_1"
    assert generation.delivered_refs == ("file_1",)
    assert generation.state.is_terminal


@pytest.mark.parametrize(
    "terminal", [GenerationState.SUCCEEDED, GenerationState.FAILED, GenerationState.CANCELLED]
)
def test_moves_after_the_end_are_stale_not_errors(terminal):
    import attrs

    ended = attrs.evolve(pending(), state=terminal)
    late_callback = ended.result_ready(LATER, urls=("https://r/1.png",))
    assert isinstance(late_callback, Rejected)
    assert late_callback.reason is ReasonCode.STALE_ACTION
    assert isinstance(ended.cancelled(LATER), Rejected)
    assert isinstance(ended.failed(ReasonCode.PROVIDER_FAILED, LATER), Rejected)


def test_a_duplicate_submission_is_stale():
    submitted = moved(pending().submitted(ProviderTaskId("task_1"), LATER))
    again = submitted.submitted(ProviderTaskId("task_2"), LATER)
    assert isinstance(again, Rejected)
    assert again.reason is ReasonCode.STALE_ACTION


def test_a_move_the_table_forbids_is_a_bug():
    with pytest.raises(ValueError, match="pending -> succeeded"):
        pending().delivered(LATER, ())


def test_cancel_is_refused_once_the_result_is_being_sent():
    delivering = moved(
        moved(pending().submitted(ProviderTaskId("t"), LATER)).result_ready(LATER, urls=("u",))
    )
    refused = delivering.cancelled(LATER)
    assert isinstance(refused, Rejected)
    failed = moved(delivering.failed(ReasonCode.DELIVERY_FAILED, LATER))
    assert failed.reason is ReasonCode.DELIVERY_FAILED


def test_cancel_records_its_reason():
    cancelled = moved(pending().cancelled(LATER))
    assert (cancelled.state, cancelled.reason) == (GenerationState.CANCELLED, ReasonCode.CANCELLED)


def test_deadlines_follow_the_category():
    assert pending(Category.IMAGE).deadline_at == EPOCH + timedelta(minutes=15)
    video = pending(Category.VIDEO)
    assert video.deadline_at == EPOCH + timedelta(minutes=30)
    assert not video.is_overdue(EPOCH + timedelta(minutes=29))
    assert video.is_overdue(EPOCH + timedelta(minutes=30))


def test_every_live_state_can_still_fail():
    for state, targets in TRANSITIONS.items():
        assert (GenerationState.FAILED in targets) != state.is_terminal
