"""A job worker process for the crash test: ``python -m tests.e2e.crash_worker DSN KIE_URL``.

It bills users (holds, captures, releases) over PostgreSQL and talks to the sandbox at
KIE_URL; the test kills it with SIGKILL at random points and starts it again.
"""

import asyncio
import signal
import sys
from datetime import timedelta

import attrs
import httpx

from kiebot_core.domain.generation import Generation
from kiebot_core.domain.registry import load_registry
from kiebot_core.ports.delivery import ResultDelivery
from kiebot_core.ports.runtime import SystemClock, Uuid4Ids
from kiebot_core.use_cases.generation import Pipeline, PipelineSettings, work
from kiebot_kie.gateway import open_kie_gateway
from kiebot_pg.pool import open_pool
from kiebot_pg.uow import PgUnitOfWorkFactory


@attrs.define
class Fetch(ResultDelivery):
    http: httpx.AsyncClient

    async def deliver(self, generation: Generation) -> tuple[str, ...]:
        for url in generation.result_urls:
            (await self.http.get(url)).raise_for_status()
        return tuple(generation.result_urls)

    async def report_failure(self, generation: Generation) -> None:
        return None

    async def report_refund(self, generation: Generation, stars: int, reason: str) -> None:
        return None


async def main(dsn: str, kie_url: str) -> None:
    registry = load_registry()

    async def current():
        return registry

    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    async with (
        open_pool(dsn, max_size=4) as pool,
        open_kie_gateway(
            api_key="crash", base_url=kie_url, upload_base_url=kie_url, poll_scale=0.02
        ) as gateway,
        httpx.AsyncClient() as http,
    ):
        pipeline = Pipeline(
            uow=PgUnitOfWorkFactory(pool, claim_timeout=timedelta(seconds=1)),
            gateway=gateway,
            delivery=Fetch(http),
            clock=SystemClock(),
            ids=Uuid4Ids(),
            registry=current,
            settings=PipelineSettings(max_concurrent=100),
        )
        sys.stdout.write("READY\n")
        sys.stdout.flush()
        await work(pipeline, stop, idle=timedelta(milliseconds=20))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
