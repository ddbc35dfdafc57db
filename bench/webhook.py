"""Webhook acknowledgement latency and end-to-end update throughput of real kiebot-bot processes.

Usage: uv run python bench/webhook.py [--updates 2000] [--connections 40] [--rate 0]
    [--ack-users 200] [--users 100] [--per-user 10] [--instances 1,2] [--logs DIR]
    [--skip-ack] [--skip-throughput]

Everything runs on 127.0.0.1 with tests/cluster/harness.py: ``kiebot-bot --webhook``
subprocesses over PostgreSQL (a fresh empty database per cluster, created from
postgresql://postgres@127.0.0.1:5432/postgres, migrated by the instances at start-up, dropped at
the end, also on Ctrl-C or SIGTERM) and Redis, the KIE sandbox, the fake Telegram Bot API of
tests/telegram and the round-robin proxy, which ``WEBHOOK_URL`` points at. Every update is a
search that finds nothing, which the bot answers with one message quoting it, so each answer is
matched to its update. The per-user update limit is lifted (``KIEBOT_USER_UPDATES_PER_MINUTE``).

1. Acknowledgement latency (one instance): ``--connections`` concurrent keep-alive connections
   POST ``--updates`` distinct valid updates (from ``--ack-users`` users, with the secret
   header) straight to the instance's webhook, as fast as it answers (closed loop: latency
   then includes queueing behind the instance's throughput), or ``--rate`` updates per second
   (open loop, as Telegram sends them when traffic is below capacity). A request's latency is
   from sending it to reading the whole response; the instance stores each update before it
   answers 200 and handles them meanwhile. The first ``--connections`` requests open the
   connections and are not measured. Target: p99 <= 100 ms at 40 connections. Then the time
   until the bot answered every update is reported.
2. End-to-end throughput: for each instance count in ``--instances``, a fresh cluster;
   ``--users`` users each send one search (warm-up: users are created; not measured), then
   ``--per-user`` more each, all queued at the fake at once. The fake delivers them through
   the proxy like Telegram (oldest first, one at a time per chat, at most 40 at once); the
   time is from queuing the first to the bot's last answer. Reported: updates/s per instance
   count and the ratio to the first.

CPU seconds of the bots and of this process (the fake Bot API, the proxy, the load) and how
busy the machine was are shown for each measured window (Linux ``/proc``): on a small machine
everything, PostgreSQL included, shares the same cores.

Figures are printed, never asserted; the run exits with 1 when an update was not answered,
was answered twice, or was not acknowledged with 200.
"""

import argparse
import asyncio
import contextlib
import os
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import attrs

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # bench.common, tests/cluster
from bench.common import cancel_on_signals, ms, percentile
from tests.cluster.harness import (
    SECRET_HEADER,
    WEBHOOK_SECRET,
    Cluster,
    SearchStream,
    search_query,
    start_cluster,
)
from tests.telegram.fake_bot_api import ApiCall

ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"
TARGET_P99_S = 0.100
FIRST_UPDATE_ID = 50_000_000
ANSWERED_WITHIN_S = 180.0
BENCH_ENV = {"KIEBOT_USER_UPDATES_PER_MINUTE": "1000000"}


@contextlib.asynccontextmanager
async def scratch_database() -> AsyncIterator[str]:
    """A fresh empty database on the local PostgreSQL, dropped at the end; its DSN."""
    name = f"kiebot_bench_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(ADMIN_DSN)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield ADMIN_DSN.rsplit("/", 1)[0] + f"/{name}"
        finally:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@contextlib.asynccontextmanager
async def bench_cluster(instances: int, workdir: Path) -> AsyncIterator[Cluster]:
    async with (
        scratch_database() as dsn,
        start_cluster(dsn, workdir, instances=instances, env=BENCH_ENV) as cluster,
    ):
        yield cluster


def text_update(update_id: int, user_id: int, text: str) -> dict[str, Any]:
    person = {"id": user_id, "is_bot": False, "first_name": "Bench", "language_code": "en"}
    return {
        "update_id": update_id,
        "message": {
            "message_id": update_id,
            "date": int(time.time()),
            "chat": {"id": user_id, "type": "private", "first_name": "Bench"},
            "from": person,
            "text": text,
        },
    }


