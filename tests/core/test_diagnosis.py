import re
import string
from datetime import timedelta

import pytest

from kiebot_core.domain.audit import telegram_actor
from kiebot_core.domain.diagnosis import (
    FINDING_OF_REASON,
    Actor,
    Diagnosis,
    Finding,
    SubjectKind,
    finding_template,
    journey,
    span_text,
)
from kiebot_core.domain.errors import DeliveryError, ProviderError
from kiebot_core.domain.generation import Deadlines, GenerationState
from kiebot_core.domain.ids import CorrelationId, UserId
from kiebot_core.domain.ledger import hold_key, refund_key, settle_key
from kiebot_core.domain.reasons import ReasonCode, Remedy
from kiebot_core.domain.telemetry import Event, EventKind, safe_text
from kiebot_core.domain.texts import Language
from kiebot_core.testing.delivery import RecordingDelivery
from kiebot_core.testing.generation import ScriptedGenerationGateway, fails, lost
from kiebot_core.testing.memory import MemoryDatabase
from kiebot_core.testing.runtime import FrozenClock
from kiebot_core.use_cases.diagnosis import debug_report, user_journey
from kiebot_core.use_cases.generation import (
    GenerationRefunded,
    PipelineSettings,
    StartCommand,
    cancel_generation,
    refund_generation,
    start_generation,
)
from tests.core.test_pipeline import USER, drive, fund, make_pipeline, start

BANANA = "nano-banana-pro"


