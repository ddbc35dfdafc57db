"""Prometheus metrics of one bot process (``GET /metrics``), kept out of the core.

Each runtime has its own ``CollectorRegistry`` (tests run several bots in one process).
What is measured where:

* updates, by type and outcome, and how long the dispatcher took with each: an aiogram
  middleware placed outermost on ``dp.update`` (:class:`UpdateMetricsMiddleware`);
* every attempt of every KIE API call, its latency and KIE's answer code: an observer on
  ``KieClient`` (``kiebot_kie.client.CallRecord``);
* the KIE account's credits: asked at a scrape at most every ``CREDITS_EVERY_S``;
* leader status: the readiness bookkeeping, at each scrape;
* the store's figures, the whole deployment's (the same at every instance: aggregate them
  with ``max``, not ``sum``), in two reads of different cost: the work in progress
  (unfinished generations, the job queue, the update inbox; ``ReportRepository.operations``,
  cheap) at a scrape, reused for ``STORE_EVERY_S``; the totals (finished generations by
  model, state and reason, the Stars paid and refunded; ``ReportRepository.totals``, whole
  tables) at most every ``TOTALS_EVERY_S``, so the counters move in steps of a minute.
"""

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import asynccontextmanager
from decimal import Decimal
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from aiogram import BaseMiddleware
from aiogram.dispatcher.event.bases import UNHANDLED
from aiogram.types import TelegramObject, Update
from aiohttp import web
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    Info,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4
from prometheus_client.gc_collector import GCCollector
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector
from prometheus_client.registry import Collector

from kiebot_core.domain.figures import OperationsSnapshot, OperationsTotals
from kiebot_core.ports.generation import GenerationGateway
from kiebot_core.ports.storage import UnitOfWorkFactory
from kiebot_kie.client import CallRecord

_log = logging.getLogger(__name__)

CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4
"""The text exposition format Prometheus reads."""
STORE_EVERY_S = 5.0
"""A scrape within this many seconds of the last read of the work in progress reuses it."""
STORE_TIMEOUT_S = 2.0
TOTALS_EVERY_S = 60.0
"""How often a scrape reads the store's totals (whole tables); in between the last ones."""
TOTALS_TIMEOUT_S = 5.0
CREDITS_EVERY_S = 300.0
"""How often a scrape asks KIE for the account's credits."""
CREDITS_TIMEOUT_S = 3.0

UPDATE_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 0.8, 1.0, 2.5, 5.0, 10.0, 30.0)
"""Seconds; 0.05 is the product's p95 target and 0.8 the alert's."""
KIE_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 15.0, 30.0, 60.0, 120.0)

Handler = Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]]


def _version() -> str:
    try:
        return version("kiebot-bot")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "0"


class StoreCollector(Collector):
    """The figures of the last ``OperationsSnapshot`` and ``OperationsTotals``, as metrics.

    A failed read of the work in progress drops its gauges (they would lie); a failed read
    of the totals keeps the last ones (counters that vanish and come back help nobody).
    Either failure sets ``kiebot_store_metrics_up`` to 0 until that read succeeds again.
    """

    def __init__(self) -> None:
        self.snapshot: OperationsSnapshot | None = None
        self.totals: OperationsTotals | None = None
        self.ok = False
        self.totals_ok = False

    def describe(self) -> Iterable[Metric]:
        return ()

    def collect(self) -> Iterable[Metric]:
        up = GaugeMetricFamily(
            "kiebot_store_metrics_up",
            "1 when the last reads of the store's figures succeeded, else 0.",
        )
        up.add_metric([], 1.0 if self.ok and self.totals_ok else 0.0)
        yield up
        if self.snapshot is not None:
            yield from _in_flight_families(self.snapshot)
            yield from _queue_families(self.snapshot)
        if self.totals is not None:
            yield from _finished_families(self.totals)
            yield from _payment_families(self.totals)


def _in_flight_families(snapshot: OperationsSnapshot) -> Iterable[Metric]:
    in_flight = GaugeMetricFamily(
        "kiebot_generations_in_flight",
        "Unfinished generations by model and state (whole deployment).",
        labels=["model", "state"],
    )
    for (model, state), count in sorted(snapshot.in_flight.items()):
        in_flight.add_metric([model, state.value], count)
    yield in_flight


def _finished_families(totals: OperationsTotals) -> Iterable[Metric]:
    finished = CounterMetricFamily(
        "kiebot_generations_finished",
        "Generations that ended, by model, state and reason (whole deployment; read once a "
        "minute).",
        labels=["model", "state", "reason"],
    )
    for (model, state, reason), count in sorted(totals.finished.items(), key=str):
        finished.add_metric([model, state.value, reason or "none"], count)
    yield finished


