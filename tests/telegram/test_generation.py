"""From the menu to a delivered result (or a reason), through the real bot and the KIE sandbox."""

import attrs
import pytest

from kiebot_core.domain.generation import GenerationState
from kiebot_core.domain.ledger import LedgerKind
from kiebot_core.domain.reasons import ReasonCode, reason_text
from kiebot_core.domain.texts import Language
from kiebot_core.ports.storage import UnitOfWorkFactory
from kiebot_core.testing.memory import MemoryUnitOfWorkFactory
from kiebot_kie.sandbox.media import mp4, wav
from tests.telegram.fake_bot_api import FakeBotApi
from tests.telegram.flows import PHOTO, kinds, ledger, open_model, title, wait_finished
from tests.telegram.harness import RunningBot, running_bot

BANANA = "nano-banana-pro"


@pytest.fixture
def store(memory_and_pg: UnitOfWorkFactory) -> UnitOfWorkFactory:
    """Every flow here runs on the in-memory store and on PostgreSQL."""
    return memory_and_pg


QWEN_EDIT = "qwen/image-edit"


async def test_text_to_image_from_the_menu_to_a_delivered_photo(api: FakeBotApi, bot: RunningBot):
    user = api.user()
    await user.send("/start")
    await user.press("Text → Image")
    list_message = user.last()
    assert "page 1/" in list_message.shown
    assert any("from 15 ⭐" in label for label in list_message.labels())
    await user.press(f"{title(BANANA)} · ")
    assert "Price: from 15 ⭐" in user.last().shown
    await user.press("▶️ Start")
    wizard_message = user.last()
    assert wizard_message.message_id == list_message.message_id  # one message, edited in place
    assert "Step 1/4 · Prompt" in wizard_message.shown
    assert "Example:" in wizard_message.shown
    await user.send("a red fox in the snow")
    assert "Step 2/4" in user.last().shown
    await user.press("⏩ Skip optional")
    confirm = user.last()
    assert "Price: 15 ⭐" in confirm.shown
    assert "Balance: 100 ⭐ → after the run: 85 ⭐" in confirm.shown
    assert "a red fox in the snow" in confirm.shown
    record = await user.press("✅ Confirm · 15 ⭐")
    assert record.text == "⏳ Accepted"
    assert "Accepted" in confirm.shown
    assert api.calls_of("sendChatAction")
    generation = await wait_finished(bot, user)
    assert generation.state is GenerationState.SUCCEEDED
    photo = next(m for m in user.bot_messages() if m.media == "photo")
    assert title(BANANA) in photo.shown
    assert "15 ⭐" in photo.shown
    assert photo.labels() == ["🔁 Repeat", "✏️ Edit & rerun", "⭐ Favorite", "🏠 Menu"]
    assert photo.file is not None
    assert generation.delivered_refs == (f"photo:{photo.file.file_id}",)
    status = user.find("Done!")
    assert not status.buttons()
    balance = await bot.balance(user.id)
    assert (balance.available, balance.held) == (85, 0)
    assert kinds(await ledger(bot, user)) == [
        LedgerKind.GRANT,
        LedgerKind.HOLD,
        LedgerKind.CAPTURE,
    ]


async def test_image_to_image_with_an_uploaded_photo(api: FakeBotApi, bot: RunningBot):
    user = api.user()
    await user.send("/start")
    await open_model(user, QWEN_EDIT)
    assert "Send a photo" in user.last().shown
    await user.send_photo(PHOTO)
    assert "Step 2/" in user.last().shown
    await user.send("make it a watercolor")
    await user.press("⏩ Skip optional")
    await user.press("✅ Confirm")
    generation = await wait_finished(bot, user)
    assert generation.state is GenerationState.SUCCEEDED, user.transcript()
    image_url = generation.input["image_url"]
    assert isinstance(image_url, str)
    assert image_url.startswith(bot.sandbox.upload_base_url)
    assert api.token not in image_url
    assert any(m.media == "photo" for m in user.bot_messages())


async def test_a_file_of_the_wrong_kind_gets_the_steps_hint(api: FakeBotApi, bot: RunningBot):
    user = api.user()
    await user.send("/start")
    await open_model(user, QWEN_EDIT)
    await user.send_audio(b"RIFF....WAVEfmt ")
    assert "This step expects a photo" in user.last().shown
    await user.send("not a photo")
    assert "This step expects a photo" in user.last().shown
    await user.send_document(PHOTO, "cat.png", "image/png")
    assert "Step 2/" in user.last().shown


async def test_cancel_during_a_run_releases_the_hold(api: FakeBotApi, bot: RunningBot):
    user = api.user()
    await user.send("/start")
    await open_model(user, BANANA)
    await user.send("[slow] a very slow fox")
    await user.press("⏩ Skip optional")
    await user.press("✅ Confirm")
    assert (await bot.balance(user.id)).held == 15
    record = await user.press("✖️ Cancel", user.find("Nano Banana Pro"))
    assert record.text == "✖️ Cancelling…"
    generation = await wait_finished(bot, user)
    assert generation.state is GenerationState.CANCELLED
    assert reason_text(ReasonCode.CANCELLED, Language.EN) in user.last().shown
    assert "Not charged: the 15 ⭐ held are back on your balance" in user.last().shown
    assert "Cancelled." in user.find("Cancelled.").shown
    balance = await bot.balance(user.id)
    assert (balance.available, balance.held) == (100, 0)
    assert not any(m.media for m in user.bot_messages())


