"""The generation state machine: every generation ends in exactly one terminal state.

    from → to     submitted  running  delivering  succeeded  failed  cancelled
    pending          ✓                                         ✓        ✓
    submitted                   ✓        ✓                     ✓        ✓
    running                     ✓        ✓                     ✓        ✓
    delivering                                       ✓         ✓
    succeeded / failed / cancelled: terminal

A move from a terminal state (a late callback, a second click) returns
``Rejected(STALE_ACTION)``; a move the table forbids from a live state is a bug and raises
ValueError. ``pending`` means the price is held and the submission is queued.
"""

import enum
from collections.abc import Mapping
from datetime import datetime, timedelta
from decimal import Decimal

import attrs

from kiebot_core.domain.catalog import Category, JsonValue
from kiebot_core.domain.ids import CorrelationId, GenerationId, ProviderTaskId, UserId
from kiebot_core.domain.outcomes import Rejected
from kiebot_core.domain.pricing import Quote
from kiebot_core.domain.reasons import ReasonCode


class GenerationState(enum.StrEnum):
    """Where a generation is."""

    PENDING = "pending"
    SUBMITTED = "submitted"
    RUNNING = "running"
    DELIVERING = "delivering"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def is_terminal(self) -> bool:
        """True for succeeded, failed and cancelled."""
        return self in _TERMINAL


_TERMINAL = frozenset(
    {GenerationState.SUCCEEDED, GenerationState.FAILED, GenerationState.CANCELLED}
)
_S = GenerationState
TRANSITIONS: Mapping[GenerationState, frozenset[GenerationState]] = {
    _S.PENDING: frozenset({_S.SUBMITTED, _S.FAILED, _S.CANCELLED}),
    _S.SUBMITTED: frozenset({_S.RUNNING, _S.DELIVERING, _S.FAILED, _S.CANCELLED}),
    _S.RUNNING: frozenset({_S.RUNNING, _S.DELIVERING, _S.FAILED, _S.CANCELLED}),
    _S.DELIVERING: frozenset({_S.SUCCEEDED, _S.FAILED}),
    _S.SUCCEEDED: frozenset(),
    _S.FAILED: frozenset(),
    _S.CANCELLED: frozenset(),
}


@attrs.frozen
class Deadlines:
    """How long a task may stay unfinished at the provider, by what it produces."""

    image: timedelta = timedelta(minutes=15)
    video: timedelta = timedelta(minutes=30)
    audio: timedelta = timedelta(minutes=15)

    def for_category(self, category: Category) -> timedelta:
        """The deadline for a model of ``category``."""
        match category:
            case Category.IMAGE:
                return self.image
            case Category.VIDEO:
                return self.video
            case Category.AUDIO:
                return self.audio


