"""Update handling latency and throughput of the kiebot bot, beside a bare aiogram bot.

Usage: uv run python bench/bot_latency.py [--updates 2000] [--users 40] [--concurrency 10]
    [--seconds 20] [--seed 7]

Both bots poll the fake Telegram Bot API of tests/telegram (a fresh instance each, on
127.0.0.1) in this process. kiebot is the real bot as kiebot-bot composes it (PostgreSQL in a
fresh database created from postgresql://postgres@127.0.0.1:5432/postgres, migrated, dropped
at the end, also on Ctrl-C or SIGTERM; the KIE sandbox; polling with updates handled as tasks)
and gets a mix of /start, /help and other commands, menu and wizard button presses (never
Confirm, so no generation runs) and search text. The bare bot is an aiogram Dispatcher with one
handler doing one sendMessage per message, polled the same way, and gets commands and text.

Simulated users act one update at a time: ``--concurrency`` of the ``--users`` have an update
in flight at once, and a user's next update waits until the bot finished handling the last one.
Latency is from the moment the fake hands an update to the bot (getUpdates) to the bot's first
Bot API call for that chat or callback; throughput is measured updates per second of wall time.
Each bot first gets one /start per user (not measured), then ``--updates`` updates or
``--seconds`` seconds, whichever ends first. Figures are printed, never asserted.
"""

import argparse
import asyncio
import contextlib
import random
import signal
import statistics
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

import asyncpg
import attrs
from aiogram import BaseMiddleware, Bot, Dispatcher
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.types import Message, TelegramObject, Update

from kiebot_bot.runtime import TASKS_LIMIT, run_polling
from kiebot_bot.settings import BotSettings
from kiebot_bot.wiring import compose, open_bot, open_gateway, open_store
from kiebot_core.domain.texts import Language
from kiebot_pg.migrate import migrate
from kiebot_telegram.texts import CATALOGS, Msg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the fake Bot API of tests/
from tests.telegram.fake_bot_api import ApiCall, FakeBotApi, FakeUser

ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"
POLLING_TIMEOUT_S = 2
HANDLED_WITHIN_S = 10.0
COMMANDS = ("/start", "/help", "/balance", "/history", "/settings", "/cancel")
SEARCHES = ("banana", "flux", "video", "kling", "music", "upscale", "portrait", "veo", "zzzz")
CONFIRM = tuple(CATALOGS[language][Msg.BTN_CONFIRM].split("{")[0] for language in Language)
"""Labels that would start a paid run: the mix stays on menus, lists, cards and the wizard."""
PRESS_SHARE = 0.55
SEARCH_SHARE = 0.25


@attrs.define
class InFlight:
    kind: str
    done: asyncio.Future[None]
    update_id: int = 0
    first_at: float | None = None


@attrs.define
class Phase:
    name: str
    latencies: dict[str, list[float]] = attrs.Factory(dict)
    silent: int = 0
    timeouts: int = 0
    errors: int = 0
    measured: int = 0
    wall_s: float = 0.0

    def all(self) -> list[float]:
        return sorted(x for values in self.latencies.values() for x in values)

    @property
    def throughput(self) -> float:
        return self.measured / self.wall_s if self.wall_s else 0.0


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


Action = Callable[[FakeUser, random.Random], tuple[str, Callable[[], Awaitable[int]]]]


def kiebot_action(user: FakeUser, rng: random.Random) -> tuple[str, Callable[[], Awaitable[int]]]:
    roll = rng.random()
    keyboards = user.with_buttons()
    if roll < PRESS_SHARE and keyboards:
        message = keyboards[-1]
        buttons = [
            button
            for button in message.buttons()
            if "callback_data" in button and not str(button["text"]).startswith(CONFIRM)
        ]
        if buttons:
            data = str(rng.choice(buttons)["callback_data"])

            async def press() -> int:
                return (await user.press_data(data, message, wait=False)).update_id

            return "button", press
    if roll < PRESS_SHARE + SEARCH_SHARE:
        text = rng.choice(SEARCHES)
        return "search", lambda: user.send(text, wait=False)
    command = rng.choice(COMMANDS)
    return "command", lambda: user.send(command, wait=False)


