"""/admin through the fake Bot API: statistics, users (grant, ban), model switches, audit."""

from collections.abc import AsyncIterator
from datetime import timedelta
from decimal import Decimal

import pytest

from kiebot_core.domain.audit import AuditAction, cli_actor, telegram_actor
from kiebot_core.domain.generation import GenerationState
from kiebot_core.domain.ids import UserId
from kiebot_core.domain.ledger import Balance
from kiebot_core.domain.reasons import ReasonCode, reason_text
from kiebot_core.domain.registry import load_registry
from kiebot_core.domain.texts import Language
from kiebot_core.ports.storage import UnitOfWorkFactory
from kiebot_core.use_cases.promotions import create_promo
from kiebot_telegram.admin_views import AUDIT_ACTION_TEXT, MODELS_PER_PAGE, models_in_order
from kiebot_telegram.admins import notify_admins
from kiebot_telegram.callbacks import Adm, AdmAct, model_ref
from kiebot_telegram.texts import Msg, t
from tests.contracts.builders import make_generation, make_payment
from tests.telegram.fake_bot_api import FakeBotApi, FakeUser
from tests.telegram.flows import title
from tests.telegram.harness import RunningBot, running_bot

ADMIN = 4242
OTHER_ADMIN = 4343
ANN = 1001
UNKNOWN_COMMAND = reason_text(ReasonCode.UNKNOWN_ACTION, Language.EN)


@pytest.fixture
def store(memory_and_pg: UnitOfWorkFactory) -> UnitOfWorkFactory:
    """Every admin flow runs on the in-memory store and on PostgreSQL."""
    return memory_and_pg


@pytest.fixture
async def bot(api: FakeBotApi, store: UnitOfWorkFactory) -> AsyncIterator[RunningBot]:
    """No welcome gift (every Star here is granted); two admins."""
    admins = frozenset({ADMIN, OTHER_ADMIN})
    async with running_bot(api, store, welcome_stars=0, admin_ids=admins) as running:
        yield running
    assert not api.errors(400), [(c.method, c.description) for c in api.errors(400)]
    assert not api.unanswered(), api.unanswered()


async def started(api: FakeBotApi, user_id: int, name: str, **info: str | None) -> FakeUser:
    user = api.user(user_id, name, **info)
    await user.send("/start")
    return user


async def admin_screen(api: FakeBotApi) -> FakeUser:
    admin = await started(api, ADMIN, "Boss", username="boss")
    await admin.send("/admin")
    return admin


async def test_admins_get_the_admin_screen_others_the_unknown_command_answer(
    api: FakeBotApi, bot: RunningBot
):
    ann = await started(api, ANN, "Ann")
    await ann.send("/admin")
    assert UNKNOWN_COMMAND in ann.last().shown
    assert "Admin" not in ann.last().shown
    # An admin button pressed by someone else (a forwarded keyboard) is only a stale button.
    record = await ann.press_data(Adm(act=AdmAct.STATS, arg="7").pack(), ann.last())
    assert record.text == reason_text(ReasonCode.STALE_ACTION, Language.EN)
    assert "Statistics" not in ann.last().shown

    admin = await admin_screen(api)
    assert "🛠 Admin" in admin.last().shown
    labels = admin.last().labels()
    assert labels[:4] == ["📊 Statistics", "👤 Users", "🧩 Models", "📜 Audit trail"]
    assert labels[-1] == "🏠 Menu"


async def test_statistics_show_users_runs_money_margin_and_the_funnel(
    api: FakeBotApi, bot: RunningBot
):
    ann = await started(api, ANN, "Ann")
    admin = await admin_screen(api)
    now = bot.runtime.pipeline.clock.now()
    flux = "flux-2/flex-text-to-image"
    async with bot.store() as uow:
        for gid, state, took in (
            ("gen_1", GenerationState.SUCCEEDED, 10),
            ("gen_2", GenerationState.SUCCEEDED, 30),
            ("gen_3", GenerationState.FAILED, 5),
        ):
            await uow.generations.add(
                make_generation(
                    gid,
                    at=now,
                    user_id=ann.id,
                    model_id=flux,
                    state=state,
                    updated_at=now + timedelta(seconds=took),
                    credits_consumed=Decimal("2.5") if gid == "gen_1" else None,
                )
            )
        await uow.payments.add(make_payment("charge_1", at=now, user_id=ann.id, stars=50))
        await uow.commit()
    await admin.press("📊 Statistics")
    shown = admin.last().shown
    assert "Statistics · 7 days" in shown
    assert "Users: 2 · active today 2 · in 7 days 2" in shown
    assert "Joined 2 → generated 1 (50%) → paid 1 (50%)" in shown
    assert "Generations: 3 · ✅ 2 · ❌ 1 · ✖️ 0 · ⏳ 0" in shown
    assert "Stars in: 50 ⭐ (1 payments)" in shown
    assert "KIE credits: 2.5 consumed (11.2 quoted)" in shown
    assert "Kept 0 ⭐ · KIE cost 1 ⭐ · margin -1 ⭐" in shown
    assert f"{title(flux)}: 3 · 33% · 10 s / 30 s" in shown
    assert "✅ 7 days" in admin.last().labels()
    await admin.press("Today")
    assert "Statistics · today" in admin.last().shown
    assert "✅ Today" in admin.last().labels()