def fields(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


@pytest.mark.parametrize("finding", list(Finding))
def test_every_finding_has_a_text_in_every_language_with_the_same_fields(finding):
    en, ru = (finding_template(finding, language) for language in (Language.EN, Language.RU))
    assert en.strip()
    assert ru.strip()
    assert fields(en) == fields(ru)


def test_durations_read_like_a_person_writes_them():
    assert span_text(timedelta(milliseconds=420), Language.EN) == "420 ms"
    assert span_text(timedelta(seconds=42), Language.EN) == "42 s"
    assert span_text(timedelta(minutes=15), Language.EN) == "15 min"
    assert span_text(timedelta(minutes=15), Language.RU) == "15 мин"
    assert span_text(timedelta(hours=2, minutes=5), Language.EN) == "2 h 5 min"


def test_event_text_never_keeps_a_url_and_is_clipped():
    text = safe_text("failed to fetch https://cdn.example/u/123.png?token=abc now " + "x" * 400)
    assert "https://" not in text
    assert "token" not in text
    assert "<url>" in text
    assert len(text) <= 300


def test_every_reason_that_names_a_finding_has_a_policy():
    assert FINDING_OF_REASON[ReasonCode.PROVIDER_TIMEOUT] is Finding.KIE_UNANSWERED
    assert (
        Diagnosis(Finding.FAILED, ReasonCode.RATE_LIMITED).text(Language.EN).startswith("failed: ")
    )


async def test_a_delivered_run_is_diagnosed_delivered_with_its_charge_and_ledger():
    pipeline = make_pipeline()
    await fund(pipeline, 100)
    started = await start(pipeline)
    await drive(pipeline, started.generation_id)
    report = await debug_report(pipeline.uow, started.generation_id)
    assert report is not None
    assert report.subject.kind is SubjectKind.GENERATION
    assert report.diagnosis.finding is Finding.DELIVERED
    assert "12 ⭐ charged" in report.diagnosis.text(Language.EN)
    assert [move.kind for move in report.ledger] == ["hold", "capture"]
    kinds = [entry.kind for entry in report.timeline]
    assert kinds[0] == "generation.started"
    assert {"kie.create", "kie.status", "job.submit", "ledger.capture"} <= set(kinds)
    assert report.counts.kie_calls >= 2
    assert report.final_reason is None


async def test_a_run_refunded_later_shows_its_hold_charge_and_refund():
    pipeline = make_pipeline()
    await fund(pipeline, 100)
    started = await start(pipeline)
    await drive(pipeline, started.generation_id)
    generation_id = started.generation_id
    refunded = await refund_generation(
        pipeline.uow,
        pipeline.clock,
        pipeline.ids,
        generation_id,
        "blurry",
        by=telegram_actor(4242),
    )
    assert isinstance(refunded, GenerationRefunded)
    report = await debug_report(pipeline.uow, generation_id)
    assert report is not None
    assert [(move.kind, move.key) for move in report.ledger] == [
        ("hold", hold_key(generation_id)),
        ("capture", settle_key(generation_id)),
        ("refund", refund_key(generation_id)),
    ]


async def test_an_input_the_provider_rejects_is_named_with_its_value():
    gateway = ScriptedGenerationGateway()
    gateway.submit_errors.append(
        ProviderError(
            ReasonCode.PROVIDER_REJECTED,
            "createTask: code 422: aspect_ratio: 21:9 is not supported by this model",
            provider_code="422",
        )
    )
    pipeline = make_pipeline(gateway=gateway)
    await fund(pipeline, 100)
    started = await start(pipeline, {"prompt": "a fox", "aspect_ratio": "21:9"}, BANANA)
    done = await drive(pipeline, started.generation_id)
    assert done.reason is ReasonCode.PROVIDER_REJECTED
    report = await debug_report(pipeline.uow, started.generation_id)
    assert report is not None
    assert report.diagnosis.finding is Finding.KIE_REJECTED_INPUT
    line = report.diagnosis.text(Language.EN)
    assert (
        line == "KIE rejected aspect_ratio=21:9: aspect_ratio: 21:9 is not supported by this model"
    )
    assert "aspect_ratio=21:9" in report.diagnosis.text(Language.RU)
    assert report.policy is not None
    assert report.policy.remedy is Remedy.TERMINAL
    create = next(entry for entry in report.timeline if entry.kind == "kie.create")
    assert create.reason is ReasonCode.PROVIDER_REJECTED
    assert "code 422" in create.text
    assert [move.kind for move in report.ledger] == ["hold", "release"]


async def test_a_task_lost_at_the_provider_is_released_at_its_deadline():
    gateway = ScriptedGenerationGateway()
    gateway.script(*lost())
    pipeline = make_pipeline(
        gateway=gateway,
        settings=PipelineSettings(deadlines=Deadlines(image=timedelta(minutes=15))),
    )
    await fund(pipeline, 100)
    started = await start(pipeline)
    done = await drive(pipeline, started.generation_id, step=timedelta(minutes=1))
    assert done.reason is ReasonCode.PROVIDER_TIMEOUT
    report = await debug_report(pipeline.uow, started.generation_id)
    assert report is not None
    assert report.diagnosis.finding is Finding.TASK_LOST
    assert report.diagnosis.text(Language.EN).startswith("task lost at KIE, released after 15 min")
    polls = [entry for entry in report.timeline if entry.kind == "kie.status"]
    assert polls[0].repeat > 1  # the polls share one line


async def test_a_result_the_chat_refuses_is_diagnosed_with_the_refusal():
    refusal = DeliveryError("TelegramBadRequest: Bad Request: VIDEO_FILE_INVALID")
    delivery = RecordingDelivery(fail_with=[refusal] * 5)
    pipeline = make_pipeline(delivery=delivery)
    await fund(pipeline, 100)
    started = await start(pipeline)
    done = await drive(pipeline, started.generation_id, step=timedelta(minutes=1))
    assert done.reason is ReasonCode.DELIVERY_FAILED
    report = await debug_report(pipeline.uow, started.generation_id)
    assert report is not None
    assert report.diagnosis.finding is Finding.TELEGRAM_REFUSED
    assert report.diagnosis.text(Language.EN) == (
        "Telegram refused the result (TelegramBadRequest: Bad Request: VIDEO_FILE_INVALID), "
        "released after 5 attempts"
    )
    assert report.counts.retries == 4


async def test_a_failure_at_the_provider_and_a_cancel_are_told_apart():
    gateway = ScriptedGenerationGateway()
    gateway.script(*fails(ReasonCode.CONTENT_POLICY, "failCode 400: rejected by moderation"))
    pipeline = make_pipeline(gateway=gateway)
    await fund(pipeline, 100)
    refused = await start(pipeline)
    await drive(pipeline, refused.generation_id)
    report = await debug_report(pipeline.uow, refused.generation_id)
    assert report is not None
    assert report.diagnosis.text(Language.EN) == (
        "KIE's moderation refused the request: rejected by moderation"
    )
    cancelled = await start(pipeline)
    await cancel_generation(pipeline, USER, cancelled.generation_id)
    report = await debug_report(pipeline.uow, cancelled.generation_id)
    assert report is not None
    assert report.diagnosis.finding is Finding.CANCELLED


async def test_any_id_of_a_run_finds_the_same_report():
    pipeline = make_pipeline()
    await fund(pipeline, 100)
    started = await start(pipeline)
    done = await drive(pipeline, started.generation_id)
    async with pipeline.uow() as uow:
        await uow.events.append(
            Event(
                correlation_id=done.correlation_id,
                kind=EventKind.UPDATE,
                at=done.created_at - timedelta(seconds=1),
                user_id=USER,
                duration_ms=30,
                payload={"update_id": 9001, "type": "callback_query", "input": "pressed «✅»"},
            )
        )
        await uow.commit()
    keys = {
        SubjectKind.GENERATION: done.id,
        SubjectKind.CORRELATION: done.correlation_id,
        SubjectKind.TASK: done.task_id,
        SubjectKind.UPDATE: "9001",
        SubjectKind.USER: str(USER),
    }
    for kind, key in keys.items():
        assert key is not None
        report = await debug_report(pipeline.uow, key)
        assert report is not None, kind
        assert report.subject.kind is kind
        assert report.generation is not None
        assert report.generation.id == done.id
        assert report.diagnosis.finding is Finding.DELIVERED
        assert report.timeline[0].kind == "update"
    assert await debug_report(pipeline.uow, "gen_unknown") is None
    assert await debug_report(pipeline.uow, "user:77") is None
    forced = await debug_report(pipeline.uow, f"user:{USER}")
    assert forced is not None
    assert forced.subject.kind is SubjectKind.USER


async def test_a_number_that_is_a_user_and_an_update_reads_as_the_user_and_says_so():
    pipeline = make_pipeline()
    await fund(pipeline, 10)
    async with pipeline.uow() as uow:
        await uow.events.append(
            Event(
                correlation_id=CorrelationId("cor_u"),
                kind=EventKind.UPDATE,
                at=pipeline.clock.now(),
                user_id=UserId(5),
                duration_ms=12,
                payload={"update_id": USER, "type": "message", "input": "/start"},
            )
        )
        await uow.events.append(
            Event(
                correlation_id=CorrelationId("cor_v"),
                kind=EventKind.UPDATE,
                at=pipeline.clock.now(),
                user_id=USER,
                payload={"update_id": 1, "type": "message", "input": "/help"},
            )
        )
        await uow.commit()
    report = await debug_report(pipeline.uow, str(USER))
    assert report is not None
    assert report.subject.kind is SubjectKind.USER
    assert [(s.kind, s.key) for s in report.alternatives] == [(SubjectKind.UPDATE, str(USER))]
    update = await debug_report(pipeline.uow, f"update:{USER}")
    assert update is not None
    assert update.subject.kind is SubjectKind.UPDATE
    assert update.user_id == 5
    assert update.diagnosis.text(Language.EN) == "handled in 12 ms, nothing went wrong"


async def test_a_start_refused_for_the_balance_is_recorded_and_diagnosed():
    pipeline = make_pipeline()
    refused = await start_generation(
        pipeline, StartCommand(USER, BANANA, {"prompt": "a fox"}, CorrelationId("cor_poor"))
    )
    assert not hasattr(refused, "generation_id")
    report = await debug_report(pipeline.uow, "cor_poor")
    assert report is not None
    assert report.diagnosis.finding is Finding.START_REFUSED
    assert report.diagnosis.reason is ReasonCode.INSUFFICIENT_BALANCE
    assert "Not enough stars" in report.diagnosis.text(Language.EN)


async def test_a_running_generation_says_how_long_until_its_deadline():
    database = MemoryDatabase(FrozenClock())
    gateway = ScriptedGenerationGateway()
    gateway.script(*lost())
    pipeline = make_pipeline(database=database, gateway=gateway)
    await fund(pipeline, 100)
    started = await start(pipeline)
    report = await debug_report(pipeline.uow, started.generation_id)
    assert report is not None
    assert report.diagnosis.finding is Finding.IN_PROGRESS
    assert re.search(r"the deadline is in 15 min", report.diagnosis.text(Language.EN))
    assert report.generation is not None
    assert report.generation.state is GenerationState.PENDING


async def test_a_journey_is_the_users_inputs_the_screens_and_the_runs():
    pipeline = make_pipeline()
    await fund(pipeline, 100)
    clock = pipeline.clock
    async with pipeline.uow() as uow:
        await uow.events.append(
            Event(
                correlation_id=CorrelationId("cor_a"),
                kind=EventKind.UPDATE,
                at=clock.now(),
                user_id=USER,
                payload={
                    "update_id": 1,
                    "type": "message",
                    "input": "/start",
                    "screens": [
                        {
                            "method": "sendMessage",
                            "text": "🏠 Main menu",
                            "buttons": ["🔥 Popular"],
                        }
                    ],
                },
            )
        )
        await uow.commit()
    started = await start(pipeline)
    await drive(pipeline, started.generation_id)
    steps = await user_journey(pipeline.uow, USER)
    assert [step.actor for step in steps[:2]] == [Actor.USER, Actor.BOT]
    assert steps[0].text == "/start"
    assert steps[1].text == "sendMessage · «🏠 Main menu» · [🔥 Popular]"
    texts = [step.text for step in steps]
    assert any(text.startswith("generation.started") for text in texts)
    assert any(text.startswith("generation.delivered") for text in texts)
    assert not any(text.startswith("kie.status") for text in texts)
    later = await user_journey(pipeline.uow, USER, since=clock.now() + timedelta(days=1))
    assert later == []
    assert journey([]) == []


async def test_a_result_over_telegrams_limit_is_diagnosed_as_sent_as_a_link():
    pipeline = make_pipeline()
    await fund(pipeline, 100)
    started = await start(pipeline)
    done = await drive(pipeline, started.generation_id)
    async with pipeline.uow() as uow:  # what the Telegram delivery records when it falls back
        await uow.events.append(
            Event(
                correlation_id=done.correlation_id,
                kind=EventKind.DELIVERY_LINK,
                at=done.updated_at,
                user_id=done.user_id,
                generation_id=done.id,
                payload={"media": "video", "cause": "size", "limit_mb": 50},
            )
        )
        await uow.commit()
    report = await debug_report(pipeline.uow, done.id)
    assert report is not None
    assert report.diagnosis.text(Language.EN) == "video over 50 MB, sent as a link"
    assert report.diagnosis.text(Language.RU) == "видео больше 50 МБ, отправлено ссылкой"
