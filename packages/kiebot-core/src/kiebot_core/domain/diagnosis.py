"""Reading the event chain: one timeline, one plain-language diagnosis, a user's journey.

Pure functions over what storage returned (events, the generation, its ledger moves). The
diagnosis is chosen by one table, :data:`FINDING_OF_REASON` (the generation's final reason
code → a finding), refined by what the events show (a task KIE still called running when
the deadline passed is *lost*; a rejection naming one of the run's inputs names it; a result
Telegram would not take that went out as a link). Finding texts are data
(``data/diagnoses.json``, every language), filled with values from the events.
"""

import enum
import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from functools import cache
from importlib import resources

import attrs

from kiebot_core.domain.catalog import JsonValue
from kiebot_core.domain.generation import Generation, GenerationState
from kiebot_core.domain.ids import CorrelationId, UserId
from kiebot_core.domain.ledger import AccountKind, LedgerKind, LedgerTransaction
from kiebot_core.domain.reasons import POLICY, ReasonCode, ReasonPolicy, reason_text
from kiebot_core.domain.telemetry import (
    JOB_PREFIX,
    LEDGER_PREFIX,
    TASK_TAG,
    Event,
    EventKind,
    safe_text,
)
from kiebot_core.domain.texts import Language, Localized


class SubjectKind(enum.StrEnum):
    """What a debug key turned out to be."""

    GENERATION = "generation"
    CORRELATION = "correlation"
    TASK = "kie_task"
    UPDATE = "update"
    USER = "user"


@attrs.frozen
class Subject:
    """The thing a debug key names."""

    kind: SubjectKind
    key: str


class Finding(enum.StrEnum):
    """The plain-language cause a diagnosis names (its text is data, in every language)."""

    DELIVERED = "delivered"
    SENT_AS_LINK = "sent_as_link"
    REFUSED_SENT_AS_LINK = "refused_sent_as_link"
    SENT_AS_DOCUMENT = "sent_as_document"
    KIE_REJECTED_INPUT = "kie_rejected_input"
    KIE_REJECTED = "kie_rejected"
    CONTENT_POLICY = "content_policy"
    INPUT_UNREACHABLE = "input_unreachable"
    TASK_LOST = "task_lost"
    KIE_UNANSWERED = "kie_unanswered"
    KIE_FAILED = "kie_failed"
    TASK_UNKNOWN = "task_unknown"
    TELEGRAM_REFUSED = "telegram_refused"
    CANCELLED = "cancelled"
    OPERATOR_ACTION = "operator_action"
    STEP_CRASHED = "step_crashed"
    IN_PROGRESS = "in_progress"
    START_REFUSED = "start_refused"
    UPDATE_FAILED = "update_failed"
    UPDATE_HANDLED = "update_handled"
    FAILED = "failed"
    NOTHING = "nothing"


FINDING_OF_REASON: Mapping[ReasonCode, Finding] = {
    ReasonCode.PROVIDER_REJECTED: Finding.KIE_REJECTED,
    ReasonCode.INVALID_INPUT: Finding.KIE_REJECTED,
    ReasonCode.MISSING_INPUT: Finding.KIE_REJECTED,
    ReasonCode.MODEL_UNKNOWN: Finding.KIE_REJECTED,
    ReasonCode.CONTENT_POLICY: Finding.CONTENT_POLICY,
    ReasonCode.PROVIDER_INPUT_UNREACHABLE: Finding.INPUT_UNREACHABLE,
    ReasonCode.PROVIDER_TIMEOUT: Finding.KIE_UNANSWERED,
    ReasonCode.PROVIDER_UNAVAILABLE: Finding.KIE_UNANSWERED,
    ReasonCode.PROVIDER_RATE_LIMITED: Finding.KIE_UNANSWERED,
    ReasonCode.PROVIDER_FAILED: Finding.KIE_FAILED,
    ReasonCode.PROVIDER_NO_CREDITS: Finding.OPERATOR_ACTION,
    ReasonCode.PROVIDER_AUTH: Finding.OPERATOR_ACTION,
    ReasonCode.PROVIDER_FEATURE_DISABLED: Finding.OPERATOR_ACTION,
    ReasonCode.CONFIGURATION_ERROR: Finding.OPERATOR_ACTION,
    ReasonCode.PRICE_UNKNOWN: Finding.OPERATOR_ACTION,
    ReasonCode.DELIVERY_FAILED: Finding.TELEGRAM_REFUSED,
    ReasonCode.CANCELLED: Finding.CANCELLED,
    ReasonCode.INTERNAL_ERROR: Finding.STEP_CRASHED,
    ReasonCode.STORAGE_ERROR: Finding.STEP_CRASHED,
}
"""The finding for a generation that ended with a reason; any other reason is ``FAILED``."""

