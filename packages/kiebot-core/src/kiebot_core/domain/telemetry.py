"""The event chain: one event per step of a user action, joined by its correlation id."""

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
