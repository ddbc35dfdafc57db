"""📣 Broadcasts through the fake Bot API: the admin's draft, the dry run, pacing, blocked users,
flood control, stopping, and resuming after a restart without sending anyone anything twice."""

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest

from kiebot_core.domain.audit import AuditAction, telegram_actor
from kiebot_core.domain.broadcasts import (
    Broadcast,
    BroadcastCounts,
    BroadcastId,
    BroadcastState,
    TryAgain,
    Unconfirmed,
)
from kiebot_core.domain.ids import UserId
from kiebot_core.domain.reasons import ReasonCode, reason_text
from kiebot_core.domain.texts import Language
from kiebot_core.ports.storage import UnitOfWorkFactory
from kiebot_core.testing.memory import MemoryUnitOfWorkFactory
from kiebot_telegram.broadcasts import Bc, BcAct, TelegramBroadcastChannel
from kiebot_telegram.dispatcher import make_bot
from tests.contracts.builders import make_payment
from tests.telegram.fake_bot_api import FakeBotApi, FakeMessage, FakeUser
from tests.telegram.flows import PHOTO
from tests.telegram.harness import RunningBot, free_port, running_bot

ADMIN = 4242
NEWS = "Big news today: new video models!"
NEWS_HTML = f"<b>{NEWS[:8]}</b>{NEWS[8:]}"
SHOP = ("Shop", "https://example.com/shop?from=bot")


@pytest.fixture
def store(memory_and_pg: UnitOfWorkFactory) -> UnitOfWorkFactory:
    """Every broadcast here runs on the in-memory store and on PostgreSQL."""
    return memory_and_pg


@pytest.fixture
async def bot(api: FakeBotApi, store: UnitOfWorkFactory) -> AsyncIterator[RunningBot]:
    async with running_bot(api, store, admin_ids=frozenset({ADMIN})) as running:
        yield running
    assert not api.errors(400), [(c.method, c.description) for c in api.errors(400)]
    assert not api.unanswered(), api.unanswered()


async def started(api: FakeBotApi, user_id: int, language: str = "en") -> FakeUser:
    user = api.user(user_id, f"User {user_id}", language)
    await user.send("/start")
    return user


async def draft(admin: FakeUser, *, button: str | None = f"{SHOP[0]} | {SHOP[1]}") -> None:
    """From /admin to the audience screen: a bold headline, and the button when given."""
    await admin.send("/admin")
    await admin.press("📣 Broadcast")
    assert "step 1 of 3" in admin.last().shown
    await admin._push_message(
        True, text=NEWS, entities=[{"type": "bold", "offset": 0, "length": 8}]
    )
    assert "step 2 of 3" in admin.last().shown
    if button is None:
        await admin.press("➡️ No button")
    else:
        await admin.send(button)
    assert "step 3 of 3" in admin.last().shown


def recipients_now(admin: FakeUser) -> int:
    shown = admin.last().shown
    return int(shown.split("Recipients now: ")[1].split()[0])


def got_news(user: FakeUser) -> list[FakeMessage]:
    return [m for m in user.bot_messages() if m.shown == NEWS]


async def wait_report(admin: FakeUser, within_s: float = 20.0) -> FakeMessage:
    await admin.wait_for(
        lambda: any(
            ("Broadcast finished" in m.shown or "Broadcast stopped" in m.shown) and not m.buttons()
            for m in admin.bot_messages()
        ),
        within_s,
    )
    return next(
        m
        for m in reversed(admin.bot_messages())
        if "Broadcast finished" in m.shown or "Broadcast stopped" in m.shown
    )


