"""The bot's HTTP server: ``/healthz``, ``/readyz``, ``/metrics``, the KIE callback, the webhook.

In webhook mode, Telegram's updates are stored in the inbox before they are acknowledged.
"""

import asyncio
import hmac
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import urlsplit

import attrs
from aiohttp import web

from kiebot_bot.metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE
from kiebot_bot.wiring import BotRuntime, redis_ok
from kiebot_core.domain.ids import UserId
from kiebot_core.use_cases.generation import on_provider_callback
from kiebot_kie.callbacks import verify_callback
from kiebot_kie.errors import KieCallbackError
from kiebot_telegram.inbox import Inbox, is_update

_log = logging.getLogger(__name__)

DATABASE_CHECK_TIMEOUT_S = 2.0


SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"  # noqa: S105  # a header name, not a secret
"""The header Telegram sends the webhook's secret token in."""


@attrs.define
class Readiness:
    """What ``/readyz`` reports besides the database."""

    handling: bool = False
    """True while this instance handles updates from the inbox."""
    leader: bool = False
    """True while this instance holds the leader lease (and does the singleton work)."""
    polled_at: float | None = None
    """When the leader last heard from ``getUpdates`` (monotonic; None: it does not poll)."""
    poll_quiet_limit_s: float = 60.0
    """How long polling may go without an answer before the leader is not ready."""

    def polled(self) -> None:
        """The leader's ``getUpdates`` answered (or polling starts)."""
        self.polled_at = time.monotonic()

    @property
    def polling_ok(self) -> bool:
        """False while the leader polls and Telegram has not answered for too long."""
        if not self.leader or self.polled_at is None:
            return True
        return time.monotonic() - self.polled_at < self.poll_quiet_limit_s


async def database_ok(runtime: BotRuntime) -> bool:
    """True when a unit of work can read from the database within the timeout."""
    try:
        async with asyncio.timeout(DATABASE_CHECK_TIMEOUT_S), runtime.store() as uow:
            await uow.users.get(UserId(0))
    except Exception as error:  # noqa: BLE001  # any failure means "not ready"
        _log.warning("readiness: database check failed: %s", type(error).__name__)
        return False
    return True


async def migrations_current(runtime: BotRuntime) -> bool | None:
    """False while the database lacks a migration this version ships (None: no schema).

    A newer schema (a newer version migrated it during a deploy) counts as current: the
    migrations are forward-compatible.
    """
    if runtime.pending_migrations is None:
        return None
    try:
        async with asyncio.timeout(DATABASE_CHECK_TIMEOUT_S):
            return not await runtime.pending_migrations()
    except Exception as error:  # noqa: BLE001  # unknown counts as not current
        _log.warning("readiness: migration check failed: %s", type(error).__name__)
        return False


async def queue_age_s(runtime: BotRuntime) -> float | None:
    """Seconds the oldest update not yet handled has waited in the inbox (0 when none)."""
    try:
        async with asyncio.timeout(DATABASE_CHECK_TIMEOUT_S), runtime.store() as uow:
            oldest = await uow.inbox.oldest_pending_at()
    except Exception as error:  # noqa: BLE001  # unknown, as the database check says
        _log.warning("readiness: queue age unknown: %s", type(error).__name__)
        return None
    if oldest is None:
        return 0.0
    return round(max((runtime.pipeline.clock.now() - oldest).total_seconds(), 0.0), 3)


def make_app(
    runtime: BotRuntime, readiness: Readiness, inbox: Inbox | None = None
) -> web.Application:
    """The aiohttp application of the bot's HTTP endpoints (the webhook with ``inbox``)."""

    async def healthz(_: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    async def readyz(_: web.Request) -> web.Response:
        database, redis = await asyncio.gather(database_ok(runtime), redis_ok(runtime))
        migrations = await migrations_current(runtime) if database else None
        polling = readiness.polling_ok
        ready = database and redis and readiness.handling and polling and migrations is not False
        body = {
            "ready": ready,
            "database": database,
            "redis": redis if runtime.redis is not None else None,
            "leader": readiness.leader,
            "handling": readiness.handling,
            "polling_ok": polling,
            "migrations_current": migrations,
            "queue_age_s": await queue_age_s(runtime),
            "mode": runtime.settings.mode.value,
            "sandbox": runtime.settings.use_sandbox,
        }
        return web.json_response(body, status=200 if ready else 503)

    async def kie_callback(request: web.Request) -> web.Response:
        body = await request.read()
        try:
            task_id = verify_callback(
                body, request.headers, hmac_key=runtime.settings.kie_callback_hmac_key
            )
        except KieCallbackError as error:
            _log.warning("KIE callback refused: %s", error)
            return web.json_response({"ok": False}, status=401)
        known = await on_provider_callback(runtime.pipeline, task_id)
        return web.json_response({"ok": True, "known": known})

    async def metrics(_: web.Request) -> web.Response:
        body = await runtime.metrics.scrape(
            runtime.store, runtime.pipeline.gateway, leader=readiness.leader
        )
        return web.Response(body=body, headers={"Content-Type": METRICS_CONTENT_TYPE})

    app = web.Application()
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics)
    app.router.add_post("/kie/callback", kie_callback)
    if inbox is not None:
        add_webhook(app, runtime, inbox)
    return app


def add_webhook(app: web.Application, runtime: BotRuntime, inbox: Inbox) -> None:
    """Serve the webhook at the path of ``WEBHOOK_URL``.

    A request without the right secret token gets 401 and stores nothing; a body that is not
    an update gets 400; an update is answered 200 only after it is stored (a duplicate update
    id too, storing nothing), and 503 when it cannot be stored, so Telegram sends it again.
    """
    settings = runtime.settings
    secret = (settings.webhook_secret or "").encode()
    path = urlsplit(settings.webhook_url or "").path or "/"

    async def webhook(request: web.Request) -> web.Response:
        given = request.headers.get(SECRET_HEADER, "").encode()
        if not secret or not hmac.compare_digest(given, secret):
            return web.json_response({"ok": False}, status=401)
        try:
            payload = await request.json()
        except ValueError:
            return web.json_response({"ok": False}, status=400)
        if not is_update(payload):
            return web.json_response({"ok": False}, status=400)
        try:
            await inbox.receive(payload)
        except Exception as error:  # noqa: BLE001  # not stored: Telegram must send it again
            _log.warning("update not stored: %s", type(error).__name__)
            return web.json_response({"ok": False}, status=503)
        return web.json_response({"ok": True})

    app.router.add_post(path, webhook)


@asynccontextmanager
async def serve_http(
    runtime: BotRuntime, readiness: Readiness, host: str, port: int, inbox: Inbox | None = None
) -> AsyncIterator[int]:
    """Serve the endpoints on ``host:port`` (0: any free port) for the block; yields the port."""
    runner = web.AppRunner(make_app(runtime, readiness, inbox), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    try:
        await site.start()
        server = site._server  # noqa: SLF001  # aiohttp exposes the bound port only here
        sockets = getattr(server, "sockets", None) or []
        bound = sockets[0].getsockname()[1] if sockets else port
        _log.info("HTTP on %s:%s (/healthz, /readyz, /metrics)", host, bound)
        yield bound
    finally:
        await runner.cleanup()
