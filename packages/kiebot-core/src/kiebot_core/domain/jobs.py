"""Durable jobs: work that must happen even if the process dies (submit, track, deliver)."""

import enum
from collections.abc import Mapping
from datetime import datetime, timedelta

import attrs

from kiebot_core.domain.catalog import JsonValue
from kiebot_core.domain.ids import JobId

CLAIM_TIMEOUT = timedelta(seconds=30)
"""A claimed job whose worker died is claimable again after this long (a running one's claim
is renewed every ``CLAIM_HEARTBEAT``)."""
CLAIM_HEARTBEAT = timedelta(seconds=10)
"""How often a worker renews the claims of the jobs it holds."""


class JobKind(enum.StrEnum):
    """What a job does."""

    SUBMIT = "submit"
    TRACK = "track"
    DELIVER = "deliver"
    NOTIFY = "notify"
    """Tell the user a generation ended without a result."""
    REFUND_NOTICE = "refund_notice"
    """Tell the user an operator refunded a generation, and why."""


@attrs.frozen(kw_only=True)
class Job:
    """A unit of durable work, unique by ``key`` (a job enqueued twice runs once)."""

    id: JobId
    kind: JobKind
    key: str
    payload: Mapping[str, JsonValue]
    run_at: datetime
    attempts: int = 0
