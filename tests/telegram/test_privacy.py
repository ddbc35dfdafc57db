"""/privacy: what is stored, the export as a JSON file, and deleting with a confirmation."""

import json
from collections.abc import AsyncIterator
from typing import Any

import attrs
import pytest

from kiebot_core.domain.generation import GenerationState
from kiebot_core.domain.ids import UserId
from kiebot_core.domain.ledger import Balance, LedgerKind
from kiebot_core.domain.privacy import fingerprint
from kiebot_core.domain.promotions import referral_code
from kiebot_core.domain.texts import Language
from kiebot_core.ports.storage import UnitOfWorkFactory
from kiebot_core.testing.memory import MemoryUnitOfWorkFactory
from kiebot_core.use_cases.privacy import StoredData
from kiebot_pg.uow import PgUnitOfWorkFactory
from kiebot_telegram.formatting import MAX_CAPTION
from kiebot_telegram.privacy import (
    delete_confirm_view,
    deleted_view,
    export_caption,
    privacy_view,
)
from tests.contracts.builders import make_generation
from tests.telegram.fake_bot_api import FakeBotApi, FakeUser, parse_html, utf16_length
from tests.telegram.harness import RunningBot, running_bot
from tests.telegram.test_payments import spend, top_up
from tests.telegram.test_rendering import check_view

WELCOME = 100


@pytest.fixture
def store(memory_and_pg: UnitOfWorkFactory) -> UnitOfWorkFactory:
    """Every flow here runs on the in-memory store and on PostgreSQL."""
    return memory_and_pg


@pytest.fixture
async def bot(api: FakeBotApi, store: UnitOfWorkFactory) -> AsyncIterator[RunningBot]:
    async with running_bot(api, store, welcome_stars=WELCOME) as running:
        yield running
    assert not api.errors(400), [(c.method, c.description) for c in api.errors(400)]
    assert not api.unanswered(), api.unanswered()


def exported(user: FakeUser) -> dict[str, Any]:
    documents = [m for m in user.bot_messages() if m.media == "document"]
    assert documents, user.transcript()
    file = documents[-1].file
    assert file is not None
    assert file.name == "kiebot-my-data.json"
    data: dict[str, Any] = json.loads(file.data)
    return data


async def test_privacy_says_what_is_stored_and_is_reachable_from_the_settings(
    api: FakeBotApi, bot: RunningBot
):
    user = api.user(language_code="en")
    await user.send("/start")
    await user.send("/help")
    assert "/privacy — your data" in user.last().shown
    await user.send("/settings")
    await user.press("🔒 Your data")
    screen = user.last()
    assert "What kiebot keeps about you" in screen.shown
    assert "Stored now: 0 generations, 0 payments, 1 balance moves, 0 favorites" in screen.shown
    assert screen.labels()[:2] == ["📦 Export my data", "🗑 Delete my data"]
    assert "privacy" in [c["command"] for c in api.commands[None]]


async def test_privacy_in_russian(api: FakeBotApi, bot: RunningBot):
    user = api.user(language_code="ru")
    await user.send("/privacy")
    assert "Что kiebot хранит о вас" in user.last().shown  # noqa: RUF001
    assert "📦 Выгрузить мои данные" in user.last().labels()


async def test_the_export_is_one_json_file_with_profile_generations_payments_and_ledger(
    api: FakeBotApi, bot: RunningBot
):
    user = api.user(language_code="en")
    await top_up(user)
    await spend(bot, user)
    await user.send("/privacy")
    assert "Stored now: 1 generations, 1 payments, 4 balance moves" in user.last().shown
    await user.press("📦 Export my data")
    await user.wait_for(lambda: any(m.media == "document" for m in user.bot_messages()))
    data = exported(user)
    assert data["format"] == "kiebot.user-data"
    assert data["profile"]["telegram_id"] == user.id
    assert data["profile"]["language"] == "en"
    (generation,) = data["generations"]
    assert generation["input"]["prompt"] == "a red fox in the snow"
    assert (generation["state"], generation["charged_stars"]) == ("succeeded", 15)
    assert generation["result_urls"]
    (payment,) = data["payments"]
    assert (payment["paid_stars"], payment["state"]) == (50, "processed")
    assert [move["kind"] for move in data["ledger"]] == ["capture", "hold", "purchase", "grant"]
    assert data["balance"] == {"available": WELCOME + 50 - 15, "held": 0, "debt": 0}
    caption = [m for m in user.bot_messages() if m.media == "document"][-1].shown
    assert "1 generations, 1 payments, 4 balance moves" in caption


async def test_deleting_asks_first_then_keeps_only_anonymous_money_records(
    api: FakeBotApi, bot: RunningBot
):
    user = api.user(language_code="en")
    await top_up(user)
    await spend(bot, user)
    async with bot.store() as uow:
        before = list(reversed(await uow.ledger.history(UserId(user.id), limit=50)))
        balance = await uow.ledger.balance(UserId(user.id))
    await user.send("/privacy")
    await user.press("🗑 Delete my data")
    confirm = user.last()
    assert "Delete your data?" in confirm.shown
    assert f"Your balance of {balance.available} ⭐ will be lost" in confirm.shown
    await user.press("⬅️ Back")
    assert "What kiebot keeps about you" in user.last().shown
    await user.press("🗑 Delete my data")
    await user.press("🗑 Yes, delete my data")
    assert "Your data was deleted" in user.last().shown
    assert user.last().labels() == []
    async with bot.store() as uow:
        assert await uow.users.get(UserId(user.id)) is None
        assert await uow.ledger.history(UserId(user.id), limit=50) == []
        assert await uow.generations.for_user(UserId(user.id), limit=50) == []
        assert await uow.payments.for_user(UserId(user.id), limit=50) == []
        (record,) = await uow.privacy.forgotten(fingerprint(UserId(user.id)))
        anonymous = record.anonymous_id
        after = list(reversed(await uow.ledger.history(anonymous, limit=50)))
        assert [t.kind for t in after] == [t.kind for t in before]
        assert [t.entries for t in after] == [t.entries for t in before]
        assert await uow.ledger.balance(anonymous) == balance == Balance.of(after)
        (payment,) = await uow.payments.for_user(anonymous, limit=50)
        assert payment.stars == 50
        (generation,) = await uow.generations.for_user(anonymous, limit=50)
        assert dict(generation.input) == {}
        assert generation.state is GenerationState.SUCCEEDED


