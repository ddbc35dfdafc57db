"""The free tier, promo codes, referrals, support requests and operator refunds in the bot."""

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from kiebot_core.domain.audit import cli_actor
from kiebot_core.domain.generation import GenerationState
from kiebot_core.domain.ids import CorrelationId, UserId
from kiebot_core.domain.ledger import Balance, LedgerKind
from kiebot_core.domain.outcomes import Rejected
from kiebot_core.domain.promotions import FreeTier, referral_code
from kiebot_core.domain.reasons import ReasonCode, reason_text
from kiebot_core.domain.texts import Language
from kiebot_core.ports.storage import UnitOfWorkFactory
from kiebot_core.use_cases.generation import StartCommand, refund_generation, start_generation
from kiebot_core.use_cases.promotions import create_promo, register_user
from tests.telegram.fake_bot_api import FakeBotApi, FakeUser
from tests.telegram.flows import kinds, ledger, open_model, wait_finished
from tests.telegram.harness import RunningBot, running_bot
from tests.telegram.test_payments import BANANA, spend, top_up

ADMIN = 4242
OPERATOR = cli_actor("tester")


@pytest.fixture
def store(memory_and_pg: UnitOfWorkFactory) -> UnitOfWorkFactory:
    """Every flow here runs on the in-memory store and on PostgreSQL."""
    return memory_and_pg


@pytest.fixture
async def bot(api: FakeBotApi, store: UnitOfWorkFactory) -> AsyncIterator[RunningBot]:
    """No welcome gift; one admin."""
    async with running_bot(api, store, welcome_stars=0, admin_ids=frozenset({ADMIN})) as running:
        yield running
    assert not api.errors(400), [(c.method, c.description) for c in api.errors(400)]
    assert not api.unanswered(), api.unanswered()


@pytest.fixture
async def free_bot(api: FakeBotApi, store: UnitOfWorkFactory) -> AsyncIterator[RunningBot]:
    """No welcome gift; two free runs a day of Nano Banana Pro."""
    free_tier = FreeTier(2, frozenset({BANANA}))
    async with running_bot(api, store, welcome_stars=0, free_tier=free_tier) as running:
        yield running
    assert not api.errors(400), [(c.method, c.description) for c in api.errors(400)]
    assert not api.unanswered(), api.unanswered()


async def _to_confirmation(user: FakeUser, prompt: str = "a red fox in the snow") -> None:
    await open_model(user, BANANA)
    await user.send(prompt)
    await user.press("⏩ Skip optional")


async def test_free_runs_are_counted_given_back_on_failure_and_then_used_up(
    api: FakeBotApi, free_bot: RunningBot
):
    bot = free_bot
    user = api.user()
    await user.send("/start")
    await user.send(BANANA)
    await user.press("Nano Banana Pro")
    assert "Free today: 2 of 2 runs" in user.last().shown
    await user.press("▶️ Start")
    await user.send("a red fox in the snow")
    await user.press("⏩ Skip optional")
    confirm = user.last()
    assert "Free run · 2 of 2 left today" in confirm.shown
    await user.press("✅ Confirm · free")
    assert "Accepted · Nano Banana Pro · Create & Edit · 🎁 free run" in confirm.shown
    first = await wait_finished(bot, user)
    assert first.state is GenerationState.SUCCEEDED
    assert first.is_free
    assert first.held == 0
    photo = next(m for m in user.bot_messages() if m.media == "photo")
    assert "free run" in photo.shown
    # A free run that fails gives the run back.
    await _to_confirmation(user, "a fox [fail]")
    assert "1 of 2 left today" in user.last().shown
    await user.press("✅ Confirm · free")
    failed = await wait_finished(bot, user, count=2)
    assert failed.state is GenerationState.FAILED
    assert "Not charged: your free run is back." in user.last().shown
    await _to_confirmation(user)
    assert "1 of 2 left today" in user.last().shown
    await user.press("✅ Confirm · free")
    await wait_finished(bot, user, count=3)
    # Used up: the price, the shortfall and the top-up come back.
    await _to_confirmation(user)
    confirm = user.last()
    assert "free runs are used up" in confirm.shown
    assert "Price: 15 ⭐" in confirm.shown
    await user.press("✅ Confirm · 15 ⭐")
    assert reason_text(ReasonCode.INSUFFICIENT_BALANCE, Language.EN) in user.last().shown
    assert await bot.balance(user.id) == Balance()
    assert not await ledger(bot, user)  # free runs never touch the ledger
    await user.send("/balance")
    assert "Free runs today: 0 of 2 (Nano Banana Pro" in user.last().shown