async def test_a_user_found_by_username_gets_a_grant_with_its_reason_audited(
    api: FakeBotApi, bot: RunningBot
):
    ann = await started(api, ANN, "Ann", username="Ann_Smith")
    admin = await admin_screen(api)
    await admin.press("👤 Users")
    assert "Send the user's Telegram id or @username" in admin.last().shown
    await admin.send("@nobody_here")
    assert "No user @nobody_here has talked to the bot" in admin.last().shown
    await admin.send("who is ann?")
    assert "neither a Telegram id nor an @username" in admin.last().shown
    await admin.send("@ann_smith")
    card = admin.last().shown
    assert "User 1001 @Ann_Smith" in card
    assert "0 ⭐ available" in card

    await admin.press("🎁 Grant Stars")
    await admin.send("lots")
    assert "Send a whole number from 1 to 100000" in admin.last().shown
    await admin.send("50")
    assert "50 ⭐ for user 1001. Why?" in admin.last().shown
    await admin.send("sorry for the outage")
    card = admin.last().shown
    assert card.startswith("✅ Granted 50 ⭐.")
    assert "50 ⭐ available" in card
    assert "+50 ⭐ · gift" in card
    assert await bot.balance(ann.id) == Balance(available=50)

    await admin.press("🎁 Grant Stars")
    await admin.send("50")
    await admin.send("sorry for the outage")
    assert "was made before; nothing changed" in admin.last().shown
    assert await bot.balance(ann.id) == Balance(available=50)
    async with bot.store() as uow:
        trail = await uow.audit.recent(limit=10)
        stored = await uow.users.get(UserId(ann.id))
    assert [(e.actor, e.action, e.target, e.detail, e.reason) for e in trail] == [
        (telegram_actor(ADMIN), AuditAction.GRANT, "1001", "stars=50", "sorry for the outage")
    ]
    assert stored is not None
    assert stored.username == "Ann_Smith"


async def test_a_question_waits_for_text_and_a_command_leaves_it(api: FakeBotApi, bot: RunningBot):
    await started(api, ANN, "Ann")
    admin = await admin_screen(api)
    await admin.press("👤 Users")
    await admin.send("1001")
    await admin.press("🎁 Grant Stars")
    await admin.send_photo(b"not a number")
    assert "Please send it as a text message" in admin.last().shown
    await admin.press("✖️ Cancel")
    assert "User 1001" in admin.last().shown
    await admin.press("🎁 Grant Stars")
    await admin.send("/balance")
    await admin.send("25")
    # /balance left the question: "25" is a search now, not an amount.
    assert await bot.balance(ANN) == Balance()


async def test_a_banned_user_is_told_once_then_ignored_until_unbanned(
    api: FakeBotApi, bot: RunningBot
):
    ann = await started(api, ANN, "Ann", language_code="ru")
    admin = await admin_screen(api)
    await admin.press("👤 Users")
    await admin.send("1001")
    await admin.press("⛔ Ban")
    assert "Ban user 1001? Send the reason" in admin.last().shown
    await admin.send("   ")
    assert "Send a reason of 1 to 500 characters" in admin.last().shown
    await admin.send("spam in every chat")
    card = admin.last()
    assert card.shown.startswith("⛔ Banned. They will be told once")
    assert "⛔ Banned" in card.shown
    assert "✅ Unban" in card.labels()

    await ann.send("/start")
    assert ann.last().shown == reason_text(ReasonCode.BANNED, Language.RU)
    told = len(ann.bot_messages())
    await ann.send("/start")
    await ann.send("/balance")
    assert len(ann.bot_messages()) == told

    await admin.press("✅ Unban")
    await admin.send("appeal accepted")
    assert admin.last().shown.startswith("✅ Unbanned.")
    await ann.send("/start")
    assert "Главное меню" in ann.last().shown
    async with bot.store() as uow:
        trail = await uow.audit.recent(limit=10)
    assert [(e.action, e.reason) for e in trail] == [
        (AuditAction.UNBAN, "appeal accepted"),
        (AuditAction.BAN, "spam in every chat"),
    ]


async def test_admins_cannot_be_banned(api: FakeBotApi, bot: RunningBot):
    await started(api, OTHER_ADMIN, "Deputy")
    admin = await admin_screen(api)
    await admin.press("👤 Users")
    await admin.send(str(OTHER_ADMIN))
    card = admin.last()
    assert "🛠 Admin" in card.shown
    assert "⛔ Ban" not in card.labels()
    # An old Ban button, pressed after the user became an admin, is refused too.
    await admin.press_data(Adm(act=AdmAct.BAN, arg=str(OTHER_ADMIN)).pack(), card)
    await admin.send("no reason")
    assert admin.last().shown.startswith("⚠️ An admin cannot be banned.")
    async with bot.store() as uow:
        assert await uow.audit.recent(limit=10) == []