_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def process_cpu_s(pid: int | None) -> float:
    """User + system CPU seconds of a process so far (Linux ``/proc``; nan elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / _TICKS


def machine_ticks() -> tuple[int, int]:
    """(busy, total) CPU ticks of the whole machine so far (Linux ``/proc/stat``)."""
    try:
        values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except (OSError, ValueError):
        return 0, 0
    idle = values[3] + (values[4] if len(values) > 4 else 0)
    return sum(values) - idle, sum(values)


@attrs.define
class CpuWindow:
    """CPU spent between :meth:`begin` and :meth:`end`: by the bots, by this process (the
    fake Bot API, the proxy and the load), and how busy the whole machine was."""

    bots_s: float = 0.0
    bench_s: float = 0.0
    busy_share: float = float("nan")
    cores: int = os.cpu_count() or 1
    _start: tuple[float, float, tuple[int, int]] = (0.0, 0.0, (0, 0))

    def begin(self, cluster: Cluster) -> None:
        self._start = (self._bots(cluster), time.process_time(), machine_ticks())

    def end(self, cluster: Cluster) -> None:
        bots, bench, (busy, total) = self._start
        self.bots_s = self._bots(cluster) - bots
        self.bench_s = time.process_time() - bench
        now_busy, now_total = machine_ticks()
        if now_total > total:
            self.busy_share = (now_busy - busy) / (now_total - total)

    @staticmethod
    def _bots(cluster: Cluster) -> float:
        return sum(process_cpu_s(bot.pid) for bot in cluster.bots)

    def line(self, wall_s: float) -> str:
        return (
            f"CPU over {wall_s:.1f} s: bots {self.bots_s:.1f} s, this process (fake Bot API, "
            f"proxy, load) {self.bench_s:.1f} s, machine {100 * self.busy_share:.0f}% busy "
            f"of {self.cores} cores"
        )


class LastAnswer:
    """Remembers when the fake recorded the bot's latest successful sendMessage."""

    def __init__(self) -> None:
        self.at = 0.0

    def __call__(self, call: ApiCall) -> None:
        if call.method == "sendMessage" and call.ok:
            self.at = max(self.at, call.at)


# ---------------------------------------------------------------------------------- 1. acks


class Pace:
    """Open-loop pacing: request ``n`` (0-based, after the warm-up) is sent no earlier than
    ``n / rate`` seconds after the first one; ``rate`` 0 sends as fast as answers come."""

    def __init__(self, rate: float) -> None:
        self.rate = rate
        self.origin: float | None = None

    async def wait(self, n: int) -> None:
        if self.rate <= 0 or n < 0:
            return
        if self.origin is None:
            self.origin = time.perf_counter()
        delay = self.origin + n / self.rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)


@attrs.define
class AckResult:
    connections: int
    latencies: list[float] = attrs.Factory(list)
    statuses: Counter[int | str] = attrs.Factory(Counter)
    wall_s: float = 0.0
    drain_s: float | None = None
    missing: int = 0
    duplicated: int = 0
    cpu: CpuWindow = attrs.Factory(CpuWindow)
    rate: float = 0.0