async def test_two_concurrent_starts_cannot_both_use_the_last_free_run(free_bot: RunningBot):
    pipeline = free_bot.runtime.pipeline
    user_id = UserId(5005)
    await register_user(pipeline.uow, pipeline.clock, user_id, Language.EN)
    command = StartCommand(
        user_id=user_id,
        model_id=BANANA,
        answers={"prompt": "a fox"},
        correlation_id=CorrelationId("race"),
    )
    first = await start_generation(pipeline, command)
    assert not isinstance(first, Rejected)
    assert first.is_free
    results = await asyncio.gather(*(start_generation(pipeline, command) for _ in range(2)))
    started = [r for r in results if not isinstance(r, Rejected)]
    refused = [r.reason for r in results if isinstance(r, Rejected)]
    assert [r.is_free for r in started] == [True]
    assert refused == [ReasonCode.INSUFFICIENT_BALANCE]
    async with pipeline.uow() as uow:
        assert await uow.free_runs.used(user_id, pipeline.clock.now().date()) == 2


async def test_a_promo_code_is_redeemed_once_and_refused_with_a_reason(
    api: FakeBotApi, bot: RunningBot
):
    clock = bot.runtime.pipeline.clock
    await create_promo(bot.store, clock, "SPRING25", 25, by=OPERATOR)
    await create_promo(
        bot.store,
        clock,
        "LATE",
        5,
        expires_at=clock.now() + timedelta(milliseconds=1),
        by=OPERATOR,
    )
    await asyncio.sleep(0.01)
    user = api.user()
    await user.send("/promo spring25")
    assert "Promo code SPRING25 redeemed: +25 ⭐" in user.last().shown
    assert await bot.balance(user.id) == Balance(available=25)
    await user.send("/promo SPRING25")
    assert reason_text(ReasonCode.PROMO_ALREADY_REDEEMED, Language.EN) in user.last().shown
    await user.send("/promo NOSUCHCODE")
    assert reason_text(ReasonCode.PROMO_UNKNOWN, Language.EN) in user.last().shown
    await user.send("/promo late")
    assert reason_text(ReasonCode.PROMO_EXPIRED, Language.EN) in user.last().shown
    # The button asks for the code; a wrong one keeps asking, /cancel stops.
    other = api.user(1002, "Bob", "ru")
    await other.send("/balance")
    await other.press("🎟 Промокод")
    assert "Пришлите промокод" in other.last().shown
    await other.send("nope")
    assert reason_text(ReasonCode.PROMO_UNKNOWN, Language.RU) in other.last().shown
    await other.send("Spring25")
    assert "Промокод SPRING25 активирован: +25 ⭐" in other.last().shown
    await other.send("Spring25")  # no longer waiting for a code: a model search
    assert "SPRING25" not in other.last().shown
    assert await bot.balance(other.id) == Balance(available=25)
    assert kinds(await ledger(bot, other)) == [LedgerKind.GRANT]


async def test_twenty_users_race_for_a_code_of_five_uses(
    api: FakeBotApi, store: UnitOfWorkFactory
):
    async with running_bot(api, store, welcome_stars=0) as bot:
        pipeline = bot.runtime.pipeline
        await create_promo(bot.store, pipeline.clock, "FIRST5", 10, max_uses=5, by=OPERATOR)
        users = [api.user(2000 + n, f"U{n}") for n in range(20)]
        for user in users:
            await user.send("/start")
        await asyncio.gather(*(user.send("/promo FIRST5", wait=False) for user in users))
        await api.settle(quiet=0.5, within_s=30)
        won = [u for u in users if "redeemed: +10 ⭐" in u.last().shown]
        lost = [u for u in users if "used up" in u.last().shown]
        assert len(won) == 5
        assert len(lost) == 15
        balances = [await bot.balance(u.id) for u in users]
        assert sorted(b.available for b in balances) == [0] * 15 + [10] * 5
        async with bot.store() as uow:
            promo = await uow.promos.get("FIRST5")
        assert promo is not None
        assert promo.uses == 5


