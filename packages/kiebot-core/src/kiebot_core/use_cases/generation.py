"""The generation pipeline: every model goes through these use cases.

    Start ──(one transaction: generation + hold + submit job)──► Submit ──► Track ──► Deliver
      │                                                         │          │          │
      └── Rejected (reason code)            any failure: fail + release + notify job ─┘
                                                                    capture on delivery

Start is called by a shell; the other steps run as durable jobs (``run_job``), so a crash at
any point resumes from storage. Every step is idempotent: a job run twice, a late callback or
a second click finds the generation already moved on and does nothing. Each generation ends
in exactly one terminal state; a failed one always gets a notify job, so the user is told.
"""

import asyncio
import hashlib
from collections.abc import Awaitable, Callable, Mapping
from contextlib import suppress
from datetime import datetime, timedelta

import attrs

from kiebot_core.domain.audit import Actor, AuditAction
from kiebot_core.domain.catalog import JsonValue, ModelSpec, Registry
from kiebot_core.domain.errors import (
    DeliveryError,
    NotFoundError,
    ProviderError,
    StaleWriteError,
    StorageUnavailableError,
)
from kiebot_core.domain.generation import Deadlines, Generation, GenerationState
from kiebot_core.domain.ids import CorrelationId, GenerationId, JobId, ProviderTaskId, UserId
from kiebot_core.domain.jobs import CLAIM_HEARTBEAT, Job, JobKind
from kiebot_core.domain.ledger import (
    AccountKind,
    LedgerKind,
    LedgerTransaction,
    capture,
    hold,
    refund,
    release,
    settle_key,
)
from kiebot_core.domain.outcomes import Rejected
from kiebot_core.domain.pricing import MediaFacts, PriceSettings, Quote, quote
from kiebot_core.domain.privacy import fingerprint
from kiebot_core.domain.promotions import FreeAllowance, FreeTier, free_day
from kiebot_core.domain.reasons import POLICY, ReasonCode, Remedy
from kiebot_core.domain.telemetry import JOB_PREFIX, LEDGER_PREFIX, Event, EventKind, safe_text
from kiebot_core.domain.validation import NormalizedInput, normalize
from kiebot_core.ports.delivery import ResultDelivery
from kiebot_core.ports.generation import (
    GenerationGateway,
    ProviderState,
    ProviderStatus,
    SubmitRequest,
)
from kiebot_core.ports.runtime import Clock, IdFactory
from kiebot_core.ports.storage import UnitOfWork, UnitOfWorkFactory
from kiebot_core.use_cases.audit import audited
from kiebot_core.use_cases.tracing import StepTrace, Stopwatch, TracedDelivery, TracedGateway

RegistrySource = Callable[[], Awaitable[Registry]]
"""Where the current registry comes from (the shipped one with runtime switches applied)."""
FailureHook = Callable[[Generation, ReasonCode, str], Awaitable[None]]
"""Told of each generation this pipeline ended failed, with its reason and detail."""


@attrs.frozen
class PipelineSettings:
    """How the pipeline behaves; each shell sets its own."""

    prices: PriceSettings = attrs.Factory(PriceSettings)
    deadlines: Deadlines = attrs.Factory(Deadlines)
    bill_users: bool = True
    """False in the CLI: the developer pays KIE directly, no Stars are held."""
    free_tier: FreeTier = attrs.Factory(FreeTier)
    """Free runs a day on some models (only when billing users)."""
    max_concurrent: int = 3
    """Unfinished generations one user may have at once."""
    callback_url: str | None = None
    max_attempts: int = 5
    """Attempts of one job step before the generation fails."""
    retry_base: timedelta = timedelta(seconds=2)


@attrs.frozen
class Pipeline:
    """The ports every pipeline step needs."""

    uow: UnitOfWorkFactory
    gateway: GenerationGateway
    delivery: ResultDelivery
    clock: Clock
    ids: IdFactory
    registry: RegistrySource
    settings: PipelineSettings = attrs.Factory(PipelineSettings)
    on_failure: FailureHook | None = None
    """Told after a generation failed (the circuit breaker, the credits watch); its errors
    propagate like any other failure of the job step."""


@attrs.frozen
class StartCommand:
    """A user's confirmed request to run ``model_id`` with ``answers``."""

    user_id: UserId
    model_id: str
    answers: Mapping[str, JsonValue]
    correlation_id: CorrelationId
    facts: MediaFacts = attrs.Factory(MediaFacts)
    request: str | None = None
    """Names the user action (one Telegram update): the same request handled again, after a
    crash or a retry, gets the generation it started instead of a second one and hold."""


