"""Pipeline throughput and memory against the KIE sandbox with simulated latency.

Usage:
    uv run python bench/pipeline.py throughput [--generations 300] [--workers 8]
        [--store pg|sqlite|memory] [--latency 1.0]
    uv run python bench/pipeline.py in-flight [--generations 10000] [--workers 8]
        [--store pg|sqlite|memory] [--seconds 30]

The sandbox runs in a child process (its rate limit lifted; each task takes ``--latency``
seconds at KIE), so the figures are the pipeline's own: generations per second, CPU time of
this process per generation, and this process's peak RSS. ``in-flight`` starts generations
whose tasks never finish ([lost]) and reports RSS once they are all being tracked. PostgreSQL
runs in a fresh database created from postgresql://postgres@127.0.0.1:5432/postgres and
dropped afterwards. Everything talks to 127.0.0.1 only and stops by itself.
"""

import argparse
import asyncio
import contextlib
import resource
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import asyncpg
import attrs

from kiebot_core.domain.catalog import Registry
from kiebot_core.domain.generation import Generation, GenerationState
from kiebot_core.domain.ids import CorrelationId, UserId
from kiebot_core.domain.registry import load_registry
from kiebot_core.ports.delivery import ResultDelivery
from kiebot_core.ports.runtime import SystemClock, Uuid4Ids
from kiebot_core.ports.storage import UnitOfWorkFactory
from kiebot_core.testing.memory import MemoryUnitOfWorkFactory
from kiebot_core.use_cases.generation import (
    GenerationStarted,
    Pipeline,
    PipelineSettings,
    StartCommand,
    start_generation,
    work,
)
from kiebot_kie.client import CreateRateLimiter
from kiebot_kie.gateway import open_kie_gateway
from kiebot_kie.sandbox.server import SandboxTiming, run_sandbox
from kiebot_pg.migrate import migrate as migrate_pg
from kiebot_pg.pool import open_pool
from kiebot_pg.uow import PgUnitOfWorkFactory
from kiebot_sqlite.migrate import migrate as migrate_sqlite
from kiebot_sqlite.uow import SqliteUnitOfWorkFactory

ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"


@attrs.define
class Discard(ResultDelivery):
    """Delivery that only counts (the bench measures the pipeline, not downloads)."""

    delivered: int = 0

    async def deliver(self, generation: Generation) -> tuple[str, ...]:
        self.delivered += 1
        return generation.result_urls

    async def report_failure(self, generation: Generation) -> None:
        return None

    async def report_refund(self, generation: Generation, stars: int, reason: str) -> None:
        return None


async def serve_sandbox(latency: float) -> None:
    """Child process: a sandbox whose tasks take ``latency`` seconds, no rate limit."""
    third = latency / 3
    timing = SandboxTiming(waiting_s=third, queuing_s=third, generating_s=third, tick_s=0.05)
    async with run_sandbox(timing=timing, rate_limit=False, credits=10**9) as sandbox:
        sys.stdout.write(f"PORT {sandbox.port}\n")
        sys.stdout.flush()
        await asyncio.Event().wait()