async def test_an_inviter_is_rewarded_once_when_the_invited_user_first_pays(
    api: FakeBotApi, bot: RunningBot
):
    inviter = api.user(3001, "Ann")
    await inviter.send("/referral")
    shown = inviter.last().shown
    code = referral_code(UserId(inviter.id))
    assert f"https://t.me/{api.bot_user['username']}?start={code}" in shown
    assert "Joined: 0 · purchased: 0 · you earned: 0 ⭐" in shown
    friend = api.user(3002, "Bob")
    await friend.send(f"/start {code}")
    assert reason_text(ReasonCode.REFERRAL_REFUSED, Language.EN) not in friend.last().shown
    await top_up(friend)
    assert "A friend you invited made their first purchase: +10 ⭐" in inviter.last().shown
    # That purchase cannot be refunded by the friend (no free Stars by inviting oneself).
    await friend.send("/paysupport")
    assert "✉️ Ask support about 1" in friend.last().labels()
    assert "↩️ Refund 1" not in friend.last().labels()
    await top_up(friend)
    assert await bot.balance(inviter.id) == Balance(available=10)
    await inviter.send("/referral")
    assert "Joined: 1 · purchased: 1 · you earned: 10 ⭐" in inviter.last().shown
    # Inviting oneself is refused (the user joins without an inviter).
    loner = api.user(3003, "Cy")
    await loner.send(f"/start {referral_code(UserId(loner.id))}")
    assert reason_text(ReasonCode.REFERRAL_REFUSED, Language.EN) in loner.last().shown
    async with bot.store() as uow:
        stored = await uow.users.get(UserId(loner.id))
    assert stored is not None
    assert stored.referrer_id is None
    # An existing user's link is not a new invitation: the friend stays with the inviter.
    await friend.send(f"/start {referral_code(UserId(loner.id))}")
    async with bot.store() as uow:
        again = await uow.users.get(UserId(friend.id))
    assert again is not None
    assert again.referrer_id == inviter.id


async def test_a_spent_purchase_gets_a_support_request_to_the_admins(
    api: FakeBotApi, bot: RunningBot
):
    admin = api.user(ADMIN, "Admin")
    await admin.send("/start")
    user = api.user()
    charge = await top_up(user)
    await spend(bot, user)
    await user.send("/paysupport")
    assert "↩️ Refund 1" not in user.last().labels()
    await user.press("✉️ Ask support about 1")
    assert "was sent to support" in user.last().shown
    ticket = admin.last().shown
    assert "Support request" in ticket
    assert str(user.id) in ticket
    assert charge in ticket
    assert "Balance: 35 ⭐ available" in ticket


async def test_an_operator_refund_of_a_generation_reaches_the_user_with_the_reason(
    api: FakeBotApi, bot: RunningBot
):
    user = api.user()
    await top_up(user)
    await spend(bot, user)
    generation = await wait_finished(bot, user)
    pipeline = bot.runtime.pipeline
    assert "charged 15 ⭐" in next(m for m in user.bot_messages() if m.media == "photo").shown
    refunded = await refund_generation(
        bot.store, pipeline.clock, pipeline.ids, generation.id, "blurry <result>", by=OPERATOR
    )
    assert not isinstance(refunded, Rejected)
    assert refunded.stars == 15
    await api.settle(quiet=0.3)
    last = user.last().shown
    assert "15 ⭐ for Nano Banana Pro · Create & Edit are back on your balance" in last, last
    assert "Reason: blurry <result>" in last
    assert await bot.balance(user.id) == Balance(available=50)
    again = await refund_generation(
        bot.store, pipeline.clock, pipeline.ids, generation.id, "twice", by=OPERATOR
    )
    assert not isinstance(again, Rejected)
    assert not again.is_new
    assert kinds(await ledger(bot, user))[-1] is LedgerKind.REFUND