def _generation_id(pipeline: Pipeline, command: StartCommand) -> GenerationId:
    """A new id, or for a named request always the same one (the store refuses a second)."""
    if command.request is None:
        return GenerationId(pipeline.ids.new("gen"))
    digest = hashlib.sha256(f"{command.user_id}:{command.request}".encode()).hexdigest()
    return GenerationId(f"gen_{digest[:16]}")


@attrs.frozen
class GenerationStarted:
    """The price is held and the submission queued."""

    generation_id: GenerationId
    quote: Quote
    input: NormalizedInput
    is_free: bool = False
    """True when a free-tier run paid for it (nothing was held)."""


@attrs.frozen
class Done:
    """A job step finished; the job is complete."""


@attrs.frozen
class RunAgainAt:
    """A job step failed for a passing reason and is retried at ``at`` (counts an attempt)."""

    at: datetime


@attrs.frozen
class Reschedule:
    """A job step is due again at ``at`` as a fresh job: a poll, or a step that lost a race.

    Unlike ``RunAgainAt`` it is not a failure: no attempt is counted against the limit.
    """

    at: datetime


JobOutcome = Done | RunAgainAt | Reschedule


def _event(generation: Generation, kind: str, at: datetime, **payload: JsonValue) -> Event:
    return Event(
        correlation_id=generation.correlation_id,
        kind=kind,
        at=at,
        user_id=generation.user_id,
        generation_id=generation.id,
        reason=generation.reason,
        payload=payload,
    )


def _ledger_event(generation: Generation, move: LedgerTransaction, at: datetime) -> Event:
    """The event of a ledger move of ``generation``: the Stars it held, charged or gave back."""
    charged = move.kind in {LedgerKind.CAPTURE, LedgerKind.REFUND}
    account = AccountKind.REVENUE if charged else AccountKind.HELD
    payload: dict[str, JsonValue] = {"stars": abs(move.amount_of(account))}
    returned = move.amount_of(AccountKind.AVAILABLE)
    if move.kind is LedgerKind.CAPTURE and returned:
        payload["returned"] = returned
    return Event(
        correlation_id=generation.correlation_id,
        kind=f"{LEDGER_PREFIX}{move.kind}",
        at=at,
        user_id=generation.user_id,
        generation_id=generation.id,
        payload=payload,
    )


def _new_job_id(pipeline: Pipeline) -> JobId:
    return JobId(pipeline.ids.new("job"))


def _job(pipeline: Pipeline, kind: JobKind, generation: Generation, at: datetime) -> Job:
    return _job_with(pipeline.ids, kind, generation, at)


def _job_with(ids: IdFactory, kind: JobKind, generation: Generation, at: datetime) -> Job:
    return Job(
        id=JobId(ids.new("job")),
        kind=kind,
        key=f"{kind}:{generation.id}",
        payload={"generation_id": generation.id},
        run_at=at,
    )


@attrs.frozen
class Quoted:
    """A validated, priced run of an enabled model."""

    model: ModelSpec
    input: NormalizedInput
    quote: Quote


async def quote_generation(
    pipeline: Pipeline, model_id: str, answers: Mapping[str, JsonValue], facts: MediaFacts
) -> Quoted | Rejected:
    """Validate ``answers`` for an enabled model and price them, touching no storage."""
    registry = await pipeline.registry()
    model = registry.get(model_id)
    if model is None:
        return Rejected(ReasonCode.MODEL_UNKNOWN, detail=model_id)
    if not model.enabled:
        return Rejected(ReasonCode.MODEL_DISABLED, detail=f"{model_id}: {model.disabled}")
    normalized = normalize(model, answers)
    if isinstance(normalized, Rejected):
        return normalized
    priced = quote(model, normalized.values, pipeline.settings.prices, facts)
    if isinstance(priced, Rejected):
        return priced
    return Quoted(model, normalized, priced)


async def start_generation(
    pipeline: Pipeline, command: StartCommand
) -> GenerationStarted | Rejected:
    """Validate, quote, hold the price and queue the submission, all in one transaction.

    Rejects with the reason of the first problem: an unknown or disabled model, an invalid or
    missing input (named), a banned user, a user whose data was deleted (``USER_UNKNOWN``:
    forgotten since, or while this start ran), too many running generations, a short balance
    or debt. Nothing is stored and nothing is sent to the provider when it rejects, but the
    refusal is recorded as an event of the command's correlation (without the user id of a
    forgotten user). A model of the free tier
    uses one of the day's free runs while any is left (taken in this transaction, so
    concurrent starts never overdraw it); otherwise the price is held.
    """
    started = await _start(pipeline, command)
    if isinstance(started, Rejected):
        async with pipeline.uow() as uow:
            await uow.events.append(_rejected_event(pipeline, command, started))
            await uow.commit()
    return started


