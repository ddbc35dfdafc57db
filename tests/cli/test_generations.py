from datetime import timedelta

import attrs
import pytest

from kiebot_core.domain.generation import Generation, GenerationState
from kiebot_core.domain.ids import CorrelationId, UserId
from kiebot_core.domain.ledger import AccountKind, Balance, LedgerKind, grant
from kiebot_core.domain.promotions import FreeTier
from kiebot_core.domain.registry import load_registry
from kiebot_core.ports.runtime import SystemClock, Uuid4Ids
from kiebot_core.testing.delivery import RecordingDelivery
from kiebot_core.testing.generation import ScriptedGenerationGateway, fails
from kiebot_core.use_cases.generation import (
    GenerationStarted,
    Pipeline,
    PipelineSettings,
    StartCommand,
    run_due_jobs,
    start_generation,
)
from tests.cli.bot_store import BotStore, bot_store
from tests.contracts.builders import planned

__all__ = ["bot_store"]

USER = UserId(1001)
FLUX = "flux-2/flex-text-to-image"  # 12 Stars at 1K


async def registry():
    return load_registry()


@attrs.frozen
class Bot:
    """The bot's pipeline over the test's store, with its worker's deliveries recorded."""

    pipeline: Pipeline
    gateway: ScriptedGenerationGateway
    delivery: RecordingDelivery

    async def run_jobs(self) -> None:
        while await run_due_jobs(self.pipeline):
            pass

    async def generate(self) -> Generation:
        started = await start_generation(
            self.pipeline, StartCommand(USER, FLUX, {"prompt": "a fox"}, CorrelationId("cor_1"))
        )
        assert isinstance(started, GenerationStarted), started
        await self.run_jobs()
        async with self.pipeline.uow() as uow:
            generation = await uow.generations.get(started.generation_id)
        assert generation is not None
        assert generation.state.is_terminal
        return generation

    async def refunds(self) -> list[int]:
        async with self.pipeline.uow() as uow:
            history = await uow.ledger.history(USER, limit=50)
        return [t.amount_of(AccountKind.AVAILABLE) for t in history if t.kind is LedgerKind.REFUND]

    async def balance(self) -> Balance:
        async with self.pipeline.uow() as uow:
            return await uow.ledger.balance(USER)


@pytest.fixture
async def bot(bot_store: BotStore) -> Bot:
    gateway, delivery = ScriptedGenerationGateway(poll_every=timedelta(0)), RecordingDelivery()
    settings = PipelineSettings(free_tier=FreeTier(daily=1, models=frozenset({FLUX})))
    pipeline = Pipeline(
        uow=bot_store.uow,
        gateway=gateway,
        delivery=delivery,
        clock=SystemClock(),
        ids=Uuid4Ids(),
        registry=registry,
        settings=settings,
    )
    async with bot_store.uow() as uow:
        await uow.ledger.append(planned(grant(USER, 100, "test")))
        await uow.commit()
    return Bot(pipeline, gateway, delivery)


async def test_a_charged_generation_is_refunded_once_and_the_worker_tells_the_user(
    bot_store: BotStore, bot: Bot
):
    free = await bot.generate()
    paid = await bot.generate()
    assert (free.is_free, paid.held) == (True, 12)
    assert paid.state is GenerationState.SUCCEEDED
    assert await bot.balance() == Balance(available=88)

    first = await bot_store.run("generations", "refund", paid.id, "--reason", "blurry faces")
    assert first.exit_code == 0, first.output
    assert first.stdout.strip() == (
        f"Refunded 12 ⭐ of {paid.id} ({FLUX}) to {USER}. "
        "The bot's worker will send the user the notice."
    )
    again = await bot_store.run("generations", "refund", paid.id, "--reason", "again")
    assert again.exit_code == 0, again.output
    assert (
        again.stdout.strip()
        == f"Already refunded: 12 ⭐ of {paid.id} ({FLUX}) to {USER}; nothing changed."
    )
    assert await bot.refunds() == [12]
    assert await bot.balance() == Balance(available=100)

    assert bot.delivery.refunds == []
    await bot.run_jobs()
    await bot.run_jobs()
    assert [(g.id, stars, reason) for g, stars, reason in bot.delivery.refunds] == [
        (paid.id, 12, "blurry faces")
    ]
    async with bot_store.uow() as uow:
        events = [
            e.kind
            for e in await uow.events.chain(paid.correlation_id)
            if e.generation_id == paid.id
        ]
    assert events.count("generation.refunded") == 1


async def test_a_free_failed_or_unknown_generation_is_not_refunded(bot_store: BotStore, bot: Bot):
    free = await bot.generate()
    bot.gateway.script(*fails())
    failed = await bot.generate()
    assert free.is_free
    assert (failed.state, failed.held) == (GenerationState.FAILED, 12)
    for generation_id, detail in (
        (free.id, f"{free.id} is unknown or was not charged"),
        (failed.id, f"{failed.id} is unknown or was not charged"),
        ("gen_nope", "gen_nope is unknown or was not charged"),
    ):
        result = await bot_store.run("generations", "refund", generation_id, "--reason", "x")
        assert result.exit_code == 2, result.output
        assert result.stderr.strip() == f"Error: {detail}"
    assert await bot.refunds() == []
    await bot.run_jobs()
    assert bot.delivery.refunds == []


async def test_a_refund_needs_a_reason(bot_store: BotStore):
    assert (await bot_store.run("generations", "refund", "gen_1", "--reason", " ")).exit_code == 2
    assert (await bot_store.run("generations", "refund", "gen_1")).exit_code == 2
