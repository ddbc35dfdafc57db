"""A job step's KIE calls and delivery attempts, recorded as events of its generation's chain.

A step runs with its pipeline's gateway and delivery wrapped in :class:`TracedGateway` and
:class:`TracedDelivery`; each call appends an event (time, duration, task id, outcome, the
provider's code) to the step's :class:`StepTrace`, which the job runner stores in the same
transaction that records the job's outcome. A call that fails is recorded, then re-raised.
"""

import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TypeVar

import attrs

from kiebot_core.domain.catalog import JsonValue
from kiebot_core.domain.errors import DeliveryError, NotFoundError, ProviderError
from kiebot_core.domain.generation import Generation
from kiebot_core.domain.ids import ProviderTaskId
from kiebot_core.domain.reasons import ReasonCode
from kiebot_core.domain.telemetry import Event, EventKind, safe_text
from kiebot_core.ports.delivery import ResultDelivery
from kiebot_core.ports.generation import (
    GenerationGateway,
    ProviderState,
    ProviderStatus,
    SubmitRequest,
    UploadedFile,
)
from kiebot_core.ports.runtime import Clock

T = TypeVar("T")


@attrs.frozen
class Stopwatch:
    """When a call began: by the clock (the event's time) and by ``time.perf_counter()``."""

    at: datetime
    counter: float

    @classmethod
    def start(cls, clock: Clock) -> "Stopwatch":
        """A stopwatch started now."""
        return cls(clock.now(), time.perf_counter())

    @property
    def elapsed_ms(self) -> int:
        """Whole milliseconds since the start."""
        return round((time.perf_counter() - self.counter) * 1000)


@attrs.define
class StepTrace:
    """The events one job step produced, not yet stored."""

    generation: Generation
    clock: Clock
    events: list[Event] = attrs.Factory(list)

    def add(
        self,
        kind: str,
        *,
        started: Stopwatch,
        reason: ReasonCode | None = None,
        **payload: JsonValue,
    ) -> None:
        """Record a call that began at ``started`` and ended now.

        Payload entries that are None are left out.
        """
        self.events.append(
            Event(
                correlation_id=self.generation.correlation_id,
                kind=kind,
                at=started.at,
                user_id=self.generation.user_id,
                generation_id=self.generation.id,
                reason=reason,
                duration_ms=started.elapsed_ms,
                payload={key: value for key, value in payload.items() if value is not None},
            )
        )

    @asynccontextmanager
    async def failures(
        self, kind: str, started: Stopwatch, **payload: JsonValue
    ) -> AsyncIterator[None]:
        """Record an unexpected failure of the call inside as ``kind`` (then re-raise it)."""
        try:
            yield
        except (ProviderError, NotFoundError, DeliveryError):
            raise
        except Exception as error:
            self.add(
                kind,
                started=started,
                reason=ReasonCode.INTERNAL_ERROR,
                detail=safe_text(type(error).__name__),
                **payload,
            )
            raise


def _credits(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


class TracedGateway(GenerationGateway):
    """A gateway whose task creations and status reads are recorded in a ``StepTrace``.

    Their events name the task as ``kie_task_id`` (``telemetry.TASK_TAG``, indexed).
    """

    def __init__(self, inner: GenerationGateway, trace: StepTrace) -> None:
        """Call ``inner``; record into ``trace``."""
        self._inner = inner
        self._trace = trace

    async def submit(self, request: SubmitRequest) -> ProviderTaskId:
        started = Stopwatch.start(self._trace.clock)
        kind, model = EventKind.KIE_CREATE, request.model_id
        async with self._trace.failures(kind, started, model=model):
            try:
                task_id = await self._inner.submit(request)
            except ProviderError as error:
                self._trace.add(
                    kind,
                    started=started,
                    reason=error.code,
                    model=model,
                    code=error.provider_code or None,
                    detail=safe_text(error.detail),
                    maybe_accepted=error.maybe_accepted or None,
                )
                raise
        self._trace.add(kind, started=started, model=model, kie_task_id=task_id)
        return task_id

    async def status(self, task_id: ProviderTaskId) -> ProviderStatus:
        started = Stopwatch.start(self._trace.clock)
        kind = EventKind.KIE_STATUS
        async with self._trace.failures(kind, started, kie_task_id=task_id):
            try:
                status = await self._inner.status(task_id)
            except NotFoundError:
                self._trace.add(
                    kind,
                    started=started,
                    reason=ReasonCode.PROVIDER_FAILED,
                    state="unknown",
                    kie_task_id=task_id,
                )
                raise
            except ProviderError as error:
                self._trace.add(
                    kind,
                    started=started,
                    reason=error.code,
                    code=error.provider_code or None,
                    detail=safe_text(error.detail),
                    kie_task_id=task_id,
                )
                raise
        succeeded = status.state is ProviderState.SUCCEEDED
        self._trace.add(
            kind,
            started=started,
            reason=status.reason,
            state=status.state.value,
            code=status.provider_code or None,
            detail=safe_text(status.detail) if status.detail else None,
            files=len(status.result_urls) if succeeded else None,
            kie_credits=_credits(status.credits_consumed),
            kie_task_id=task_id,
        )
        return status

    async def upload(self, data: bytes, filename: str, mime_type: str) -> UploadedFile:
        return await self._inner.upload(data, filename, mime_type)

    async def result_seconds(self, url: str) -> Decimal | None:
        return await self._inner.result_seconds(url)

    async def credits(self) -> Decimal:
        return await self._inner.credits()

    def poll_delay(self, elapsed: timedelta) -> timedelta:
        return self._inner.poll_delay(elapsed)


class TracedDelivery(ResultDelivery):
    """A delivery whose failed attempts are recorded in a ``StepTrace``."""

    def __init__(self, inner: ResultDelivery, trace: StepTrace) -> None:
        """Deliver through ``inner``; record into ``trace``."""
        self._inner = inner
        self._trace = trace

    async def _recorded(self, what: str, call: Callable[[], Awaitable[T]]) -> T:
        started = Stopwatch.start(self._trace.clock)
        kind = EventKind.DELIVERY_FAILED
        async with self._trace.failures(kind, started, what=what):
            try:
                return await call()
            except DeliveryError as error:
                self._trace.add(
                    kind,
                    started=started,
                    reason=ReasonCode.DELIVERY_FAILED,
                    what=what,
                    detail=safe_text(error.detail),
                )
                raise

    async def deliver(self, generation: Generation) -> tuple[str, ...]:
        return await self._recorded("result", lambda: self._inner.deliver(generation))

    async def report_failure(self, generation: Generation) -> None:
        await self._recorded("failure notice", lambda: self._inner.report_failure(generation))

    async def report_refund(self, generation: Generation, stars: int, reason: str) -> None:
        await self._recorded(
            "refund notice", lambda: self._inner.report_refund(generation, stars, reason)
        )
