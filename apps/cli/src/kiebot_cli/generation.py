"""What ``kiebot generate`` does: check, upload, start, follow and report one generation."""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING

import attrs
from rich.markup import escape

from kiebot_cli.answers import LocalFile, RawAnswers, parse_command_line, resolve
from kiebot_cli.prompts import run_wizard
from kiebot_cli.runner import Outcome, drive, finished, rejected
from kiebot_cli.wiring import Ports, open_ports
from kiebot_core.domain.catalog import JsonValue, ModelSpec
from kiebot_core.domain.generation import Generation
from kiebot_core.domain.ids import CorrelationId, GenerationId, UserId
from kiebot_core.domain.outcomes import Rejected
from kiebot_core.domain.pricing import MediaFacts
from kiebot_core.domain.reasons import ReasonCode
from kiebot_core.ports.runtime import Uuid4Ids
from kiebot_core.use_cases.generation import (
    GenerationStarted,
    StartCommand,
    quote_generation,
    start_generation,
)

if TYPE_CHECKING:
    from kiebot_cli.context import CliContext

LOCAL_USER = UserId(0)
"""The CLI's one user: the developer at this terminal."""
PENDING_UPLOAD = "https://pending-upload.invalid/"
"""Placeholder URLs stand for local files until the input is known to be valid."""
SANDBOX_NOTICE = (
    "No KIE_API_KEY: using the built-in KIE sandbox (test images, no real generation)."
)
_STAGE = {
    "pending": "queued",
    "submitted": "queued at KIE",
    "running": "generating",
    "delivering": "downloading",
}


@attrs.define
class _Run:
    """What the command knows so far (read after an interruption)."""

    generation_id: GenerationId | None = None
    files: dict[str, LocalFile] = attrs.field(factory=dict)
    durations: dict[str, Decimal] = attrs.field(factory=dict)
    """Measured seconds of the uploaded audio and video files, by URL."""


async def _placeholder(run: _Run, path: Path, mime_type: str) -> str:
    url = f"{PENDING_UPLOAD}{len(run.files)}/{path.name}"
    run.files[url] = LocalFile(path, mime_type)
    return url


async def _upload_pending(ports: Ports, run: _Run, answers: dict[str, JsonValue]) -> None:
    """Replace placeholder URLs with real uploads, now that the input is valid."""
    uploaded: dict[str, str] = {}
    for placeholder, local in run.files.items():
        uploaded[placeholder] = await _real_upload(ports, run, local.path, local.mime_type)
    for name, value in answers.items():
        if isinstance(value, str) and value in uploaded:
            answers[name] = uploaded[value]
        elif isinstance(value, list):
            answers[name] = [
                uploaded.get(item, item) if isinstance(item, str) else item for item in value
            ]


async def _real_upload(ports: Ports, run: _Run, path: Path, mime_type: str) -> str:
    """Upload a local file; its measured length (audio, video) goes to ``run.durations``."""
    data = await asyncio.to_thread(path.read_bytes)
    stored = await ports.pipeline.gateway.upload(data, path.name, mime_type)
    if stored.seconds is not None:
        run.durations[stored.url] = stored.seconds
    return stored.url


async def _collect(
    context: CliContext, ports: Ports, model: ModelSpec, run: _Run, raw: RawAnswers
) -> dict[str, JsonValue] | Rejected | None:
    """The answers to run with: from the command line, and from the wizard on a terminal."""
    answers = await resolve(model, raw, lambda path, mime: _placeholder(run, path, mime))
    if isinstance(answers, Rejected) or not context.interactive:
        return answers
    return await run_wizard(
        model,
        answers,
        console=context.err,
        language=context.language,
        prices=context.settings.prices,
        upload=lambda path, mime: _real_upload(ports, run, path, mime),
        durations=run.durations,
    )


async def _generate(
    context: CliContext, run: _Run, model_id: str, prompt: str | None, sets: list[str], out: Path
) -> Outcome:
    language = context.language
    model = context.registry.get(model_id)
    if model is None:
        return rejected(model_id, Rejected(ReasonCode.MODEL_UNKNOWN, detail=model_id), language)
    raw = parse_command_line(model, prompt, sets)
    if isinstance(raw, Rejected):
        return rejected(model_id, raw, language)
    if context.settings.uses_sandbox:
        context.err.print(f"[yellow]{SANDBOX_NOTICE}[/yellow]")
    async with open_ports(context.settings, out) as ports:
        answers = await _collect(context, ports, model, run, raw)
        if answers is None:
            return Outcome(model=model_id, state="cancelled", message="Not run.")
        started = await _start(ports, model, run, answers)
        if isinstance(started, Rejected):
            return rejected(model_id, started, language)
        run.generation_id = started.generation_id
        return finished(await _follow(context, ports, started), language)


async def _start(
    ports: Ports, model: ModelSpec, run: _Run, answers: dict[str, JsonValue] | Rejected
) -> GenerationStarted | Rejected:
    """Check everything, then upload the files and start: invalid input never reaches KIE."""
    if isinstance(answers, Rejected):
        return answers
    checked = await quote_generation(ports.pipeline, model.id, answers, MediaFacts())
    if isinstance(checked, Rejected):
        return checked
    await _upload_pending(ports, run, answers)
    facts = MediaFacts.of(answers, run.durations)
    correlation = CorrelationId(Uuid4Ids().new("cor"))
    return await start_generation(
        ports.pipeline, StartCommand(LOCAL_USER, model.id, answers, correlation, facts)
    )


async def _follow(context: CliContext, ports: Ports, started: GenerationStarted) -> Generation:
    label = escape(started.generation_id)
    with context.err.status(f"{label} · queued", spinner="dots") as status:

        def show(generation: Generation) -> None:
            stage = _STAGE.get(generation.state, generation.state)
            status.update(f"{label} · {stage}")

        return await drive(ports.pipeline, started.generation_id, show)


def _report(context: CliContext, outcome: Outcome, as_json: bool) -> None:
    if as_json:
        context.out.print_json(json.dumps(outcome.to_json(), ensure_ascii=False))
        return
    if outcome.state == "succeeded":
        for path in outcome.files:
            context.out.print(f"[green]✓[/green] {escape(path)}", soft_wrap=True)
        if outcome.result is not None:
            context.out.print_json(json.dumps(outcome.result, ensure_ascii=False))
        cost = f"{outcome.credits} KIE credits" if outcome.credits else ""
        context.err.print(f"[dim]{outcome.generation_id} · {outcome.model} · {cost}[/dim]")
        return
    where = f" {outcome.generation_id}" if outcome.generation_id else ""
    context.err.print(
        f"[bold red]{outcome.state.capitalize()}{escape(where)}:[/bold red] "
        f"{escape(outcome.message or '')} [dim]({outcome.reason})[/dim]"
    )


def run(
    context: CliContext,
    *,
    model_id: str,
    prompt: str | None,
    sets: list[str],
    yes: bool,
    as_json: bool,
    out: Path,
) -> int:
    """Run the command; returns its exit code."""
    if yes or as_json:
        context = attrs.evolve(context, interactive=False)
    state = _Run()
    try:
        outcome = asyncio.run(_generate(context, state, model_id, prompt, sets, out))
    except KeyboardInterrupt:
        resume = f"kiebot tasks resume {state.generation_id}" if state.generation_id else ""
        outcome = Outcome(
            model=model_id,
            state="cancelled",
            generation_id=state.generation_id,
            message=f"Interrupted. Resume with: {resume}" if resume else "Interrupted.",
        )
    _report(context, outcome, as_json)
    return outcome.exit_code
