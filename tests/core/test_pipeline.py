from collections import deque
from datetime import timedelta

import attrs
import pytest

from kiebot_core.domain.errors import DeliveryError, ProviderError
from kiebot_core.domain.generation import GenerationState
from kiebot_core.domain.ids import CorrelationId, GenerationId, ProviderTaskId, UserId
from kiebot_core.domain.ledger import Balance, LedgerKind, grant
from kiebot_core.domain.outcomes import Rejected
from kiebot_core.domain.reasons import ReasonCode
from kiebot_core.domain.registry import load_registry
from kiebot_core.testing.delivery import RecordingDelivery
from kiebot_core.testing.generation import ScriptedGenerationGateway, fails, lost, succeeds
from kiebot_core.testing.memory import MemoryDatabase, MemoryUnitOfWorkFactory
from kiebot_core.testing.runtime import FrozenClock, SequentialIds
from kiebot_core.use_cases.generation import (
    GenerationStarted,
    Pipeline,
    PipelineSettings,
    StartCommand,
    cancel_generation,
    on_provider_callback,
    resume_unfinished,
    run_due_jobs,
    start_generation,
)

USER = UserId(42)
FLUX = "flux-2/flex-text-to-image"  # 14 credits = 12 Stars at 1K


async def registry():
    return load_registry()


def make_pipeline(
    *,
    database: MemoryDatabase | None = None,
    gateway: ScriptedGenerationGateway | None = None,
    delivery: RecordingDelivery | None = None,
    settings: PipelineSettings | None = None,
    ids: SequentialIds | None = None,
) -> Pipeline:
    clock = FrozenClock()
    return Pipeline(
        uow=MemoryUnitOfWorkFactory(database or MemoryDatabase(clock)),
        gateway=gateway or ScriptedGenerationGateway(),
        delivery=delivery or RecordingDelivery(),
        clock=(database.clock if database else clock),
        ids=ids or SequentialIds(),
        registry=registry,
        settings=settings or PipelineSettings(),
    )


async def fund(pipeline: Pipeline, stars: int) -> None:
    async with pipeline.uow() as uow:
        planned = grant(USER, stars, f"test-{stars}")
        assert not isinstance(planned, Rejected)
        await uow.ledger.append(planned)
        await uow.commit()


async def balance(pipeline: Pipeline) -> Balance:
    async with pipeline.uow() as uow:
        return await uow.ledger.balance(USER)


async def generation(pipeline: Pipeline, generation_id: GenerationId):
    async with pipeline.uow() as uow:
        found = await uow.generations.get(generation_id)
    assert found is not None
    return found


async def drive(pipeline: Pipeline, generation_id: GenerationId, *, step=timedelta(seconds=1)):
    """Run jobs, moving the clock, until the generation ends and no job is due."""
    clock = pipeline.clock
    assert isinstance(clock, FrozenClock)
    for _ in range(5000):
        ran = await run_due_jobs(pipeline)
        current = await generation(pipeline, generation_id)
        if current.state.is_terminal and ran == 0:
            return current
        if ran == 0:
            clock.advance(step)
    pytest.fail("the generation never ended")


async def start(pipeline: Pipeline, answers=None, model_id=FLUX) -> GenerationStarted:
    started = await start_generation(
        pipeline,
        StartCommand(USER, model_id, answers or {"prompt": "a fox"}, CorrelationId("cor_1")),
    )
    assert isinstance(started, GenerationStarted), started
    return started


