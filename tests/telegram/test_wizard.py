"""The wizard through the real bot: steps, options, Back, Skip, defaults, edits, stale buttons,
a restart in the middle, and the language switch.
"""

import re

from kiebot_core.domain.coordination import Conversation
from kiebot_core.domain.ids import UserId
from kiebot_core.domain.reasons import ReasonCode, reason_text
from kiebot_core.domain.texts import Language
from kiebot_core.testing.memory import MemoryUnitOfWorkFactory
from tests.telegram.fake_bot_api import FakeBotApi, FakeMessage, FakeUser
from tests.telegram.flows import latest, open_model, title, wait_finished
from tests.telegram.harness import RunningBot, running_bot

HORSE = "happyhorse/text-to-video"
STALE = reason_text(ReasonCode.STALE_ACTION, Language.EN)


def _price(text: str) -> int:
    match = re.search(r"Price: (?:up to )?(\d+) ⭐", text)
    assert match, text
    return int(match.group(1))


async def test_steps_options_back_skip_defaults_and_edits(api: FakeBotApi, bot: RunningBot):
    user = api.user()
    await user.send("/start")
    await open_model(user, HORSE)
    screen = user.last()
    assert "Step 1/4 · Prompt" in screen.shown
    back = await user.press("⬅️ Back")
    assert back.answered_at is not None
    assert f"{title(HORSE)}" in screen.shown
    assert "▶️ Start" in screen.labels()  # Back on the first step: the model card again
    await user.press("▶️ Start")
    await user.send("a horse on a beach")
    step2 = user.last()
    assert "Step 2/4 · Aspect ratio (optional)" in step2.shown
    assert "✅ 16:9" in step2.labels()
    assert "⏭ Skip" in step2.labels()
    await user.press("9:16")
    assert "Step 3/4" in step2.shown  # the same message, edited in place
    assert "↩️ Default: 5" in step2.labels()
    await user.press("⬅️ Back")
    assert "Step 2/4" in step2.shown
    assert "✅ 9:16" in step2.labels()  # the answer is kept
    await user.press("⏭ Skip")
    assert "Step 3/4" in user.last().shown
    await user.send("99")
    problem = user.last()
    assert reason_text(ReasonCode.INVALID_INPUT, Language.EN) in problem.shown
    assert "Step 3/4" in problem.shown
    assert "from 3 to 15" in problem.shown
    await user.press("↩️ Default: 5")
    step4 = user.last()
    assert "Step 4/4 · Resolution" in step4.shown
    labels = step4.labels()
    assert any(label.startswith("720p · ") and label.endswith(" ⭐") for label in labels)
    assert any(label.startswith("✅ 1080p · ") for label in labels)
    cheap = next(label for label in labels if label.startswith("720p"))
    await user.press(cheap)
    confirm = user.last()
    assert "Check and confirm" in confirm.shown
    assert int(cheap.split(" · ")[1].split()[0]) == _price(confirm.shown)


async def _to_the_confirmation(user: FakeUser) -> FakeMessage:
    await user.send("/start")
    await open_model(user, HORSE)
    await user.send("a horse on a beach")
    await user.press("⏭ Skip")
    await user.press("↩️ Default: 5")
    await user.press("720p")
    confirm = user.last()
    assert "Check and confirm" in confirm.shown
    return confirm


async def test_edits_from_the_confirmation(api: FakeBotApi, bot: RunningBot):
    user = api.user()
    confirm = await _to_the_confirmation(user)
    await user.press("✏️ Edit")
    assert "What do you want to change?" in confirm.shown
    await user.press("Duration: 5")
    assert "Step 3/4" in confirm.shown
    await user.send("4")
    assert "Check and confirm" in user.last().shown
    assert "• Duration: 4" in user.last().shown
    await user.press("⚙️ Settings")
    assert "Advanced settings" in user.last().shown
    await user.press("Seed: ")
    await user.send("42")
    assert "• Seed: 42" in user.last().shown
    await user.press("✅ Confirm")
    generation = await wait_finished(bot, user)
    assert generation.input["duration"] == 4
    assert generation.input["seed"] == 42
    assert generation.input["resolution"] == "720p"
    assert "aspect_ratio" not in generation.input or generation.input["aspect_ratio"] == "16:9"


async def test_menu_and_cancel_leave_the_wizard(api: FakeBotApi, bot: RunningBot):
    user = api.user()
    await user.send("/start")
    await open_model(user, HORSE)
    await user.press("✖️ Cancel")
    assert "Cancelled. Nothing was charged." in user.last().shown
    assert "Main menu" in user.last().shown
    await open_model(user, HORSE)
    await user.press("🏠 Menu")
    assert "Main menu" in user.last().shown
    await open_model(user, HORSE)
    await user.send("/cancel")
    assert "Cancelled" in user.last().shown
    await user.send("/cancel")
    assert "Nothing to cancel." in user.last().shown