def _rejected_event(pipeline: Pipeline, command: StartCommand, rejected: Rejected) -> Event:
    payload: dict[str, JsonValue] = {"model": command.model_id}
    if rejected.input_name:
        payload["input"] = rejected.input_name
    if rejected.detail:
        payload["detail"] = safe_text(rejected.detail)
    return Event(
        correlation_id=command.correlation_id,
        kind=EventKind.GENERATION_REJECTED,
        at=pipeline.clock.now(),
        user_id=None if rejected.reason is ReasonCode.USER_UNKNOWN else command.user_id,
        reason=rejected.reason,
        payload=payload,
    )


async def _user_refusal(uow: UnitOfWork, user_id: UserId) -> Rejected | None:
    """Why ``user_id`` may not start a generation in ``uow``: banned, or forgotten."""
    # A forgetting of this user either waits for this start (and then refuses: a generation
    # runs) or ended before it (and the user is gone): nothing is stored under their id.
    stored = await uow.privacy.lock_against_forgetting(user_id)
    if not stored and await uow.privacy.forgotten(fingerprint(user_id)):
        return Rejected(ReasonCode.USER_UNKNOWN, detail="their data was deleted")
    user = await uow.users.get(user_id)
    if user is not None and user.is_banned:
        return Rejected(ReasonCode.BANNED)
    return None


async def _capacity_refusal(
    pipeline: Pipeline, uow: UnitOfWork, user_id: UserId
) -> Rejected | None:
    """Why no run may start now: KIE's credits are out, or the user runs too many."""
    credits = await uow.credits.get()
    if credits is not None and credits.is_paused:
        return Rejected(ReasonCode.PROVIDER_NO_CREDITS, detail="paused: no provider credits")
    running = await uow.generations.unfinished(user_id=user_id)
    if len(running) >= pipeline.settings.max_concurrent:
        return Rejected(ReasonCode.TOO_MANY_GENERATIONS, detail=f"{len(running)} running")
    return None


async def _start(pipeline: Pipeline, command: StartCommand) -> GenerationStarted | Rejected:
    quoted = await quote_generation(pipeline, command.model_id, command.answers, command.facts)
    if isinstance(quoted, Rejected):
        return quoted
    model, normalized, price = quoted.model, quoted.input, quoted.quote
    settings = pipeline.settings
    now = pipeline.clock.now()
    generation_id = _generation_id(pipeline, command)
    async with pipeline.uow() as uow:
        if (refused := await _user_refusal(uow, command.user_id)) is not None:
            return refused
        if (earlier := await uow.generations.get(generation_id)) is not None:
            return GenerationStarted(generation_id, price, normalized, is_free=earlier.is_free)
        if (refused := await _capacity_refusal(pipeline, uow, command.user_id)) is not None:
            return refused
        held, is_free = 0, await _take_free_run(pipeline, uow, command.user_id, model, price)
        held_move: LedgerTransaction | None = None
        if settings.bill_users and not is_free:
            balance = await uow.ledger.balance(command.user_id)
            planned = hold(balance, command.user_id, price.stars, generation_id)
            if isinstance(planned, Rejected):
                return planned
            held_move = await uow.ledger.append(planned)
            held = price.stars
        generation = Generation.start(
            id=generation_id,
            user_id=command.user_id,
            model_id=model.id,
            category=model.category,
            input=normalized.values,
            credits=price.credits,
            stars=price.stars,
            correlation_id=command.correlation_id,
            now=now,
            deadlines=settings.deadlines,
            held=held,
            is_free=is_free,
            estimated=held > 0 and price.is_upper_bound,
        )
        await uow.generations.add(generation)
        await uow.jobs.enqueue(_job(pipeline, JobKind.SUBMIT, generation, now))
        await uow.events.append(
            _event(
                generation,
                EventKind.GENERATION_STARTED,
                now,
                model=model.id,
                stars=price.stars,
                held=held,
                free=is_free,
            )
        )
        if held_move is not None:
            await uow.events.append(_ledger_event(generation, held_move, now))
        await uow.commit()
    return GenerationStarted(generation_id, price, normalized, is_free=is_free)


async def _take_free_run(
    pipeline: Pipeline, uow: UnitOfWork, user_id: UserId, model: ModelSpec, price: Quote
) -> bool:
    settings = pipeline.settings
    tier = settings.free_tier
    if not settings.bill_users or not tier.covers_run(model, price.stars, settings.prices):
        return False
    day = free_day(pipeline.clock.now())
    return await uow.free_runs.take(user_id, day, daily=tier.daily)


