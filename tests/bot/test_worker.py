"""``kiebot-bot worker``: generation jobs run in a process that does not poll Telegram."""

import asyncio

from kiebot_bot.__main__ import parse_args
from kiebot_bot.runtime import run_worker
from kiebot_bot.wiring import compose, open_bot
from kiebot_core.domain.generation import GenerationState
from kiebot_core.domain.ids import CorrelationId, UserId
from kiebot_core.domain.ledger import grant
from kiebot_core.domain.outcomes import Rejected
from kiebot_core.ports.storage import UnitOfWorkFactory
from kiebot_core.use_cases.generation import GenerationStarted, StartCommand, start_generation
from kiebot_kie.gateway import open_kie_gateway
from kiebot_kie.sandbox.server import run_sandbox
from tests.telegram.fake_bot_api import FakeBotApi
from tests.telegram.harness import settings_for


def test_worker_is_a_command():
    assert parse_args(["worker"]).command == "worker"
    assert parse_args([]).command is None


async def test_a_worker_alone_finishes_and_delivers_a_generation(
    api: FakeBotApi, pg_store: UnitOfWorkFactory
):
    user = api.user()
    async with (
        run_sandbox(fast=True) as kie,
        open_kie_gateway(
            api_key="sandbox", base_url=kie.base_url, upload_base_url=kie.upload_base_url,
            poll_scale=0.05,
        ) as gateway,
    ):  # fmt: skip
        config = settings_for(api)
        runtime = compose(config, store=pg_store, gateway=gateway, bot=open_bot(config))
        async with pg_store() as uow:
            funded = grant(UserId(user.id), 100, "worker-test")
            assert not isinstance(funded, Rejected)
            await uow.ledger.append(funded)
            await uow.commit()
        started = await start_generation(
            runtime.pipeline,
            StartCommand(
                UserId(user.id), "nano-banana-pro", {"prompt": "a fox"}, CorrelationId("cor_w")
            ),
        )
        assert isinstance(started, GenerationStarted), started
        stop = asyncio.Event()
        worker = asyncio.create_task(run_worker(runtime, stop, job_interval_s=0.05))
        try:
            async with asyncio.timeout(20):
                while True:
                    async with pg_store() as uow:
                        generation = await uow.generations.get(started.generation_id)
                    assert generation is not None
                    if generation.state.is_terminal:
                        break
                    await asyncio.sleep(0.05)
        finally:
            stop.set()
            await worker
            await runtime.bot.session.close()
    assert generation.state is GenerationState.SUCCEEDED
    assert [c for c in api.calls_of("sendPhoto") if c.ok and c.chat_id == user.id]
    assert not api.calls_of("getUpdates")  # a worker never polls