async def test_a_generation_is_held_submitted_tracked_delivered_and_captured():
    pipeline = make_pipeline()
    await fund(pipeline, 100)
    started = await start(pipeline)
    assert started.quote.stars == 12
    assert await balance(pipeline) == Balance(available=88, held=12)
    done = await drive(pipeline, started.generation_id)
    assert done.state is GenerationState.SUCCEEDED
    assert done.delivered_refs
    assert await balance(pipeline) == Balance(available=88, held=0)
    async with pipeline.uow() as uow:
        kinds = [t.kind for t in await uow.ledger.history(USER, limit=10)]
        every = [e.kind for e in await uow.events.chain(CorrelationId("cor_1"))]
    chain = [kind for kind in every if kind.startswith("generation.")]
    assert kinds == [LedgerKind.CAPTURE, LedgerKind.HOLD, LedgerKind.GRANT]
    assert chain == [
        "generation.started",
        "generation.submitted",
        "generation.running",
        "generation.result_ready",
        "generation.delivered",
    ]
    assert [kind for kind in every if kind.startswith("ledger.")] == [
        "ledger.hold",
        "ledger.capture",
    ]
    assert every.count("kie.create") == 1
    assert every.count("kie.status") >= 1
    assert {"job.submit", "job.track", "job.deliver"} <= set(every)
    gateway = pipeline.gateway
    assert isinstance(gateway, ScriptedGenerationGateway)
    assert [r.input for r in gateway.submitted] == [
        {"prompt": "a fox", "aspect_ratio": "1:1", "resolution": "1K"}
    ]


async def test_a_request_handled_again_gets_the_generation_it_started_not_a_second():
    pipeline = make_pipeline()
    await fund(pipeline, 100)

    async def confirm(request: str) -> GenerationStarted:
        command = StartCommand(
            USER, FLUX, {"prompt": "a fox"}, CorrelationId("cor_1"), request=request
        )
        started = await start_generation(pipeline, command)
        assert isinstance(started, GenerationStarted), started
        return started

    first = await confirm("tg:7:1001")
    again = await confirm("tg:7:1001")  # the same update, handled again after a crash
    other = await confirm("tg:7:1002")
    assert again.generation_id == first.generation_id
    assert other.generation_id != first.generation_id
    async with pipeline.uow() as uow:
        runs = await uow.generations.for_user(USER, limit=10)
        holds = [t for t in await uow.ledger.history(USER, limit=10) if t.kind is LedgerKind.HOLD]
    assert len(runs) == 2
    assert len(holds) == 2
    assert (await balance(pipeline)).held == 2 * first.quote.stars


async def test_a_short_balance_is_rejected_and_nothing_is_stored_or_sent():
    pipeline = make_pipeline()
    await fund(pipeline, 5)
    refused = await start_generation(
        pipeline, StartCommand(USER, FLUX, {"prompt": "a fox"}, CorrelationId("c"))
    )
    assert isinstance(refused, Rejected)
    assert refused.reason is ReasonCode.INSUFFICIENT_BALANCE
    assert await balance(pipeline) == Balance(available=5)
    assert await run_due_jobs(pipeline) == 0


async def test_invalid_input_is_rejected_before_anything_reaches_the_provider():
    pipeline = make_pipeline()
    await fund(pipeline, 100)
    refused = await start_generation(
        pipeline, StartCommand(USER, FLUX, {"prompt": "a", "resolution": "8K"}, CorrelationId("c"))
    )
    assert isinstance(refused, Rejected)
    assert (refused.reason, refused.input_name) == (ReasonCode.INVALID_INPUT, "resolution")
    assert await run_due_jobs(pipeline) == 0
    gateway = pipeline.gateway
    assert isinstance(gateway, ScriptedGenerationGateway)
    assert gateway.submitted == []


@pytest.mark.parametrize("model_id", ["no/such-model", "sora-2-text-to-video"])
async def test_unknown_and_disabled_models_are_rejected(model_id):
    refused = await start_generation(
        make_pipeline(), StartCommand(USER, model_id, {}, CorrelationId("c"))
    )
    assert isinstance(refused, Rejected)
    assert refused.reason in {ReasonCode.MODEL_UNKNOWN, ReasonCode.MODEL_DISABLED}


async def test_a_failed_task_is_released_and_the_user_is_told_why():
    gateway = ScriptedGenerationGateway()
    gateway.script(*fails(ReasonCode.CONTENT_POLICY, "flagged"))
    delivery = RecordingDelivery()
    pipeline = make_pipeline(gateway=gateway, delivery=delivery)
    await fund(pipeline, 100)
    started = await start(pipeline)
    done = await drive(pipeline, started.generation_id)
    assert (done.state, done.reason) == (GenerationState.FAILED, ReasonCode.CONTENT_POLICY)
    assert await balance(pipeline) == Balance(available=100)
    assert [g.id for g in delivery.failures] == [started.generation_id]
    assert delivery.delivered == []