async def free_runs_left(
    pipeline: Pipeline, user_id: UserId, model: ModelSpec, stars: int | None = None
) -> FreeAllowance | None:
    """The user's free runs left today for ``model``; None when its runs are never free.

    With ``stars``, also None when a run at that price would not be free (it is above the
    model's cheapest setup).
    """
    settings = pipeline.settings
    tier = settings.free_tier
    if not settings.bill_users or not tier.covers(model.id):
        return None
    if stars is not None and not tier.covers_run(model, stars, settings.prices):
        return None
    async with pipeline.uow() as uow:
        used = await uow.free_runs.used(user_id, free_day(pipeline.clock.now()))
    return FreeAllowance(left=max(0, tier.daily - used), daily=tier.daily)


async def _fail(
    pipeline: Pipeline, uow: UnitOfWork, generation: Generation, reason: ReasonCode, detail: str
) -> bool:
    """End ``generation`` failed inside ``uow``: release its hold and queue the notice.

    False when it had ended already (nothing changed).
    """
    now = pipeline.clock.now()
    failed = generation.failed(reason, now)
    if isinstance(failed, Rejected):
        return False
    await _settle_end(pipeline, uow, await uow.generations.save(failed), detail)
    return True


async def _settle_end(pipeline: Pipeline, uow: UnitOfWork, ended: Generation, detail: str) -> None:
    now = pipeline.clock.now()
    if ended.held > 0:
        planned = release(ended.user_id, ended.held, ended.id)
        if not isinstance(planned, Rejected):
            await uow.ledger.append(planned)
            await uow.events.append(_ledger_event(ended, planned, now))
    if ended.is_free:
        await uow.free_runs.give_back(ended.user_id, free_day(ended.created_at))
    await uow.jobs.enqueue(_job(pipeline, JobKind.NOTIFY, ended, now))
    await uow.events.append(
        _event(ended, f"generation.{ended.state}", now, detail=safe_text(detail))
    )


async def cancel_generation(
    pipeline: Pipeline, user_id: UserId, generation_id: GenerationId
) -> Generation | Rejected:
    """Cancel a generation of ``user_id`` before its result is sent; the hold is released.

    A generation of another user is ``STALE_ACTION`` (as if it did not exist); one already
    finished or being delivered is ``STALE_ACTION`` too. A job moving the generation at the
    same moment makes the save stale: the cancel is then tried again on the fresh state.
    """
    for _ in range(_CANCEL_ATTEMPTS - 1):
        with suppress(StaleWriteError):
            return await _cancel_once(pipeline, user_id, generation_id)
    return await _cancel_once(pipeline, user_id, generation_id)


_CANCEL_ATTEMPTS = 5


async def _cancel_once(
    pipeline: Pipeline, user_id: UserId, generation_id: GenerationId
) -> Generation | Rejected:
    async with pipeline.uow() as uow:
        generation = await uow.generations.get(generation_id)
        if generation is None or generation.user_id != user_id:
            return Rejected(ReasonCode.STALE_ACTION, detail=f"no generation {generation_id}")
        cancelled = generation.cancelled(pipeline.clock.now())
        if isinstance(cancelled, Rejected):
            return cancelled
        saved = await uow.generations.save(cancelled)
        await _settle_end(pipeline, uow, saved, "cancelled by the user")
        await uow.commit()
    return saved


def _backoff(pipeline: Pipeline, attempts: int) -> datetime:
    delay: timedelta = pipeline.settings.retry_base * (2 ** max(0, attempts - 1))
    return pipeline.clock.now() + delay


async def _load(pipeline: Pipeline, job: Job) -> Generation | None:
    generation_id = job.payload.get("generation_id")
    if not isinstance(generation_id, str):
        return None
    async with pipeline.uow() as uow:
        return await uow.generations.get(GenerationId(generation_id))


async def _save_and_enqueue(
    pipeline: Pipeline,
    moved: Generation | Rejected,
    kind: JobKind | None,
    event: str,
    **payload: JsonValue,
) -> None:
    if isinstance(moved, Rejected):
        return
    now = pipeline.clock.now()
    async with pipeline.uow() as uow:
        saved = await uow.generations.save(moved)
        if kind is not None:
            await uow.jobs.enqueue(_job(pipeline, kind, saved, now))
        await uow.events.append(_event(saved, event, now, **payload))
        await uow.commit()


