"""``GET /metrics``: what a running bot (and a worker) tells Prometheus."""

import asyncio
import socket
from datetime import UTC, datetime

import pytest

from kiebot_bot.metrics import STORE_EVERY_S, TOTALS_EVERY_S, BotMetrics
from kiebot_bot.runtime import run_worker
from kiebot_bot.wiring import compose, open_bot
from kiebot_core.domain.figures import OperationsTotals
from kiebot_core.domain.generation import Generation, GenerationState
from kiebot_core.domain.ids import CorrelationId, UserId
from kiebot_core.domain.ledger import grant
from kiebot_core.domain.reasons import ReasonCode
from kiebot_core.testing.limits import MemoryRateLimiter
from kiebot_core.testing.memory import MemoryReportRepository, MemoryUnitOfWorkFactory
from kiebot_core.testing.runtime import FrozenClock
from kiebot_core.use_cases.generation import GenerationStarted, StartCommand, start_generation
from kiebot_kie.client import CallRecord
from kiebot_kie.gateway import open_kie_gateway
from kiebot_kie.sandbox.server import run_sandbox
from tests.bot.metrics_support import BANANA, Scrape, generate, scrape, top_up
from tests.contracts.builders import make_generation, make_payment, planned
from tests.telegram.fake_bot_api import FakeBotApi
from tests.telegram.harness import running_bot, settings_for
from tests.telegram.test_no_silence import FlakyStore


async def test_a_generation_and_a_payment_show_in_the_metrics(api: FakeBotApi):
    async with running_bot(api, MemoryUnitOfWorkFactory()) as bot:
        user = api.user()
        await user.send("/start")
        generation = await generate(bot, user)
        assert generation.state is GenerationState.SUCCEEDED
        await top_up(user, "50 ⭐")
        metrics = await scrape(bot.http_port)
    assert metrics.content_type.startswith("text/plain; version=0.0.4")
    # Updates by type and outcome, and how long handling them took.
    assert metrics.total("kiebot_updates_total", type="message", outcome="handled") >= 3
    assert metrics.total("kiebot_updates_total", type="callback_query", outcome="handled") >= 3
    assert metrics.value("kiebot_updates_total", type="pre_checkout_query", outcome="handled")
    assert not metrics.total("kiebot_updates_total", outcome="error")
    handled = metrics.total("kiebot_updates_total")
    assert metrics.total("kiebot_update_handling_seconds_count") == handled
    assert metrics.value("kiebot_update_handling_seconds_bucket", type="message", le="+Inf")
    # KIE: every call attempt, by endpoint and KIE's code; the account's credits.
    assert metrics.value("kiebot_kie_requests_total", endpoint="createTask", code="200") == 1
    assert metrics.total("kiebot_kie_requests_total", endpoint="recordInfo", code="200") >= 1
    assert metrics.total("kiebot_kie_requests_total", endpoint="credit", code="200") >= 1
    assert metrics.total("kiebot_kie_request_duration_seconds_count", endpoint="createTask") == 1
    assert (metrics.value("kiebot_kie_credits") or 0) > 0
    assert (metrics.value("kiebot_kie_credits_checked_timestamp_seconds") or 0) > 0
    # The store's figures: generations, Stars, queues.
    assert metrics.value("kiebot_store_metrics_up") == 1
    finished = {"model": BANANA, "state": "succeeded", "reason": "none"}
    assert metrics.value("kiebot_generations_finished_total", **finished) == 1
    assert metrics.value("kiebot_stars_purchased_total") == 50
    assert metrics.value("kiebot_stars_refunded_total") == 0
    assert metrics.value("kiebot_payments_total") == 1
    assert metrics.value("kiebot_jobs", state="waiting") is not None
    assert metrics.value("kiebot_job_queue_age_seconds") is not None
    assert metrics.value("kiebot_inbox_pending_updates") == 0
    assert metrics.value("kiebot_inbox_queue_age_seconds") == 0
    assert metrics.value("kiebot_inbox_parked_updates") == 0
    # This instance, alone, leads; the process's own figures.
    assert metrics.value("kiebot_leader") == 1
    assert metrics.value("kiebot_build_info", mode="polling") == 1
    assert (metrics.value("process_resident_memory_bytes") or 0) > 0