async def stored_updates(store: UnitOfWorkFactory) -> list[str]:
    """Every stored inbox payload and journaled call, as text (no port reads them back)."""
    if isinstance(store, MemoryUnitOfWorkFactory):
        state = store.database.state
        return [json.dumps(dict(u.payload)) for u in state.inbox.values()] + [
            json.dumps(m.result) for m in state.sent_messages.values()
        ]
    assert isinstance(store, PgUnitOfWorkFactory)
    async with store() as uow:
        rows = await uow.connection.fetch(
            "SELECT payload::text AS text FROM update_inbox "
            "UNION ALL SELECT result::text FROM sent_messages"
        )
    return [row["text"] for row in rows]


async def test_the_update_that_deleted_keeps_nothing_of_the_user(api: FakeBotApi, bot: RunningBot):
    user = api.user(language_code="en", username="ann_the_fox")
    await user.send("/privacy")
    await user.press("🗑 Delete my data")
    await user.press("🗑 Yes, delete my data")
    assert "Your data was deleted" in user.last().shown
    async with bot.store() as uow:
        assert await uow.events.for_user(UserId(user.id), limit=100) == []
    stored = await stored_updates(bot.store)
    assert stored, "the update that deleted stays, so a second delivery is a duplicate"
    assert all(str(user.id) not in text and "ann_the_fox" not in text for text in stored), stored
    await user.send("/start")
    assert "Hi, Ann!" in user.last().shown


async def test_a_person_who_deleted_their_data_comes_back_as_new_without_a_second_gift(
    api: FakeBotApi, bot: RunningBot
):
    user = api.user(language_code="en")
    await user.send("/start")
    assert f"{WELCOME} ⭐ were added" in user.last().shown
    await user.send("/privacy")
    await user.press("🗑 Delete my data")
    await user.press("🗑 Yes, delete my data")
    await user.send("/start")
    greeting = user.last()
    assert "Hi, Ann!" in greeting.shown
    assert "were added" not in greeting.shown
    assert await bot.balance(user.id) == Balance()
    async with bot.store() as uow:
        stored = await uow.users.get(UserId(user.id))
        assert stored is not None
        assert await uow.ledger.history(UserId(user.id), limit=10) == []
    await user.send("/privacy")
    assert "Stored now: 0 generations, 0 payments, 0 balance moves" in user.last().shown


async def test_an_inviter_who_deleted_their_data_earns_nothing_from_their_invitees(
    api: FakeBotApi, bot: RunningBot
):
    inviter = api.user(3001, "Ann", language_code="en")
    friend = api.user(3002, "Bob", language_code="en")
    await inviter.send("/start")
    await friend.send(f"/start {referral_code(UserId(inviter.id))}")
    await inviter.send("/privacy")
    await inviter.press("🗑 Delete my data")
    await inviter.press("🗑 Yes, delete my data")
    told = len(inviter.bot_messages())
    await top_up(friend)
    await friend.send("/paysupport")
    assert "↩️ Refund 1" in friend.last().labels()
    assert len(inviter.bot_messages()) == told
    async with bot.store() as uow:
        (record,) = await uow.privacy.forgotten(fingerprint(UserId(inviter.id)))
        kept = await uow.ledger.history(record.anonymous_id, limit=10)
    assert [t.key for t in kept] == [f"grant:welcome:{record.anonymous_id}"]


async def test_deleting_waits_for_running_generations(api: FakeBotApi, bot: RunningBot):
    user = api.user(language_code="en")
    await user.send("/privacy")
    async with bot.store() as uow:
        now = bot.runtime.pipeline.clock.now()
        await uow.generations.add(make_generation("gen_running", at=now, user_id=user.id))
        await uow.commit()
    await user.press("🗑 Delete my data")
    record = await user.press("🗑 Yes, delete my data")
    assert record.show_alert
    assert record.text is not None
    assert "still running" in record.text
    assert "What kiebot keeps about you" in user.last().shown
    async with bot.store() as uow:
        assert await uow.users.get(UserId(user.id)) is not None
        kinds = [t.kind for t in await uow.ledger.history(UserId(user.id), limit=10)]
        assert kinds == [LedgerKind.GRANT]


@pytest.mark.parametrize("language", list(Language))
def test_the_privacy_screens_fit_telegram_in_every_language(language: Language):
    data = StoredData(
        generations=12345,
        payments=678,
        moves=99999,
        favorites=100,
        balance=Balance(available=1_000_000),
        running=0,
    )
    for view in (
        privacy_view(language, data),
        delete_confirm_view(language, data),
        deleted_view(language),
    ):
        check_view(view)
    assert "1000000 ⭐" in check_view(delete_confirm_view(language, data))
    broke = attrs.evolve(data, balance=Balance())
    assert "⭐" not in check_view(delete_confirm_view(language, broke))
    caption, _ = parse_html(export_caption(language, data))
    assert utf16_length(caption) <= MAX_CAPTION
