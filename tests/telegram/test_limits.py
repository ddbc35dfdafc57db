"""Per-user limits through the bot: updates per minute (never payments), concurrent runs, and
conversation state shared through Redis."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

import pytest

from kiebot_core.domain.generation import GenerationState
from kiebot_core.domain.reasons import ReasonCode, reason_text
from kiebot_core.domain.texts import Language
from kiebot_core.testing.limits import MemoryRateLimiter
from kiebot_core.testing.memory import MemoryUnitOfWorkFactory
from kiebot_core.testing.runtime import FrozenClock
from kiebot_kie.sandbox.server import run_sandbox
from kiebot_pg.uow import PgUnitOfWorkFactory
from tests.redis.support import RedisSpace, open_redis_space
from tests.telegram.fake_bot_api import CallbackRecord, FakeBotApi, FakeUser
from tests.telegram.flows import generations, open_model
from tests.telegram.harness import RunningBot, running_bot

LIMIT = 3
BANANA = "nano-banana-pro"  # 15 ⭐ with the defaults


def wait_text(seconds: int, language: Language = Language.EN) -> str:
    if language is Language.RU:
        return f"⏳ Слишком много действий подряд. Подождите {seconds} с и попробуйте снова."  # noqa: RUF001
    return f"⏳ Too many actions in a row. Please wait {seconds} s, then try again."


def shown(user: FakeUser) -> list[str]:
    return [message.shown for message in user.bot_messages()]


def assert_clean(api: FakeBotApi) -> None:
    assert not api.errors(400), [(c.method, c.description) for c in api.errors(400)]
    assert not api.unanswered(), api.unanswered()
    assert not api.unanswered_pre_checkouts(), api.unanswered_pre_checkouts()


@asynccontextmanager
async def limited_bot(
    api: FakeBotApi, clock: FrozenClock, limit: int = LIMIT
) -> AsyncIterator[RunningBot]:
    """The bot allowing ``limit`` updates a minute per user, timed by ``clock``."""
    async with running_bot(
        api,
        MemoryUnitOfWorkFactory(),
        limiter=MemoryRateLimiter(clock),
        updates_per_minute=limit,
        welcome_stars=0,
    ) as running:
        yield running
    assert_clean(api)


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock()


@pytest.fixture
async def bot(api: FakeBotApi, clock: FrozenClock) -> AsyncIterator[RunningBot]:
    async with limited_bot(api, clock) as running:
        yield running


@pytest.fixture
async def redis_space(redis_url: str) -> AsyncIterator[RedisSpace]:
    async with open_redis_space(redis_url) as space:
        yield space


async def use_up(user: FakeUser, updates: int = LIMIT) -> None:
    """Send ``updates`` times /start; each one is answered with the menu."""
    before = len(shown(user))
    for _ in range(updates):
        await user.send("/start")
    answers = shown(user)[before:]
    assert len(answers) == updates, answers
    assert all("Main menu" in text for text in answers), answers


async def test_an_update_over_the_limit_is_not_handled_and_says_how_long_to_wait(
    api: FakeBotApi, bot: RunningBot, clock: FrozenClock
):
    user = api.user(language_code="en")
    await use_up(user)
    clock.advance(timedelta(seconds=20))
    await user.send("/help")
    assert user.last().shown == wait_text(40)
    assert not any("How it works" in text for text in shown(user))


async def test_the_wait_message_comes_once_per_window(
    api: FakeBotApi, bot: RunningBot, clock: FrozenClock
):
    user = api.user(language_code="en")
    await use_up(user)
    await user.send("/help")
    await user.send("/balance")
    clock.advance(timedelta(seconds=59))
    await user.send("/help")
    assert shown(user)[LIMIT:] == [wait_text(60)]

    clock.advance(timedelta(seconds=1))
    await user.send("/help")
    assert "How it works" in user.last().shown
    await use_up(user, LIMIT - 1)
    await user.send("/help")
    await user.send("/help")
    assert shown(user).count(wait_text(60)) == 2
    assert user.last().shown == wait_text(60)


async def test_the_wait_message_is_in_the_users_language(api: FakeBotApi, bot: RunningBot):
    user = api.user(language_code="ru")
    for _ in range(LIMIT + 1):
        await user.send("/start")
    assert user.last().shown == wait_text(60, Language.RU)


async def test_users_are_limited_apart(api: FakeBotApi, bot: RunningBot):
    ann, bob = api.user(1001, "Ann"), api.user(1002, "Bob")
    await use_up(ann)
    await ann.send("/start")
    assert ann.last().shown == wait_text(60)
    await bob.send("/start")
    assert "Main menu" in bob.last().shown


async def test_a_button_pressed_over_the_limit_stops_spinning_with_the_wait_text(
    api: FakeBotApi, bot: RunningBot, clock: FrozenClock
):
    user = api.user(language_code="en")
    await use_up(user)
    before = shown(user)
    first = await user.press("🔥 Popular")
    clock.advance(timedelta(seconds=30))
    second = await user.press("🔥 Popular")
    assert first.answered_at is not None
    assert second.answered_at is not None
    assert (first.text, second.text) == (wait_text(60), wait_text(30))
    assert shown(user) == before


async def order_invoice(user: FakeUser) -> None:
    """/balance → Top up → 50 ⭐ → accept the terms: four updates, and an invoice."""
    await user.send("/balance")
    await user.press("⭐ Top up")
    await user.press("50 ⭐")
    await user.press("✅ I accept")
    await user.wait_for(user.invoices)


async def test_a_user_over_the_limit_can_still_pay(api: FakeBotApi, clock: FrozenClock):
    async with limited_bot(api, clock, limit=4) as bot:
        user = api.user(language_code="en")
        await order_invoice(user)
        await user.send("/start")
        assert user.last().shown == wait_text(60)

        charge_id = await user.pay()

        assert charge_id is not None, user.transcript()
        assert api.pre_checkouts[next(iter(api.pre_checkouts))].ok is True
        assert "Payment received: +50 ⭐" in user.last().shown
        assert (await bot.balance(user.id)).available == 50


async def test_payments_do_not_use_up_the_limit(api: FakeBotApi, clock: FrozenClock):
    async with limited_bot(api, clock, limit=5):
        user = api.user(language_code="en")
        await order_invoice(user)
        assert await user.pay() is not None
        await user.send("/start")
        assert "Main menu" in user.last().shown
        await user.send("/start")
        assert user.last().shown == wait_text(60)


async def test_without_a_limiter_updates_are_not_limited(api: FakeBotApi):
    async with running_bot(api, MemoryUnitOfWorkFactory(), updates_per_minute=1):
        user = api.user(language_code="en")
        await use_up(user, 3)
    assert_clean(api)


async def confirm_run(user: FakeUser, prompt: str) -> CallbackRecord:
    await open_model(user, BANANA)
    await user.send(prompt)
    await user.press("⏩ Skip optional")
    return await user.press("✅ Confirm · 15 ⭐")


async def test_runs_over_the_concurrent_limit_are_refused_by_any_instance(
    api: FakeBotApi, pg_store: PgUnitOfWorkFactory
):
    user = api.user(language_code="en")
    async with run_sandbox(fast=True) as kie:
        async with running_bot(api, pg_store, sandbox=kie, max_concurrent=1) as first:
            await user.send("/start")
            await confirm_run(user, "a red fox in the snow [lost]")  # it never finishes
            assert len(await generations(first, user)) == 1
        # Another instance, sharing only the database, counts the run still going.
        async with running_bot(api, pg_store, sandbox=kie, max_concurrent=1) as second:
            answer = await confirm_run(user, "a grey cat on a sofa")
            refusal = reason_text(ReasonCode.TOO_MANY_GENERATIONS, Language.EN)
            assert (answer.text, answer.show_alert) == (refusal, True)
            assert refusal in user.last().shown
            runs = await generations(second, user)
            assert len(runs) == 1
            assert runs[0].state is not GenerationState.SUCCEEDED
            assert not runs[0].state.is_terminal
            assert "red fox" in str(runs[0].input)
            balance = await second.balance(user.id)
            assert (balance.available, balance.held) == (85, 15)
    assert_clean(api)


async def test_the_wizard_state_lives_in_redis_and_survives_a_restart(
    api: FakeBotApi, redis_space: RedisSpace
):
    store = MemoryUnitOfWorkFactory()
    user = api.user(language_code="en")
    async with running_bot(api, store, redis=redis_space):
        await user.send("/start")
        await open_model(user, BANANA)
        await user.send("a red fox in the snow")
        assert "Step 2/4" in user.last().shown
    assert any(key.startswith("fsm:") for key in await redis_space.keys())
    assert not store.database.state.conversations
    async with running_bot(api, store, redis=redis_space):
        await user.press("⏩ Skip optional")
        assert "Check and confirm" in user.last().shown
    assert_clean(api)