@contextlib.asynccontextmanager
async def sandbox_process(latency: float) -> AsyncIterator[str]:
    child = await asyncio.create_subprocess_exec(
        sys.executable, __file__, "serve-sandbox", "--latency", str(latency),
        stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert child.stdout is not None
    line = (await asyncio.wait_for(child.stdout.readline(), 30)).decode()
    try:
        yield f"http://127.0.0.1:{line.split()[1]}"
    finally:
        child.terminate()
        await child.wait()


@contextlib.asynccontextmanager
async def open_bench_store(kind: str) -> AsyncIterator[UnitOfWorkFactory]:
    if kind == "memory":
        yield MemoryUnitOfWorkFactory()
    elif kind == "sqlite":
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "bench.sqlite3"
            await migrate_sqlite(path)
            yield SqliteUnitOfWorkFactory(path)
    else:
        name = f"kiebot_bench_{uuid.uuid4().hex[:8]}"
        admin = await asyncpg.connect(ADMIN_DSN)
        await admin.execute(f'CREATE DATABASE "{name}"')
        dsn = ADMIN_DSN.rsplit("/", 1)[0] + f"/{name}"
        try:
            await migrate_pg(dsn)
            async with open_pool(dsn, max_size=16) as pool:
                yield PgUnitOfWorkFactory(pool)
        finally:
            await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
            await admin.close()


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def count_states(store: UnitOfWorkFactory) -> dict[str, int]:
    async with store() as uow:
        unfinished = await uow.generations.unfinished()
    counts: dict[str, int] = {}
    for generation in unfinished:
        counts[generation.state] = counts.get(generation.state, 0) + 1
    return counts


async def start_many(pipeline: Pipeline, count: int, prompt: str) -> list[GenerationStarted]:
    started = []
    for number in range(count):
        result = await start_generation(
            pipeline,
            StartCommand(
                UserId(number),  # many users, as in production (each has a few in flight)
                "flux-2/flex-text-to-image",
                {"prompt": f"{prompt} {number}"},
                CorrelationId(f"bench_{number}"),
            ),
        )
        assert isinstance(result, GenerationStarted), result
        started.append(result)
    return started


async def run(args: argparse.Namespace) -> None:
    registry = load_registry()

    async def current() -> Registry:
        return registry

    async with (
        sandbox_process(args.latency) as kie_url,
        open_bench_store(args.store) as store,
        open_kie_gateway(
            api_key="bench",
            base_url=kie_url,
            upload_base_url=kie_url,
            limiter=CreateRateLimiter(limit=10**6, window_s=1.0),
            poll_scale=args.latency / 10,
        ) as gateway,
    ):
        delivery = Discard()
        pipeline = Pipeline(
            uow=store,
            gateway=gateway,
            delivery=delivery,
            clock=SystemClock(),
            ids=Uuid4Ids(),
            registry=current,
            settings=PipelineSettings(bill_users=False, max_concurrent=10**6),
        )
        prompt = "bench [lost]" if args.mode == "in-flight" else "bench"
        cpu_before, wall_before = cpu_seconds(), time.perf_counter()
        await start_many(pipeline, args.generations, prompt)
        start_wall = time.perf_counter() - wall_before
        print(f"started {args.generations} in {start_wall:.1f}s", flush=True)
        stop = asyncio.Event()
        workers = [
            asyncio.create_task(work(pipeline, stop, idle=timedelta(milliseconds=20)))
            for _ in range(args.workers)
        ]
        deadline = time.perf_counter() + args.seconds
        while time.perf_counter() < deadline:
            await asyncio.sleep(0.5)
            states = await count_states(store)
            if args.mode == "throughput" and not states:
                break
            if (
                args.mode == "in-flight"
                and states.get(GenerationState.RUNNING, 0) == args.generations
            ):
                break
        wall = time.perf_counter() - wall_before
        cpu = cpu_seconds() - cpu_before
        stop.set()
        await asyncio.gather(*workers)
        states = await count_states(store)
        print(f"store={args.store} mode={args.mode} generations={args.generations} "
              f"workers={args.workers} kie_latency={args.latency}s")  # fmt: skip
        print(f"start (hold + enqueue): {args.generations / start_wall:.0f} generations/s")
        if args.mode == "throughput":
            done = delivery.delivered
            print(f"delivered {done} in {wall:.1f}s: {done / wall:.1f} generations/s end to end")
        else:
            print(f"in flight at the end: {states}")
        print(f"pipeline CPU per generation: {1000 * cpu / args.generations:.2f} ms")
        print(f"peak RSS of this process: {peak_rss_mb():.0f} MB")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["throughput", "in-flight", "serve-sandbox"])
    parser.add_argument("--generations", type=int, default=None)
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--store", choices=["pg", "sqlite", "memory"], default="pg")
    parser.add_argument("--latency", type=float, default=1.0)
    parser.add_argument("--seconds", type=float, default=120.0)
    args = parser.parse_args()
    if args.mode == "serve-sandbox":
        asyncio.run(serve_sandbox(args.latency))
        return
    if args.generations is None:
        args.generations = 300 if args.mode == "throughput" else 10_000
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