def _queue_families(snapshot: OperationsSnapshot) -> Iterable[Metric]:
    jobs = GaugeMetricFamily(
        "kiebot_jobs",
        "Durable jobs: waiting (due), running (claimed), scheduled (due later).",
        labels=["state"],
    )
    jobs.add_metric(["waiting"], snapshot.jobs.waiting)
    jobs.add_metric(["running"], snapshot.jobs.running)
    jobs.add_metric(["scheduled"], snapshot.jobs.scheduled)
    yield jobs
    yield GaugeMetricFamily(
        "kiebot_job_queue_age_seconds",
        "How long the job waiting longest has been due (0 when none waits).",
        value=snapshot.jobs.oldest_wait.total_seconds(),
    )
    yield GaugeMetricFamily(
        "kiebot_inbox_pending_updates",
        "Stored updates not handled yet (parked ones excluded).",
        value=snapshot.updates_pending,
    )
    yield GaugeMetricFamily(
        "kiebot_inbox_queue_age_seconds",
        "How long the oldest update not handled yet has waited (0 when none).",
        value=snapshot.oldest_update_wait.total_seconds(),
    )
    yield GaugeMetricFamily(
        "kiebot_inbox_parked_updates",
        "Updates given up on after repeated failures.",
        value=snapshot.updates_parked,
    )


def _payment_families(totals: OperationsTotals) -> Iterable[Metric]:
    yield CounterMetricFamily(
        "kiebot_stars_purchased",
        "Stars of every payment received through Telegram (whole deployment).",
        value=totals.stars_purchased,
    )
    yield CounterMetricFamily(
        "kiebot_stars_refunded",
        "Stars of the payments refunded (whole deployment).",
        value=totals.stars_refunded,
    )
    yield CounterMetricFamily(
        "kiebot_payments", "Payments received (whole deployment).", value=totals.payments
    )
    yield CounterMetricFamily(
        "kiebot_payment_refunds", "Payments refunded (whole deployment).", value=totals.refunds
    )