async def test_kie_out_of_credits_shows_as_402_and_failed_generations(api: FakeBotApi):
    async with run_sandbox(fast=True) as kie:
        kie.set_balance(1)  # some, but less than a run costs
        async with running_bot(api, MemoryUnitOfWorkFactory(), sandbox=kie) as bot:
            user = api.user()
            await user.send("/start")
            generation = await generate(bot, user)
            metrics = await scrape(bot.http_port)
    assert generation.state is GenerationState.FAILED
    assert generation.reason is ReasonCode.PROVIDER_NO_CREDITS
    assert metrics.value("kiebot_kie_requests_total", endpoint="createTask", code="402") == 1
    assert metrics.value("kiebot_kie_credits") == 1
    failed = {"model": BANANA, "state": "failed", "reason": "provider_no_credits"}
    assert metrics.value("kiebot_generations_finished_total", **failed) == 1
    assert metrics.value("kiebot_generations_finished_total", state="succeeded") is None


async def test_updates_refused_by_the_rate_limit_count_as_limited(api: FakeBotApi):
    limiter = MemoryRateLimiter(FrozenClock())
    async with running_bot(
        api, MemoryUnitOfWorkFactory(), limiter=limiter, updates_per_minute=2
    ) as bot:
        user = api.user()
        for _ in range(4):
            await user.send("/start")
        metrics = await scrape(bot.http_port)
    assert metrics.value("kiebot_updates_total", type="message", outcome="handled") == 2
    assert metrics.value("kiebot_updates_total", type="message", outcome="limited") == 2


async def test_a_failing_handler_counts_as_an_error(api: FakeBotApi):
    store = FlakyStore(MemoryUnitOfWorkFactory())
    async with running_bot(api, store) as bot:
        user = api.user()
        await user.send("/start")
        store.failures.append(RuntimeError("boom"))
        await user.send("/balance")
        metrics = await scrape(bot.http_port)
    assert metrics.value("kiebot_updates_total", type="message", outcome="error") == 1
    assert metrics.value("kiebot_updates_total", type="message", outcome="handled") == 1


async def test_a_worker_serves_its_metrics(api: FakeBotApi):
    store = MemoryUnitOfWorkFactory()
    user = api.user()
    async with (
        run_sandbox(fast=True) as kie,
        open_kie_gateway(
            api_key="sandbox", base_url=kie.base_url, upload_base_url=kie.upload_base_url,
            poll_scale=0.05,
        ) as gateway,
    ):  # fmt: skip
        config = settings_for(api)
        runtime = compose(config, store=store, gateway=gateway, bot=open_bot(config))
        async with store() as uow:
            await uow.ledger.append(planned(grant(UserId(user.id), 100, "metrics-test")))
            await uow.commit()
        started = await start_generation(
            runtime.pipeline,
            StartCommand(UserId(user.id), BANANA, {"prompt": "a fox"}, CorrelationId("cor_w")),
        )
        assert isinstance(started, GenerationStarted), started
        stop = asyncio.Event()
        ready: asyncio.Future[int | None] = asyncio.get_running_loop().create_future()
        worker = asyncio.create_task(
            run_worker(runtime, stop, job_interval_s=0.05, http_port=0, ready=ready)
        )
        try:
            port = await asyncio.wait_for(ready, 10)
            assert port is not None
            async with asyncio.timeout(20):
                while True:
                    async with store() as uow:
                        generation = await uow.generations.get(started.generation_id)
                    assert generation is not None
                    if generation.state.is_terminal:
                        break
                    await asyncio.sleep(0.05)
            metrics = await scrape(port)
        finally:
            stop.set()
            await worker
            await runtime.bot.session.close()
    assert metrics.value("kiebot_leader") == 0
    assert metrics.value("kiebot_store_metrics_up") == 1
    assert generation.state is GenerationState.SUCCEEDED
    assert metrics.value("kiebot_kie_requests_total", endpoint="createTask", code="200") == 1
    assert metrics.total("kiebot_kie_requests_total", endpoint="credit", code="200") >= 1
    finished = {"model": BANANA, "state": "succeeded", "reason": "none"}
    assert metrics.value("kiebot_generations_finished_total", **finished) == 1


async def test_a_worker_whose_port_is_taken_runs_without_http(api: FakeBotApi):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        async with (
            run_sandbox(fast=True) as kie,
            open_kie_gateway(
                api_key="sandbox", base_url=kie.base_url, upload_base_url=kie.upload_base_url
            ) as gateway,
        ):
            config = settings_for(api)
            runtime = compose(
                config, store=MemoryUnitOfWorkFactory(), gateway=gateway, bot=open_bot(config)
            )
            stop = asyncio.Event()
            ready: asyncio.Future[int | None] = asyncio.get_running_loop().create_future()
            worker = asyncio.create_task(
                run_worker(runtime, stop, job_interval_s=0.05, http_port=port, ready=ready)
            )
            try:
                assert await asyncio.wait_for(ready, 10) is None
                assert not worker.done()
            finally:
                stop.set()
                await worker
                await runtime.bot.session.close()