async def test_a_task_lost_at_the_provider_times_out_at_the_deadline():
    gateway = ScriptedGenerationGateway()
    gateway.script(*lost())
    delivery = RecordingDelivery()
    pipeline = make_pipeline(gateway=gateway, delivery=delivery)
    await fund(pipeline, 100)
    started = await start(pipeline)
    done = await drive(pipeline, started.generation_id, step=timedelta(seconds=30))
    assert (done.state, done.reason) == (GenerationState.FAILED, ReasonCode.PROVIDER_TIMEOUT)
    assert done.updated_at - done.created_at >= timedelta(minutes=15)
    assert await balance(pipeline) == Balance(available=100)
    assert len(delivery.failures) == 1


async def test_a_passing_submit_failure_is_retried_and_a_final_one_fails_at_once():
    gateway = ScriptedGenerationGateway(
        submit_errors=deque([ProviderError(ReasonCode.PROVIDER_RATE_LIMITED, "429")])
    )
    pipeline = make_pipeline(gateway=gateway)
    await fund(pipeline, 100)
    first = await start(pipeline)
    assert (await drive(pipeline, first.generation_id)).state is GenerationState.SUCCEEDED
    gateway.submit_errors.append(ProviderError(ReasonCode.PROVIDER_NO_CREDITS, "402"))
    second = await start(pipeline)
    done = await drive(pipeline, second.generation_id)
    assert (done.state, done.reason) == (GenerationState.FAILED, ReasonCode.PROVIDER_NO_CREDITS)
    assert await balance(pipeline) == Balance(available=88)


async def test_a_submission_that_may_have_reached_the_provider_is_never_sent_again():
    gateway = ScriptedGenerationGateway(
        submit_errors=deque(
            [ProviderError(ReasonCode.PROVIDER_TIMEOUT, "read timeout", maybe_accepted=True)]
        )
    )
    pipeline = make_pipeline(gateway=gateway)
    await fund(pipeline, 100)
    done = await drive(pipeline, (await start(pipeline)).generation_id)
    assert (done.state, done.reason) == (GenerationState.FAILED, ReasonCode.PROVIDER_TIMEOUT)
    assert gateway.submitted == []
    assert await balance(pipeline) == Balance(available=100)


async def test_delivery_is_retried_then_fails_and_releases():
    delivery = RecordingDelivery(fail_with=[DeliveryError("telegram said no")])
    pipeline = make_pipeline(delivery=delivery)
    await fund(pipeline, 100)
    started = await start(pipeline)
    assert (await drive(pipeline, started.generation_id)).state is GenerationState.SUCCEEDED
    delivery.fail_with.extend(DeliveryError("still no") for _ in range(10))
    second = await start(pipeline)
    done = await drive(pipeline, second.generation_id)
    assert (done.state, done.reason) == (GenerationState.FAILED, ReasonCode.DELIVERY_FAILED)
    assert await balance(pipeline) == Balance(available=88)


async def test_cancel_before_submission_releases_and_nothing_is_sent():
    pipeline = make_pipeline()
    await fund(pipeline, 100)
    started = await start(pipeline)
    cancelled = await cancel_generation(pipeline, USER, started.generation_id)
    assert not isinstance(cancelled, Rejected)
    assert cancelled.state is GenerationState.CANCELLED
    assert await balance(pipeline) == Balance(available=100)
    await drive(pipeline, started.generation_id)
    gateway = pipeline.gateway
    assert isinstance(gateway, ScriptedGenerationGateway)
    assert gateway.submitted == []
    again = await cancel_generation(pipeline, USER, started.generation_id)
    assert isinstance(again, Rejected)
    assert again.reason is ReasonCode.STALE_ACTION


async def test_cancel_after_submission_stops_tracking_and_releases():
    gateway = ScriptedGenerationGateway()
    gateway.script(*lost())
    pipeline = make_pipeline(gateway=gateway)
    await fund(pipeline, 100)
    started = await start(pipeline)
    await run_due_jobs(pipeline)
    assert (await generation(pipeline, started.generation_id)).task_id == "task_1"
    await cancel_generation(pipeline, USER, started.generation_id)
    done = await drive(pipeline, started.generation_id)
    assert done.state is GenerationState.CANCELLED
    assert await balance(pipeline) == Balance(available=100)


