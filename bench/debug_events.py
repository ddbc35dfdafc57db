"""``kiebot debug`` on a million events: how fast each kind of id is looked up, on PostgreSQL.

Usage: uv run python bench/debug_events.py [--events 1000000] [--lookups 25] [--cli 3]

Fills a fresh database (created from postgresql://postgres@127.0.0.1:5432/postgres, migrated,
dropped at the end) with ``--events`` events shaped like the bot's, with COPY in batches of
50,000: per generation, four wizard updates (each its own action) and the Confirm update, the
start, the hold, job runs, the KIE create and its polls, the status message, delivery and the
capture (22 events), over 2,000 users and the last 30 days; and the generations' and users'
rows (``kiebot debug`` reads them too).

Then it times ``debug_report`` (what ``kiebot debug`` and ``/debug`` run) for ``--lookups``
random keys of each kind (a generation id, a correlation id of a wizard update, a KIE task
id, an update id, a user id) and prints p50/p95/max in ms, with the indexes the lookups'
queries use (EXPLAIN); and it runs the ``kiebot debug`` command itself in a new process
(``DATABASE_URL`` set) ``--cli`` times per kind: the wall time an operator waits, Python's
start and the CLI's imports included. The figures are reported, not asserted.
"""

import argparse
import asyncio
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import asyncpg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # bench.common
from bench.common import fresh_database, ms, percentile
from kiebot_core.domain.generation import Generation, GenerationState
from kiebot_core.domain.ids import CorrelationId, GenerationId, ProviderTaskId, UserId
from kiebot_core.use_cases.diagnosis import debug_report
from kiebot_pg.pool import open_pool
from kiebot_pg.rows import generation_values
from kiebot_pg.uow import PgUnitOfWorkFactory

EVENTS_PER_GENERATION = 22
USERS = 2_000
FIRST_USER = 500_000_001
BATCH = 50_000
PERIOD = timedelta(days=30)
MODEL = "nano-banana-pro"
EVENT_COLUMNS = [
    "correlation_id",
    "kind",
    "at",
    "user_id",
    "generation_id",
    "reason",
    "duration_ms",
    "payload",
]
GENERATION_COLUMNS = [
    "id",
    "user_id",
    "model_id",
    "input",
    "credits",
    "stars",
    "held",
    "is_free",
    "correlation_id",
    "state",
    "created_at",
    "updated_at",
    "deadline_at",
    "task_id",
    "result_urls",
    "result_object",
    "credits_consumed",
    "delivered_refs",
    "reason",
    "version",
    "model_search",
    "prompt_search",
    "estimated",
    "charge",
]
MENU = ["🎨 Text → Image", "🖌 Edit an image", "🎬 Text → Video", "🔥 Popular", "🔍 Search"]


def gen_id(n: int) -> str:
    return f"gen_{n:016x}"


def cor_id(n: int, action: int = 4) -> str:
    return f"cor_{n:012x}{action:04x}"


def task_id(n: int) -> str:
    return f"{n:032x}"


def update_id(n: int, action: int = 4) -> int:
    return 700_000_000 + n * 5 + action


def user_of(n: int) -> int:
    return FIRST_USER + n % USERS


def screens(title: str) -> str:
    return json.dumps(
        [
            {
                "method": "editMessageText",
                "text": f"{title} / Step 2/4 · Aspect ratio",
                "buttons": MENU,
            }
        ]
    )


def events_of(n: int, start: datetime) -> Iterator[tuple[object, ...]]:
    """The 22 events of generation ``n`` (its wizard, its run), oldest first."""
    user, gen, cor, task = user_of(n), gen_id(n), cor_id(n), task_id(n)
    for action in range(4):
        payload = {
            "update_id": update_id(n, action),
            "type": "callback_query",
            "input": f"pressed «{MENU[action]}»",
            "screens": json.loads(screens(MODEL)),
        }
        at = start + timedelta(seconds=2 * action)
        yield (cor_id(n, action), "update", at, user, None, None, 31, json.dumps(payload))
    at = start + timedelta(seconds=10)
    confirm = {
        "update_id": update_id(n),
        "type": "callback_query",
        "input": "pressed «✅ Confirm»",
    }
    run: list[tuple[str, str | None, int | None, dict[str, object]]] = [
        ("update", None, 48, confirm),
        ("generation.started", gen, None, {"model": MODEL, "stars": 15, "held": 15}),
        ("ledger.hold", gen, None, {"stars": 15}),
        ("telegram.status_message", gen, None, {"chat_id": user, "message_id": n % 9000}),
        ("job.submit", gen, 210, {"attempt": 1, "outcome": "done"}),
        ("kie.create", gen, 190, {"model": MODEL, "kie_task_id": task}),
        ("generation.submitted", gen, None, {"kie_task_id": task, "attempt": 1}),
        ("kie.status", gen, 60, {"state": "queued", "kie_task_id": task}),
        ("generation.running", gen, None, {}),
        ("kie.status", gen, 55, {"state": "running", "kie_task_id": task}),
        ("kie.status", gen, 58, {"state": "running", "kie_task_id": task}),
        ("kie.status", gen, 61, {"state": "running", "kie_task_id": task}),
        ("kie.status", gen, 57, {"state": "succeeded", "files": 1, "kie_task_id": task}),
        ("generation.result_ready", gen, None, {"files": 1, "kie_credits": "18"}),
        ("job.track", gen, 75, {"attempt": 1, "outcome": "done"}),
        ("ledger.capture", gen, None, {"stars": 15}),
        ("generation.delivered", gen, None, {"files": 1, "stars": 15, "attempt": 1}),
        ("job.deliver", gen, 420, {"attempt": 1, "outcome": "done"}),
    ]
    for step, (kind, generation, duration, payload) in enumerate(run):
        at = start + timedelta(seconds=10 + step * 1.5)
        yield (cor, kind, at, user, generation, None, duration, json.dumps(payload))


