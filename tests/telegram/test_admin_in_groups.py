"""Admin screens (/admin, /debug, /broadcast and their buttons) answer only in private chats.

In a group every member reads the bot's answers, so an admin there gets what anyone gets:
the unknown-command answer for the commands, the stale-button answer for the buttons.
"""

from collections.abc import AsyncIterator

import pytest

from kiebot_core.domain.reasons import ReasonCode, reason_text
from kiebot_core.domain.texts import Language
from kiebot_core.ports.storage import UnitOfWorkFactory
from kiebot_telegram.broadcasts import Bc, BcAct
from kiebot_telegram.callbacks import Adm, AdmAct
from tests.telegram.fake_bot_api import FakeBotApi, FakeUser
from tests.telegram.harness import RunningBot, running_bot

ADMIN = 4242
ANN = 1001
UNKNOWN_COMMAND = reason_text(ReasonCode.UNKNOWN_ACTION, Language.EN)
STALE = reason_text(ReasonCode.STALE_ACTION, Language.EN)
ADMIN_MARKS = ("🛠 Admin", "🔎", "Statistics", "New broadcast")
"""Bits of the admin screens, the debug report and the broadcast's first question."""


@pytest.fixture
def store(memory_and_pg: UnitOfWorkFactory) -> UnitOfWorkFactory:
    return memory_and_pg


@pytest.fixture
async def bot(api: FakeBotApi, store: UnitOfWorkFactory) -> AsyncIterator[RunningBot]:
    async with running_bot(api, store, admin_ids=frozenset({ADMIN})) as running:
        yield running
    assert not api.errors(400), [(c.method, c.description) for c in api.errors(400)]
    assert not api.unanswered(), api.unanswered()


async def started(api: FakeBotApi, user_id: int, name: str) -> FakeUser:
    user = api.user(user_id, name)
    await user.send("/start")
    return user


def shown_in(api: FakeBotApi, chat_id: int) -> str:
    return "\n".join(message.shown for message in api.messages(chat_id) if message.from_bot)


async def test_an_admin_in_a_group_gets_what_anyone_gets(api: FakeBotApi, bot: RunningBot):
    ann = await started(api, ANN, "Ann")
    admin = await started(api, ADMIN, "Boss")
    group = api.group()
    boss_there, ann_there = admin.in_group(group), ann.in_group(group)

    await boss_there.send("/no_such_command")
    unknown = boss_there.last().shown
    assert UNKNOWN_COMMAND in unknown
    for command in ("/admin", f"/debug {ANN}", "/debug", "/broadcast"):
        await boss_there.send(command)
        assert boss_there.last().shown == unknown, command
        await ann_there.send(command)
        assert UNKNOWN_COMMAND in ann_there.last().shown, command
    # A question the admin could have been asked is not open in the group either.
    await boss_there.send("hello everyone")
    # Admin and broadcast buttons pressed in the group (a forwarded keyboard, crafted data).
    for data in (Adm(act=AdmAct.STATS, arg="7").pack(), Bc(act=BcAct.CANCEL).pack()):
        record = await boss_there.press_data(data, boss_there.last())
        assert record.text == STALE, data
    said = shown_in(api, group)
    for mark in ADMIN_MARKS:
        assert mark not in said, mark
    assert not api.calls_of("sendInvoice")

    # In the private chat with the bot, the same admin gets every screen.
    await admin.send("/admin")
    assert "🛠 Admin" in admin.last().shown
    await admin.press("📊 Statistics")
    assert "Statistics" in admin.last().shown
    await admin.send(f"/debug {ANN}")
    assert f"🔎 {ANN} · user" in admin.last().shown
    await admin.send("/broadcast")
    assert "New broadcast" in admin.last().shown
    await admin.press("✖️ Cancel")
    # Nothing of it reached the group.
    assert shown_in(api, group) == said