async def test_another_users_generation_cannot_be_cancelled():
    pipeline = make_pipeline()
    await fund(pipeline, 100)
    started = await start(pipeline)
    refused = await cancel_generation(pipeline, UserId(7), started.generation_id)
    assert isinstance(refused, Rejected)
    assert (await generation(pipeline, started.generation_id)).state is GenerationState.PENDING


async def test_a_restarted_process_resumes_and_finishes_exactly_once():
    database = MemoryDatabase(FrozenClock())
    ids = SequentialIds()  # stands for ids that stay unique across processes
    before_crash = make_pipeline(database=database, ids=ids)
    await fund(before_crash, 100)
    started = await start(before_crash)
    await run_due_jobs(before_crash)  # submitted; the process dies here
    gateway = before_crash.gateway
    assert isinstance(gateway, ScriptedGenerationGateway)
    after_restart = make_pipeline(database=database, gateway=gateway, ids=ids)
    assert await resume_unfinished(after_restart) == 0  # its track job is already stored
    done = await drive(after_restart, started.generation_id)
    assert done.state is GenerationState.SUCCEEDED
    assert len(gateway.submitted) == 1
    assert await balance(after_restart) == Balance(available=88)


async def test_a_job_whose_worker_died_runs_again_without_a_second_effect():
    database = MemoryDatabase(FrozenClock())
    pipeline = make_pipeline(database=database)
    await fund(pipeline, 100)
    started = await start(pipeline)
    async with pipeline.uow() as uow:  # a worker claims the submit job and dies
        assert len(await uow.jobs.claim(limit=1)) == 1
        await uow.commit()
    assert await run_due_jobs(pipeline) == 0
    database.clock.advance(timedelta(minutes=6))  # type: ignore[attr-defined]
    done = await drive(pipeline, started.generation_id)
    assert done.state is GenerationState.SUCCEEDED
    async with pipeline.uow() as uow:
        captures = [
            t for t in await uow.ledger.history(USER, limit=10) if t.kind is LedgerKind.CAPTURE
        ]
    assert len(captures) == 1


async def test_a_callback_moves_the_generation_on_and_unknown_tasks_are_ignored():
    pipeline = make_pipeline()
    await fund(pipeline, 100)
    started = await start(pipeline)
    await run_due_jobs(pipeline)
    for _ in range(3):  # queued, running, succeeded
        assert await on_provider_callback(pipeline, ProviderTaskId("task_1"))
    assert (await generation(pipeline, started.generation_id)).state is GenerationState.DELIVERING
    assert not await on_provider_callback(pipeline, ProviderTaskId("task_999"))
    assert (await drive(pipeline, started.generation_id)).state is GenerationState.SUCCEEDED


async def test_too_many_running_generations_are_refused():
    pipeline = make_pipeline(settings=PipelineSettings(max_concurrent=2))
    await fund(pipeline, 100)
    await start(pipeline)
    await start(pipeline)
    refused = await start_generation(
        pipeline, StartCommand(USER, FLUX, {"prompt": "x"}, CorrelationId("c"))
    )
    assert isinstance(refused, Rejected)
    assert refused.reason is ReasonCode.TOO_MANY_GENERATIONS


async def test_unbilled_runs_touch_no_ledger():
    pipeline = make_pipeline(settings=PipelineSettings(bill_users=False))
    started = await start(pipeline)
    done = await drive(pipeline, started.generation_id)
    assert done.state is GenerationState.SUCCEEDED
    assert done.held == 0
    assert await balance(pipeline) == Balance()


async def test_results_with_several_files_are_delivered_whole():
    gateway = ScriptedGenerationGateway()
    gateway.script(*succeeds("https://r/1.png", "https://r/2.png"))
    pipeline = make_pipeline(gateway=gateway)
    await fund(pipeline, 100)
    done = await drive(pipeline, (await start(pipeline)).generation_id)
    assert done.result_urls == ("https://r/1.png", "https://r/2.png")
    assert len(done.delivered_refs) == 2