def generation_of(n: int, start: datetime) -> tuple[object, ...]:
    created = start + timedelta(seconds=10)
    generation = Generation(
        id=GenerationId(gen_id(n)),
        user_id=UserId(user_of(n)),
        model_id=MODEL,
        input={"prompt": f"a fox number {n}", "aspect_ratio": "16:9"},
        credits=Decimal(18),
        stars=15,
        held=15,
        correlation_id=CorrelationId(cor_id(n)),
        state=GenerationState.SUCCEEDED,
        created_at=created,
        updated_at=created + timedelta(seconds=26),
        deadline_at=created + timedelta(minutes=15),
        task_id=ProviderTaskId(task_id(n)),
        result_urls=("https://tempfile.example/result.png",),
        delivered_refs=(f"photo:AgAC{n}",),
    )
    return generation_values(generation)


async def fill(dsn: str, events: int) -> int:
    """Fill the database; the number of generations."""
    generations = max(1, events // EVENTS_PER_GENERATION)
    now = datetime.now(UTC)
    first = now - PERIOD
    step = PERIOD / generations
    connection = await asyncpg.connect(dsn)
    try:
        await connection.copy_records_to_table(
            "users",
            records=[(FIRST_USER + i, "en", first) for i in range(USERS)],
            columns=["id", "language", "created_at"],
        )
        batch: list[tuple[object, ...]] = []
        rows: list[tuple[object, ...]] = []
        written = 0
        started = time.perf_counter()
        for n in range(generations):
            start = first + step * n
            batch.extend(events_of(n, start))
            rows.append(generation_of(n, start))
            if len(batch) >= BATCH or n == generations - 1:
                await connection.copy_records_to_table(
                    "events", records=batch, columns=EVENT_COLUMNS
                )
                await connection.copy_records_to_table(
                    "generations", records=rows, columns=GENERATION_COLUMNS
                )
                written += len(batch)
                batch, rows = [], []
                rate = written / (time.perf_counter() - started)
                print(f"\r  {written:>9,} events ({rate:,.0f}/s)", end="", flush=True)
        print()
        await connection.execute("ANALYZE")
    finally:
        await connection.close()
    return generations


def keys(generations: int, lookups: int, rng: random.Random) -> dict[str, list[str]]:
    sample = [rng.randrange(generations) for _ in range(lookups)]
    return {
        "generation id": [gen_id(n) for n in sample],
        "correlation id": [cor_id(n, rng.randrange(4)) for n in sample],
        "KIE task id": [task_id(n) for n in sample],
        "update id": [str(update_id(n, rng.randrange(5))) for n in sample],
        "user id": [str(user_of(n)) for n in sample],
    }


PLANS = {
    "generation": (
        "SELECT * FROM events WHERE generation_id = $1 AND generation_id IS NOT NULL "
        "ORDER BY at, id"
    ),
    "correlation": "SELECT * FROM events WHERE correlation_id = $1 ORDER BY at, id",
    "task": (
        "SELECT * FROM events WHERE payload ? 'kie_task_id' AND "
        "payload ->> 'kie_task_id' = $1 ORDER BY payload ->> 'kie_task_id', at, id"
    ),
    "update": (
        "SELECT * FROM events WHERE payload ? 'update_id' AND "
        "payload ->> 'update_id' = $1 ORDER BY payload ->> 'update_id', at, id"
    ),
    "user": (
        "SELECT * FROM (SELECT * FROM events WHERE user_id = $1 AND user_id IS NOT NULL "
        "AND at >= $2 ORDER BY at DESC, id DESC LIMIT $3) latest ORDER BY at, id"
    ),
}


async def plans(dsn: str) -> None:
    connection = await asyncpg.connect(dsn)
    try:
        samples = {
            "generation": (gen_id(7),),
            "correlation": (cor_id(7),),
            "task": (task_id(7),),
            "update": (str(update_id(7)),),
            "user": (user_of(7), datetime(1, 1, 1, tzinfo=UTC), 50),
        }
        for name, query in PLANS.items():
            plan = await connection.fetch("EXPLAIN " + query, *samples[name])
            used = [row[0].strip() for row in plan if " using " in row[0]]
            print(f"  {name:<12} {used[0] if used else plan[0][0]}")
    finally:
        await connection.close()


async def time_lookups(dsn: str, chosen: dict[str, list[str]]) -> None:
    async with open_pool(dsn) as pool:
        store = PgUnitOfWorkFactory(pool)
        await debug_report(store, gen_id(0))  # warm the pool and the statement cache
        print(f"  {'key':<16}{'p50 ms':>9}{'p95 ms':>9}{'max ms':>9}  timeline lines")
        for kind, values in chosen.items():
            samples, lines = [], []
            for key in values:
                started = time.perf_counter()
                report = await debug_report(store, key)
                samples.append(time.perf_counter() - started)
                assert report is not None, key
                lines.append(len(report.timeline))
            print(
                f"  {kind:<16}{ms(percentile(samples, 0.5))}{ms(percentile(samples, 0.95))}"
                f"{ms(max(samples))}  {min(lines)}-{max(lines)}"
            )


def _run(arguments: list[str], environment: dict[str, str]) -> tuple[float, float, str]:
    """Wall and CPU seconds of one ``kiebot`` process, and its stderr when it failed."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(  # our own CLI, with keys we made
        [sys.executable, "-m", "kiebot_cli", *arguments],
        env=environment,
        capture_output=True,
        check=False,
    )
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, "" if done.returncode == 0 else done.stderr.decode()


def time_cli(dsn: str, chosen: dict[str, list[str]], runs: int) -> None:
    # As installed: with compiled bytecode (kept under a temporary prefix, never in the tree),
    # warmed by one run first; PYTHONDONTWRITEBYTECODE would compile every module every time.
    environment = dict(os.environ, DATABASE_URL=dsn, COLUMNS="160")
    environment.pop("PYTHONDONTWRITEBYTECODE", None)
    environment["PYTHONPYCACHEPREFIX"] = tempfile.mkdtemp(prefix="kiebot-bench-pycache-")
    _run(["debug", next(iter(chosen.values()))[0]], environment)
    print(f"  {'command':<30}{'wall p50':>9}{'wall max':>9}{'CPU p50':>9}  (ms)")
    cases = [("kiebot --help", ["--help"])] * runs + [
        (f"kiebot debug <{kind}>", ["debug", key])
        for kind, values in chosen.items()
        for key in values[:runs]
    ]
    results: dict[str, list[tuple[float, float]]] = {}
    for name, arguments in cases:
        wall, cpu, failure = _run(arguments, environment)
        if failure:
            raise SystemExit(f"kiebot {' '.join(arguments)} failed: {failure}")
        results.setdefault(name, []).append((wall, cpu))
    for name, samples in results.items():
        walls, cpus = [w for w, _ in samples], [c for _, c in samples]
        print(
            f"  {name:<24}{ms(percentile(walls, 0.5))}{ms(max(walls))}{ms(percentile(cpus, 0.5))}"
        )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--lookups", type=int, default=25)
    parser.add_argument("--cli", type=int, default=3, help="kiebot debug processes per kind")
    parser.add_argument("--seed", type=int, default=7)
    options = parser.parse_args()
    async with fresh_database() as dsn:
        print(f"filling {options.events:,} events…")
        started = time.perf_counter()
        generations = await fill(dsn, options.events)
        took = time.perf_counter() - started
        print(f"  {generations:,} generations, {USERS:,} users in {took:.1f} s")
        print("indexes the lookups use:")
        await plans(dsn)
        chosen = keys(generations, options.lookups, random.Random(options.seed))
        print(f"debug_report, {options.lookups} lookups per kind of key:")
        await time_lookups(dsn, chosen)
        if options.cli:
            print(f"`kiebot debug KEY` as a new process, {options.cli} per kind:")
            print(f"  (load average now {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)")
            await asyncio.to_thread(time_cli, dsn, chosen, options.cli)


if __name__ == "__main__":
    asyncio.run(main())