async def test_an_admin_broadcasts_a_formatted_message_with_a_button_to_everyone(
    api: FakeBotApi, bot: RunningBot
):
    users = [await started(api, 1001 + n, lang) for n, lang in enumerate(["en", "ru", "en"])]
    admin = await started(api, ADMIN)
    await draft(admin)
    assert recipients_now(admin) == 4
    await admin.press("👁 Preview")
    preview, confirm = admin.bot_messages()[-2:]
    # The dry run: exactly what users get, then the count and the time it takes.
    assert preview.shown == NEWS
    assert preview.entities == [{"type": "bold", "offset": 0, "length": 8}]
    assert [(b["text"], b["url"]) for b in preview.buttons()] == [SHOP]
    assert "👥 4 recipients · all · any time · anyone" in confirm.shown
    assert "about 1 min" in confirm.shown
    assert not any(got_news(user) for user in users)
    await admin.press("✅ Send to 4")
    progress = admin.last()
    assert "Broadcast" in progress.shown
    assert progress.labels() == ["⏹ Stop"]
    report = await wait_report(admin)
    assert "Sent: 4 of 4" in report.shown
    assert "Blocked the bot: 0" in report.shown
    for user in users:
        [news] = got_news(user)
        assert news.entities == [{"type": "bold", "offset": 0, "length": 8}]
        assert [(b["text"], b["url"]) for b in news.buttons()] == [SHOP]
    assert len(got_news(admin)) == 2  # the preview, and the admin's own copy
    async with bot.store() as uow:
        [broadcast] = await uow.broadcasts.recent(limit=5)
        trail = await uow.audit.recent(limit=10)
    assert broadcast.state is BroadcastState.DONE
    assert broadcast.text == NEWS_HTML
    entry = next(e for e in trail if e.action is AuditAction.BROADCAST)
    assert (entry.actor, entry.target) == (telegram_actor(ADMIN), broadcast.id)
    assert entry.detail.startswith("4 recipients")


async def test_the_dry_run_count_follows_the_audience_and_so_do_the_recipients(
    api: FakeBotApi, bot: RunningBot
):
    ru_paid = await started(api, 1001, "ru")
    ru_new = await started(api, 1002, "ru")
    en_paid = await started(api, 1003, "en")
    admin = await started(api, ADMIN)
    now = bot.runtime.pipeline.clock.now()
    async with bot.store() as uow:
        await uow.payments.add(make_payment("c1", at=now, user_id=ru_paid.id))
        await uow.payments.add(make_payment("c2", at=now, user_id=en_paid.id))
        await uow.commit()
    await draft(admin, button=None)
    assert recipients_now(admin) == 4
    await admin.press("RU")
    assert recipients_now(admin) == 2
    assert "✅ RU" in admin.last().labels()
    await admin.press("Paid")
    assert recipients_now(admin) == 1
    await admin.press("30 days")
    assert recipients_now(admin) == 1
    assert "Language: Russian" in admin.last().shown
    await admin.press("👁 Preview")
    assert admin.bot_messages()[-2].buttons() == []
    await admin.press("✅ Send to 1")
    report = await wait_report(admin)
    assert "Sent: 1 of 1" in report.shown
    assert len(got_news(ru_paid)) == 1
    assert not got_news(ru_new)
    assert not got_news(en_paid)


async def test_nobody_in_the_audience_offers_no_send_button(api: FakeBotApi, bot: RunningBot):
    admin = await started(api, ADMIN)
    await draft(admin, button=None)
    await admin.press("Paid")
    assert recipients_now(admin) == 0
    await admin.press("👁 Preview")
    assert "Nobody matches" in admin.last().shown
    assert not any("Send to" in label for label in admin.last().labels())
    await admin.press("✏️ Change the audience")
    await admin.press("Anyone")
    assert recipients_now(admin) == 1


async def test_a_bad_button_is_asked_again_and_cancel_drops_the_draft(
    api: FakeBotApi, bot: RunningBot
):
    admin = await started(api, ADMIN)
    await admin.send("/broadcast")
    await admin.send_photo(PHOTO)
    assert "Only a text message can be broadcast" in admin.last().shown
    await admin.send("hello everyone")
    await admin.send("Shop example.com")
    assert "That is not a button" in admin.last().shown
    await admin.send("/cancel")
    assert "Broadcast cancelled: nothing was sent" in admin.last().shown
    async with bot.store() as uow:
        assert await uow.broadcasts.recent(limit=5) == []


async def test_only_admins_can_broadcast(api: FakeBotApi, bot: RunningBot):
    ann = await started(api, 1001)
    await ann.send("/broadcast")
    assert reason_text(ReasonCode.UNKNOWN_ACTION, Language.EN) in ann.last().shown
    record = await ann.press_data(Bc(act=BcAct.PREVIEW).pack(), ann.last())
    assert record.text == reason_text(ReasonCode.STALE_ACTION, Language.EN)