async def test_a_banned_users_payment_is_still_credited(api: FakeBotApi, bot: RunningBot):
    ann = await started(api, ANN, "Ann")
    await ann.send("/balance")
    await ann.press("⭐ Top up")
    await ann.press("50 ⭐")
    await ann.press("✅ I accept")
    await ann.wait_for(ann.invoices)
    async with bot.store() as uow:
        stored = await uow.users.get(UserId(ANN))
        assert stored is not None
    admin = await admin_screen(api)
    await admin.press("👤 Users")
    await admin.send("1001")
    await admin.press("⛔ Ban")
    await admin.send("chargeback fraud")
    assert await ann.pay() is not None
    assert await bot.balance(ANN) == Balance(available=50)


async def test_a_model_switch_reaches_users_at_once_and_is_audited(
    api: FakeBotApi, bot: RunningBot
):
    ann = await started(api, ANN, "Ann")
    admin = await admin_screen(api)
    model = models_in_order(load_registry())[0]
    await admin.press("🧩 Models")
    assert f"✅ {model.title(Language.EN)}" in admin.last().labels()
    await admin.press(f"✅ {model.title(Language.EN)}")
    assert f"⛔ {model.title(Language.EN)}" in admin.last().labels()
    assert "off" in admin.last().shown
    await ann.send(model.id)
    assert f"{title(model.id)} · " not in " ".join(ann.last().labels())

    await admin.press(f"⛔ {model.title(Language.EN)}")
    assert f"✅ {model.title(Language.EN)}" in admin.last().labels()
    await ann.send(model.id)
    assert any(label.startswith(f"{title(model.id)} · ") for label in ann.last().labels())

    unpriced = load_registry().get("wan/2-6-flash-video-to-video")
    assert unpriced is not None
    page = models_in_order(load_registry()).index(unpriced) // MODELS_PER_PAGE
    switch = Adm(act=AdmAct.SWITCH, arg=model_ref(unpriced.id), page=page, on=True)
    record = await admin.press_data(switch.pack(), admin.last())
    assert record.show_alert
    assert record.text == reason_text(ReasonCode.PRICE_UNKNOWN, Language.EN)
    assert f"🚫 {unpriced.title(Language.EN)}" in admin.last().labels()

    async with bot.store() as uow:
        trail = await uow.audit.recent(limit=10)
    assert [(e.actor, e.action, e.target) for e in trail] == [
        (telegram_actor(ADMIN), AuditAction.MODEL_ENABLE, model.id),
        (telegram_actor(ADMIN), AuditAction.MODEL_DISABLE, model.id),
    ]


async def test_the_audit_trail_names_who_did_what_and_why_newest_first(
    api: FakeBotApi, bot: RunningBot
):
    clock = bot.runtime.pipeline.clock
    await create_promo(bot.store, clock, "SPRING", 25, by=cli_actor("alice"), reason="campaign")
    admin = await admin_screen(api)
    await admin.press("📜 Audit trail")
    assert "cli:alice · 🎟 promo code SPRING · stars=25 max_uses=unlimited" in admin.last().shown
    assert "“campaign”" in admin.last().shown
    await admin.press("⬅️ Admin")
    await admin.press("🧩 Models")
    model = models_in_order(load_registry())[0]
    await admin.press(f"✅ {model.title(Language.EN)}")
    await admin.press("⬅️ Admin")
    await admin.press("📜 Audit trail")
    lines = admin.last().shown.splitlines()
    assert f"@boss · ⛔ switched off {model.id}" in lines[2]
    assert "cli:alice" in admin.last().shown.split(model.id)[1]


async def test_every_audited_action_reads_in_every_language():
    assert set(AUDIT_ACTION_TEXT) == set(AuditAction)
    for language in Language:
        assert all(t(language, key) for key in AUDIT_ACTION_TEXT.values())


async def test_admins_are_notified_in_their_own_language(api: FakeBotApi, bot: RunningBot):
    admin = await started(api, ADMIN, "Boss")
    deputy = await started(api, OTHER_ADMIN, "Deputy", language_code="ru")
    gone = await started(api, 4444, "Gone")
    gone.block()
    before = len(admin.bot_messages()), len(deputy.bot_messages())
    delivered = await notify_admins(
        bot.runtime.bot,
        bot.store,
        {ADMIN, OTHER_ADMIN, gone.id},
        lambda language: t(language, Msg.BTN_ADMIN_STATS),
    )
    assert delivered == 2
    assert admin.last().shown == "📊 Statistics"
    assert deputy.last().shown == "📊 Статистика"
    assert (len(admin.bot_messages()), len(deputy.bot_messages())) == (
        before[0] + 1,
        before[1] + 1,
    )
