"""Running the composed bot: updates, jobs, the leader's singleton work and HTTP, until stopped.

Every instance stores the updates it receives in the inbox (webhook mode), handles the inbox
(in order per chat; not while Redis, when used, is down) and runs jobs; the one holding the
leader lease also long-polls Telegram (polling mode), runs the reconciler, prunes old
records, checks the KIE credits, gives switched-off models their trial and sends broadcasts
(``kiebot_bot.operations``). Any number of instances run side by side.
"""

import asyncio
import contextlib
import logging
import os
import socket
import uuid
from collections.abc import Awaitable, Callable, Coroutine
from datetime import timedelta
from functools import partial
from typing import Any

from kiebot_bot.health import Readiness, serve_http
from kiebot_bot.metrics import serve_metrics
from kiebot_bot.operations import leader_tasks
from kiebot_bot.settings import Mode
from kiebot_bot.wiring import BotRuntime, redis_ok
from kiebot_core.use_cases.generation import resume_unfinished, run_due_jobs
from kiebot_core.use_cases.leadership import Leadership
from kiebot_core.use_cases.retention import prune_old_records
from kiebot_telegram.dispatcher import set_commands
from kiebot_telegram.inbox import Inbox
from kiebot_telegram.polling import poll_into_inbox

_log = logging.getLogger(__name__)

JOB_BATCH = 1
"""Jobs claimed per round: one, so no claimed job waits behind a slow one (a delivery)."""
STOP_GRACE_S = 10.0
"""How long updates being handled may take to finish when the bot stops."""
RECONCILE_EVERY = timedelta(minutes=1)
"""How often the leader makes sure every unfinished generation has its job."""
POLL_GRACE_S = 30.0
"""How much longer than a long poll Telegram may stay silent before the leader is not ready."""
MIN_WAIT_S = 0.05
"""The shortest wait of the leader loop (a renewal due at once still gets this long)."""
PRUNE_EVERY = timedelta(hours=1)
"""How often the leader prunes what the retention settings no longer keep."""


async def job_loop(runtime: BotRuntime, stop: asyncio.Event, interval_s: float) -> None:
    """Run due pipeline jobs and refresh status messages until ``stop``; idle rounds sleep.

    The job in hand when ``stop`` comes is finished; cancelled, it is handed back.
    """
    while not stop.is_set():
        try:
            ran = await run_due_jobs(runtime.pipeline, limit=JOB_BATCH)
            await runtime.board.refresh()
        except Exception:  # noqa: BLE001  # the loop must outlive any one failing round
            _log.exception("job loop round failed")
            ran = 0
        if ran == 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), interval_s)


def instance_name() -> str:
    """A name for this process that no other instance, here or elsewhere, shares."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def leadership_of(runtime: BotRuntime) -> Leadership:
    """This process's side of the bot's leader lease (one lease per bot)."""
    return Leadership(runtime.store, f"kiebot-bot:{runtime.bot.id}", instance_name())


async def every(period: timedelta, action: Callable[[], Awaitable[object]]) -> None:
    """Run ``action`` now and then every ``period``, forever; a failed round is logged."""
    while True:
        try:
            await action()
        except Exception:  # noqa: BLE001  # the next round may succeed (an outage ends)
            _log.exception("periodic leader work failed")
        await asyncio.sleep(period.total_seconds())


async def reconcile(runtime: BotRuntime) -> None:
    """The leader's repair: every unfinished generation gets its job back."""
    queued = await resume_unfinished(runtime.pipeline)
    if queued:
        _log.info("reconciler queued %d jobs for unfinished generations", queued)


async def prune(runtime: BotRuntime, leadership: Leadership) -> None:
    """The leader's retention: what the settings no longer keep is pruned, fenced by the lease."""
    report = await prune_old_records(
        runtime.store, runtime.pipeline.clock, runtime.settings.retention, fence=leadership.fence
    )
    if report.total:
        _log.info(
            "pruned %d events, %d updates, %d journaled calls, %d orders",
            report.events,
            report.inbox,
            report.sent,
            report.orders,
        )


async def lead(
    leadership: Leadership,
    stop: asyncio.Event,
    work: Callable[[], Coroutine[Any, Any, None]],
    readiness: Readiness,
    tried: asyncio.Event | None = None,
) -> None:
    """Keep trying for the lease until ``stop``; run ``work`` exactly while it is held.

    ``work`` is cancelled when this instance steps down or stops (and restarted after a
    failure); stopping gives the lease up so another instance takes over at once. ``tried``
    is set after the first attempt, so readiness reports its outcome from the start.
    """
    running: asyncio.Task[None] | None = None
    interval = leadership.renew_every.total_seconds()
    try:
        while not stop.is_set():
            if running is not None and not leadership.is_leader:  # stepped down while waiting
                _log.info("leader lease lost")
                readiness.leader = False
                await _cancel(running)
                running = None
            # A leader never waits past the moment it must step down, renewing or not.
            limit = min(interval, leadership.time_left) if leadership.is_leader else interval
            try:
                async with asyncio.timeout(max(limit, MIN_WAIT_S)):
                    await leadership.renew()
            except Exception as error:  # noqa: BLE001  # a failed renewal is not a crash
                _log.warning("lease renewal failed: %s", type(error).__name__)
            held = leadership.is_leader
            if held != readiness.leader:
                _log.info("leader lease %s", "taken" if held else "lost")
            readiness.leader = held
            if tried is not None:
                tried.set()
            if held and (running is None or running.done()):
                _log_failure(running)
                running = asyncio.create_task(work(), name="kiebot-leader-work")
            elif not held and running is not None:
                await _cancel(running)
                running = None
            wait = min(interval, leadership.time_left) if held else interval
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), max(wait, MIN_WAIT_S))
    finally:
        readiness.leader = False
        if running is not None:
            await _cancel(running)
        try:
            async with asyncio.timeout(interval):
                await leadership.release()
        except Exception as error:  # noqa: BLE001  # it runs out by itself within the TTL
            _log.warning("lease not released: %s", type(error).__name__)