async def test_stale_and_unknown_buttons_refresh_the_menu(api: FakeBotApi, bot: RunningBot):
    user = api.user()
    await user.send("/start")
    await open_model(user, HORSE)
    old_wizard = user.last()
    await user.send("a horse")
    old_step = user.last()
    skip_data = user.button("⏭ Skip", old_step)[1]["callback_data"]
    await user.send("/start")
    record = await user.press_data(skip_data, old_step)
    assert record.text == STALE
    assert "Main menu" in old_step.shown
    record = await user.press_data("zz:unknown", user.last())
    assert record.text == STALE
    record = await user.press_data("c:ffffff:::0", user.last())
    assert record.text == reason_text(ReasonCode.MODEL_UNKNOWN, Language.EN)
    # A button of an earlier step of the running wizard shows where the wizard is now.
    await open_model(user, HORSE)
    first = user.last()
    back_data = user.button("⬅️ Back", first)[1]["callback_data"]
    await user.send("a horse")
    record = await user.press_data(back_data, first)
    assert record.text == STALE
    assert "Step 2/4" in first.shown
    assert old_wizard.message_id != first.message_id


async def test_a_restart_in_the_middle_of_a_wizard_keeps_the_state(api: FakeBotApi):
    store = MemoryUnitOfWorkFactory()
    user = api.user()
    async with running_bot(api, store, welcome_stars=1000):
        await user.send("/start")
        await open_model(user, HORSE)
        await user.send("a horse before the restart")
        await user.press("9:16")
        assert "Step 3/4" in user.last().shown
    async with running_bot(api, store) as bot:
        await user.send("7")
        assert "Step 4/4" in user.last().shown
        await user.press("⬅️ Back")
        assert "Step 3/4" in user.last().shown
        await user.send("6")
        await user.press("720p")
        confirm = user.last()
        assert "a horse before the restart" in confirm.shown
        assert "• Duration: 6" in confirm.shown
        await user.press("✅ Confirm")
        generation = await wait_finished(bot, user)
        assert generation.input["aspect_ratio"] == "9:16"
    assert not api.errors(400)


async def test_a_stored_wizard_that_no_longer_fits_expires_cleanly(
    api: FakeBotApi, bot: RunningBot
):
    user = api.user()
    await user.send("/start")
    await open_model(user, HORSE)
    async with bot.store() as uow:
        stored = await uow.conversations.get(api.bot_id, user.id, user.id)
        assert stored is not None
        assert stored.state == "Flow:wizard"
        wizard = dict(stored.data["wiz"])  # type: ignore[arg-type]
        await uow.conversations.put(
            Conversation(
                bot_id=stored.bot_id,
                chat_id=stored.chat_id,
                user_id=stored.user_id,
                state=stored.state,
                data={**stored.data, "wiz": {**wizard, "v": 0}},
            )
        )
        await uow.commit()
    await user.send("a horse")
    assert reason_text(ReasonCode.WIZARD_EXPIRED, Language.EN) in user.last().shown
    assert "Main menu" in user.last().shown


async def test_language_switch(api: FakeBotApi, bot: RunningBot):
    user = api.user(language_code="en")
    await user.send("/start")
    await user.press("🌐 Language")
    record = await user.press("🇷🇺 Русский")
    assert record.text == "Язык: русский"
    assert "Язык: русский" in user.last().shown
    assert "✅ 🇷🇺 Русский" in user.last().labels()
    await user.send("/start")
    assert "Главное меню" in user.last().shown
    await open_model(user, HORSE, Language.RU)
    assert "Шаг 1/4" in user.last().shown
    await user.send("/settings")
    await user.press("🇬🇧 English")
    await user.send("/help")
    assert "How it works" in user.last().shown


async def test_search_lists_and_pages(api: FakeBotApi, bot: RunningBot):
    user = api.user()
    await user.send("/start")
    await user.press("🔍 Search")
    assert "Type a model name" in user.last().shown
    await user.send("video")
    results = user.last()
    assert "video" in results.shown
    assert "page 1/" in results.shown
    assert "▶️" in results.labels()
    await user.press("▶️", results)
    assert "page 2/" in results.shown
    indicator = next(label for label in results.labels() if re.fullmatch(r"\d+/\d+", label))
    record = await user.press(indicator, results)
    assert record.answered_at is not None
    await user.press("◀️", results)
    assert "page 1/" in results.shown
    await user.send("<b>no such model</b> & co")
    assert "Nothing found for «<b>no such model</b> & co»" in user.last().shown
    await user.press("🏠 Menu")
    await user.press("🔥 Popular")
    assert "Popular models" in user.last().shown
    await user.press(f"{title('nano-banana-pro')} · ")
    await user.press("⬅️ Back")
    assert "Popular models" in user.last().shown
    await user.press("🏠 Menu")
    await user.press("📸 Image → Video")
    section = user.last()
    assert "What exactly?" in section.shown
    await user.press("Image → Video · ")
    await user.press("⬅️ Back")
    assert "What exactly?" in section.shown


async def test_balance_help_and_unknown_input(api: FakeBotApi, bot: RunningBot):
    user = api.user()
    await user.send("/start")
    await user.send("/balance")
    assert "Available: 100 ⭐" in user.last().shown
    assert "Held for running generations: 0 ⭐" in user.last().shown
    await user.send("/nonsense")
    assert reason_text(ReasonCode.UNKNOWN_ACTION, Language.EN) in user.last().shown
    await user.send_audio(b"RIFF....WAVEfmt ")
    assert "Pick what you want to do" in user.last().shown
    await user.send("/start")
    await user.send("/start")
    async with bot.store() as uow:
        assert (
            len(await uow.ledger.history(UserId(user.id), limit=10)) == 1
        )  # the welcome grant once
    generation_count = 0
    try:
        await latest(bot, user)
    except AssertionError:
        generation_count = 0
    assert generation_count == 0
