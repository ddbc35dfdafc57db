"""The circuit breaker and the KIE credits watch, through the fake Bot API and the KIE sandbox.

The leader checks the credits as it starts and then only hourly here: each test drives the
further checks itself (``check_credits``), so "still one alert" is asserted after checks that
really ran.
"""

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from kiebot_bot.operations import Watchdogs
from kiebot_core.domain.alerts import AdminAlert, AlertKind
from kiebot_core.domain.audit import AuditAction
from kiebot_core.domain.breakers import BreakerSettings, CircuitState
from kiebot_core.domain.generation import GenerationState
from kiebot_core.domain.reasons import ReasonCode, reason_text
from kiebot_core.domain.texts import Language
from kiebot_core.ports.storage import UnitOfWorkFactory
from kiebot_core.use_cases.breakers import BREAKER_ACTOR
from kiebot_telegram.alerts import alert_text
from tests.telegram.fake_bot_api import FakeBotApi, FakeUser
from tests.telegram.flows import open_model, title, wait_finished
from tests.telegram.harness import RunningBot, running_bot

ADMIN = 4242
BANANA = "nano-banana-pro"


@pytest.fixture
def store(memory_and_pg: UnitOfWorkFactory) -> UnitOfWorkFactory:
    """The watchdogs run on the in-memory store and on PostgreSQL."""
    return memory_and_pg


@pytest.fixture
async def bot(api: FakeBotApi, store: UnitOfWorkFactory) -> AsyncIterator[RunningBot]:
    async with running_bot(
        api,
        store,
        admin_ids=frozenset({ADMIN}),
        breaker=BreakerSettings(failures=3),
        credits_check=HOURLY,
    ) as running:
        await first_check(running)
        yield running
    assert not api.errors(400), [(c.method, c.description) for c in api.errors(400)]
    assert not api.unanswered(), api.unanswered()


HOURLY = timedelta(hours=1)


def watchdogs(bot: RunningBot) -> Watchdogs:
    composed = bot.runtime.watchdogs
    assert composed is not None
    return composed


async def first_check(bot: RunningBot, within_s: float = 10.0) -> None:
    """Wait for the check the leader makes as it starts: every later one is the test's own."""
    deadline = time.monotonic() + within_s
    while True:
        async with bot.store() as uow:
            if await uow.credits.get() is not None:
                return
        assert time.monotonic() < deadline, "the leader never checked the credits"
        await asyncio.sleep(0.02)


async def check_credits(bot: RunningBot, times: int = 1) -> None:
    """The leader's credits check, ``times`` times (as the hours pass)."""
    for _ in range(times):
        await watchdogs(bot).credits.check()


def alerts(admin: FakeUser, text: str) -> int:
    return sum(1 for m in admin.bot_messages() if text in m.shown)


async def run(user: FakeUser, prompt: str) -> None:
    await open_model(user, BANANA)
    await user.send(prompt)
    await user.press("⏩ Skip optional")
    await user.press("✅ Confirm")


async def test_a_burst_of_kie_failures_greys_the_model_out_and_tells_the_admins_once(
    api: FakeBotApi, bot: RunningBot
):
    admin = api.user(ADMIN, "Boss")
    await admin.send("/start")
    user = api.user()
    await user.send("/start")
    for count in (1, 2):
        await run(user, "[fail] a fox")
        assert (await wait_finished(bot, user, count=count)).state is GenerationState.FAILED
    # A user's own mistake (a refused prompt) never counts against the model.
    await run(user, "[nsfw] a fox")
    assert (await wait_finished(bot, user, count=3)).reason is ReasonCode.CONTENT_POLICY
    await run(user, "a fox")
    assert (await wait_finished(bot, user, count=4)).state is GenerationState.SUCCEEDED
    assert alerts(admin, "Model switched off") == 0
    await run(user, "[fail] a fox")
    await wait_finished(bot, user, count=5)
    await admin.wait_text("Model switched off")
    alert = admin.find("Model switched off")
    assert BANANA in alert.shown
    assert "3 KIE failures within 10 min (provider_failed)" in alert.shown
    assert "tried again in 15 min" in alert.shown
    # Greyed out for users: gone from search, and an old button says it is unavailable.
    record = await user.press("🔁 Try again")
    assert record.text == reason_text(ReasonCode.MODEL_DISABLED, Language.EN)
    assert record.show_alert
    await user.send(BANANA)
    assert not any(f"{title(BANANA)} · " in label for label in user.last().labels())
    # Runs started before the switch that fail later, and the leader's recovery rounds before
    # the cooldown is over, change nothing and tell nobody again.
    breaker = watchdogs(bot).breaker
    for _ in range(3):
        assert await breaker.record_failure(BANANA, ReasonCode.PROVIDER_FAILED, "late") is None
        assert await breaker.recover() == []
    assert alerts(admin, "Model switched off") == 1
    async with bot.store() as uow:
        circuit = await uow.circuits.get(BANANA)
        trail = await uow.audit.recent(limit=10)
    assert circuit is not None
    assert circuit.state is CircuitState.OPEN
    entry = next(e for e in trail if e.action is AuditAction.MODEL_DISABLE)
    assert (entry.actor, entry.target) == (BREAKER_ACTOR, BANANA)