async def bench_acks(args: argparse.Namespace, workdir: Path) -> AckResult:
    result = AckResult(args.connections, rate=args.rate)
    async with bench_cluster(1, workdir / "acks") as cluster:
        bot = cluster.bots[0]
        stream = SearchStream.of(cluster.api, users=args.ack_users, per_user=0)
        total = args.updates + args.connections  # the first of each connection: warm-up
        updates = []
        for n in range(total):
            user = stream.users[n % len(stream.users)]
            query = search_query(user.id, n // len(stream.users))
            stream.sent.setdefault(user.id, []).append(query)
            updates.append(text_update(FIRST_UPDATE_ID + n, user.id, query))
        last = LastAnswer()
        cluster.api.observers.append(last)
        queue: asyncio.Queue[tuple[int, dict[str, Any]]] = asyncio.Queue()
        for index, update in enumerate(updates):
            queue.put_nowait((index, update))
        headers = {SECRET_HEADER: WEBHOOK_SECRET}
        connector = aiohttp.TCPConnector(limit=args.connections)
        timeout = aiohttp.ClientTimeout(total=30)

        pace = Pace(args.rate)

        async def worker(http: aiohttp.ClientSession) -> None:
            while not queue.empty():
                index, update = queue.get_nowait()
                await pace.wait(index - args.connections)
                began = time.perf_counter()
                try:
                    async with http.post(bot.webhook_url, json=update, headers=headers) as r:
                        await r.read()
                        status: int | str = r.status
                except (aiohttp.ClientError, TimeoutError) as error:
                    status = type(error).__name__
                took = time.perf_counter() - began
                if index >= args.connections:
                    result.latencies.append(took)
                    result.statuses[status] += 1

        async with aiohttp.ClientSession(connector=connector, timeout=timeout) as http:
            result.cpu.begin(cluster)
            started = time.perf_counter()
            await asyncio.gather(*(worker(http) for _ in range(args.connections)))
            result.wall_s = time.perf_counter() - started
            result.cpu.end(cluster)
            acked = time.monotonic()
            try:
                await stream.wait_answered(within_s=ANSWERED_WITHIN_S)
                result.drain_s = last.at - acked
            except AssertionError as error:
                print(f"acknowledgement run: {error}", file=sys.stderr)
                dump_logs(workdir / "acks")
        result.missing = len(stream.missing())
        result.duplicated = len(stream.duplicated())
    return result


# ---------------------------------------------------------------------------------- 2. e2e


@attrs.define
class Throughput:
    instances: int
    updates: int
    wall_s: float = 0.0
    missing: int = 0
    duplicated: int = 0
    out_of_order: int = 0
    webhook_errors: int = 0
    joined: dict[str, int] = attrs.Factory(dict)
    startup_s: float = 0.0
    cpu: CpuWindow = attrs.Factory(CpuWindow)
    error: str | None = None
    """Why the run has no figures (updates left unanswered)."""

    @property
    def rate(self) -> float:
        return self.updates / self.wall_s if self.wall_s else 0.0


async def bench_throughput(instances: int, args: argparse.Namespace, workdir: Path) -> Throughput:
    result = Throughput(instances, args.users * args.per_user)
    began = time.monotonic()
    logs = workdir / f"e2e-{instances}"
    async with bench_cluster(instances, logs) as cluster:
        result.startup_s = time.monotonic() - began
        api = cluster.api
        stream = SearchStream.of(api, users=args.users, per_user=args.per_user + 1)
        await stream.send_round(0)  # warm-up: every user is created
        try:
            await stream.wait_answered(within_s=ANSWERED_WITHIN_S)
        except AssertionError as error:
            result.error = f"warm-up: {error}"
            result.missing = len(stream.missing())
            dump_logs(logs)
            return result
        errors_before = len(api.webhook_errors)
        last = LastAnswer()
        api.observers.append(last)
        result.cpu.begin(cluster)
        started = time.monotonic()
        for number in range(1, args.per_user + 1):
            await stream.send_round(number)
        try:
            await stream.wait_answered(within_s=ANSWERED_WITHIN_S)
        except AssertionError as error:
            result.error = str(error)
            dump_logs(logs)
        result.wall_s = last.at - started
        result.cpu.end(cluster)
        result.missing = len(stream.missing())
        result.duplicated = len(stream.duplicated())
        result.out_of_order = len(stream.out_of_order())
        result.webhook_errors = len(api.webhook_errors) - errors_before
        result.joined = {bot.name: cluster.proxy.joined[bot.port] for bot in cluster.bots}
    return result


# ---------------------------------------------------------------------------------- report


def report_acks(result: AckResult) -> bool:
    samples = result.latencies
    ok = result.statuses.get(200, 0)
    p99 = percentile(samples, 0.99)
    pacing = f"paced at {result.rate:g}/s" if result.rate > 0 else "as fast as answered"
    print(
        f"1. webhook acknowledgement, one instance: {len(samples)} updates measured over "
        f"{result.connections} connections, {pacing}, in {result.wall_s:.1f} s "
        f"({len(samples) / result.wall_s:.0f} acks/s)"
    )
    print(f"   {'p50 ms':>8}{'p95 ms':>9}{'p99 ms':>9}{'max ms':>9}   statuses")
    print(
        f"   {ms(percentile(samples, 0.5))}{ms(percentile(samples, 0.95)):>9}{ms(p99):>9}"
        f"{ms(max(samples, default=float('nan'))):>9}   {dict(result.statuses)}"
    )
    verdict = "meets" if p99 <= TARGET_P99_S else "MISSES"
    print(f"   p99 {verdict} the target of {1000 * TARGET_P99_S:.0f} ms; 200: {ok}/{len(samples)}")
    drain = f"{result.drain_s:.1f} s" if result.drain_s is not None else "not within the limit"
    print(
        f"   every update answered {drain} after the last acknowledgement; "
        f"unanswered {result.missing}, answered twice {result.duplicated}"
    )
    print(f"   {result.cpu.line(result.wall_s)}")
    return ok == len(samples) and result.missing == 0 and result.duplicated == 0


def report_throughput(results: list[Throughput], args: argparse.Namespace) -> bool:
    print(
        f"2. end to end through the fake Bot API's webhook delivery and the proxy: "
        f"{args.users} users x {args.per_user} searches"
    )
    print(
        f"   {'instances':>9}{'updates':>9}{'seconds':>9}{'upd/s':>8}{'ratio':>7}"
        f"{'missing':>9}{'twice':>7}{'order':>7}{'hook err':>10}{'start s':>9}   connections"
    )
    base = results[0].rate if results else 0.0
    for result in results:
        ratio = result.rate / base if base else float("nan")
        print(
            f"   {result.instances:>9}{result.updates:>9}{result.wall_s:>9.2f}"
            f"{result.rate:>8.0f}{ratio:>7.2f}{result.missing:>9}{result.duplicated:>7}"
            f"{result.out_of_order:>7}{result.webhook_errors:>10}{result.startup_s:>9.1f}"
            f"   {result.joined}"
        )
    for result in results:
        print(f"   {result.instances} instance(s): {result.cpu.line(result.wall_s)}")
        if result.error is not None:
            print(f"   {result.instances} instance(s) FAILED: {result.error}")
    return all(r.error is None and r.missing == 0 and r.duplicated == 0 for r in results)


def dump_logs(workdir: Path, lines: int = 20, width: int = 400) -> None:
    """The last ``lines`` lines of every instance's log under ``workdir`` (each cut to
    ``width`` characters), to stderr: what a failed run leaves to look at."""
    for log in sorted(workdir.rglob("*.log")):
        tail = log.read_text(errors="replace").splitlines()[-lines:]
        text = "\n".join(line[:width] for line in tail)
        print(f"----- {log}\n{text}", file=sys.stderr)


async def run(args: argparse.Namespace) -> bool:
    cancel_on_signals()
    good = True
    with contextlib.ExitStack() as stack:
        if args.logs is not None:
            workdir = args.logs
        else:
            workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="kiebot-")))
        try:
            if not args.skip_ack:
                good = report_acks(await bench_acks(args, workdir)) and good
            if not args.skip_throughput:
                results = [await bench_throughput(n, args, workdir) for n in args.instances]
                good = report_throughput(results, args) and good
        except Exception:
            dump_logs(workdir)
            raise
    return good