def _log_failure(task: "asyncio.Task[None] | None") -> None:
    if task is not None and not task.cancelled() and (error := task.exception()) is not None:
        _log.error("leader work failed; restarting it", exc_info=error)


async def _cancel(task: "asyncio.Task[None]") -> None:
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


async def start_up(runtime: BotRuntime) -> None:
    """Before taking updates: Telegram is told where updates go (the webhook, or nowhere for
    long polling) and the menu is set. (The leader gives unfinished generations their jobs.)
    """
    settings = runtime.settings
    if settings.mode is Mode.WEBHOOK:
        await runtime.bot.set_webhook(
            url=settings.webhook_url or "",
            secret_token=settings.webhook_secret,
            allowed_updates=runtime.dispatcher.resolve_used_update_types(),
            drop_pending_updates=False,
        )
    else:
        await runtime.bot.delete_webhook(drop_pending_updates=False)
    await set_commands(runtime.bot)


async def run_worker(
    runtime: BotRuntime,
    stop: asyncio.Event,
    *,
    job_interval_s: float = 0.5,
    http_port: int | None = None,
    ready: "asyncio.Future[int | None] | None" = None,
) -> None:
    """Run pipeline jobs only (no polling, no webhook) until ``stop``: ``kiebot-bot worker``.

    Any number of workers and bot instances share the jobs: each job is claimed by one, and a
    stopped worker hands its unfinished claims back. ``/healthz`` and ``/metrics`` are served
    on ``HOST:PORT`` (``http_port`` overrides it; ``ready`` gets the bound port, None when
    the port was taken and the worker runs without them).
    """
    scrape = partial(runtime.metrics.scrape, runtime.store, runtime.pipeline.gateway)
    port = runtime.settings.port if http_port is None else http_port
    async with serve_metrics(scrape, runtime.settings.host, port) as bound:
        queued = await resume_unfinished(runtime.pipeline)
        if queued:
            _log.info("resumed %d unfinished generations", queued)
        jobs = asyncio.create_task(job_loop(runtime, stop, job_interval_s), name="kiebot-worker")
        if ready is not None and not ready.done():
            ready.set_result(bound)
        _log.info("worker started")
        await stop.wait()
        await asyncio.wait({jobs}, timeout=STOP_GRACE_S)
        await _cancel(jobs)


async def run_bot(
    runtime: BotRuntime,
    stop: asyncio.Event,
    *,
    job_interval_s: float = 0.5,
    polling_timeout_s: int = 10,
    http_port: int | None = None,
    ready: "asyncio.Future[int] | None" = None,
    leadership: Leadership | None = None,
) -> None:
    """Run the bot in its settings' mode until ``stop`` is set (or a loop fails).

    ``http_port`` overrides ``PORT`` (0: any free port); ``ready`` gets the HTTP port once
    updates are handled. Stopping lets the updates being handled finish, hands unfinished
    jobs back, gives the lease up and never deletes the webhook.
    """
    settings = runtime.settings
    readiness = Readiness(poll_quiet_limit_s=polling_timeout_s + POLL_GRACE_S)
    inbox = Inbox(runtime.bot, runtime.dispatcher, runtime.store, runtime.pipeline.clock)
    leadership = leadership or leadership_of(runtime)
    polls = settings.mode is Mode.POLLING
    port = settings.port if http_port is None else http_port
    allowed = runtime.dispatcher.resolve_used_update_types()

    async def singleton_work() -> None:
        async with asyncio.TaskGroup() as group:
            group.create_task(every(RECONCILE_EVERY, partial(reconcile, runtime)))
            group.create_task(every(PRUNE_EVERY, partial(prune, runtime, leadership)))
            if runtime.watchdogs is not None:
                for task in leader_tasks(runtime.watchdogs, leadership.fence):
                    group.create_task(task)
            if polls:
                readiness.polled()
                group.create_task(
                    poll_into_inbox(
                        inbox,
                        allowed_updates=allowed,
                        timeout_s=polling_timeout_s,
                        on_poll=readiness.polled,
                    )
                )

    async with serve_http(
        runtime, readiness, settings.host, port, None if polls else inbox
    ) as bound:
        await start_up(runtime)
        updates = asyncio.create_task(
            inbox.run(stop, can_handle=partial(redis_ok, runtime)), name="kiebot-inbox"
        )
        jobs = asyncio.create_task(job_loop(runtime, stop, job_interval_s), name="kiebot-jobs")
        tried = asyncio.Event()
        leading = asyncio.create_task(
            lead(leadership, stop, singleton_work, readiness, tried), name="kiebot-lead"
        )
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(tried.wait(), leadership.renew_every.total_seconds())
        stopped = asyncio.create_task(stop.wait(), name="kiebot-stop")
        readiness.handling = True
        if ready is not None and not ready.done():
            ready.set_result(bound)
        _log.info("bot started (%s mode)", settings.mode.value)
        try:
            done, _ = await asyncio.wait(
                {updates, jobs, leading, stopped}, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            readiness.handling = False
            stop.set()
        await asyncio.wait({updates, jobs, leading}, timeout=STOP_GRACE_S)
        for task in (updates, jobs, leading, stopped):
            if not task.done():
                task.cancel()
        await asyncio.gather(updates, jobs, leading, stopped, return_exceptions=True)
        _log.info("bot stopped")
        for task in (updates, jobs, leading):
            if task in done and not task.cancelled() and (error := task.exception()) is not None:
                raise error
