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
import statistics
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path

import attrs
from aiogram import Bot, Dispatcher
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.types import Message

from kiebot_core.domain.texts import Language
from kiebot_telegram.texts import CATALOGS, Msg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # bench.common, the fake of tests/
from bench.common import (
    POLLING_TIMEOUT_S,
    InFlight,
    Tracker,
    cancel_on_signals,
    fresh_database,
    make_users,
    ms,
    percentile,
    running_kiebot,
    watch,
)
from tests.telegram.fake_bot_api import FakeBotApi, FakeUser

BARE_TASKS_LIMIT = 64
"""Updates the bare aiogram bot handles at once."""
COMMANDS = ("/start", "/help", "/balance", "/history", "/settings", "/cancel")
SEARCHES = ("banana", "flux", "video", "kling", "music", "upscale", "portrait", "veo", "zzzz")
CONFIRM = tuple(CATALOGS[language][Msg.BTN_CONFIRM].split("{")[0] for language in Language)
"""Labels that would start a paid run: the mix stays on menus, lists, cards and the wizard."""
PRESS_SHARE = 0.55
SEARCH_SHARE = 0.25


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


async def bench_kiebot(dsn: str, args: argparse.Namespace) -> Phase:
    async with FakeBotApi() as api:
        tracker = Tracker(api)
        async with running_kiebot(api, dsn, tracker):
            users = make_users(api, 100_001, args.users)
            return await drive("kiebot", tracker, users, kiebot_action, args)


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
                tasks_concurrency_limit=BARE_TASKS_LIMIT,
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
    cancel_on_signals()
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
