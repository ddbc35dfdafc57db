"""The pipeline end to end: real stores (SQLite, PostgreSQL), the KIE sandbox over HTTP."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path

import attrs
import httpx
import pytest

from kiebot_core.domain.generation import Deadlines, Generation, GenerationState
from kiebot_core.domain.ids import CorrelationId, GenerationId, UserId
from kiebot_core.domain.ledger import Balance, LedgerKind, grant
from kiebot_core.domain.outcomes import Rejected
from kiebot_core.domain.reasons import ReasonCode
from kiebot_core.domain.registry import load_registry
from kiebot_core.ports.delivery import ResultDelivery
from kiebot_core.ports.runtime import SystemClock, Uuid4Ids
from kiebot_core.ports.storage import UnitOfWorkFactory
from kiebot_core.use_cases.generation import (
    GenerationStarted,
    Pipeline,
    PipelineSettings,
    StartCommand,
    cancel_generation,
    on_provider_callback,
    run_due_jobs,
    start_generation,
)
from kiebot_kie.gateway import open_kie_gateway
from kiebot_kie.sandbox.server import Sandbox, run_sandbox
from kiebot_pg.pool import open_pool
from kiebot_pg.uow import PgUnitOfWorkFactory
from kiebot_sqlite.migrate import migrate as migrate_sqlite
from kiebot_sqlite.uow import SqliteUnitOfWorkFactory
from tests.pg.databases import cloned_database
from tests.telegram.harness import KIE_TEST_KEY

USER = UserId(7)
SIGNATURES = {"image": b"\x89PNG", "video": b"ftyp", "audio": b"RIFF"}


@attrs.define
class Downloads(ResultDelivery):
    """Fetches every result like a shell would, and keeps the bytes."""

    http: httpx.AsyncClient
    files: dict[str, list[bytes]] = attrs.field(factory=dict)
    failures: list[Generation] = attrs.field(factory=list)

    async def deliver(self, generation: Generation) -> tuple[str, ...]:
        bodies = [
            (await self.http.get(url)).raise_for_status().content for url in generation.result_urls
        ]
        self.files[generation.id] = bodies
        return tuple(f"file:{generation.id}:{i}" for i in range(len(bodies)))

    async def report_failure(self, generation: Generation) -> None:
        self.failures.append(generation)

    async def report_refund(self, generation: Generation, stars: int, reason: str) -> None:
        raise AssertionError(f"unexpected refund notice for {generation.id}")


@attrs.frozen
class World:
    pipeline: Pipeline
    sandbox: Sandbox
    delivery: Downloads

    async def balance(self) -> Balance:
        async with self.pipeline.uow() as uow:
            return await uow.ledger.balance(USER)

    async def start(self, model_id: str, answers) -> GenerationStarted | Rejected:
        command = StartCommand(USER, model_id, answers, CorrelationId(Uuid4Ids().new("cor")))
        return await start_generation(self.pipeline, command)

    async def started(self, model_id: str, answers) -> GenerationStarted:
        result = await self.start(model_id, answers)
        assert isinstance(result, GenerationStarted), result
        return result

    async def get(self, generation_id: GenerationId) -> Generation:
        async with self.pipeline.uow() as uow:
            found = await uow.generations.get(generation_id)
        assert found is not None
        return found

    async def finish(self, generation_id: GenerationId) -> Generation:
        async with asyncio.timeout(30):
            while True:
                ran = await run_due_jobs(self.pipeline)
                current = await self.get(generation_id)
                if current.state.is_terminal and ran == 0:
                    return current
                if ran == 0:
                    await asyncio.sleep(0.02)


@asynccontextmanager
async def store_of(backend: str, request, tmp_path: Path) -> AsyncIterator[UnitOfWorkFactory]:
    if backend == "sqlite":
        path = tmp_path / "kiebot.sqlite3"
        await migrate_sqlite(path)
        yield SqliteUnitOfWorkFactory(path)
        return
    admin = request.getfixturevalue("pg_admin_dsn")
    template = request.getfixturevalue("pg_template")
    async with cloned_database(admin, template) as dsn, open_pool(dsn, max_size=8) as pool:
        yield PgUnitOfWorkFactory(pool)


@pytest.fixture(params=["sqlite", "pg"])
async def world(request, tmp_path) -> AsyncIterator[World]:
    registry = load_registry()

    async def current():
        return registry

    async with (
        store_of(request.param, request, tmp_path) as store,
        run_sandbox(fast=True) as sandbox,
        open_kie_gateway(
            api_key=KIE_TEST_KEY,
            base_url=sandbox.base_url,
            upload_base_url=sandbox.upload_base_url,
            poll_scale=0.02,
        ) as gateway,
        httpx.AsyncClient() as http,
    ):
        delivery = Downloads(http)
        pipeline = Pipeline(
            uow=store,
            gateway=gateway,
            delivery=delivery,
            clock=SystemClock(),
            ids=Uuid4Ids(),
            registry=current,
            settings=PipelineSettings(
                deadlines=Deadlines(
                    image=timedelta(seconds=2),
                    video=timedelta(seconds=2),
                    audio=timedelta(seconds=2),
                ),
                retry_base=timedelta(milliseconds=50),
                max_attempts=8,
            ),
        )
        async with store() as uow:
            funded = grant(USER, 10_000, "e2e")
            assert not isinstance(funded, Rejected)
            await uow.ledger.append(funded)
            await uow.commit()
        yield World(pipeline, sandbox, delivery)


@pytest.mark.parametrize(
    ("model_id", "answers", "kind"),
    [
        ("flux-2/flex-text-to-image", {"prompt": "a lighthouse"}, "image"),
        ("bytedance/seedance-2-mini", {"prompt": "waves", "duration": 4}, "video"),
        ("elevenlabs/text-to-speech-turbo-2-5", {"text": "hello there"}, "audio"),
    ],
)
async def test_each_media_kind_is_delivered_and_captured(world, model_id, answers, kind):
    started = await world.started(model_id, answers)
    done = await world.finish(started.generation_id)
    assert done.state is GenerationState.SUCCEEDED
    [body] = world.delivery.files[done.id]
    assert SIGNATURES[kind] in body[:16]
    assert await world.balance() == Balance(available=10_000 - started.quote.stars)


@pytest.mark.parametrize(
    ("marker", "reason"),
    [("[fail]", ReasonCode.PROVIDER_FAILED), ("[nsfw]", ReasonCode.CONTENT_POLICY)],
)
async def test_a_failure_at_kie_is_released_and_reported(world, marker, reason):
    started = await world.started("flux-2/flex-text-to-image", {"prompt": f"a cat {marker}"})
    done = await world.finish(started.generation_id)
    assert (done.state, done.reason) == (GenerationState.FAILED, reason)
    assert [g.id for g in world.delivery.failures] == [done.id]
    assert await world.balance() == Balance(available=10_000)


async def test_rate_limits_and_5xx_bursts_are_absorbed_by_retries(world):
    world.sandbox.config.flaky_every = 3
    world.sandbox.config.force_rate_limit = True
    started = await world.started("flux-2/flex-text-to-image", {"prompt": "a storm"})
    await asyncio.sleep(0.3)
    world.sandbox.config.force_rate_limit = False
    done = await world.finish(started.generation_id)
    assert done.state is GenerationState.SUCCEEDED


async def test_a_lost_task_is_released_at_its_deadline(world):
    started = await world.started("flux-2/flex-text-to-image", {"prompt": "lost [lost]"})
    done = await world.finish(started.generation_id)
    assert (done.state, done.reason) == (GenerationState.FAILED, ReasonCode.PROVIDER_TIMEOUT)
    assert await world.balance() == Balance(available=10_000)


async def test_duplicate_late_and_out_of_order_callbacks_change_nothing(world):
    started = await world.started("flux-2/flex-text-to-image", {"prompt": "a heron"})
    await run_due_jobs(world.pipeline)  # submitted
    task_id = (await world.get(started.generation_id)).task_id
    assert task_id is not None
    for _ in range(3):  # early, duplicated callbacks: each one only re-fetches the task
        await on_provider_callback(world.pipeline, task_id)
    done = await world.finish(started.generation_id)
    await on_provider_callback(world.pipeline, task_id)  # late
    assert (await world.get(done.id)).state is GenerationState.SUCCEEDED
    async with world.pipeline.uow() as uow:
        kinds = [t.kind for t in await uow.ledger.history(USER, limit=10)]
    assert kinds.count(LedgerKind.CAPTURE) == 1
    assert len(world.delivery.files[done.id]) == 1


async def test_cancel_before_and_after_submission(world):
    before = await world.started("flux-2/flex-text-to-image", {"prompt": "never sent"})
    assert not isinstance(
        await cancel_generation(world.pipeline, USER, before.generation_id), Rejected
    )
    after = await world.started("flux-2/flex-text-to-image", {"prompt": "sent [slow]"})
    await run_due_jobs(world.pipeline)
    assert (await world.get(after.generation_id)).task_id is not None
    assert not isinstance(
        await cancel_generation(world.pipeline, USER, after.generation_id), Rejected
    )
    for generation_id in (before.generation_id, after.generation_id):
        done = await world.finish(generation_id)
        assert done.state is GenerationState.CANCELLED
    assert await world.balance() == Balance(available=10_000)
    assert len(world.sandbox.store.tasks()) == 1  # only the second was ever sent


async def test_a_short_balance_is_refused_before_anything_is_sent(world):
    poor = UserId(99)  # never funded
    command = StartCommand(poor, "flux-2/flex-text-to-image", {"prompt": "x"}, CorrelationId("c"))
    refused = await start_generation(world.pipeline, command)
    assert isinstance(refused, Rejected)
    assert refused.reason is ReasonCode.INSUFFICIENT_BALANCE
    assert world.sandbox.store.tasks() == []
