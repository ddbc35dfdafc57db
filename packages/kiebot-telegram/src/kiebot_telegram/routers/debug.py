"""/debug ID (admins only): one generation, action or user on one screen, with its diagnosis.

For anyone else ``/debug`` is an unknown command: the filter fails, and the start router's
unknown-command answer takes it (the command is not in the menu either). So it is for an admin
in a group, where every member would read the report (``admin_only``).
"""

from aiogram import Router
from aiogram.filters import Command, CommandObject
from aiogram.types import Message

from kiebot_core.domain.diagnosis import DebugReport, entry_line, ledger_move_text
from kiebot_core.domain.reasons import reason_text
from kiebot_core.domain.texts import Language
from kiebot_core.use_cases.diagnosis import debug_report
from kiebot_telegram.admins import admin_only
from kiebot_telegram.context import Context
from kiebot_telegram.formatting import MAX_TEXT, escape, fits
from kiebot_telegram.messaging import show
from kiebot_telegram.texts import Msg, t
from kiebot_telegram.views import View

HEAD_LINES = 8
"""Timeline lines always shown from the start (the rest is cut from the middle if too long)."""


def _header(language: Language, report: DebugReport) -> list[str]:
    subject = report.subject
    lines = [t(language, Msg.DEBUG_TITLE, subject=escape(subject.key), kind=subject.kind.value)]
    generation = report.generation
    if generation is not None:
        state = generation.state.value
        lines.append(
            t(
                language,
                Msg.DEBUG_GENERATION,
                generation=escape(generation.id),
                model=escape(generation.model_id),
                state=state,
            )
        )
    lines.append(
        t(
            language,
            Msg.DEBUG_IDS,
            user=report.user_id if report.user_id is not None else "-",
            correlation=escape(report.correlation_id or "-"),
            task=escape(generation.task_id or "-") if generation is not None else "-",
        )
    )
    return lines


def _facts(language: Language, report: DebugReport) -> list[str]:
    lines = [t(language, Msg.DEBUG_DIAGNOSIS, text=escape(report.diagnosis.text(language)))]
    reason, policy = report.final_reason, report.policy
    if reason is not None and policy is not None:
        lines.append(
            t(
                language,
                Msg.DEBUG_REASON,
                reason=reason.value,
                remedy=policy.remedy.value,
                alert=t(language, Msg.DEBUG_ALERT) if policy.alert_operator else "",
                text=escape(reason_text(reason, language)),
            )
        )
    if report.ledger:
        moves = " · ".join(ledger_move_text(move) for move in report.ledger)
        lines.append(t(language, Msg.DEBUG_LEDGER, moves=escape(moves)))
    counts = report.counts
    lines.append(
        t(
            language,
            Msg.DEBUG_COUNTS,
            kie=counts.kie_calls,
            errors=counts.kie_errors,
            runs=counts.job_runs,
            retries=counts.retries,
        )
    )
    if report.recent:
        lines.append(t(language, Msg.DEBUG_RECENT))
        lines.extend(
            escape(f"{g.id} · {g.model_id} · {g.state}" + (f" ({g.reason})" if g.reason else ""))
            for g in report.recent
        )
    if report.alternatives:
        others = ", ".join(f"{s.kind}:{s.key}" for s in report.alternatives)
        lines.append(t(language, Msg.DEBUG_ALSO, others=escape(others)))
    return lines


def _text(language: Language, report: DebugReport, shown: list[str], hidden: int) -> str:
    block = list(shown)
    if hidden:
        block.insert(HEAD_LINES, t(language, Msg.DEBUG_MORE, count=hidden))
    timeline = "<pre>" + escape("\n".join(block)) + "</pre>" if block else ""
    parts = [*_header(language, report), timeline, *_facts(language, report)]
    return "\n".join(part for part in parts if part)


def debug_view(language: Language, report: DebugReport) -> View:
    """The report as one message: header, timeline (cut in the middle to fit), diagnosis."""
    lines = [entry_line(entry, width=72) for entry in report.timeline]
    shown, hidden = lines, 0
    text = _text(language, report, shown, hidden)
    while not fits(text, MAX_TEXT) and len(shown) > HEAD_LINES + 1:
        # Drop the oldest lines after the head: the start and the end tell the most.
        shown = shown[:HEAD_LINES] + shown[HEAD_LINES + 1 :]
        hidden += 1
        text = _text(language, report, shown, hidden)
    return View(text)


async def on_debug(message: Message, command: CommandObject, ctx: Context) -> None:
    """The report of the id after /debug (usage without one)."""
    key = (command.args or "").strip()
    if not key:
        await show(ctx.bot, message, View(t(ctx.language, Msg.DEBUG_USAGE)))
        return
    report = await debug_report(ctx.services.store, key)
    if report is None:
        view = View(t(ctx.language, Msg.DEBUG_NOTHING, wanted=escape(key)))
    else:
        view = debug_view(ctx.language, report)
    await show(ctx.bot, message, view)


def make_router() -> Router:
    """A new router with this module's handlers (one per dispatcher); admins only."""
    router = admin_only(Router(name="debug"))
    router.message.register(on_debug, Command("debug"))
    return router