def main() -> int:
    parser = argparse.ArgumentParser(description="webhook ack latency and update throughput")
    parser.add_argument("--updates", type=int, default=2000, help="acknowledgements measured")
    parser.add_argument("--connections", type=int, default=40, help="concurrent connections")
    parser.add_argument(
        "--rate", type=float, default=0.0, help="acknowledgement run: updates/s (0: flat out)"
    )
    parser.add_argument("--ack-users", type=int, default=200, help="users the updates come from")
    parser.add_argument("--users", type=int, default=100, help="users in the throughput runs")
    parser.add_argument("--per-user", type=int, default=10, help="searches per user measured")
    parser.add_argument(
        "--instances",
        type=lambda text: [int(part) for part in text.split(",")],
        default=[1, 2],
        help="instance counts of the throughput runs, comma-separated",
    )
    parser.add_argument(
        "--logs", type=Path, help="keep the instances' logs in this directory (default: deleted)"
    )
    parser.add_argument("--skip-ack", action="store_true", help="no acknowledgement run")
    parser.add_argument("--skip-throughput", action="store_true", help="no throughput runs")
    args = parser.parse_args()
    if args.updates < 1 or args.connections < 1 or args.ack_users < 1:
        parser.error("--updates, --connections and --ack-users must be positive")
    if args.users < 1 or args.per_user < 1 or not all(n >= 1 for n in args.instances):
        parser.error("--users, --per-user and every --instances count must be positive")
    try:
        good = asyncio.run(run(args))
    except (KeyboardInterrupt, asyncio.CancelledError):
        print("interrupted; the benchmark databases were dropped", file=sys.stderr)
        return 130
    return 0 if good else 1


if __name__ == "__main__":
    sys.exit(main())
