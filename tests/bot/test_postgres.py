"""The bot on PostgreSQL: a generation, a restart in the middle of a wizard, the start-up."""

import asyncio

import pytest

from kiebot_bot.runtime import run_bot
from kiebot_bot.settings import BotSettings
from kiebot_bot.wiring import MigrationsPendingError, open_runtime
from kiebot_core.domain.generation import GenerationState
from kiebot_core.domain.ledger import LedgerKind
from kiebot_core.domain.texts import Language
from kiebot_pg.uow import PgUnitOfWorkFactory
from tests.telegram.fake_bot_api import FakeBotApi
from tests.telegram.flows import kinds, ledger, open_model, wait_finished
from tests.telegram.harness import running_bot, settings_for


async def test_a_generation_and_a_restart_mid_wizard_on_postgres(
    api: FakeBotApi, pg_store: PgUnitOfWorkFactory
):
    user = api.user(language_code="ru")
    async with running_bot(api, pg_store):
        await user.send("/start")
        await open_model(user, "nano-banana-pro", Language.RU)
        await user.send("рыжая лиса")
        assert "Шаг 2/4" in user.last().shown
    async with running_bot(api, pg_store) as bot:
        await user.press("⏩ Пропустить необязательные")
        assert "Проверьте и подтвердите" in user.last().shown
        await user.press("✅ Подтвердить")
        generation = await wait_finished(bot, user)
        assert generation.state is GenerationState.SUCCEEDED
        assert generation.delivered_refs[0].startswith("photo:")
        assert kinds(await ledger(bot, user)) == [
            LedgerKind.GRANT,
            LedgerKind.HOLD,
            LedgerKind.CAPTURE,
        ]
        balance = await bot.balance(user.id)
        assert (balance.available, balance.held) == (85, 0)
    assert not api.errors(400)
    assert not api.unanswered()


def _settings(api: FakeBotApi, dsn: str) -> BotSettings:
    return settings_for(api, database_url=dsn)


async def test_start_up_migrates_the_database_and_serves(api: FakeBotApi, empty_pg_dsn: str):
    settings = _settings(api, empty_pg_dsn)
    with pytest.raises(MigrationsPendingError):
        async with open_runtime(settings, migrate=False):
            pass
    async with open_runtime(settings) as runtime:
        stop = asyncio.Event()
        ready: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        task = asyncio.create_task(
            run_bot(runtime, stop, polling_timeout_s=1, http_port=0, ready=ready)
        )
        await asyncio.wait_for(asyncio.shield(ready), 10)
        user = api.user()
        await user.send("/start")
        await user.wait_text("Main menu")
        assert api.commands[None][0]["command"] == "start"
        assert api.commands["ru"][0]["description"] == "Главное меню"
        stop.set()
        await task
    async with open_runtime(settings, migrate=False):
        pass