class SteppingMonotonic:
    """A monotonic clock a test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def _store_figures(
    metrics: BotMetrics, store: MemoryUnitOfWorkFactory, clock: SteppingMonotonic, after: float
) -> Scrape:
    clock.now += after
    return Scrape("", (await metrics.scrape(store, None)).decode())


async def _add(store: MemoryUnitOfWorkFactory, *generations: Generation, stars: int = 0) -> None:
    async with store() as uow:
        for generation in generations:
            await uow.generations.add(generation)
        if stars:
            paid = make_payment(f"charge_{stars}", at=datetime.now(UTC), stars=stars)
            assert await uow.payments.add(paid)
        await uow.commit()


async def test_the_work_in_progress_is_read_every_few_seconds_the_totals_once_a_minute():
    store, clock = MemoryUnitOfWorkFactory(), SteppingMonotonic()
    metrics = BotMetrics(process=False, monotonic=clock)
    at = datetime.now(UTC)
    running, succeeded = GenerationState.RUNNING, GenerationState.SUCCEEDED
    await _add(
        store,
        make_generation("gen_1", at=at, model_id=BANANA, state=running),
        make_generation("gen_2", at=at, model_id=BANANA, state=succeeded),
        stars=50,
    )
    in_flight = {"model": BANANA, "state": "running"}
    done = {"model": BANANA, "state": "succeeded", "reason": "none"}
    first = await _store_figures(metrics, store, clock, 0)
    assert first.value("kiebot_store_metrics_up") == 1
    assert first.value("kiebot_generations_in_flight", **in_flight) == 1
    assert first.value("kiebot_generations_finished_total", **done) == 1
    assert first.value("kiebot_stars_purchased_total") == 50
    assert first.value("kiebot_payments_total") == 1

    await _add(
        store,
        make_generation("gen_3", at=at, model_id=BANANA, state=running),
        make_generation("gen_4", at=at, model_id=BANANA, state=succeeded),
        stars=100,
    )
    reused = await _store_figures(metrics, store, clock, STORE_EVERY_S / 2)
    assert reused.value("kiebot_generations_in_flight", **in_flight) == 1
    # The work in progress is read again after a few seconds; the totals are not.
    fresh = await _store_figures(metrics, store, clock, STORE_EVERY_S)
    assert fresh.value("kiebot_generations_in_flight", **in_flight) == 2
    assert fresh.value("kiebot_generations_finished_total", **done) == 1
    assert fresh.value("kiebot_stars_purchased_total") == 50
    # A minute after the last read of the totals, they are read again.
    later = await _store_figures(metrics, store, clock, TOTALS_EVERY_S)
    assert later.value("kiebot_generations_finished_total", **done) == 2
    assert later.value("kiebot_stars_purchased_total") == 150
    assert later.value("kiebot_payments_total") == 2
    assert later.value("kiebot_generations_in_flight", **in_flight) == 2


async def test_totals_that_cannot_be_read_keep_their_last_values_and_say_so(
    monkeypatch: pytest.MonkeyPatch,
):
    store, clock = MemoryUnitOfWorkFactory(), SteppingMonotonic()
    metrics = BotMetrics(process=False, monotonic=clock)
    await _add(store, stars=50)
    assert (await _store_figures(metrics, store, clock, 0)).value("kiebot_store_metrics_up") == 1

    async def unreadable(_: MemoryReportRepository) -> OperationsTotals:
        raise ConnectionError("the store is slow")

    await _add(store, stars=100)
    with monkeypatch.context() as patch:
        patch.setattr(MemoryReportRepository, "totals", unreadable)
        failed = await _store_figures(metrics, store, clock, TOTALS_EVERY_S)
        assert failed.value("kiebot_store_metrics_up") == 0
        assert failed.value("kiebot_stars_purchased_total") == 50  # the last known
        assert failed.value("kiebot_inbox_pending_updates") == 0  # the rest is read
        # A slow store is not asked again at every scrape: once a minute.
        still = await _store_figures(metrics, store, clock, STORE_EVERY_S)
        assert still.value("kiebot_store_metrics_up") == 0
    again = await _store_figures(metrics, store, clock, TOTALS_EVERY_S)
    assert again.value("kiebot_store_metrics_up") == 1
    assert again.value("kiebot_stars_purchased_total") == 150


def test_each_runtime_counts_in_its_own_registry():
    first, second = BotMetrics(process=False), BotMetrics(process=False)
    first.kie_call(CallRecord("createTask", "402", 0.1))
    assert first.kie_requests.labels("createTask", "402")._value.get() == 1
    assert b'code="402"' not in _render(second)
    assert b'code="402"' in _render(first)


def _render(metrics: BotMetrics) -> bytes:
    from prometheus_client import generate_latest

    return generate_latest(metrics.registry)