async def _fail_now(
    pipeline: Pipeline, generation: Generation, reason: ReasonCode, detail: str
) -> Done:
    ended = False
    async with pipeline.uow() as uow:
        current = await uow.generations.get(generation.id)
        if current is not None:
            ended = await _fail(pipeline, uow, current, reason, detail)
            await uow.commit()
    if ended and pipeline.on_failure is not None:
        await pipeline.on_failure(generation, reason, detail)
    return Done()


async def _submit(pipeline: Pipeline, job: Job, generation: Generation) -> JobOutcome:
    if generation.state is not GenerationState.PENDING:
        return Done()
    request = SubmitRequest(
        model_id=generation.model_id,
        input=generation.input,
        correlation_id=generation.correlation_id,
        callback_url=pipeline.settings.callback_url,
    )
    try:
        task_id = await pipeline.gateway.submit(request)
    except ProviderError as error:
        # A creation that may have reached KIE is never sent again: KIE has no idempotency
        # key, and a second task would be a second charge. The run fails and is released.
        retryable = POLICY[error.code].remedy is Remedy.RETRY and not error.maybe_accepted
        if retryable and job.attempts < pipeline.settings.max_attempts:
            return RunAgainAt(_backoff(pipeline, job.attempts))
        return await _fail_now(pipeline, generation, error.code, error.detail)
    await _record_submission(pipeline, generation.id, task_id, job.attempts)
    return Done()


_RECORD_ATTEMPTS = 5


async def _record_submission(
    pipeline: Pipeline, generation_id: GenerationId, task_id: ProviderTaskId, attempt: int
) -> None:
    """Store the task id KIE gave, retrying in place.

    Rerunning the step would create a second task at KIE. A generation cancelled meanwhile
    keeps its cancellation.
    """
    for round_number in range(_RECORD_ATTEMPTS):
        async with pipeline.uow() as uow:
            current = await uow.generations.get(generation_id)
        if current is None or current.state is not GenerationState.PENDING:
            return
        try:
            await _save_and_enqueue(
                pipeline,
                current.submitted(task_id, pipeline.clock.now()),
                JobKind.TRACK,
                "generation.submitted",
                kie_task_id=task_id,
                attempt=attempt,
            )
        except (StaleWriteError, StorageUnavailableError):
            if round_number == _RECORD_ATTEMPTS - 1:
                raise
            await asyncio.sleep(0.05 * 2**round_number)
        else:
            return


async def _fetch_status(
    pipeline: Pipeline, job: Job, generation: Generation, task_id: ProviderTaskId
) -> ProviderStatus | JobOutcome:
    try:
        return await pipeline.gateway.status(task_id)
    except NotFoundError:
        return await _fail_now(pipeline, generation, ReasonCode.PROVIDER_FAILED, "task unknown")
    except ProviderError as error:
        if generation.is_overdue(pipeline.clock.now()):
            return await _fail_now(pipeline, generation, ReasonCode.PROVIDER_TIMEOUT, error.detail)
        return RunAgainAt(min(_backoff(pipeline, job.attempts), generation.deadline_at))


async def _track(pipeline: Pipeline, job: Job, generation: Generation) -> JobOutcome:
    if generation.task_id is None or generation.state not in {
        GenerationState.SUBMITTED,
        GenerationState.RUNNING,
    }:
        return Done()
    now = pipeline.clock.now()
    status = await _fetch_status(pipeline, job, generation, generation.task_id)
    if not isinstance(status, ProviderStatus):
        return status
    match status.state:
        case ProviderState.SUCCEEDED:
            ready = generation.result_ready(
                now,
                urls=status.result_urls,
                result_object=status.result_object,
                credits_consumed=status.credits_consumed,
                measured=await _measured_price(pipeline, generation, status.result_urls),
            )
            await _save_and_enqueue(
                pipeline,
                ready,
                JobKind.DELIVER,
                "generation.result_ready",
                files=len(status.result_urls),
                kie_credits=None
                if status.credits_consumed is None
                else str(status.credits_consumed),
            )
            return Done()
        case ProviderState.FAILED:
            reason = status.reason or ReasonCode.PROVIDER_FAILED
            return await _fail_now(pipeline, generation, reason, status.detail)
        case ProviderState.QUEUED | ProviderState.RUNNING:
            return await _still_running(pipeline, generation, now)


