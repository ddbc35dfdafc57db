"""The event chain: one event per step of a user action, joined by its correlation id.

    kind                      written by             payload (besides the columns)
    update                    the bot, per update    update_id, type, input, screens
    generation.started        start                  model, stars, held, free
    generation.rejected       start (refused)        model, input, detail
    generation.<state>        each pipeline step     kie_task_id, files, detail …
    kie.create / kie.status   every KIE call         kie_task_id, state, code, detail
    job.<kind>                a job's run            attempt, outcome, retry_in_s
    ledger.<kind>             every ledger move      stars, returned
    delivery.failed           a delivery attempt     detail
    delivery.link / .document the Telegram delivery  media, cause, error

Events carry no secrets and no media URLs (:func:`safe_text` clips text and hides URLs);
prompts and answers are the user's own data and are kept (the privacy erasure removes them).
``kie_task_id`` and ``update_id`` in a payload are indexed: an event can be found by them.
"""

import enum
import re
from collections.abc import Mapping
from datetime import datetime

import attrs

from kiebot_core.domain.catalog import JsonValue
from kiebot_core.domain.ids import CorrelationId, GenerationId, UserId
from kiebot_core.domain.reasons import ReasonCode


@attrs.frozen(kw_only=True)
class Event:
    """One step (a screen shown, a KIE call, a ledger move...), without secrets or media URLs."""

    correlation_id: CorrelationId
    kind: str
    at: datetime
    user_id: UserId | None = None
    generation_id: GenerationId | None = None
    reason: ReasonCode | None = None
    duration_ms: int | None = None
    payload: Mapping[str, JsonValue] = attrs.field(factory=dict)


class EventKind(enum.StrEnum):
    """The kinds of event with a fixed name (``job.<kind>`` and ``ledger.<kind>`` are families)."""

    UPDATE = "update"
    GENERATION_STARTED = "generation.started"
    GENERATION_REJECTED = "generation.rejected"
    GENERATION_SUBMITTED = "generation.submitted"
    GENERATION_RUNNING = "generation.running"
    GENERATION_RESULT_READY = "generation.result_ready"
    GENERATION_DELIVERED = "generation.delivered"
    GENERATION_SUCCEEDED = "generation.succeeded"
    GENERATION_FAILED = "generation.failed"
    GENERATION_CANCELLED = "generation.cancelled"
    GENERATION_REFUNDED = "generation.refunded"
    KIE_CREATE = "kie.create"
    KIE_STATUS = "kie.status"
    DELIVERY_FAILED = "delivery.failed"
    DELIVERY_LINK = "delivery.link"
    DELIVERY_DOCUMENT = "delivery.document"
    STATUS_MESSAGE = "telegram.status_message"


JOB_PREFIX = "job."
"""``job.submit``, ``job.track`` …: one run of a durable job."""
LEDGER_PREFIX = "ledger."
"""``ledger.hold``, ``ledger.capture`` …: one ledger move."""

TASK_TAG = "kie_task_id"
"""The payload key naming a KIE task (indexed)."""
UPDATE_TAG = "update_id"
"""The payload key naming a Telegram update (indexed)."""

MAX_TEXT = 300
"""The longest free text kept in an event (details, answers); longer text is clipped."""

_URL = re.compile(r"\b(?:https?|ftp|file|data):\S+", re.IGNORECASE)
_SPACES = re.compile(r"\s+")


def safe_text(text: str, limit: int = MAX_TEXT) -> str:
    """``text`` fit for an event: every URL replaced by ``<url>``, one line, clipped to ``limit``.

    A media URL (KIE's result links, an uploaded file) can grant access to a user's media, so
    none is ever stored in an event.
    """
    cleaned = _SPACES.sub(" ", _URL.sub("<url>", text)).strip()
    if len(cleaned) <= limit:
        return cleaned
    return cleaned[: max(0, limit - 1)].rstrip() + "…"
