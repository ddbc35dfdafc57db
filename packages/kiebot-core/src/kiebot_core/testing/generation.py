"""A scripted generation provider: each submitted task plays back a FIFO script."""

from collections import deque
from datetime import timedelta
from decimal import Decimal

import attrs

from kiebot_core.domain.errors import NotFoundError, ProviderError
from kiebot_core.domain.ids import ProviderTaskId
from kiebot_core.domain.reasons import ReasonCode
from kiebot_core.ports.generation import (
    GenerationGateway,
    ProviderState,
    ProviderStatus,
    SubmitRequest,
    UploadedFile,
)


@attrs.frozen
class Step:
    """One answer of ``status`` in a script (the last step repeats forever)."""

    state: ProviderState
    result_urls: tuple[str, ...] = ()
    reason: ReasonCode | None = None
    detail: str = ""


def succeeds(*urls: str) -> tuple[Step, ...]:
    """Queued, running, then success with ``urls``."""
    return (
        Step(ProviderState.QUEUED),
        Step(ProviderState.RUNNING),
        Step(ProviderState.SUCCEEDED, result_urls=urls or ("https://files.example/result.png",)),
    )


def fails(reason: ReasonCode = ReasonCode.PROVIDER_FAILED, detail: str = "") -> tuple[Step, ...]:
    """Queued, then failure with ``reason``."""
    return Step(ProviderState.QUEUED), Step(ProviderState.FAILED, reason=reason, detail=detail)


def lost() -> tuple[Step, ...]:
    """Running forever: a task lost at the provider."""
    return (Step(ProviderState.RUNNING),)


@attrs.define
class ScriptedGenerationGateway(GenerationGateway):
    """Plays back scripts in submission order (default: ``succeeds()``).

    ``submit_errors`` are raised, first in first out, by the next submissions instead of
    accepting them; ``submitted`` and ``uploads`` record what the core sent.
    """

    scripts: deque[tuple[Step, ...]] = attrs.field(factory=deque)
    submit_errors: deque[ProviderError] = attrs.field(factory=deque)
    balance: Decimal = Decimal(1000)
    poll_every: timedelta = timedelta(seconds=2)
    submitted: list[SubmitRequest] = attrs.field(factory=list)
    uploads: list[UploadedFile] = attrs.field(factory=list)
    result_lengths: dict[str, Decimal] = attrs.field(factory=dict)
    """Seconds of result files by URL (``result_seconds``; unknown URLs: None)."""
    _running: dict[ProviderTaskId, deque[Step]] = attrs.field(factory=dict)

    def script(self, *steps: Step) -> None:
        """Queue the script the next submitted task will play."""
        self.scripts.append(steps)

    async def submit(self, request: SubmitRequest) -> ProviderTaskId:
        if self.submit_errors:
            raise self.submit_errors.popleft()
        task_id = ProviderTaskId(f"task_{len(self.submitted) + 1}")
        self.submitted.append(request)
        script = self.scripts.popleft() if self.scripts else succeeds()
        self._running[task_id] = deque(script)
        return task_id

    async def status(self, task_id: ProviderTaskId) -> ProviderStatus:
        steps = self._running.get(task_id)
        if steps is None:
            raise NotFoundError("task", task_id)
        step = steps.popleft() if len(steps) > 1 else steps[0]
        return ProviderStatus(
            task_id=task_id,
            state=step.state,
            result_urls=step.result_urls,
            reason=step.reason,
            detail=step.detail,
        )

    async def upload(self, data: bytes, filename: str, mime_type: str) -> UploadedFile:
        uploaded = UploadedFile(
            url=f"https://uploads.example/{len(self.uploads) + 1}/{filename}",
            size=len(data),
            mime_type=mime_type,
        )
        self.uploads.append(uploaded)
        return uploaded

    async def result_seconds(self, url: str) -> Decimal | None:
        return self.result_lengths.get(url)

    async def credits(self) -> Decimal:
        return self.balance

    def poll_delay(self, elapsed: timedelta) -> timedelta:  # noqa: ARG002  # a fixed pace
        return self.poll_every