async def _measured_price(
    pipeline: Pipeline, generation: Generation, urls: tuple[str, ...]
) -> Quote | None:
    """For an estimated price, the price of the result's measured length (None: unknown)."""
    if not generation.estimated or not urls:
        return None
    seconds = await pipeline.gateway.result_seconds(urls[0])
    model = (await pipeline.registry()).get(generation.model_id)
    if seconds is None or model is None:
        return None
    actual = quote(
        model, generation.input, pipeline.settings.prices, MediaFacts(media_seconds=seconds)
    )
    return None if isinstance(actual, Rejected) else actual


async def _still_running(pipeline: Pipeline, generation: Generation, now: datetime) -> JobOutcome:
    if generation.is_overdue(now):
        return await _fail_now(
            pipeline, generation, ReasonCode.PROVIDER_TIMEOUT, "deadline passed"
        )
    if generation.state is GenerationState.SUBMITTED:
        await _save_and_enqueue(pipeline, generation.running(now), None, "generation.running")
    elapsed = now - generation.created_at
    return Reschedule(min(now + pipeline.gateway.poll_delay(elapsed), generation.deadline_at))


async def _deliver(pipeline: Pipeline, job: Job, generation: Generation) -> JobOutcome:
    if generation.state is not GenerationState.DELIVERING:
        return Done()
    try:
        refs = await pipeline.delivery.deliver(generation)
    except DeliveryError as error:
        if job.attempts < pipeline.settings.max_attempts:
            return RunAgainAt(_backoff(pipeline, job.attempts))
        return await _fail_now(pipeline, generation, ReasonCode.DELIVERY_FAILED, error.detail)
    now = pipeline.clock.now()
    async with pipeline.uow() as uow:
        current = await uow.generations.get(generation.id)
        if current is None:
            return Done()
        delivered = current.delivered(now, refs)
        if isinstance(delivered, Rejected):
            return Done()
        saved = await uow.generations.save(delivered)
        if saved.held > 0:
            planned = capture(saved.user_id, saved.held, saved.charged, saved.id)
            if not isinstance(planned, Rejected):
                await uow.ledger.append(planned)
                await uow.events.append(_ledger_event(saved, planned, now))
        await uow.events.append(
            _event(
                saved,
                EventKind.GENERATION_DELIVERED,
                now,
                files=len(refs),
                stars=saved.charged,
                attempt=job.attempts,
            )
        )
        await uow.commit()
    return Done()


async def _notify(pipeline: Pipeline, job: Job, generation: Generation) -> JobOutcome:
    try:
        await pipeline.delivery.report_failure(generation)
    except DeliveryError:
        if job.attempts < pipeline.settings.max_attempts:
            return RunAgainAt(_backoff(pipeline, job.attempts))
    return Done()


async def _notify_refund(pipeline: Pipeline, job: Job, generation: Generation) -> JobOutcome:
    refunded = job.payload.get("stars")
    reason = job.payload.get("reason")
    if not isinstance(refunded, int) or not isinstance(reason, str):
        return Done()
    try:
        await pipeline.delivery.report_refund(generation, refunded, reason)
    except DeliveryError:
        if job.attempts < pipeline.settings.max_attempts:
            return RunAgainAt(_backoff(pipeline, job.attempts))
    return Done()


_STEPS = {
    JobKind.SUBMIT: _submit,
    JobKind.TRACK: _track,
    JobKind.DELIVER: _deliver,
    JobKind.NOTIFY: _notify,
    JobKind.REFUND_NOTICE: _notify_refund,
}


async def run_job(pipeline: Pipeline, job: Job) -> JobOutcome:
    """Run one claimed job step. Idempotent: a step whose work is done returns ``Done``.

    An unexpected failure is retried with backoff; after ``max_attempts`` the generation
    fails with ``INTERNAL_ERROR`` (its hold released, the user told). The step's events (its
    KIE calls, failed deliveries, the run itself) are stored before it returns.
    """
    outcome, events = await _run_traced(pipeline, job)
    if events:
        async with pipeline.uow() as uow:
            for event in events:
                await uow.events.append(event)
            await uow.commit()
    return outcome


async def _run_traced(pipeline: Pipeline, job: Job) -> tuple[JobOutcome, list[Event]]:
    """Run one job step, recording its KIE calls and delivery attempts; store nothing of them."""
    generation = await _load(pipeline, job)
    if generation is None:
        return Done(), []
    trace = StepTrace(generation, pipeline.clock)
    traced = attrs.evolve(
        pipeline,
        gateway=TracedGateway(pipeline.gateway, trace),
        delivery=TracedDelivery(pipeline.delivery, trace),
    )
    started = Stopwatch.start(pipeline.clock)
    outcome = await _run_step(traced, job, generation)
    run = _job_event(pipeline, job, generation, outcome, started)
    return outcome, trace.events if run is None else [*trace.events, run]


