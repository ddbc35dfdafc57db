"""Nothing a user does stays unanswered: flood control, failures inside handlers, odd input,
and a bounded monkey test with several users pressing and typing at random.
"""

import asyncio
import logging
import os
import random
import time
from collections.abc import Callable
from types import TracebackType
from typing import Self

import attrs
import pytest

from kiebot_core.domain.errors import StorageUnavailableError
from kiebot_core.domain.generation import Generation, GenerationState
from kiebot_core.domain.ids import UserId
from kiebot_core.domain.reasons import ReasonCode, reason_text
from kiebot_core.domain.texts import Language
from kiebot_core.ports.storage import UnitOfWork, UnitOfWorkFactory
from kiebot_core.testing.memory import MemoryUnitOfWorkFactory
from kiebot_telegram.middlewares import current_correlation_id
from tests.telegram.fake_bot_api import CallbackRecord, FakeBotApi, FakeMessage, FakeUser
from tests.telegram.flows import PHOTO, title
from tests.telegram.harness import RunningBot, running_bot

ANSWER_WITHIN_S = 2.0
FORWARD = ("▶️", "✅", "⏩", "↩️", "⏭", "🔁")
"""Buttons that move a wizard towards a run: pressed more often, so runs happen too."""
FORWARD_WEIGHT = 6
MONKEY_SECONDS = 4.0
COMMANDS = ("/start", "/help", "/balance", "/history", "/settings", "/cancel", "/menu", "/nope")
ANSWERS = (
    "hello",
    "a red fox in the snow",
    "video",
    "banana",
    "<b>bold</b> & <i>",
    "&amp; </b>",
    "5",
    "99",
    "-3",
    "1:1",
    "720p",
    "да",
    "🙂",
    "x" * 3000,
)
COMMAND_SHARE = 0.15
RUN_SHARE = 0.08
CHEAP = "nano-banana-2"


class _FailingUnitOfWork:
    def __init__(self, error: Exception) -> None:
        self._error = error

    async def __aenter__(self) -> Self:
        raise self._error

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        return None


@attrs.define
class FlakyStore(UnitOfWorkFactory):
    """A store whose next units of work opened while an update is handled fail."""

    inner: MemoryUnitOfWorkFactory
    failures: list[Exception] = attrs.Factory(list)

    def __call__(self) -> UnitOfWork:
        if self.failures and current_correlation_id() != "-":
            return _FailingUnitOfWork(self.failures.pop(0))  # type: ignore[return-value]
        return self.inner()


async def test_flood_control_is_waited_out(api: FakeBotApi, bot: RunningBot):
    user = api.user()
    api.flood("sendMessage", retry_after=1)
    started = time.monotonic()
    await user.send("/start")
    assert time.monotonic() - started >= 1.0
    assert "Main menu" in user.last().shown
    assert [call.error_code for call in api.calls_of("sendMessage")] == [429, None]


async def test_a_failing_handler_answers_with_the_reason_and_logs_the_correlation_id(
    api: FakeBotApi, caplog: pytest.LogCaptureFixture
):
    store = FlakyStore(MemoryUnitOfWorkFactory())
    error = RuntimeError("boom: secret internals")
    async with running_bot(api, store):
        user = api.user(language_code="ru")
        await user.send("/start")
        menu = user.last()
        store.failures.append(error)
        with caplog.at_level(logging.ERROR, logger="kiebot_telegram"):
            await user.send("/balance")
        notice = user.last()
        assert reason_text(ReasonCode.INTERNAL_ERROR, Language.RU) in notice.shown
        assert "Traceback" not in notice.shown
        assert "secret internals" not in notice.shown
        code = notice.shown.rsplit("Код: ", 1)[1]
        assert code.startswith("cor_")
        assert any(code in record.getMessage() for record in caplog.records)
        store.failures.append(error)
        record = await user.press("💰 Баланс", menu)
        assert record.show_alert
        assert record.text == reason_text(ReasonCode.INTERNAL_ERROR, Language.RU)
        await user.send("/balance")
        assert "Доступно: 100 ⭐" in user.last().shown
    assert not api.errors(400)
    assert not api.unanswered()


async def test_an_update_that_met_a_storage_outage_is_handled_again_not_refused(
    api: FakeBotApi,
):
    store = FlakyStore(MemoryUnitOfWorkFactory())
    async with running_bot(api, store):
        user = api.user(language_code="ru")
        await user.send("/start")
        store.failures.append(StorageUnavailableError("connection refused"))
        update_id = await user.send("/balance")
        assert "Доступно: 100 ⭐" in user.last().shown
        shown = [message.shown for message in user.bot_messages()]
        assert not any(reason_text(ReasonCode.STORAGE_ERROR, Language.RU) in m for m in shown)
        async with store() as uow:
            assert await uow.inbox.parked(limit=10) == []
            retried = [
                u for u in store.inner.database.state.inbox.values() if u.update_id == update_id
            ]
        assert [u.attempts for u in retried] == [2]
    assert not api.errors(400)


async def test_a_sticker_gets_the_menu_hint(api: FakeBotApi, bot: RunningBot):
    user = api.user()
    await user.send("/start")
    message = api._new_message(user.id, from_bot=False)
    body = api.message_json(message)
    body["sticker"] = {
        "file_id": "STICKER-1",
        "file_unique_id": "s1",
        "type": "regular",
        "width": 512,
        "height": 512,
        "is_animated": False,
        "is_video": False,
    }
    update_id = await api.push({"message": body})
    await api.processed(update_id)
    assert "Pick what you want to do" in user.last().shown


@attrs.define
class Answers:
    latencies: list[float] = attrs.Factory(list)
    silent: list[str] = attrs.Factory(list)