class BotMetrics:
    """The metrics of one bot process, in a registry of its own."""

    def __init__(
        self,
        *,
        mode: str = "",
        process: bool = True,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        """Register every metric; ``process`` adds the process, platform and GC collectors.

        ``monotonic`` is the clock that spaces the store's and KIE's reads.
        """
        self._monotonic = monotonic
        self.registry = CollectorRegistry(auto_describe=True)
        registry = self.registry
        if process:
            ProcessCollector(registry=registry)
            PlatformCollector(registry=registry)
            GCCollector(registry=registry)
        Info("kiebot_build", "The running kiebot.", registry=registry).info(
            {"version": _version(), "mode": mode}
        )
        self.updates = Counter(
            "kiebot_updates",
            "Telegram updates by type and outcome (handled, unhandled, limited, error).",
            ["type", "outcome"],
            registry=registry,
        )
        self.update_seconds = Histogram(
            "kiebot_update_handling_seconds",
            "From the dispatcher taking an update to its handler finishing.",
            ["type"],
            buckets=UPDATE_BUCKETS,
            registry=registry,
        )
        self.kie_requests = Counter(
            "kiebot_kie_requests",
            "Attempts of KIE API calls by endpoint and KIE's code (timeout, transport...).",
            ["endpoint", "code"],
            registry=registry,
        )
        self.kie_seconds = Histogram(
            "kiebot_kie_request_duration_seconds",
            "KIE API call attempts, from sending to reading the answer.",
            ["endpoint"],
            buckets=KIE_BUCKETS,
            registry=registry,
        )
        self.kie_credits = Gauge(
            "kiebot_kie_credits",
            "The KIE account's credits when last asked.",
            registry=registry,
        )
        self.kie_credits_checked = Gauge(
            "kiebot_kie_credits_checked_timestamp_seconds",
            "When the KIE account's credits were last read (Unix time).",
            registry=registry,
        )
        self.leader = Gauge(
            "kiebot_leader",
            "1 while this instance holds the leader lease (does the singleton work).",
            registry=registry,
        )
        self.store = StoreCollector()
        registry.register(self.store)
        self._store_read_at = float("-inf")
        self._totals_read_at = float("-inf")
        self._credits_read_at = float("-inf")
        self._lock = asyncio.Lock()

    # ------------------------------------------------------------------ observers

    def kie_call(self, record: CallRecord) -> None:
        """A ``KieClient`` observer: count and time one attempt."""
        self.kie_requests.labels(record.endpoint, record.code).inc()
        self.kie_seconds.labels(record.endpoint).observe(record.seconds)

    def update_handled(self, update_type: str, outcome: str, seconds: float) -> None:
        """Count one update and its handling time."""
        self.updates.labels(update_type, outcome).inc()
        self.update_seconds.labels(update_type).observe(seconds)

    # ------------------------------------------------------------------ scrapes

    async def scrape(
        self,
        store: UnitOfWorkFactory,
        gateway: GenerationGateway | None,
        *,
        leader: bool = False,
    ) -> bytes:
        """Refresh what is read on demand, then render every metric."""
        self.leader.set(1 if leader else 0)
        async with self._lock:
            await asyncio.gather(
                self._read_store(store), self._read_totals(store), self._read_credits(gateway)
            )
        return generate_latest(self.registry)

    async def _read_store(self, store: UnitOfWorkFactory) -> None:
        now = self._monotonic()
        if now - self._store_read_at < STORE_EVERY_S:
            return
        try:
            async with asyncio.timeout(STORE_TIMEOUT_S), store() as uow:
                snapshot = await uow.reports.operations()
        except Exception as error:  # noqa: BLE001  # a scrape never fails on the store
            _log.warning("metrics: store figures unknown: %s", type(error).__name__)
            self.store.ok, self.store.snapshot = False, None
            return
        self.store.ok, self.store.snapshot = True, snapshot
        self._store_read_at = now

    async def _read_totals(self, store: UnitOfWorkFactory) -> None:
        now = self._monotonic()
        if now - self._totals_read_at < TOTALS_EVERY_S:
            return
        self._totals_read_at = now  # one try per period: a slow store is not asked again
        try:
            async with asyncio.timeout(TOTALS_TIMEOUT_S), store() as uow:
                totals = await uow.reports.totals()
        except Exception as error:  # noqa: BLE001  # the last known totals stay
            _log.warning("metrics: store totals unknown: %s", type(error).__name__)
            self.store.totals_ok = False
            return
        self.store.totals_ok, self.store.totals = True, totals

    async def _read_credits(self, gateway: GenerationGateway | None) -> None:
        now = self._monotonic()
        if gateway is None or now - self._credits_read_at < CREDITS_EVERY_S:
            return
        self._credits_read_at = now  # one try per period, answered or not
        try:
            async with asyncio.timeout(CREDITS_TIMEOUT_S):
                credits: Decimal = await gateway.credits()
        except Exception as error:  # noqa: BLE001  # the last known value stays
            _log.warning("metrics: KIE credits unknown: %s", type(error).__name__)
            return
        self.kie_credits.set(float(credits))
        self.kie_credits_checked.set(time.time())


def update_type(event: TelegramObject) -> str:
    """The kind of an update (``message``, ``callback_query``...), as a metric label."""
    if not isinstance(event, Update):
        return type(event).__name__.lower()
    try:
        return event.event_type
    except Exception:  # noqa: BLE001  # aiogram raises for update kinds it does not know
        return "unknown"


class UpdateMetricsMiddleware(BaseMiddleware):
    """Counts and times every update; install it outermost of kiebot's own on ``dp.update``.

    Outcomes: ``handled``; ``unhandled`` (no handler took it); ``limited`` (the rate limit
    refused it before the correlation middleware gave it an id); ``error`` (an exception left
    the handlers: the error boundary answers it).
    """

    def __init__(self, metrics: BotMetrics) -> None:
        self._metrics = metrics

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        started = time.perf_counter()
        outcome = "error"
        try:
            result = await handler(event, data)
            if result is UNHANDLED:
                outcome = "unhandled"
            elif "correlation_id" not in data:
                outcome = "limited"
            else:
                outcome = "handled"
            return result
        finally:
            self._metrics.update_handled(
                update_type(event), outcome, time.perf_counter() - started
            )


@asynccontextmanager
async def serve_metrics(
    scrape: Callable[[], Awaitable[bytes]], host: str, port: int
) -> AsyncIterator[int | None]:
    """Serve ``/healthz`` and ``/metrics`` on ``host:port`` for the block (a worker's HTTP).

    Yields the bound port (``port`` 0: any free one), or None when the port is taken: the
    caller keeps working without them (a warning says so).
    """

    async def healthz(_: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    async def metrics(_: web.Request) -> web.Response:
        return web.Response(body=await scrape(), headers={"Content-Type": CONTENT_TYPE})

    app = web.Application()
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port)
        try:
            await site.start()
        except OSError as error:
            _log.warning(
                "metrics not served: %s:%s cannot be bound (%s); set PORT", host, port, error
            )
            yield None
            return
        server = site._server  # noqa: SLF001  # aiohttp exposes the bound port only here
        sockets = getattr(server, "sockets", None) or []
        bound: int = sockets[0].getsockname()[1] if sockets else port
        _log.info("HTTP on %s:%s (/healthz, /metrics)", host, bound)
        yield bound
    finally:
        await runner.cleanup()
