"""Rendering ``kiebot debug`` and ``kiebot replay``: the core's report and journey, for rich."""

import re
from datetime import UTC, datetime, timedelta

import typer
from rich.console import Group, RenderableType
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from kiebot_cli.dates import DATE_HELP, day_start
from kiebot_core.domain.catalog import JsonValue
from kiebot_core.domain.diagnosis import (
    Actor,
    DebugReport,
    JourneyStep,
    TimelineEntry,
    ledger_move_text,
    offset_text,
)
from kiebot_core.domain.reasons import reason_text
from kiebot_core.domain.texts import Language

SINCE_HELP = f"a span back from now (30m, 12h, 7d) or {DATE_HELP}"
_SPAN = re.compile(r"^(?P<amount>\d+)\s*(?P<unit>[smhdw])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_ACTORS = {Actor.USER: "→ user", Actor.BOT: "← bot", Actor.SYSTEM: "⚙ run"}


def since_moment(text: str) -> datetime:
    """``--since``: ``30m``/``12h``/``7d`` back from now, or an ISO date or datetime (UTC)."""
    span = _SPAN.match(text.strip().lower())
    if span is None:
        return day_start(text)
    amount = int(span.group("amount"))
    return datetime.now(UTC) - timedelta(**{_UNITS[span.group("unit")]: amount})


def _timeline(entries: tuple[TimelineEntry, ...]) -> Table:
    table = Table(show_edge=False, pad_edge=False, header_style="bold")
    table.add_column("+time", justify="right", no_wrap=True)
    table.add_column("Event", no_wrap=True)
    table.add_column("Details")
    table.add_column("Reason", no_wrap=True)
    table.add_column("ms", justify="right", no_wrap=True)
    for entry in entries:
        details = entry.text
        if entry.repeat > 1:
            last = offset_text(entry.last_offset) if entry.last_offset is not None else ""
            details = f"{details} (x{entry.repeat}, last {last})".strip()
        style = "red" if entry.is_problem else None
        table.add_row(
            offset_text(entry.offset),
            entry.kind,
            escape(details),
            str(entry.reason or ""),
            "" if entry.duration_ms is None else str(entry.duration_ms),
            style=style,
        )
    return table


def report_renderable(report: DebugReport, language: Language) -> RenderableType:
    """The report as one screen: who and what, the timeline, the diagnosis and the money."""
    subject, generation = report.subject, report.generation
    lines: list[RenderableType] = [
        Text.assemble(("🔎 ", ""), (subject.key, "bold"), f" ({subject.kind})")
    ]
    if generation is not None:
        lines.append(
            Text(
                f"{generation.id} · {generation.model_id} · {generation.state} · "
                f"KIE task {generation.task_id or '-'}"
            )
        )
    lines.append(
        Text(
            f"user {'-' if report.user_id is None else report.user_id} · "
            f"correlation {report.correlation_id or '-'}"
        )
    )
    if report.timeline:
        lines.append(_timeline(report.timeline))
    lines.append(
        Text.assemble(("Diagnosis: ", "bold"), (report.diagnosis.text(language), "bold yellow"))
    )
    reason, policy = report.final_reason, report.policy
    if reason is not None and policy is not None:
        alert = ", alerts the operator" if policy.alert_operator else ""
        lines.append(
            Text(
                f"Reason: {reason} · policy {policy.remedy}{alert} — "
                f"{reason_text(reason, language)}"
            )
        )
    elif generation is not None:
        lines.append(Text(f"Final: {generation.state}"))
    if report.ledger:
        lines.append(Text("Ledger: " + " · ".join(ledger_move_text(m) for m in report.ledger)))
    counts = report.counts
    lines.append(
        Text(
            f"KIE calls {counts.kie_calls} ({counts.kie_errors} failed) · "
            f"job runs {counts.job_runs} · retries {counts.retries}",
            style="dim",
        )
    )
    if report.recent:
        lines.append(Text("Latest generations:"))
        lines.extend(
            Text(f"  {g.id} · {g.model_id} · {g.state}" + (f" ({g.reason})" if g.reason else ""))
            for g in report.recent
        )
    if report.alternatives:
        others = ", ".join(f"{s.kind}:{s.key}" for s in report.alternatives)
        lines.append(Text(f"Also: {others}", style="dim"))
    return Group(*lines)


def report_json(report: DebugReport, language: Language) -> dict[str, JsonValue]:
    """The report as ``kiebot debug --json`` prints it."""
    generation, policy = report.generation, report.policy
    return {
        "subject": {"kind": report.subject.kind.value, "key": report.subject.key},
        "generation_id": None if generation is None else generation.id,
        "model": None if generation is None else generation.model_id,
        "state": None if generation is None else generation.state.value,
        "kie_task_id": None if generation is None else generation.task_id,
        "user_id": report.user_id,
        "correlation_id": report.correlation_id,
        "reason": None if report.final_reason is None else report.final_reason.value,
        "policy": None
        if policy is None
        else {"remedy": policy.remedy.value, "alert_operator": policy.alert_operator},
        "diagnosis": {
            "finding": report.diagnosis.finding.value,
            "text": report.diagnosis.text(language),
        },
        "timeline": [
            {
                "offset_s": round(entry.offset.total_seconds(), 3),
                "at": entry.at.isoformat(),
                "kind": entry.kind,
                "text": entry.text,
                "reason": None if entry.reason is None else entry.reason.value,
                "duration_ms": entry.duration_ms,
                "repeat": entry.repeat,
            }
            for entry in report.timeline
        ],
        "ledger": [ledger_move_text(move) for move in report.ledger],
        "counts": {
            "kie_calls": report.counts.kie_calls,
            "kie_errors": report.counts.kie_errors,
            "job_runs": report.counts.job_runs,
            "retries": report.counts.retries,
        },
        "recent": [g.id for g in report.recent],
        "alternatives": [f"{s.kind}:{s.key}" for s in report.alternatives],
    }


def journey_table(steps: list[JourneyStep]) -> Table:
    """A user's journey: when, who (the user, the bot, their run), what."""
    table = Table(show_edge=False, pad_edge=False, header_style="bold")
    table.add_column("When (UTC)", no_wrap=True)
    table.add_column("Who", no_wrap=True)
    table.add_column("What")
    day = None
    for step in steps:
        moment = step.at.astimezone(UTC)
        shown = moment.strftime("%H:%M:%S")
        if moment.date() != day:
            day = moment.date()
            shown = moment.strftime("%Y-%m-%d %H:%M:%S")
        what = step.text + (f"  ⚠ {step.reason}" if step.reason is not None else "")
        style = "red" if step.reason is not None else ("dim" if step.actor is Actor.BOT else None)
        table.add_row(shown, _ACTORS[step.actor], escape(what), style=style)
    return table


def journey_json(steps: list[JourneyStep]) -> list[JsonValue]:
    """The journey as ``kiebot replay --json`` prints it."""
    return [
        {
            "at": step.at.isoformat(),
            "actor": step.actor.value,
            "text": step.text,
            "correlation_id": step.correlation_id,
            "reason": None if step.reason is None else step.reason.value,
        }
        for step in steps
    ]


def user_id_argument(text: str) -> int:
    """A Telegram user id (``kiebot replay USER_ID``)."""
    if not text.strip().isdigit():
        raise typer.BadParameter(f"{text!r} is not a Telegram user id (digits)")
    return int(text)