async def _answered(
    api: FakeBotApi, check: Callable[[], float | None], what: str, answers: Answers
) -> None:
    deadline = time.monotonic() + ANSWER_WITHIN_S + 1.0
    while time.monotonic() < deadline:
        latency = check()
        if latency is not None:
            answers.latencies.append(latency)
            return
        await asyncio.sleep(0.01)
    answers.silent.append(what)


async def _type(api: FakeBotApi, user: FakeUser, text: str, answers: Answers) -> None:
    update_id = await user.send(text, wait=False)

    def check() -> float | None:
        fetched = api.fetched_at.get(update_id)
        if fetched is None:
            return None
        replies = [
            call.at
            for call in api.calls
            if call.ok and call.chat_id == user.id and call.at >= fetched
        ]
        return replies[0] - fetched if replies else None

    await _answered(api, check, f"text {text[:20]!r}", answers)


async def _press(
    api: FakeBotApi, user: FakeUser, message: FakeMessage, label: str, answers: Answers
) -> None:
    _, button = user.button(label, message)
    record: CallbackRecord = await user.press_data(button["callback_data"], message, wait=False)

    def check() -> float | None:
        fetched = api.fetched_at.get(record.update_id)
        if record.answered_at is None or fetched is None:
            return None
        return record.answered_at - fetched

    await _answered(api, check, f"button {label!r}", answers)


async def _send_photo(api: FakeBotApi, user: FakeUser, answers: Answers) -> None:
    update_id = await user.send_photo(PHOTO, wait=False)

    def check() -> float | None:
        fetched = api.fetched_at.get(update_id)
        if fetched is None:
            return None
        replies = [c.at for c in api.calls if c.ok and c.chat_id == user.id and c.at >= fetched]
        return replies[0] - fetched if replies else None

    await _answered(api, check, "photo", answers)


async def _try_a_run(api: FakeBotApi, user: FakeUser, answers: Answers) -> None:
    """Amid the randomness, head for a real run (when the buttons are there)."""
    await _type(api, user, "/menu", answers)
    await _type(api, user, "banana", answers)
    for label in (f"{title(CHEAP)} · ", "▶️", "a fox", "⏩", "✅ Confirm"):
        if label == "a fox":
            await _type(api, user, label, answers)
            continue
        message = await _showing(user, label)
        if message is None:
            return
        await _press(api, user, message, label, answers)


async def _showing(user: FakeUser, label: str, within_s: float = 3.0) -> FakeMessage | None:
    """The user's last message once it offers ``label`` (replies may still be on their way)."""
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        message = user.last()
        if any(label in text for text in message.labels()):
            return message
        await asyncio.sleep(0.02)
    return None


async def _monkey(
    api: FakeBotApi, user: FakeUser, rng: random.Random, answers: Answers, *, runs: bool
) -> int:
    await _type(api, user, "/start", answers)
    actions = 1
    if runs:  # at least one run whatever the machine's speed; the rest is random
        await _try_a_run(api, user, answers)
        actions += 6
    deadline = time.monotonic() + MONKEY_SECONDS
    while time.monotonic() < deadline:
        roll = rng.random()
        if runs and roll < RUN_SHARE:
            await _try_a_run(api, user, answers)
            actions += 6
            continue
        keyboards = user.with_buttons()[-3:]
        if roll < 0.65 and keyboards:
            message = rng.choice(keyboards)
            labels = message.labels()
            weights = [FORWARD_WEIGHT if label.startswith(FORWARD) else 1 for label in labels]
            await _press(api, user, message, rng.choices(labels, weights)[0], answers)
        elif roll < 0.92:
            texts = COMMANDS if rng.random() < COMMAND_SHARE else ANSWERS
            await _type(api, user, rng.choice(texts), answers)
        else:
            await _send_photo(api, user, answers)
        actions += 1
    return actions


async def _all_finished(store: MemoryUnitOfWorkFactory, within_s: float = 10.0) -> None:
    """Every run the monkeys started ends (delivered, failed or cancelled), and is told."""
    deadline = time.monotonic() + within_s
    while store.database.state.jobs or any(
        not g.state.is_terminal for g in store.database.state.generations.values()
    ):
        assert time.monotonic() < deadline, "runs left unfinished"
        await asyncio.sleep(0.05)


async def test_monkey_every_update_is_answered_fast_and_nothing_is_refused(api: FakeBotApi):
    rng = random.Random(int(os.environ.get("KIEBOT_MONKEY_SEED", "20260101")))
    answers = Answers()
    ran: list[Generation] = []
    store = MemoryUnitOfWorkFactory()
    async with running_bot(api, store, welcome_stars=40):
        users = [
            api.user(3000 + n, f"Monkey{n}", language)
            for n, language in enumerate(("en", "ru", None))
        ]
        counts = await asyncio.gather(
            *(_monkey(api, user, rng, answers, runs=n < 2) for n, user in enumerate(users))
        )
        await _all_finished(store)
        await api.settle(quiet=0.3)
        async with store() as uow:
            for user in users:
                ran.extend(await uow.generations.for_user(UserId(user.id), limit=100))
    assert sum(counts) > 30, counts
    assert ran, "the monkeys never started a run"
    succeeded = [g for g in ran if g.state is GenerationState.SUCCEEDED]
    uploads = [
        c
        for c in api.calls_of("sendPhoto")
        if c.ok and str(c.params["photo"]).startswith("attach://")
    ]
    assert len(uploads) == len(succeeded)  # re-sends from the history go by file_id
    assert not answers.silent, answers.silent
    assert max(answers.latencies) <= ANSWER_WITHIN_S, max(answers.latencies)
    assert not api.errors(400), [(c.method, c.description, c.params) for c in api.errors(400)]
    assert not api.errors(403)
    assert not api.unanswered()