def _member_update(api: FakeBotApi, user: FakeUser, old: str, new: str) -> dict[str, object]:
    bot_user = api.bot_user
    return {
        "my_chat_member": {
            "chat": {"id": user.id, "type": "private", "first_name": user.info.first_name},
            "from": {"id": user.id, "is_bot": False, "first_name": user.info.first_name},
            "date": int(time.time()),
            "old_chat_member": {"status": old, "user": bot_user, "until_date": 0},
            "new_chat_member": {"status": new, "user": bot_user, "until_date": 0},
        }
    }


async def test_blocked_users_are_marked_skipped_later_and_back_when_they_unblock(
    api: FakeBotApi, bot: RunningBot
):
    ann = await started(api, 1001)
    bob = await started(api, 1002)
    admin = await started(api, ADMIN)
    bob.block()
    await draft(admin, button=None)
    await admin.press("👁 Preview")
    await admin.press("✅ Send to 3")
    report = await wait_report(admin)
    assert "Sent: 2 of 3" in report.shown
    assert "Blocked the bot: 1" in report.shown
    assert len(got_news(ann)) == 1
    async with bot.store() as uow:
        assert await uow.audience.blocked_at(UserId(bob.id)) is not None
    await draft(admin, button=None)
    assert recipients_now(admin) == 2
    # Telegram tells the bot when a user unblocks it (and when one blocks it).
    bob.info.blocked = False
    await api.processed(await api.push(_member_update(api, bob, "kicked", "member")))
    await admin.press("Any time")
    assert recipients_now(admin) == 3
    await api.processed(await api.push(_member_update(api, ann, "member", "kicked")))
    await admin.press("Anyone")
    assert recipients_now(admin) == 2


async def test_flood_control_pauses_the_broadcast_and_nobody_gets_it_twice(
    api: FakeBotApi, bot: RunningBot
):
    users = [await started(api, 1001 + n) for n in range(4)]
    admin = await started(api, ADMIN)
    await draft(admin, button=None)
    await admin.press("👁 Preview")
    await admin.press("✅ Send to 5")
    # Three 429s in a row: more than the session retries, so the sender itself waits them out.
    api.flood("sendMessage", retry_after=1, times=3)
    await wait_report(admin)
    sends = [c for c in api.calls_of("sendMessage") if c.params.get("text") == NEWS_HTML]
    floods = [n for n, call in enumerate(sends) if call.error_code == 429]
    assert len(floods) == 3
    flooded = sends[floods[0]].chat_id
    # Retried before anyone else, until it went through.
    assert [call.chat_id for call in sends[floods[0] : floods[-1] + 2]] == [flooded] * 4
    assert sends[floods[-1] + 1].ok
    delivered = [call.chat_id or 0 for call in sends if call.ok]
    assert sorted(delivered) == sorted([*(u.id for u in users), ADMIN, ADMIN])  # + preview
    for user in users:
        assert len(got_news(user)) == 1


async def test_a_message_telegram_took_without_answering_is_never_sent_twice(
    api: FakeBotApi, bot: RunningBot
):
    users = [await started(api, 1001 + n) for n in range(3)]
    admin = await started(api, ADMIN)
    # Telegram shows it to Bob, then the connection drops before its answer comes back.
    bob = users[1]
    api.lose_answer("sendMessage", chat_id=bob.id)
    await draft(admin, button=None)
    await admin.press("👁 Preview")
    await admin.press("✅ Send to 4")
    report = await wait_report(admin)
    assert "Sent: 3 of 4" in report.shown
    assert "Unconfirmed (no answer from Telegram, or a restart mid-send" in report.shown
    assert report.shown.endswith(": 1")
    for user in users:
        assert len(got_news(user)) == 1, user.transcript()
    to_bob = [c for c in api.calls_of("sendMessage") if c.chat_id == bob.id and c.ok]
    assert [c.description for c in to_bob if c.params.get("text") == NEWS_HTML] == ["answer lost"]
    async with bot.store() as uow:
        [broadcast] = await uow.broadcasts.recent(limit=1)
        counts = await uow.broadcasts.counts(broadcast.id)
    assert counts == BroadcastCounts(sent=3, unconfirmed=1)