DiagnosisValue = str | int | timedelta
"""A value put into a finding's text; durations are written in the reader's language."""


@cache
def _catalog() -> Mapping[str, Mapping[str, Localized]]:
    raw = json.loads(
        resources.files("kiebot_core").joinpath("data", "diagnoses.json").read_text("utf-8")
    )
    return {
        section: {key: Localized.from_mapping(text) for key, text in entries.items()}
        for section, entries in raw.items()
    }


def finding_template(finding: Finding, language: Language) -> str:
    """The text of ``finding`` in ``language``, with its ``str.format`` placeholders."""
    return _catalog()["findings"][finding.value](language)


def media_word(media: str, language: Language) -> str:
    """``photo``, ``video`` … in ``language`` (the media kind itself when unknown)."""
    word = _catalog()["media"].get(media)
    return word(language) if word is not None else media


def span_text(span: timedelta, language: Language) -> str:
    """A duration the way a person reads it: ``850 ms``, ``42 s``, ``15 min``, ``2 h 5 min``."""
    units = _catalog()["units"]
    seconds = span.total_seconds()
    if seconds < 1:
        return f"{round(seconds * 1000)} {units['ms'](language)}"
    if seconds < 90:  # under a minute and a half, seconds read better
        return f"{seconds:.0f} {units['s'](language)}"
    minutes = round(seconds / 60)
    if minutes < 120:
        return f"{minutes} {units['min'](language)}"
    hours, rest = divmod(minutes, 60)
    return f"{hours} {units['h'](language)} {rest} {units['min'](language)}"


@attrs.frozen
class Diagnosis:
    """The one-line answer to "what happened": a finding and the values of its text."""

    finding: Finding
    reason: ReasonCode | None = None
    values: Mapping[str, DiagnosisValue] = attrs.field(factory=dict)

    def text(self, language: Language) -> str:
        """The line in ``language`` (plain text; reason-code texts are reused for ``{reason}``)."""
        shown: dict[str, str] = {
            "reason": reason_text(self.reason, language) if self.reason else "",
        }
        for key, value in self.values.items():
            if isinstance(value, timedelta):
                shown[key] = span_text(value, language)
            elif key == "media":
                shown[key] = media_word(str(value), language)
            else:
                shown[key] = str(value)
        return finding_template(self.finding, language).format_map(_Missing(shown))


