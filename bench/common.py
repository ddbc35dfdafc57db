"""What the benchmarks that drive the real bot against the fake Bot API share.

A fresh migrated PostgreSQL database (dropped at the end), the real bot polling the fake of
tests/telegram in this process, a tracker that tells when the bot is done with a user's update,
and the percentile arithmetic of the reports. Import it as ``bench.common``: the benchmarks put
the repository root on ``sys.path`` first (the fake of tests/ needs it too).
"""

import asyncio
import contextlib
import signal
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any

import asyncpg
import attrs
from aiogram import BaseMiddleware, Dispatcher
from aiogram.types import TelegramObject, Update

from kiebot_bot.runtime import run_bot
from kiebot_bot.settings import BotSettings
from kiebot_bot.wiring import BotRuntime, compose, open_bot, open_gateway, open_store
from kiebot_pg.migrate import migrate
from tests.telegram.fake_bot_api import ApiCall, FakeBotApi, FakeUser

ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"
POLLING_TIMEOUT_S = 2
HANDLED_WITHIN_S = 10.0
STARTED_WITHIN_S = 30.0


@attrs.define
class InFlight:
    kind: str
    done: asyncio.Future[None]
    update_id: int = 0
    first_at: float | None = None


class Tracker:
    """Pairs each user's update in flight with the bot's first call for that user."""

    def __init__(self, api: FakeBotApi) -> None:
        self.api = api
        self.flights: dict[int, InFlight] = {}
        self.errors = 0
        api.observers.append(self.on_call)

    def on_call(self, call: ApiCall) -> None:
        if call.error_code is not None and call.method != "getUpdates":
            self.errors += 1
        user_id = call.chat_id
        if call.method == "answerCallbackQuery":
            record = self.api.callbacks.get(str(call.params.get("callback_query_id")))
            user_id = record.user_id if record is not None else None
        flight = self.flights.get(user_id) if user_id is not None else None
        if flight is not None and flight.first_at is None:
            flight.first_at = call.at

    def handled(self, user_id: int) -> None:
        flight = self.flights.get(user_id)
        if flight is not None and not flight.done.done():
            flight.done.set_result(None)

    async def act(
        self, user: FakeUser, kind: str, action: Callable[[], Awaitable[int]]
    ) -> InFlight:
        """Run ``action`` (it pushes one update) and wait until the bot handled it."""
        flight = InFlight(kind, asyncio.get_running_loop().create_future())
        self.flights[user.id] = flight
        flight.update_id = await action()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(flight.done), HANDLED_WITHIN_S)
        del self.flights[user.id]
        return flight


class Handled(BaseMiddleware):
    """The outermost update middleware: tells the tracker when the bot is done with an update."""

    def __init__(self, tracker: Tracker) -> None:
        self.tracker = tracker

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        try:
            return await handler(event, data)
        finally:
            if isinstance(event, Update):
                sender = event.message or event.callback_query or event.edited_message
                if sender is not None and sender.from_user is not None:
                    self.tracker.handled(sender.from_user.id)


def watch(dispatcher: Dispatcher, tracker: Tracker) -> None:
    """Put :class:`Handled` outside every update middleware the dispatcher already has."""
    manager = dispatcher.update.outer_middleware
    existing = list(manager)
    for middleware in existing:
        manager.unregister(middleware)
    manager.register(Handled(tracker))
    for middleware in existing:
        manager.register(middleware)


def make_users(api: FakeBotApi, first_id: int, count: int) -> list[FakeUser]:
    languages = ("en", "ru", None)
    return [
        api.user(first_id + n, f"Bench{n}", languages[n % len(languages)]) for n in range(count)
    ]


@contextlib.asynccontextmanager
async def fresh_database() -> AsyncIterator[str]:
    """A fresh migrated database on the local PostgreSQL, dropped at the end; its DSN."""
    name = f"kiebot_bench_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(ADMIN_DSN)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        try:
            dsn = ADMIN_DSN.rsplit("/", 1)[0] + f"/{name}"
            await migrate(dsn)
            yield dsn
        finally:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@contextlib.asynccontextmanager
async def running_kiebot(
    api: FakeBotApi, dsn: str, tracker: Tracker, **settings: Any
) -> AsyncIterator[BotRuntime]:
    """The real bot as kiebot-bot composes it (PostgreSQL at ``dsn``, the KIE sandbox), polling
    ``api`` with updates handled as tasks, watched by ``tracker``, until the block ends.
    """
    config = BotSettings(
        telegram_bot_token=api.token,
        telegram_api_base=api.base_url,
        database_url=dsn,
        use_sandbox=True,
        sandbox_fast=True,
        port=0,
        **settings,
    )
    async with open_store(config, migrate=False) as store, open_gateway(config) as kie:
        bot = open_bot(config)
        runtime = compose(config, store=store, gateway=kie, bot=bot)
        watch(runtime.dispatcher, tracker)
        stop = asyncio.Event()
        ready: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        polling = asyncio.create_task(
            run_bot(runtime, stop, polling_timeout_s=POLLING_TIMEOUT_S, http_port=0, ready=ready)
        )
        try:
            async with asyncio.timeout(STARTED_WITHIN_S):
                either: list[asyncio.Future[Any]] = [polling, ready]
                await asyncio.wait(either, return_when=asyncio.FIRST_COMPLETED)
            if polling.done():
                polling.result()
            yield runtime
        finally:
            stop.set()
            await polling
            await bot.session.close()


def cancel_on_signals() -> None:
    """Ctrl-C and SIGTERM cancel the current task (even where the shell ignores SIGINT), so
    every ``finally`` runs: the benchmark database is dropped.
    """
    main_task = asyncio.current_task()
    assert main_task is not None
    for sig in (signal.SIGINT, signal.SIGTERM):
        asyncio.get_running_loop().add_signal_handler(sig, main_task.cancel)


def percentile(samples: Sequence[float], share: float) -> float:
    ordered = sorted(samples)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def ms(value: float) -> str:
    return f"{1000 * value:8.1f}"