def bare_action(user: FakeUser, rng: random.Random) -> tuple[str, Callable[[], Awaitable[int]]]:
    text = rng.choice(COMMANDS) if rng.random() < 0.5 else rng.choice(SEARCHES)
    return "text", lambda: user.send(text, wait=False)


def record(phase: Phase, tracker: Tracker, flight: InFlight) -> None:
    if not flight.done.done():
        phase.timeouts += 1
        return
    fetched = tracker.api.fetched_at.get(flight.update_id)
    if flight.first_at is None or fetched is None:
        phase.silent += 1
        return
    phase.latencies.setdefault(flight.kind, []).append(flight.first_at - fetched)


async def drive(
    name: str,
    tracker: Tracker,
    users: Sequence[FakeUser],
    action: Action,
    args: argparse.Namespace,
) -> Phase:
    """Warm up with one /start per user, then measure the mix of ``action``."""
    free: asyncio.Queue[FakeUser] = asyncio.Queue()
    for user in users:
        free.put_nowait(user)
    rng = random.Random(args.seed)
    phase = Phase(name)

    async def start_once() -> None:
        user = await free.get()
        await tracker.act(user, "start", lambda: user.send("/start", wait=False))
        free.put_nowait(user)

    async def worker(budget: list[int], deadline: float) -> None:
        while budget[0] > 0 and time.perf_counter() < deadline:
            budget[0] -= 1
            user = await free.get()
            kind, act = action(user, rng)
            try:
                record(phase, tracker, await tracker.act(user, kind, act))
            finally:
                free.put_nowait(user)

    gate = asyncio.Semaphore(args.concurrency)

    async def gated() -> None:
        async with gate:
            await start_once()

    await asyncio.gather(*(gated() for _ in users))
    errors_before = tracker.errors
    budget = [args.updates]
    started = time.perf_counter()
    deadline = started + args.seconds
    await asyncio.gather(*(worker(budget, deadline) for _ in range(args.concurrency)))
    phase.wall_s = time.perf_counter() - started
    phase.measured = args.updates - budget[0]
    phase.errors = tracker.errors - errors_before
    return phase


def make_users(api: FakeBotApi, first_id: int, count: int) -> list[FakeUser]:
    languages = ("en", "ru", None)
    return [
        api.user(first_id + n, f"Bench{n}", languages[n % len(languages)]) for n in range(count)
    ]


@contextlib.asynccontextmanager
async def fresh_database() -> AsyncIterator[str]:
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


async def bench_kiebot(dsn: str, args: argparse.Namespace) -> Phase:
    async with FakeBotApi() as api:
        settings = BotSettings(
            telegram_bot_token=api.token,
            telegram_api_base=api.base_url,
            database_url=dsn,
            use_sandbox=True,
            sandbox_fast=True,
            port=0,
        )
        tracker = Tracker(api)
        async with open_store(settings, migrate=False) as store, open_gateway(settings) as kie:
            bot = open_bot(settings)
            runtime = compose(settings, store=store, gateway=kie, bot=bot)
            watch(runtime.dispatcher, tracker)
            stop = asyncio.Event()
            ready: asyncio.Future[int] = asyncio.get_running_loop().create_future()
            polling = asyncio.create_task(
                run_polling(
                    runtime, stop, polling_timeout_s=POLLING_TIMEOUT_S, http_port=0, ready=ready
                )
            )
            try:
                async with asyncio.timeout(30):
                    either: list[asyncio.Future[Any]] = [polling, ready]
                    await asyncio.wait(either, return_when=asyncio.FIRST_COMPLETED)
                if polling.done():
                    polling.result()
                users = make_users(api, 100_001, args.users)
                return await drive("kiebot", tracker, users, kiebot_action, args)
            finally:
                stop.set()
                await polling
                await bot.session.close()


