"""Workers killed with SIGKILL at random points: every generation still ends exactly once."""

import asyncio
import os
import random
import signal
import sys
from pathlib import Path

from kiebot_core.domain.generation import GenerationState
from kiebot_core.domain.ids import CorrelationId, GenerationId, IdempotencyKey, UserId
from kiebot_core.domain.ledger import Balance, LedgerKind, grant
from kiebot_core.domain.outcomes import Rejected
from kiebot_core.domain.registry import load_registry
from kiebot_core.ports.runtime import SystemClock, Uuid4Ids
from kiebot_core.testing.delivery import RecordingDelivery
from kiebot_core.use_cases.generation import (
    GenerationStarted,
    Pipeline,
    PipelineSettings,
    StartCommand,
    start_generation,
)
from kiebot_kie.gateway import open_kie_gateway
from kiebot_kie.sandbox.server import SandboxTiming, run_sandbox
from kiebot_pg.pool import open_pool
from kiebot_pg.uow import PgUnitOfWorkFactory
from tests.pg.databases import cloned_database
from tests.telegram.harness import KIE_TEST_KEY

USER = UserId(5)
FUNDS = 5_000
ROOT = Path(__file__).resolve().parents[2]
TIMING = SandboxTiming(waiting_s=0.1, queuing_s=0.1, generating_s=0.4, tick_s=0.02)


async def spawn(dsn: str, kie_url: str) -> asyncio.subprocess.Process:
    worker = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.e2e.crash_worker",
        dsn,
        kie_url,
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert worker.stdout is not None
    assert await asyncio.wait_for(worker.stdout.readline(), 30) == b"READY\n"
    return worker


async def test_sigkilled_workers_never_lose_or_double_charge_a_generation(
    pg_admin_dsn, pg_template
):
    rng = random.Random(1234)
    registry = load_registry()

    async def current():
        return registry

    async with (
        cloned_database(pg_admin_dsn, pg_template) as dsn,
        open_pool(dsn, max_size=4) as pool,
        run_sandbox(timing=TIMING, rate_limit=False) as sandbox,
        open_kie_gateway(api_key=KIE_TEST_KEY, base_url=sandbox.base_url) as gateway,
    ):
        store = PgUnitOfWorkFactory(pool)
        starter = Pipeline(
            uow=store,
            gateway=gateway,
            delivery=RecordingDelivery(),
            clock=SystemClock(),
            ids=Uuid4Ids(),
            registry=current,
            settings=PipelineSettings(max_concurrent=100),
        )
        async with store() as uow:
            funded = grant(USER, FUNDS, "crash-test")
            assert not isinstance(funded, Rejected)
            await uow.ledger.append(funded)
            await uow.commit()
        started: list[GenerationStarted] = []
        for number in range(12):
            marker = " [fail]" if number % 4 == 3 else ""
            result = await start_generation(
                starter,
                StartCommand(
                    USER,
                    "flux-2/flex-text-to-image",
                    {"prompt": f"crash {number}{marker}"},
                    CorrelationId(f"cor_{number}"),
                ),
            )
            assert isinstance(result, GenerationStarted), result
            started.append(result)
        for _ in range(8):  # kill at random points of the pipeline
            worker = await spawn(dsn, sandbox.base_url)
            await asyncio.sleep(rng.uniform(0.05, 0.6))
            worker.send_signal(signal.SIGKILL)
            await worker.wait()
        worker = await spawn(dsn, sandbox.base_url)
        try:
            async with asyncio.timeout(60):
                while True:
                    async with store() as uow:
                        states = [
                            (await uow.generations.get(GenerationId(s.generation_id)))
                            for s in started
                        ]
                    if all(g is not None and g.state.is_terminal for g in states):
                        break
                    await asyncio.sleep(0.1)
        finally:
            worker.send_signal(signal.SIGTERM)
            await worker.wait()
        async with store() as uow:
            balance = await uow.ledger.balance(USER)
            spent = 0
            for generation in states:
                assert generation is not None
                settled = await uow.ledger.get(IdempotencyKey(f"settle:{generation.id}"))
                assert settled is not None, generation.id
                if generation.state is GenerationState.SUCCEEDED:
                    assert settled.kind is LedgerKind.CAPTURE
                    spent += generation.stars
                else:
                    assert generation.state is GenerationState.FAILED
                    assert settled.kind is LedgerKind.RELEASE
            history = await uow.ledger.history(USER, limit=1000)
        assert balance == Balance(available=FUNDS - spent, held=0)
        assert Balance.of(reversed(history)) == balance
        assert sum(1 for g in states if g and g.state is GenerationState.SUCCEEDED) == 9
