"""Steps the Telegram tests share: finding a model, reading what the store holds."""

import asyncio
import time

from kiebot_core.domain.generation import Generation
from kiebot_core.domain.ids import UserId
from kiebot_core.domain.ledger import LedgerKind, LedgerTransaction
from kiebot_core.domain.registry import load_registry
from kiebot_core.domain.texts import Language
from kiebot_core.testing.memory import MemoryUnitOfWorkFactory
from kiebot_kie.sandbox.media import png
from kiebot_pg.uow import PgUnitOfWorkFactory
from tests.telegram.fake_bot_api import FakeUser
from tests.telegram.harness import RunningBot

START = {Language.EN: "▶️ Start", Language.RU: "▶️ Начать"}


def title(model_id: str, language: Language = Language.EN) -> str:
    model = load_registry().get(model_id)
    assert model is not None, model_id
    return model.title(language)


async def open_model(user: FakeUser, model_id: str, language: Language = Language.EN) -> None:
    """Search the model by id, open its card and press Start."""
    await user.send(model_id)
    await user.press(f"{title(model_id, language)} · ")
    await user.press(START[language])


async def generations(bot: RunningBot, user: FakeUser) -> list[Generation]:
    async with bot.store() as uow:
        return await uow.generations.for_user(UserId(user.id), limit=50)


async def latest(bot: RunningBot, user: FakeUser) -> Generation:
    found = await generations(bot, user)
    assert found, "no generation"
    return found[0]


async def ledger(bot: RunningBot, user: FakeUser) -> list[LedgerTransaction]:
    async with bot.store() as uow:
        return await uow.ledger.history(UserId(user.id), limit=50)


def kinds(transactions: list[LedgerTransaction]) -> list[LedgerKind]:
    return [transaction.kind for transaction in reversed(transactions)]


async def wait_finished(
    bot: RunningBot, user: FakeUser, *, count: int = 1, within_s: float = 10.0
) -> Generation:
    """The user's latest generation (of ``count`` at least) once it reached a terminal state
    and its notices were sent.
    """
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        found = await generations(bot, user)
        if len(found) >= count and found[0].state.is_terminal and not await _jobs_left(bot):
            await bot.api.settle()
            return found[0]
        await asyncio.sleep(0.02)
    raise AssertionError(f"no finished generation:\n{user.transcript()}")


async def _jobs_left(bot: RunningBot) -> bool:
    """Whether the store still holds jobs (the notice may not be sent yet)."""
    store = bot.store
    if isinstance(store, PgUnitOfWorkFactory):
        return bool(await store.pool.fetchval("SELECT count(*) FROM jobs"))
    return isinstance(store, MemoryUnitOfWorkFactory) and bool(store.database.state.jobs)


PHOTO = png("a cat on a sofa", "4:3")