async def test_a_kie_failure_reaches_the_user_as_the_reason_text(api: FakeBotApi, bot: RunningBot):
    user = api.user()
    await user.send("/start")
    cases = (("[fail]", ReasonCode.PROVIDER_FAILED), ("[nsfw]", ReasonCode.CONTENT_POLICY))
    for count, (marker, reason) in enumerate(cases, 1):
        await open_model(user, BANANA)
        await user.send(f"{marker} a fox")
        await user.press("⏩ Skip optional")
        await user.press("✅ Confirm")
        generation = await wait_finished(bot, user, count=count)
        assert generation.state is GenerationState.FAILED
        assert generation.reason is reason
        notice = user.last()
        assert reason_text(reason, Language.EN) in notice.shown
        assert notice.labels() == ["🔁 Try again", "🏠 Menu"]
        assert "Failed." in user.find("Failed.").shown
        balance = await bot.balance(user.id)
        assert (balance.available, balance.held) == (100, 0)


async def test_a_failure_is_told_in_russian_to_a_russian_user(api: FakeBotApi, bot: RunningBot):
    user = api.user(language_code="ru")
    await user.send("/start")
    await open_model(user, BANANA, Language.RU)
    await user.send("[fail] лиса")
    await user.press("⏩ Пропустить необязательные")
    await user.press("✅ Подтвердить")
    await wait_finished(bot, user)
    assert reason_text(ReasonCode.PROVIDER_FAILED, Language.RU) in user.last().shown
    assert "вернулись на баланс" in user.last().shown


async def test_insufficient_balance_is_refused_before_anything_runs(api: FakeBotApi):
    store = MemoryUnitOfWorkFactory()
    async with running_bot(api, store, welcome_stars=0) as bot:
        user = api.user()
        await user.send("/start")
        await open_model(user, BANANA)
        await user.send("a fox")
        await user.press("⏩ Skip optional")
        assert "Not enough Stars: you have 0 ⭐, the run costs 15 ⭐" in user.last().shown
        record = await user.press("✅ Confirm")
        assert record.show_alert
        assert record.text == reason_text(ReasonCode.INSUFFICIENT_BALANCE, Language.EN)
        assert "Check and confirm" in user.last().shown
        async with bot.store() as uow:
            assert not await uow.generations.unfinished()
        assert not api.errors(400)


async def test_repeat_edit_and_rerun_favorite_and_history(api: FakeBotApi, bot: RunningBot):
    user = api.user()
    await user.send("/start")
    await open_model(user, BANANA)
    await user.send("a fox")
    await user.press("⏩ Skip optional")
    await user.press("✅ Confirm")
    await wait_finished(bot, user)
    photo = next(m for m in user.bot_messages() if m.media == "photo")
    favorite = await user.press("⭐ Favorite", photo)
    assert favorite.text == "⭐ Saved to your favorites."
    await user.press("🔁 Repeat", photo)
    assert "Check and confirm" in user.last().shown
    assert "a fox" in user.last().shown
    await user.press("✏️ Edit & rerun", photo)
    assert "What do you want to change?" in user.last().shown
    await user.press("Prompt: ")
    assert "Step 1/" in user.last().shown
    await user.send("a wolf")
    assert "Check and confirm" in user.last().shown
    assert "a wolf" in user.last().shown
    await user.send("/history")
    history = user.last()
    assert "Your generations" in history.shown
    assert title(BANANA) in history.shown
    await user.press("📤 1", history)
    await api.settle()
    resent = [m for m in user.bot_messages() if m.media == "photo"]
    assert len(resent) == 2
    assert resent[0].file is not None
    assert resent[1].file is not None
    assert resent[1].file.file_id == resent[0].file.file_id
    await user.press("🔁 1", history)
    assert "Check and confirm" in user.last().shown


async def test_video_and_audio_inputs_are_uploaded_and_delivered_as_their_kind(api: FakeBotApi):
    async with running_bot(api, MemoryUnitOfWorkFactory(), welcome_stars=1000) as bot:
        user = api.user()
        await user.send("/start")
        await open_model(user, "elevenlabs/audio-isolation")
        await user.send_audio(wav("a voice"))
        await user.press("✅ Confirm")
        generation = await wait_finished(bot, user)
        assert generation.state is GenerationState.SUCCEEDED, user.transcript()
        assert str(generation.input["audio_url"]).startswith(bot.sandbox.upload_base_url)
        assert generation.delivered_refs[0].startswith("audio:")
        await open_model(user, "topaz/video-upscale")
        await user.send_photo(PHOTO)
        assert "This step expects a video" in user.last().shown
        await user.send_video(mp4("a clip"))
        assert "Step 2/" in user.last().shown
        await user.press("⏩ Skip optional")
        # Priced per second of the video: measured (2 s x 8 credits x 0.4 x 2), so exact.
        assert "Price: 13 ⭐" in user.last().shown
        await user.press("✅ Confirm · 13 ⭐")
        generation = await wait_finished(bot, user, count=2)
        assert generation.state is GenerationState.SUCCEEDED, user.transcript()
        assert generation.delivered_refs[0].startswith("video:")
        assert (generation.held, generation.charged) == (13, 13)
        # A video that cannot be measured holds the longest case (60 s); the result is
        # measured and only its length is charged.
        await open_model(user, "topaz/video-upscale")
        await user.send_video(b"not an mp4 at all")
        await user.press("⏩ Skip optional")
        assert "up to 384 ⭐" in user.last().shown
        before = await bot.balance(user.id)
        await user.press("✅ Confirm · 384 ⭐")
        generation = await wait_finished(bot, user, count=3)
        assert generation.state is GenerationState.SUCCEEDED, user.transcript()
        assert (generation.held, generation.charged) == (384, 13)
        video = [m for m in user.bot_messages() if m.media == "video"][-1]
        assert "held 384 ⭐, charged 13 ⭐" in video.shown
        assert await bot.balance(user.id) == attrs.evolve(before, available=before.available - 13)
    assert not api.errors(400)
