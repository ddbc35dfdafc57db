"""Domain objects with sensible defaults for the storage contract suites."""

from collections.abc import Mapping
from datetime import datetime, timedelta
from decimal import Decimal

from kiebot_core.domain.catalog import JsonValue
from kiebot_core.domain.coordination import InboxUpdate
from kiebot_core.domain.generation import Generation
from kiebot_core.domain.ids import (
    CorrelationId,
    GenerationId,
    JobId,
    PaymentChargeId,
    UserId,
)
from kiebot_core.domain.jobs import Job, JobKind
from kiebot_core.domain.ledger import LedgerTransaction
from kiebot_core.domain.outcomes import Rejected
from kiebot_core.domain.payments import Payment, PaymentState
from kiebot_core.domain.telemetry import Event
from kiebot_core.domain.texts import Language
from kiebot_core.domain.users import User


def planned(outcome: LedgerTransaction | Rejected) -> LedgerTransaction:
    assert isinstance(outcome, LedgerTransaction), outcome
    return outcome


def make_user(user_id: int = 1, *, at: datetime, **changes: object) -> User:
    fields: dict[str, object] = {"id": UserId(user_id), "language": Language.EN, "created_at": at}
    fields.update(changes)
    return User(**fields)  # type: ignore[arg-type]


def make_generation(
    generation_id: str = "gen_1",
    *,
    at: datetime,
    user_id: int = 1,
    model_id: str = "flux-2/pro-text-to-image",
    prompt: str = "a cat in a hat",
    credits: str = "5.6",
    stars: int = 12,
    **changes: object,
) -> Generation:
    fields: dict[str, object] = {
        "id": GenerationId(generation_id),
        "user_id": UserId(user_id),
        "model_id": model_id,
        "input": {"prompt": prompt, "aspect_ratio": "1:1"},
        "credits": Decimal(credits),
        "stars": stars,
        "correlation_id": CorrelationId(f"cor_{generation_id}"),
        "created_at": at,
        "updated_at": at,
        "deadline_at": at + timedelta(minutes=15),
    }
    fields.update(changes)
    return Generation(**fields)  # type: ignore[arg-type]


def make_payment(
    charge_id: str = "charge_1", *, at: datetime, user_id: int = 1, stars: int = 100
) -> Payment:
    return Payment(
        charge_id=PaymentChargeId(charge_id),
        user_id=UserId(user_id),
        order_id=f"order_{charge_id}",
        stars=stars,
        credited=stars + stars // 10,
        state=PaymentState.PROCESSING,
        created_at=at,
    )


def make_event(
    correlation_id: str = "cor_1",
    *,
    at: datetime,
    kind: str = "screen.shown",
    payload: Mapping[str, JsonValue] | None = None,
    **changes: object,
) -> Event:
    fields: dict[str, object] = {
        "correlation_id": CorrelationId(correlation_id),
        "kind": kind,
        "at": at,
        "payload": payload if payload is not None else {"screen": "models"},
    }
    fields.update(changes)
    return Event(**fields)  # type: ignore[arg-type]


def make_update(
    update_id: int, *, at: datetime, bot_id: int = 7, chat_id: int | None = 42
) -> InboxUpdate:
    return InboxUpdate(
        bot_id=bot_id,
        update_id=update_id,
        chat_id=chat_id,
        payload={"update_id": update_id, "message": {"text": "/start"}},
        received_at=at,
    )


def make_job(
    job_id: str = "job_1",
    *,
    run_at: datetime,
    key: str | None = None,
    kind: JobKind = JobKind.SUBMIT,
) -> Job:
    return Job(
        id=JobId(job_id),
        kind=kind,
        key=key if key is not None else f"{kind}:{job_id}",
        payload={"generation_id": f"gen_for_{job_id}"},
        run_at=run_at,
    )