def _job_event(
    pipeline: Pipeline, job: Job, generation: Generation, outcome: JobOutcome, started: Stopwatch
) -> Event | None:
    """The event of one run of ``job``; None for a routine poll (its KIE call tells it)."""
    payload: dict[str, JsonValue] = {"attempt": job.attempts}
    if job.key.startswith("callback:"):
        payload["via"] = "callback"
    match outcome:
        case Done():
            payload["outcome"] = "done"
        case RunAgainAt(at):
            payload["outcome"] = "retry"
            payload["retry_in_s"] = round((at - pipeline.clock.now()).total_seconds(), 1)
        case Reschedule():
            if job.kind is JobKind.TRACK and job.attempts <= 1:
                return None
            payload["outcome"] = "again"
    return Event(
        correlation_id=generation.correlation_id,
        kind=f"{JOB_PREFIX}{job.kind}",
        at=started.at,
        user_id=generation.user_id,
        generation_id=generation.id,
        duration_ms=started.elapsed_ms,
        payload=payload,
    )


async def _run_step(pipeline: Pipeline, job: Job, generation: Generation) -> JobOutcome:
    try:
        return await _STEPS[job.kind](pipeline, job, generation)
    except StaleWriteError:
        # Another step (a callback, a cancel) moved the generation first: every step reloads
        # its state, so running again at once does the right thing.
        return Reschedule(pipeline.clock.now())
    except Exception as error:  # noqa: BLE001  # the job must end in a state, whatever broke
        failure = error
    if job.attempts < pipeline.settings.max_attempts:
        return RunAgainAt(_backoff(pipeline, job.attempts))
    return await _fail_now(pipeline, generation, ReasonCode.INTERNAL_ERROR, repr(failure))


async def _hand_back(pipeline: Pipeline, jobs: list[Job]) -> None:
    with suppress(Exception):
        async with pipeline.uow() as uow:
            for job in jobs:
                await uow.jobs.retry(job.id, pipeline.clock.now())
            await uow.commit()


async def run_due_jobs(pipeline: Pipeline, *, limit: int = 10) -> int:
    """Claim up to ``limit`` due jobs, run them, and record each outcome; return how many ran.

    The claims of the jobs not yet finished are renewed every ``CLAIM_HEARTBEAT`` meanwhile,
    so only a worker that died loses them. Interrupted (Ctrl-C, shutdown), it hands the claims
    it has not finished back at once instead of leaving them until their claims time out.
    """
    jobs: list[Job] = []
    finished = 0
    heartbeat: asyncio.Task[None] | None = None
    try:
        async with pipeline.uow() as uow:
            jobs = await uow.jobs.claim(limit=limit)
            await uow.commit()
        if jobs:
            heartbeat = asyncio.create_task(
                _keep_claims(pipeline, lambda: [job.id for job in jobs[finished:]])
            )
        for job in jobs:
            outcome, events = await _run_traced(pipeline, job)
            async with pipeline.uow() as uow:
                for event in events:
                    await uow.events.append(event)
                match outcome:
                    case Done():
                        await uow.jobs.complete(job.id)
                    case RunAgainAt(at):
                        await uow.jobs.retry(job.id, at)
                    case Reschedule(at):
                        await uow.jobs.complete(job.id)
                        await uow.jobs.enqueue(
                            attrs.evolve(job, id=_new_job_id(pipeline), run_at=at, attempts=0)
                        )
                await uow.commit()
            finished += 1
    except BaseException:
        await _hand_back(pipeline, jobs[finished:])
        raise
    finally:
        if heartbeat is not None:
            heartbeat.cancel()
            await asyncio.gather(heartbeat, return_exceptions=True)
    return len(jobs)


async def _keep_claims(pipeline: Pipeline, held: Callable[[], list[JobId]]) -> None:
    """Renew the claims of the jobs ``held`` returns every ``CLAIM_HEARTBEAT``, forever."""
    while True:
        await asyncio.sleep(CLAIM_HEARTBEAT.total_seconds())
        with suppress(StorageUnavailableError):  # the next beat may get through
            async with pipeline.uow() as uow:
                await uow.jobs.extend(held())
                await uow.commit()


async def work(
    pipeline: Pipeline,
    stop: asyncio.Event,
    *,
    idle: timedelta = timedelta(milliseconds=200),
    batch: int = 1,
) -> None:
    """The job loop of every process that runs jobs: resume, then run due jobs until ``stop``.

    Safe to run in several processes at once over a shared store: a job is claimed by one.
    One job is claimed at a time by default, so no claimed job waits behind a slow one until
    its claim expires and another process runs the same step (measured: no loss of throughput).
    """
    await resume_unfinished(pipeline)
    while not stop.is_set():
        if await run_due_jobs(pipeline, limit=batch) == 0:
            with suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), idle.total_seconds())