async def test_an_interrupted_worker_hands_its_claims_back_at_once():
    import asyncio

    gateway = ScriptedGenerationGateway()
    pipeline = make_pipeline(gateway=gateway)
    await fund(pipeline, 100)
    started = await start(pipeline)
    blocked = asyncio.Event()

    async def hang(request):
        blocked.set()
        await asyncio.Event().wait()

    gateway.submit = hang  # type: ignore[method-assign]  # a provider that never answers
    worker = asyncio.create_task(run_due_jobs(pipeline))
    await blocked.wait()
    worker.cancel()
    with pytest.raises(asyncio.CancelledError):
        await worker
    async with pipeline.uow() as uow:
        again = await uow.jobs.claim(limit=5)  # no claim timeout to wait for
    assert [job.payload["generation_id"] for job in again] == [started.generation_id]


async def test_a_worker_keeps_the_claim_of_a_long_job_while_it_runs(monkeypatch):
    import asyncio

    from kiebot_core.domain.jobs import CLAIM_TIMEOUT
    from kiebot_core.use_cases import generation as generation_module

    monkeypatch.setattr(generation_module, "CLAIM_HEARTBEAT", timedelta(milliseconds=20))
    gateway = ScriptedGenerationGateway()
    pipeline = make_pipeline(gateway=gateway)
    await fund(pipeline, 100)
    await start(pipeline)
    blocked, release = asyncio.Event(), asyncio.Event()

    async def slow(request):
        blocked.set()
        await release.wait()
        raise ProviderError(ReasonCode.PROVIDER_UNAVAILABLE, "503")

    gateway.submit = slow  # type: ignore[method-assign]  # a submission that takes its time
    worker = asyncio.create_task(run_due_jobs(pipeline))
    await blocked.wait()
    for _ in range(3):  # three claim timeouts pass on the store's clock, renewed each time
        pipeline.clock.advance(CLAIM_TIMEOUT * 0.8)  # type: ignore[attr-defined]
        await asyncio.sleep(0.1)
        async with pipeline.uow() as uow:
            assert await uow.jobs.claim(limit=5) == [], "taken from a live worker"
    release.set()
    await worker


class _FlakyStatus(ScriptedGenerationGateway):
    """Answers ``status`` normally but fails once, after ``fail_after`` polls."""

    def __init__(self, fail_after: int) -> None:
        super().__init__()
        self.polls = 0
        self.fail_after = fail_after

    async def status(self, task_id):
        self.polls += 1
        if self.polls == self.fail_after:
            raise ProviderError(ReasonCode.PROVIDER_UNAVAILABLE, "503")
        return await super().status(task_id)


async def test_many_polls_are_not_failures_and_a_later_error_retries_before_the_deadline():
    from kiebot_core.ports.generation import ProviderState
    from kiebot_core.testing.generation import Step

    gateway = _FlakyStatus(fail_after=30)
    gateway.script(
        *([Step(ProviderState.RUNNING)] * 40),
        Step(ProviderState.SUCCEEDED, result_urls=("https://r/1.png",)),
    )
    pipeline = make_pipeline(gateway=gateway)
    await fund(pipeline, 100)
    started = await start(pipeline)
    done = await drive(pipeline, started.generation_id)
    assert done.state is GenerationState.SUCCEEDED  # 40 polls and one 503 are not 5 failures
    assert done.updated_at - done.created_at < timedelta(minutes=15)


async def test_a_step_that_loses_a_race_runs_again_instead_of_failing():
    pipeline = make_pipeline()
    await fund(pipeline, 100)
    started = await start(pipeline)
    await run_due_jobs(pipeline)  # submitted
    async with pipeline.uow() as uow:  # the track job is claimed by a worker...
        [track] = await uow.jobs.claim(limit=1)
        await uow.commit()
    for _ in range(3):  # ...while callbacks move the generation to delivering
        await on_provider_callback(pipeline, ProviderTaskId("task_1"))
    from kiebot_core.use_cases.generation import Done, Reschedule, run_job

    stale = attrs.evolve(track, attempts=9)  # even a job with many claims behind it
    outcome = await run_job(pipeline, stale)
    assert isinstance(outcome, Done | Reschedule)
    done = await drive(pipeline, started.generation_id)
    assert done.state is GenerationState.SUCCEEDED
