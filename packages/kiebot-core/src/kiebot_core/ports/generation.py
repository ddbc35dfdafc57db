"""What the core needs from a generation provider (KIE), in domain language."""

import enum
from collections.abc import Mapping
from datetime import timedelta
from decimal import Decimal
from typing import Protocol

import attrs

from kiebot_core.domain.catalog import JsonValue
from kiebot_core.domain.ids import CorrelationId, ProviderTaskId
from kiebot_core.domain.reasons import ReasonCode


@attrs.frozen(kw_only=True)
class SubmitRequest:
    """A validated run: the model id and its normalized input object."""

    model_id: str
    input: Mapping[str, JsonValue]
    correlation_id: CorrelationId
    callback_url: str | None = None


class ProviderState(enum.StrEnum):
    """A task's state at the provider."""

    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


@attrs.frozen(kw_only=True)
class ProviderStatus:
    """What the provider says about one task."""

    task_id: ProviderTaskId
    state: ProviderState
    result_urls: tuple[str, ...] = ()
    result_object: JsonValue = None
    reason: ReasonCode | None = None
    """Set when ``state`` is FAILED."""
    detail: str = ""
    """The provider's own failure text, for logs and diagnosis."""
    provider_code: str = ""
    """The provider's own failure code (KIE's ``failCode``), when it gave one."""
    credits_consumed: Decimal | None = None


@attrs.frozen
class UploadedFile:
    """A user file stored at the provider, usable as a media input for a short while."""

    url: str
    size: int
    mime_type: str
    seconds: Decimal | None = None
    """How long it plays (whole seconds, rounded up), for audio and video that could be read."""


class GenerationGateway(Protocol):
    """A generation provider. Failures raise ``ProviderError`` with a reason code."""

    async def submit(self, request: SubmitRequest) -> ProviderTaskId:
        """Create a task. Not idempotent: the caller never re-submits after an unclear failure."""
        ...

    async def status(self, task_id: ProviderTaskId) -> ProviderStatus:
        """The task's current state. Raises ``NotFoundError`` for an id the provider never gave."""
        ...

    async def upload(self, data: bytes, filename: str, mime_type: str) -> UploadedFile:
        """Store a user's file at the provider and return its URL."""
        ...

    async def result_seconds(self, url: str) -> Decimal | None:
        """How long the result file at ``url`` plays (whole seconds, rounded up).

        None when it cannot be fetched or measured; never raises for that.
        """
        ...

    async def credits(self) -> Decimal:
        """The provider account's remaining credits."""
        ...

    def poll_delay(self, elapsed: timedelta) -> timedelta:
        """How long to wait before asking again about a task submitted ``elapsed`` ago."""
        ...