async def bench_bare(args: argparse.Namespace) -> Phase:
    async with FakeBotApi() as api:
        tracker = Tracker(api)
        bot = Bot(api.token, session=AiohttpSession(api=TelegramAPIServer.from_base(api.base_url)))
        dispatcher = Dispatcher()

        @dispatcher.message()
        async def echo(message: Message) -> None:
            await message.answer("ok")

        watch(dispatcher, tracker)
        polling = asyncio.create_task(
            dispatcher.start_polling(
                bot,
                handle_signals=False,
                close_bot_session=False,
                handle_as_tasks=True,
                tasks_concurrency_limit=TASKS_LIMIT,
                polling_timeout=POLLING_TIMEOUT_S,
            )
        )
        try:
            users = make_users(api, 200_001, args.users)
            return await drive("bare aiogram", tracker, users, bare_action, args)
        finally:
            with contextlib.suppress(RuntimeError):
                await dispatcher.stop_polling()
            await polling
            await bot.session.close()


def percentile(samples: Sequence[float], share: float) -> float:
    ordered = sorted(samples)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def ms(value: float) -> str:
    return f"{1000 * value:8.1f}"


def report(kiebot: Phase, bare: Phase, args: argparse.Namespace) -> None:
    print(
        f"users={args.users} concurrency={args.concurrency} updates<={args.updates} "
        f"seconds<={args.seconds} seed={args.seed}  (latency: getUpdates hands the update "
        "over -> the bot's first Bot API call for it)"
    )
    print(
        f"{'bot':<14}{'kind':<9}{'updates':>8}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}"
        f"{'upd/s':>9}{'silent':>8}{'timeout':>8}{'errors':>8}"
    )
    for phase in (kiebot, bare):
        samples = phase.all()
        print(
            f"{phase.name:<14}{'all':<9}{phase.measured:>8}{ms(percentile(samples, 0.5)):>9}"
            f"{ms(percentile(samples, 0.95)):>9}{ms(percentile(samples, 0.99)):>9}"
            f"{phase.throughput:>9.0f}{phase.silent:>8}{phase.timeouts:>8}{phase.errors:>8}"
        )
        if len(phase.latencies) > 1:
            for kind, values in sorted(phase.latencies.items()):
                print(
                    f"{'':<14}{kind:<9}{len(values):>8}{ms(percentile(values, 0.5)):>9}"
                    f"{ms(percentile(values, 0.95)):>9}{ms(percentile(values, 0.99)):>9}"
                )
    k, b = kiebot.all(), bare.all()
    if k and b:
        p50 = statistics.median(k) / statistics.median(b)
        p95 = percentile(k, 0.95) / percentile(b, 0.95)
        rate = kiebot.throughput / bare.throughput
        print(f"kiebot/bare: p50 {p50:.2f}x  p95 {p95:.2f}x  throughput {rate:.2f}x")


async def run(args: argparse.Namespace) -> None:
    main_task = asyncio.current_task()
    assert main_task is not None
    for sig in (signal.SIGINT, signal.SIGTERM):  # even where the shell ignores SIGINT
        asyncio.get_running_loop().add_signal_handler(sig, main_task.cancel)
    async with fresh_database() as dsn:
        kiebot = await bench_kiebot(dsn, args)
    bare = await bench_bare(args)
    report(kiebot, bare, args)


def main() -> int:
    parser = argparse.ArgumentParser(description="kiebot vs a bare aiogram bot, per update")
    parser.add_argument("--updates", type=int, default=2000, help="measured updates per bot")
    parser.add_argument("--users", type=int, default=40, help="simulated Telegram users")
    parser.add_argument("--concurrency", type=int, default=10, help="updates in flight at once")
    parser.add_argument("--seconds", type=float, default=20.0, help="time limit per bot")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    if not 1 <= args.concurrency <= args.users:
        parser.error("--concurrency must be between 1 and --users")
    try:
        asyncio.run(run(args))
    except (KeyboardInterrupt, asyncio.CancelledError):
        print("interrupted; the benchmark database was dropped", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
