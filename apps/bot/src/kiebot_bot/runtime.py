"""Running the composed bot: long polling, the job loop and the HTTP endpoints, until stopped."""

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import attrs

from kiebot_bot.health import Readiness, serve_http
from kiebot_bot.settings import Mode
from kiebot_bot.wiring import BotRuntime
from kiebot_core.use_cases.generation import resume_unfinished, run_due_jobs
from kiebot_telegram.dispatcher import set_commands
from kiebot_telegram.inbox import Inbox

_log = logging.getLogger(__name__)

JOB_BATCH = 1
"""Jobs claimed per round: one, so no claimed job waits behind a slow one (a delivery)."""
TASKS_LIMIT = 64
"""Updates handled at once in polling mode."""


async def job_loop(runtime: BotRuntime, interval_s: float) -> None:
    """Run due pipeline jobs and refresh status messages, forever; idle rounds sleep."""
    while True:
        try:
            ran = await run_due_jobs(runtime.pipeline, limit=JOB_BATCH)
            await runtime.board.refresh()
        except Exception:  # noqa: BLE001  # the loop must outlive any one failing round
            _log.exception("job loop round failed")
            ran = 0
        if ran == 0:
            await asyncio.sleep(interval_s)


async def start_up(runtime: BotRuntime) -> None:
    """Before taking updates: unfinished generations get their jobs back, the menu is set.

    Telegram is told where updates go: the webhook, or nowhere for long polling.
    """
    queued = await resume_unfinished(runtime.pipeline)
    if queued:
        _log.info("resumed %d unfinished generations", queued)
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
    runtime: BotRuntime, stop: asyncio.Event, *, job_interval_s: float = 0.5
) -> None:
    """Run pipeline jobs only (no polling, no webhook) until ``stop``: ``kiebot-bot worker``.

    Any number of workers and bot instances share the jobs: each job is claimed by one, and a
    stopped worker hands its unfinished claims back.
    """
    queued = await resume_unfinished(runtime.pipeline)
    if queued:
        _log.info("resumed %d unfinished generations", queued)
    jobs = asyncio.create_task(job_loop(runtime, job_interval_s), name="kiebot-worker")
    _log.info("worker started")
    await stop.wait()
    jobs.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await jobs


STOP_GRACE_S = 10.0
"""How long updates being handled may take to finish when the bot stops."""


@attrs.frozen
class _Serving:
    """What the HTTP side reports while the update loop runs."""

    readiness: Readiness
    ready: "asyncio.Future[int] | None"
    port: int


async def _run_loops(
    runtime: BotRuntime,
    stop: asyncio.Event,
    updates: "asyncio.Task[Any]",
    *,
    stop_updates: Callable[[], Awaitable[None]],
    job_interval_s: float,
    serving: _Serving,
) -> None:
    """Run the job loop beside ``updates`` until ``stop`` or either fails; then stop both.

    Readiness says the update loop runs meanwhile (``ready`` gets the HTTP port).
    ``stop_updates`` ends the update loop gracefully before anything still running is
    cancelled; a failure of either loop is raised.
    """
    jobs = asyncio.create_task(job_loop(runtime, job_interval_s), name="kiebot-jobs")
    stopped = asyncio.create_task(stop.wait(), name="kiebot-stop")
    serving.readiness.polling = True
    if serving.ready is not None and not serving.ready.done():
        serving.ready.set_result(serving.port)
    try:
        done, _ = await asyncio.wait({updates, jobs, stopped}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        serving.readiness.polling = False
    if not updates.done():
        await stop_updates()
    for task in (updates, jobs, stopped):
        if not task.done():
            task.cancel()
    await asyncio.gather(updates, jobs, stopped, return_exceptions=True)
    for task in (updates, jobs):
        if task in done and not task.cancelled() and (error := task.exception()) is not None:
            raise error


async def run_webhook(
    runtime: BotRuntime,
    stop: asyncio.Event,
    *,
    job_interval_s: float = 0.5,
    http_port: int | None = None,
    ready: "asyncio.Future[int] | None" = None,
) -> None:
    """Serve the webhook, handle the inbox and run jobs until ``stop`` (or a loop fails).

    Updates are stored before they are acknowledged and handled by this and any other
    instance, in order within each chat. Stopping lets the updates being handled finish and
    never deletes the webhook: Telegram keeps sending to the next instance.
    """
    settings = runtime.settings
    readiness = Readiness()
    inbox = Inbox(runtime.bot, runtime.dispatcher, runtime.store, runtime.pipeline.clock)
    port = settings.port if http_port is None else http_port
    async with serve_http(runtime, readiness, settings.host, port, inbox) as bound:
        await start_up(runtime)
        updates = asyncio.create_task(inbox.run(stop), name="kiebot-inbox")

        async def finish() -> None:
            stop.set()
            await asyncio.wait({updates}, timeout=STOP_GRACE_S)

        _log.info("webhook mode started")
        serving = _Serving(readiness, ready, bound)
        await _run_loops(
            runtime,
            stop,
            updates,
            stop_updates=finish,
            job_interval_s=job_interval_s,
            serving=serving,
        )
        _log.info("webhook mode stopped")


async def run_polling(
    runtime: BotRuntime,
    stop: asyncio.Event,
    *,
    handle_as_tasks: bool = True,
    job_interval_s: float = 0.5,
    polling_timeout_s: int = 10,
    http_port: int | None = None,
    ready: "asyncio.Future[int] | None" = None,
) -> None:
    """Poll Telegram and run jobs until ``stop`` is set (or either loop fails).

    ``http_port`` overrides ``PORT`` (0: any free port); ``ready`` gets the HTTP port once
    polling runs.
    """
    settings = runtime.settings
    readiness = Readiness()
    port = settings.port if http_port is None else http_port
    async with serve_http(runtime, readiness, settings.host, port) as bound:
        await start_up(runtime)
        dispatcher = runtime.dispatcher
        polling = asyncio.create_task(
            dispatcher.start_polling(
                runtime.bot,
                handle_signals=False,
                close_bot_session=False,
                handle_as_tasks=handle_as_tasks,
                tasks_concurrency_limit=TASKS_LIMIT if handle_as_tasks else None,
                polling_timeout=polling_timeout_s,
            ),
            name="kiebot-polling",
        )

        async def finish() -> None:
            with contextlib.suppress(RuntimeError):
                await dispatcher.stop_polling()

        _log.info("polling started")
        serving = _Serving(readiness, ready, bound)
        await _run_loops(
            runtime,
            stop,
            polling,
            stop_updates=finish,
            job_interval_s=job_interval_s,
            serving=serving,
        )
        _log.info("polling stopped")