async def on_provider_callback(pipeline: Pipeline, task_id: ProviderTaskId) -> bool:
    """React to a verified provider callback at once by re-fetching the task.

    The callback body is never trusted: the step asks the provider, exactly as a poll does.
    Duplicate, late or unknown callbacks change nothing. Returns True when the task is ours.
    """
    async with pipeline.uow() as uow:
        generation = await uow.generations.get_by_task(task_id)
    if generation is None:
        return False
    probe = Job(
        id=JobId(pipeline.ids.new("job")),
        kind=JobKind.TRACK,
        key=f"callback:{task_id}",
        payload={"generation_id": generation.id},
        run_at=pipeline.clock.now(),
    )
    await run_job(pipeline, probe)
    return True


async def resume_unfinished(pipeline: Pipeline) -> int:
    """Make sure every unfinished generation has the job that moves it on (start-up).

    Jobs are idempotent by key, so this never duplicates work; returns how many were queued.
    """
    kinds = {
        GenerationState.PENDING: JobKind.SUBMIT,
        GenerationState.SUBMITTED: JobKind.TRACK,
        GenerationState.RUNNING: JobKind.TRACK,
        GenerationState.DELIVERING: JobKind.DELIVER,
    }
    queued = 0
    now = pipeline.clock.now()
    async with pipeline.uow() as uow:
        for generation in await uow.generations.unfinished():
            job = _job(pipeline, kinds[generation.state], generation, now)
            queued += await uow.jobs.enqueue(job)
        await uow.commit()
    return queued


@attrs.frozen
class GenerationRefunded:
    """A generation's charge returned to the balance (``is_new`` False: it was already)."""

    generation: Generation
    stars: int
    is_new: bool


MAX_REFUND_REASON = 500
"""The longest reason an operator may give for a refund (it is sent to the user)."""


async def refund_generation(
    store: UnitOfWorkFactory,
    clock: Clock,
    ids: IdFactory,
    generation_id: GenerationId,
    reason: str,
    *,
    by: Actor,
) -> GenerationRefunded | Rejected:
    """Give a delivered generation's charge back to the user's balance, and tell them why.

    Once per generation (ledger key ``refund:<generation>``); the notice is a durable job the
    bot's worker sends, and the audit entry of ``by`` is written in the same transaction.
    ``REFUND_NOT_ALLOWED`` for an unknown generation or one that was not charged;
    ``INVALID_INPUT`` for an empty reason or one over ``MAX_REFUND_REASON`` characters.
    """
    reason = reason.strip()
    if not 0 < len(reason) <= MAX_REFUND_REASON:
        return Rejected(
            ReasonCode.INVALID_INPUT, detail=f"the reason must be 1-{MAX_REFUND_REASON} characters"
        )
    async with store() as uow:
        generation = await uow.generations.get(generation_id)
        settled = await uow.ledger.get(settle_key(generation_id))
        charged = 0 if settled is None else settled.amount_of(AccountKind.REVENUE)
        if generation is None or charged <= 0:
            return Rejected(
                ReasonCode.REFUND_NOT_ALLOWED,
                detail=f"{generation_id} is unknown or was not charged",
            )
        planned = refund(generation.user_id, charged, generation.id)
        if isinstance(planned, Rejected):
            return planned
        if await uow.ledger.get(planned.key) is not None:
            return GenerationRefunded(generation, charged, is_new=False)
        await uow.ledger.append(planned)
        now = clock.now()
        await uow.events.append(_ledger_event(generation, planned, now))
        notice = attrs.evolve(
            _job_with(ids, JobKind.REFUND_NOTICE, generation, now),
            payload={"generation_id": generation.id, "stars": charged, "reason": reason},
        )
        if not await uow.jobs.enqueue(notice):
            # A concurrent refund of the same generation got here first.
            return GenerationRefunded(generation, charged, is_new=False)
        await uow.events.append(
            _event(
                generation,
                EventKind.GENERATION_REFUNDED,
                now,
                stars=charged,
                reason=safe_text(reason),
            )
        )
        await audited(
            uow,
            by,
            AuditAction.GENERATION_REFUND,
            generation.id,
            at=now,
            detail=f"user={generation.user_id} stars={charged}",
            reason=reason,
        )
        await uow.commit()
    return GenerationRefunded(generation, charged, is_new=True)