class _Missing(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return "?"


@attrs.frozen(kw_only=True)
class TimelineEntry:
    """One line of the timeline: a step (or a run of identical steps) and when it happened."""

    at: datetime
    offset: timedelta
    """Since the first event shown."""
    kind: str
    text: str
    """What happened, for operators (language-neutral: ids, codes, counts)."""
    reason: ReasonCode | None = None
    duration_ms: int | None = None
    repeat: int = 1
    """How many identical steps in a row this line stands for (polls, retries)."""
    last_offset: timedelta | None = None
    """When the last of the repeated steps happened."""

    @property
    def is_problem(self) -> bool:
        """True when the step ended with a reason code (a refusal, a failure)."""
        return self.reason is not None


@attrs.frozen
class Counts:
    """How busy the chain was."""

    kie_calls: int = 0
    kie_errors: int = 0
    retries: int = 0
    job_runs: int = 0


@attrs.frozen(kw_only=True)
class DebugReport:
    """Everything ``/debug`` and ``kiebot debug`` show on one screen."""

    subject: Subject
    generation: Generation | None
    correlation_id: CorrelationId | None
    user_id: UserId | None
    timeline: tuple[TimelineEntry, ...]
    ledger: tuple[LedgerTransaction, ...]
    diagnosis: Diagnosis
    counts: Counts
    recent: tuple[Generation, ...] = ()
    """For a user: their latest generations, newest first."""
    alternatives: tuple[Subject, ...] = ()
    """Other things the same key names (an update id that is also a user id)."""

    @property
    def final_reason(self) -> ReasonCode | None:
        """The reason the generation (or the action) ended with, if any."""
        if self.generation is not None:
            return self.generation.reason
        return self.diagnosis.reason

    @property
    def policy(self) -> ReasonPolicy | None:
        """The final reason's policy."""
        reason = self.final_reason
        return None if reason is None else POLICY[reason]


# --------------------------------------------------------------------------- the timeline


def _text(payload: Mapping[str, JsonValue], key: str) -> str:
    value = payload.get(key)
    return "" if value is None else str(value)


def _join(*parts: str) -> str:
    return " · ".join(part for part in parts if part)


def _calls(payload: Mapping[str, JsonValue]) -> list[Mapping[str, JsonValue]]:
    """The provider calls an update made (a file upload in the wizard)."""
    calls = payload.get("calls")
    return [call for call in calls if isinstance(call, dict)] if isinstance(calls, list) else []


def _call_text(call: Mapping[str, JsonValue]) -> str:
    reason = _text(call, "reason")
    return _join(_text(call, "call"), f"⚠ {reason}" if reason else "", f"{_text(call, 'ms')} ms")


def _update_text(payload: Mapping[str, JsonValue]) -> str:
    screens = payload.get("screens")
    shown = ""
    if isinstance(screens, list) and screens:
        first = screens[0]
        title = _text(first, "text") if isinstance(first, dict) else ""
        more = f" (+{len(screens) - 1})" if len(screens) > 1 else ""
        shown = f"→ «{safe_text(title, 48)}»{more}" if title else f"→ {len(screens)} calls"
    calls = ", ".join(_call_text(call) for call in _calls(payload))
    attempt = f"attempt {_text(payload, 'attempt')}" if payload.get("attempt") else ""
    return _join(f"#{_text(payload, 'update_id')}", attempt, _text(payload, "input"), calls, shown)


def _started_text(payload: Mapping[str, JsonValue]) -> str:
    held = payload.get("held")
    money = (
        "free run"
        if payload.get("free") is True
        else f"{held} ⭐ held"
        if isinstance(held, int) and held > 0
        else "not billed"
    )
    return _join(_text(payload, "model"), f"{_text(payload, 'stars')} ⭐", money)


def _kie_text(payload: Mapping[str, JsonValue]) -> str:
    code, detail = _text(payload, "code"), _text(payload, "detail")
    return _join(
        _text(payload, "state") or _text(payload, TASK_TAG),
        f"code {code}" if code else "",
        provider_message(detail) if detail else "",
    )


def _job_text(payload: Mapping[str, JsonValue]) -> str:
    retry = payload.get("retry_in_s")
    via = _text(payload, "via")
    return _join(
        f"attempt {_text(payload, 'attempt')} → {_text(payload, 'outcome')}",
        f"retry in {retry} s" if retry is not None else "",
        f"via {via}" if via else "",
    )


def _ledger_text(payload: Mapping[str, JsonValue]) -> str:
    returned = payload.get("returned")
    return _join(
        f"{_text(payload, 'stars')} ⭐", f"{returned} ⭐ back" if returned is not None else ""
    )


def _pairs(payload: Mapping[str, JsonValue]) -> str:
    return safe_text(", ".join(f"{key}={value}" for key, value in payload.items()), 120)


_SUMMARIES: Mapping[str, Callable[[Mapping[str, JsonValue]], str]] = {
    EventKind.UPDATE: _update_text,
    EventKind.GENERATION_STARTED: _started_text,
    EventKind.GENERATION_REJECTED: lambda p: _join(
        _text(p, "model"), _text(p, "input"), _text(p, "detail")
    ),
    EventKind.GENERATION_SUBMITTED: lambda p: _join(
        f"KIE task {_text(p, TASK_TAG)}", f"attempt {_text(p, 'attempt')}"
    ),
    EventKind.GENERATION_RUNNING: lambda _: "running at KIE",
    EventKind.GENERATION_RESULT_READY: lambda p: _join(
        f"{_text(p, 'files')} file(s) ready",
        f"{_text(p, 'kie_credits')} credits" if p.get("kie_credits") is not None else "",
    ),
    EventKind.GENERATION_DELIVERED: lambda p: _join(
        f"{_text(p, 'files')} file(s) sent", f"{_text(p, 'stars')} ⭐ charged"
    ),
    EventKind.GENERATION_FAILED: lambda p: _text(p, "detail"),
    EventKind.GENERATION_CANCELLED: lambda p: _text(p, "detail"),
    EventKind.GENERATION_REFUNDED: lambda p: _join(
        f"{_text(p, 'stars')} ⭐ refunded", _text(p, "reason")
    ),
    EventKind.KIE_CREATE: _kie_text,
    EventKind.KIE_STATUS: _kie_text,
    EventKind.DELIVERY_FAILED: lambda p: _join(_text(p, "what"), _text(p, "detail")),
    EventKind.DELIVERY_LINK: lambda p: _join(
        f"{_text(p, 'media')} sent as a link", _text(p, "cause"), _text(p, "error")
    ),
    EventKind.DELIVERY_DOCUMENT: lambda p: _join(
        f"{_text(p, 'media')} sent as a document", _text(p, "error")
    ),
    EventKind.STATUS_MESSAGE: lambda p: f"status message {_text(p, 'message_id')}",
}


def summary(event: Event) -> str:
    """What ``event`` says, in one short operator line."""
    if event.kind.startswith(JOB_PREFIX):
        return _job_text(event.payload)
    if event.kind.startswith(LEDGER_PREFIX):
        return _ledger_text(event.payload)
    summarize = _SUMMARIES.get(event.kind, _pairs)
    return summarize(event.payload)


def _identity(event: Event) -> tuple[object, ...]:
    payload = json.dumps(event.payload, sort_keys=True, default=str)
    return (event.at, event.kind, event.correlation_id, event.generation_id, payload)


def merged(*chains: Iterable[Event]) -> list[Event]:
    """The events of several reads, each once, oldest first (stable for equal times)."""
    seen: set[tuple[object, ...]] = set()
    kept: list[Event] = []
    for chain in chains:
        for event in chain:
            identity = _identity(event)
            if identity not in seen:
                seen.add(identity)
                kept.append(event)
    return sorted(kept, key=lambda event: event.at)


def timeline(events: Sequence[Event]) -> tuple[TimelineEntry, ...]:
    """The events as timeline lines; identical steps in a row (polls) share one line."""
    if not events:
        return ()
    start = events[0].at
    lines: list[TimelineEntry] = []
    for event in events:
        text = summary(event)
        previous = lines[-1] if lines else None
        if (
            previous is not None
            and previous.kind == event.kind
            and previous.text == text
            and previous.reason == event.reason
        ):
            lines[-1] = attrs.evolve(
                previous, repeat=previous.repeat + 1, last_offset=event.at - start
            )
            continue
        lines.append(
            TimelineEntry(
                at=event.at,
                offset=event.at - start,
                kind=event.kind,
                text=text,
                reason=event.reason,
                duration_ms=event.duration_ms,
            )
        )
    return tuple(lines)


def counts(events: Iterable[Event]) -> Counts:
    """KIE calls (and how many failed), job retries and job runs in ``events``."""
    kie = errors = retries = runs = 0
    for event in events:
        if event.kind in {EventKind.KIE_CREATE, EventKind.KIE_STATUS}:
            kie += 1
            errors += event.reason is not None
        elif event.kind == EventKind.UPDATE:
            calls = _calls(event.payload)
            kie += len(calls)
            errors += sum(1 for call in calls if call.get("reason") is not None)
        elif event.kind.startswith(JOB_PREFIX):
            runs += 1
            retries += event.payload.get("outcome") == "retry"
    return Counts(kie_calls=kie, kie_errors=errors, retries=retries, job_runs=runs)


def ledger_move_text(move: LedgerTransaction) -> str:
    """A generation's ledger move in a few words: ``hold 15 ⭐``, ``capture 12 ⭐ (3 ⭐ back)``."""
    back = move.amount_of(AccountKind.AVAILABLE)
    match move.kind:
        case LedgerKind.HOLD:
            stars = move.amount_of(AccountKind.HELD)
        case LedgerKind.CAPTURE | LedgerKind.REFUND:
            stars = abs(move.amount_of(AccountKind.REVENUE))
        case _:
            stars = abs(back)
    extra = f" ({back} ⭐ back)" if move.kind is LedgerKind.CAPTURE and back else ""
    return f"{move.kind} {stars} ⭐{extra}"


def offset_text(offset: timedelta) -> str:
    """A timeline offset: ``+0.42s``, ``+12.3s``, ``+2m05s``, ``+1h02m``."""
    seconds = offset.total_seconds()
    if seconds < 10:  # hundredths matter only in the first seconds
        return f"+{seconds:.2f}s"
    if seconds < 60:
        return f"+{seconds:.1f}s"
    minutes, rest = divmod(round(seconds), 60)
    if minutes < 60:
        return f"+{minutes}m{rest:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"+{hours}h{minutes:02d}m"


def entry_line(entry: TimelineEntry, width: int = 100) -> str:
    """A timeline entry as one plain line (the bot's monospace block, logs)."""
    parts = [f"{offset_text(entry.offset):>8}", f"{entry.kind:<20}", entry.text]
    if entry.repeat > 1:
        last = f" …{offset_text(entry.last_offset)}" if entry.last_offset is not None else ""
        parts.append(f"x{entry.repeat}{last}")
    if entry.reason is not None:
        parts.append(f"⚠ {entry.reason}")
    if entry.duration_ms is not None:
        parts.append(f"{entry.duration_ms} ms")
    return safe_text("  ".join(part for part in parts if part), width)


# --------------------------------------------------------------------------- the diagnosis

_PROVIDER_MESSAGE = re.compile(r"(?:code|failCode) [^:]*: (?P<message>.*)$")
_VALUE_WIDTH = 60


def provider_message(detail: str) -> str:
    """The provider's own words in a failure detail (``createTask: code 422: <words>``)."""
    match = _PROVIDER_MESSAGE.search(detail)
    return (match.group("message") if match else detail).strip() or detail


def _shown_value(value: JsonValue) -> str:
    """An input value fit for the diagnosis line: files and URLs are never shown."""
    if isinstance(value, list):
        return f"[{len(value)} items]"
    if isinstance(value, dict):
        return "{…}"
    text = "" if value is None else str(value)
    if re.match(r"^[a-z]+:", text, re.IGNORECASE) and "://" in text:
        return "<file>"
    return safe_text(text, _VALUE_WIDTH)


def rejected_input(generation: Generation, message: str) -> tuple[str, str] | None:
    """The input of ``generation`` a provider's message names first, with its value."""
    best: tuple[int, str] | None = None
    for name in generation.input:
        found = re.search(rf"(?<![\w.]){re.escape(name)}(?![\w])", message)
        if found and (best is None or found.start() < best[0]):
            best = (found.start(), name)
    if best is None:
        return None
    name = best[1]
    return name, _shown_value(generation.input[name])


def _last(events: Sequence[Event], *kinds: str) -> Event | None:
    for event in reversed(events):
        if event.kind in kinds:
            return event
    return None


def _failed_detail(events: Sequence[Event], generation: Generation) -> str:
    ended = _last(events, f"generation.{generation.state}")
    return _text(ended.payload, "detail") if ended is not None else ""


def _attempts(events: Sequence[Event], kind: str) -> int:
    return sum(1 for event in events if event.kind == kind) or 1


def _delivered(generation: Generation, events: Sequence[Event]) -> Diagnosis:
    link = _last(events, EventKind.DELIVERY_LINK)
    if link is not None:
        media = _text(link.payload, "media") or "result"
        if link.payload.get("cause") == "size":
            limit = _text(link.payload, "limit_mb") or "50"
            return Diagnosis(Finding.SENT_AS_LINK, values={"media": media, "limit_mb": limit})
        return Diagnosis(
            Finding.REFUSED_SENT_AS_LINK,
            values={"media": media, "message": _text(link.payload, "error")},
        )
    document = _last(events, EventKind.DELIVERY_DOCUMENT)
    if document is not None:
        return Diagnosis(
            Finding.SENT_AS_DOCUMENT,
            values={
                "media": _text(document.payload, "media") or "photo",
                "message": _text(document.payload, "error"),
            },
        )
    return Diagnosis(
        Finding.DELIVERED,
        values={"after": generation.updated_at - generation.created_at, "stars": _charged(events)},
    )


def _charged(events: Sequence[Event]) -> int:
    delivered = _last(events, EventKind.GENERATION_DELIVERED)
    stars = delivered.payload.get("stars") if delivered is not None else None
    return stars if isinstance(stars, int) else 0


def _lost(generation: Generation, events: Sequence[Event]) -> Diagnosis | None:
    """A task KIE kept calling unfinished until the deadline, or None if it was not that."""
    polls = [event for event in events if event.kind == EventKind.KIE_STATUS]
    last = polls[-1] if polls else None
    state = _text(last.payload, "state") if last is not None else ""
    deadline = _failed_detail(events, generation) == "deadline passed"
    if not deadline and state not in {"queued", "running"}:
        return None
    return Diagnosis(
        Finding.TASK_LOST,
        ReasonCode.PROVIDER_TIMEOUT,
        {
            "after": generation.deadline_at - generation.created_at,
            "state": state or "queued",
        },
    )


def _provider_failure(
    finding: Finding, generation: Generation, events: Sequence[Event]
) -> Diagnosis:
    reason = generation.reason
    call = _last(events, EventKind.KIE_CREATE, EventKind.KIE_STATUS)
    failed_call = call if call is not None and call.reason is not None else None
    detail = (
        _text(failed_call.payload, "detail")
        if failed_call is not None
        else _failed_detail(events, generation)
    )
    code = _text(failed_call.payload, "code") if failed_call is not None else ""
    message = provider_message(detail) or "-"
    values: dict[str, DiagnosisValue] = {"message": message, "code": code or "-"}
    if finding is Finding.KIE_REJECTED:
        named = rejected_input(generation, message)
        if named is not None:
            field, value = named
            values |= {"field": field, "value": value}
            return Diagnosis(Finding.KIE_REJECTED_INPUT, reason, values)
    if finding is Finding.KIE_FAILED and detail == "task unknown":
        return Diagnosis(Finding.TASK_UNKNOWN, reason, {"task": generation.task_id or "-"})
    if finding is Finding.KIE_UNANSWERED:
        values["attempts"] = _attempts(
            events, EventKind.KIE_CREATE if generation.task_id is None else EventKind.KIE_STATUS
        )
    return Diagnosis(finding, reason, values)


def _in_progress(generation: Generation, events: Sequence[Event]) -> Diagnosis:
    now = events[-1].at if events else generation.updated_at
    return Diagnosis(
        Finding.IN_PROGRESS,
        values={
            "state": generation.state.value,
            "after": now - generation.created_at,
            "left": max(timedelta(0), generation.deadline_at - now),
        },
    )


def _unanswered(finding: Finding, generation: Generation, events: Sequence[Event]) -> Diagnosis:
    if generation.reason is ReasonCode.PROVIDER_TIMEOUT:
        lost = _lost(generation, events)
        if lost is not None:
            return lost
    return _provider_failure(finding, generation, events)


def _refused_by_telegram(
    finding: Finding, generation: Generation, events: Sequence[Event]
) -> Diagnosis:
    failed = _last(events, EventKind.DELIVERY_FAILED)
    message = (
        _text(failed.payload, "detail")
        if failed is not None
        else _failed_detail(events, generation)
    )
    attempts = _attempts(events, EventKind.DELIVERY_FAILED)
    return Diagnosis(finding, generation.reason, {"message": message or "-", "attempts": attempts})


def _cancelled(finding: Finding, generation: Generation, _: Sequence[Event]) -> Diagnosis:
    return Diagnosis(
        finding, generation.reason, {"after": generation.updated_at - generation.created_at}
    )


def _crashed(finding: Finding, generation: Generation, events: Sequence[Event]) -> Diagnosis:
    attempts = max(
        (
            attempt
            for event in events
            if event.kind.startswith(JOB_PREFIX)
            and isinstance(attempt := event.payload.get("attempt"), int)
        ),
        default=1,
    )
    detail = safe_text(_failed_detail(events, generation), 120)
    return Diagnosis(finding, generation.reason, {"message": detail or "-", "attempts": attempts})


def _plain(finding: Finding, generation: Generation, _: Sequence[Event]) -> Diagnosis:
    return Diagnosis(finding, generation.reason)


_Reading = Callable[[Finding, Generation, Sequence[Event]], Diagnosis]
_READINGS: Mapping[Finding, _Reading] = {
    Finding.KIE_UNANSWERED: _unanswered,
    Finding.KIE_REJECTED: _provider_failure,
    Finding.KIE_FAILED: _provider_failure,
    Finding.CONTENT_POLICY: _provider_failure,
    Finding.INPUT_UNREACHABLE: _provider_failure,
    Finding.OPERATOR_ACTION: _provider_failure,
    Finding.TELEGRAM_REFUSED: _refused_by_telegram,
    Finding.CANCELLED: _cancelled,
    Finding.STEP_CRASHED: _crashed,
}
"""How the events refine each finding of :data:`FINDING_OF_REASON` (others are plain)."""


def diagnose_generation(generation: Generation, events: Sequence[Event]) -> Diagnosis:
    """Why ``generation`` is where it is, from its state, reason and events."""
    if generation.state is GenerationState.SUCCEEDED:
        return _delivered(generation, events)
    if not generation.state.is_terminal:
        return _in_progress(generation, events)
    finding = FINDING_OF_REASON.get(generation.reason or ReasonCode.INTERNAL_ERROR, Finding.FAILED)
    return _READINGS.get(finding, _plain)(finding, generation, events)


def diagnose_action(events: Sequence[Event]) -> Diagnosis:
    """Why an action that started no generation went as it did (an update, a refused start)."""
    refused = _last(events, EventKind.GENERATION_REJECTED)
    if refused is not None and refused.reason is not None:
        message = _join(_text(refused.payload, "input"), _text(refused.payload, "detail"))
        return Diagnosis(Finding.START_REFUSED, refused.reason, {"message": message or "-"})
    failed = next((e for e in reversed(events) if e.reason is not None), None)
    if failed is not None and failed.reason is not None:
        return Diagnosis(Finding.UPDATE_FAILED, failed.reason)
    update = _last(events, EventKind.UPDATE)
    if update is not None and update.duration_ms is not None:
        return Diagnosis(Finding.UPDATE_HANDLED, values={"ms": update.duration_ms})
    return Diagnosis(Finding.NOTHING)


def build_report(
    subject: Subject,
    *,
    generation: Generation | None,
    events: Sequence[Event],
    ledger: Sequence[LedgerTransaction] = (),
    recent: Sequence[Generation] = (),
    alternatives: Sequence[Subject] = (),
) -> DebugReport:
    """The one-screen report of ``subject`` from what storage returned about it."""
    diagnosis = (
        diagnose_generation(generation, events)
        if generation is not None
        else diagnose_action(events)
    )
    correlation = (
        generation.correlation_id
        if generation is not None
        else (events[-1].correlation_id if events else None)
    )
    user = (
        generation.user_id
        if generation is not None
        else next((e.user_id for e in reversed(events) if e.user_id is not None), None)
    )
    return DebugReport(
        subject=subject,
        generation=generation,
        correlation_id=correlation,
        user_id=user,
        timeline=timeline(events),
        ledger=tuple(ledger),
        diagnosis=diagnosis,
        counts=counts(events),
        recent=tuple(recent),
        alternatives=tuple(alternatives),
    )


# --------------------------------------------------------------------------- the journey


class Actor(enum.StrEnum):
    """Who acted in a step of a user's journey."""

    USER = "user"
    BOT = "bot"
    SYSTEM = "system"


@attrs.frozen(kw_only=True)
class JourneyStep:
    """One thing the user did, saw, or that happened to their run."""

    at: datetime
    actor: Actor
    text: str
    correlation_id: CorrelationId
    reason: ReasonCode | None = None


_JOURNEY_SYSTEM = frozenset(
    {
        EventKind.GENERATION_STARTED,
        EventKind.GENERATION_REJECTED,
        EventKind.GENERATION_SUBMITTED,
        EventKind.GENERATION_DELIVERED,
        EventKind.GENERATION_FAILED,
        EventKind.GENERATION_CANCELLED,
        EventKind.GENERATION_REFUNDED,
        EventKind.DELIVERY_LINK,
        EventKind.DELIVERY_DOCUMENT,
    }
)


def _screen_text(screen: Mapping[str, JsonValue]) -> str:
    buttons = screen.get("buttons")
    labels = (
        " ".join(f"[{label}]" for label in buttons if isinstance(label, str))
        if isinstance(buttons, list)
        else ""
    )
    text = _text(screen, "text")
    return _join(_text(screen, "method"), f"«{text}»" if text else "", labels)


def journey(events: Iterable[Event]) -> list[JourneyStep]:
    """What a user did and saw, in order: their inputs, the bot's screens, their runs' ends.

    Built from ``update`` events (the input and the screens each update produced) and the
    generations' milestones; KIE polls and job runs are left out unless they failed.
    """
    steps: list[JourneyStep] = []
    for event in events:
        at, correlation = event.at, event.correlation_id
        if event.kind == EventKind.UPDATE:
            payload = event.payload
            steps.append(
                JourneyStep(
                    at=at,
                    actor=Actor.USER,
                    text=_text(payload, "input") or _text(payload, "type"),
                    correlation_id=correlation,
                    reason=event.reason,
                )
            )
            steps.extend(
                JourneyStep(
                    at=at, actor=Actor.SYSTEM, text=_call_text(call), correlation_id=correlation
                )
                for call in _calls(payload)
            )
            screens = payload.get("screens")
            steps.extend(
                JourneyStep(
                    at=at, actor=Actor.BOT, text=_screen_text(screen), correlation_id=correlation
                )
                for screen in (screens if isinstance(screens, list) else [])
                if isinstance(screen, dict)
            )
        elif (
            event.kind in _JOURNEY_SYSTEM
            or event.kind.startswith(LEDGER_PREFIX)
            or (event.reason is not None)
        ):
            steps.append(
                JourneyStep(
                    at=at,
                    actor=Actor.SYSTEM,
                    text=_join(event.kind, summary(event)),
                    correlation_id=correlation,
                    reason=event.reason,
                )
            )
    return steps