async def test_low_credits_are_told_once_and_at_zero_new_runs_pause_until_topped_up(
    api: FakeBotApi, bot: RunningBot
):
    admin = api.user(ADMIN, "Boss", "ru")
    await admin.send("/start")
    user = api.user()
    await user.send("/start")
    bot.sandbox.set_balance(400)
    await check_credits(bot)
    assert alerts(admin, "Мало кредитов KIE") == 1
    await check_credits(bot, times=3)  # several checks later: still one alert
    assert alerts(admin, "Мало кредитов KIE") == 1
    assert "400" in admin.find("Мало кредитов KIE").shown
    bot.sandbox.set_balance(0)
    await check_credits(bot, times=2)
    assert alerts(admin, "Кредиты KIE закончились") == 1
    assert "1000" in admin.find("Кредиты KIE закончились").shown  # when they resume
    await open_model(user, BANANA)
    await user.send("a fox")
    await user.press("⏩ Skip optional")
    record = await user.press("✅ Confirm")
    assert record.text == reason_text(ReasonCode.PROVIDER_NO_CREDITS, Language.EN)
    assert record.show_alert
    balance = await bot.balance(user.id)
    assert (balance.available, balance.held) == (100, 0)
    async with bot.store() as uow:
        assert await uow.generations.unfinished() == []
    # Topped up a little: still below the alert level, so still paused (and nothing is told).
    bot.sandbox.set_balance(600)
    await check_credits(bot, times=2)
    record = await user.press("✅ Confirm")
    assert record.text == reason_text(ReasonCode.PROVIDER_NO_CREDITS, Language.EN)
    assert alerts(admin, "Кредиты KIE снова есть") == 0
    bot.sandbox.set_balance(5000)
    await check_credits(bot)
    assert alerts(admin, "Кредиты KIE снова есть") == 1
    await user.press("✅ Confirm")
    assert (await wait_finished(bot, user)).state is GenerationState.SUCCEEDED
    await check_credits(bot, times=3)
    assert alerts(admin, "Мало кредитов KIE") == 1
    assert alerts(admin, "Кредиты KIE закончились") == 1
    assert alerts(admin, "Кредиты KIE снова есть") == 1


@pytest.mark.parametrize("kind", list(AlertKind))
@pytest.mark.parametrize("language", list(Language))
def test_every_alert_reads_in_every_language(kind: AlertKind, language: Language):
    values: dict[str, str | int] = {
        "model": "veo3/fast",
        "reason": "provider_failed",
        "detail": "<b>boom</b>",
        "failures": 5,
        "window_min": 10,
        "retry_min": 15,
        "trips": 1,
        "trial_min": 10,
        "credits": "0",
        "threshold": "1000",
    }
    text = alert_text(language, AdminAlert(kind, values))
    assert "{" not in text
    assert "<b>boom</b>" not in text


async def test_a_run_kie_refuses_for_lack_of_credits_pauses_new_runs_at_once(
    api: FakeBotApi, store: UnitOfWorkFactory
):
    async with running_bot(api, store, admin_ids=frozenset({ADMIN}), credits_check=HOURLY) as bot:
        await first_check(bot)
        admin = api.user(ADMIN, "Boss")
        await admin.send("/start")
        user = api.user()
        await user.send("/start")
        bot.sandbox.set_balance(1)  # less than the run costs; the next check is an hour away
        await run(user, "a fox")
        failed = await wait_finished(bot, user)
        assert failed.reason is ReasonCode.PROVIDER_NO_CREDITS
        await admin.wait_text("KIE credits ran out")
        record = await user.press("🔁 Try again")
        assert record.text is None
        record = await user.press("✅ Confirm")
        assert record.text == reason_text(ReasonCode.PROVIDER_NO_CREDITS, Language.EN)
        async with bot.store() as uow:
            assert len(await uow.generations.for_user(failed.user_id, limit=5)) == 1
        # The next checks still find that 1 credit: above zero, but no run fits in it, so
        # the pause holds instead of lifting and falling again at the next run.
        await check_credits(bot, times=3)
        record = await user.press("✅ Confirm")
        assert record.text == reason_text(ReasonCode.PROVIDER_NO_CREDITS, Language.EN)
        assert alerts(admin, "KIE credits ran out") == 1
        assert alerts(admin, "KIE credits are back") == 0