@attrs.frozen(kw_only=True)
class Generation:
    """One paid (or free-tier) run of one model for one user."""

    id: GenerationId
    user_id: UserId
    model_id: str
    input: Mapping[str, JsonValue]
    credits: Decimal
    """The quoted KIE credits (for an estimated price, re-quoted from the measured result)."""
    stars: int
    """The quoted price in Stars: the amount held, and the most that is captured."""
    held: int = 0
    """The Stars actually held: ``stars`` when billed, 0 for free-tier or unbilled runs."""
    is_free: bool = False
    estimated: bool = False
    """True when ``stars`` is the longest case: the charge is measured from the result."""
    charge: int | None = None
    """The Stars to capture on delivery, when measured below ``stars`` (None: ``stars``)."""
    correlation_id: CorrelationId
    state: GenerationState = GenerationState.PENDING
    created_at: datetime
    updated_at: datetime
    deadline_at: datetime
    task_id: ProviderTaskId | None = None
    result_urls: tuple[str, ...] = ()
    result_object: JsonValue = None
    credits_consumed: Decimal | None = None
    delivered_refs: tuple[str, ...] = ()
    """Where the result went: Telegram file ids, or local file paths for the CLI."""
    reason: ReasonCode | None = None
    version: int = 0
    """Incremented by every saved change; storage uses it to refuse a stale write."""

    def _move(
        self, to: GenerationState, at: datetime, **changes: object
    ) -> "Generation | Rejected":
        if self.state.is_terminal or (to is self.state and to is not GenerationState.RUNNING):
            return Rejected(
                ReasonCode.STALE_ACTION, detail=f"generation {self.id} is already {self.state}"
            )
        if to not in TRANSITIONS[self.state]:
            raise ValueError(f"generation {self.id}: {self.state} -> {to} is not allowed")
        return attrs.evolve(self, state=to, updated_at=at, **changes)  # type: ignore[arg-type]  # evolve takes fields by name

    def submitted(self, task_id: ProviderTaskId, at: datetime) -> "Generation | Rejected":
        """The provider accepted the task."""
        return self._move(GenerationState.SUBMITTED, at, task_id=task_id)

    def running(self, at: datetime) -> "Generation | Rejected":
        """The provider reports the task queued or generating."""
        return self._move(GenerationState.RUNNING, at)

    def result_ready(
        self,
        at: datetime,
        *,
        urls: tuple[str, ...],
        result_object: JsonValue = None,
        credits_consumed: Decimal | None = None,
        measured: Quote | None = None,
    ) -> "Generation | Rejected":
        """The provider finished; the result is being delivered.

        ``measured`` is the price of the result's measured length, for an estimated price:
        it becomes the charge (never above the quoted ``stars``) and the quoted credits.
        """
        changes: dict[str, object] = {}
        if measured is not None:
            changes = {"charge": min(measured.stars, self.stars), "credits": measured.credits}
        return self._move(
            GenerationState.DELIVERING,
            at,
            result_urls=urls,
            result_object=result_object,
            credits_consumed=credits_consumed,
            **changes,
        )

    @property
    def charged(self) -> int:
        """What delivery captures: the measured charge, else the quoted Stars."""
        return self.stars if self.charge is None else self.charge

    def delivered(self, at: datetime, refs: tuple[str, ...]) -> "Generation | Rejected":
        """The user has the result; the hold is captured in the same transaction."""
        return self._move(GenerationState.SUCCEEDED, at, delivered_refs=refs)

    def failed(self, reason: ReasonCode, at: datetime) -> "Generation | Rejected":
        """The generation ends without a result; the hold is released."""
        return self._move(GenerationState.FAILED, at, reason=reason)

    def cancelled(self, at: datetime) -> "Generation | Rejected":
        """The user cancelled before a result was delivered; the hold is released."""
        if self.state is GenerationState.DELIVERING:
            return Rejected(ReasonCode.STALE_ACTION, detail="the result is already being sent")
        return self._move(GenerationState.CANCELLED, at, reason=ReasonCode.CANCELLED)

    def is_overdue(self, now: datetime) -> bool:
        """True when the provider has had the task past its deadline."""
        return not self.state.is_terminal and now >= self.deadline_at

    @classmethod
    def start(
        cls,
        *,
        id: GenerationId,
        user_id: UserId,
        model_id: str,
        category: Category,
        input: Mapping[str, JsonValue],
        credits: Decimal,
        stars: int,
        correlation_id: CorrelationId,
        now: datetime,
        deadlines: Deadlines,
        held: int = 0,
        is_free: bool = False,
        estimated: bool = False,
    ) -> "Generation":
        """A new pending generation whose deadline follows from its category."""
        return cls(
            id=id,
            user_id=user_id,
            model_id=model_id,
            input=input,
            credits=credits,
            stars=stars,
            held=held,
            is_free=is_free,
            estimated=estimated,
            correlation_id=correlation_id,
            created_at=now,
            updated_at=now,
            deadline_at=now + deadlines.for_category(category),
        )