async def test_only_a_send_that_never_reached_telegram_is_tried_again(api: FakeBotApi):
    ann = api.user(1001, "Ann")
    broadcast = Broadcast(
        id=BroadcastId("bc_1"),
        author_id=UserId(ADMIN),
        text=NEWS,
        total=1,
        created_at=datetime.now(UTC),
        report_chat_id=ADMIN,
    )
    store = MemoryUnitOfWorkFactory()
    # Nobody listens there: the connection is never made, so nothing can have arrived.
    offline = make_bot(api.token, f"http://127.0.0.1:{free_port()}")
    online = make_bot(api.token, api.base_url)
    try:
        outcome = await TelegramBroadcastChannel(offline, store).send(broadcast, UserId(ann.id))
        assert isinstance(outcome, TryAgain), outcome
        assert not outcome.is_flood
        assert api.token not in outcome.detail
        channel = TelegramBroadcastChannel(online, store)
        # Once the request may have reached Telegram, it is never tried again.
        api.lose_answer("sendMessage", chat_id=ann.id)
        assert isinstance(await channel.send(broadcast, UserId(ann.id)), Unconfirmed)
        api.refuse("sendMessage", "Internal Server Error", code=500)
        assert isinstance(await channel.send(broadcast, UserId(ann.id)), Unconfirmed)
        api.refuse("sendMessage", "Bad Gateway", code=502)
        assert isinstance(await channel.send(broadcast, UserId(ann.id)), Unconfirmed)
    finally:
        await offline.session.close()
        await online.session.close()
    assert len(got_news(ann)) == 1


async def test_stop_ends_the_broadcast_and_reports_what_was_not_sent(
    api: FakeBotApi, store: UnitOfWorkFactory
):
    async with running_bot(
        api, store, admin_ids=frozenset({ADMIN}), broadcast_per_second=2
    ) as bot:
        users = [await started(api, 1001 + n) for n in range(8)]
        admin = await started(api, ADMIN)
        await draft(admin, button=None)
        await admin.press("👁 Preview")
        await admin.press("✅ Send to 9")
        await admin.wait_for(lambda: sum(len(got_news(u)) for u in users) >= 2, 10)
        record = await admin.press("⏹ Stop", admin.find("sending"))
        assert record.text == "Stopping: nothing more is sent."
        report = await wait_report(admin)
        assert "Broadcast stopped" in report.shown
        got = sum(len(got_news(u)) for u in users)
        assert 2 <= got < 8
        assert f"Not sent: {9 - got}" in report.shown
        await asyncio.sleep(1.2)
        assert sum(len(got_news(u)) for u in users) == got
        async with bot.store() as uow:
            [broadcast] = await uow.broadcasts.recent(limit=1)
        assert broadcast.state is BroadcastState.CANCELLED


async def test_a_broadcast_resumes_after_a_restart_without_sending_anyone_twice(
    api: FakeBotApi, store: UnitOfWorkFactory
):
    admins = frozenset({ADMIN})
    async with running_bot(api, store, admin_ids=admins, broadcast_per_second=4):
        users = [await started(api, 1001 + n) for n in range(11)]
        admin = await started(api, ADMIN)
        await draft(admin, button=None)
        await admin.press("👁 Preview")
        await admin.press("✅ Send to 12")
        await admin.wait_for(lambda: sum(len(got_news(u)) for u in users) >= 3, 10)
    # Stopped mid-way: a restart (another instance, or this one again) carries on.
    before = {u.id: len(got_news(u)) for u in users}
    assert 3 <= sum(before.values()) < 11
    async with running_bot(api, store, admin_ids=admins, broadcast_per_second=50):
        report = await wait_report(admin)
    assert "Sent: 12 of 12" in report.shown
    for user in users:
        assert len(got_news(user)) == 1, user.transcript()
    assert not api.errors(400), [(c.method, c.description) for c in api.errors(400)]
