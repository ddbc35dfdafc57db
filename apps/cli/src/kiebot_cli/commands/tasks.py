"""``kiebot history``, ``tasks show|resume``, ``debug`` and ``replay``: the store's log."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.table import Table

from kiebot_cli.debugging import SINCE_HELP, since_moment, user_id_argument
from kiebot_cli.errors import EXIT_FAILED, fail, guarded
from kiebot_core.domain.catalog import JsonValue
from kiebot_core.domain.diagnosis import DebugReport, JourneyStep
from kiebot_core.domain.generation import Generation
from kiebot_core.domain.ids import CorrelationId, GenerationId, UserId
from kiebot_core.domain.telemetry import Event

if TYPE_CHECKING:
    from kiebot_cli.context import CliContext
    from kiebot_cli.runner import Outcome
    from kiebot_cli.settings import CliSettings

tasks_app = typer.Typer(help="Generations in the local store.", no_args_is_help=True)
_PROMPT_WIDTH = 48


def _prompt(generation: Generation) -> str:
    text = generation.input.get("prompt") or generation.input.get("text") or ""
    return text if isinstance(text, str) else json.dumps(text)


def _row(generation: Generation) -> dict[str, JsonValue]:
    return {
        "generation_id": generation.id,
        "created_at": generation.created_at.isoformat(),
        "model": generation.model_id,
        "state": generation.state.value,
        "reason": None if generation.reason is None else generation.reason.value,
        "prompt": _prompt(generation),
        "kie_task_id": generation.task_id,
        "credits": str(generation.credits),
        "files": list(generation.delivered_refs),
    }


async def _history(settings: CliSettings, limit: int, search: str | None) -> list[Generation]:
    from kiebot_cli.generation import LOCAL_USER
    from kiebot_cli.store import open_store

    async with open_store(settings) as store, store() as uow:
        return await uow.generations.for_user(LOCAL_USER, limit=limit, search=search)


def history(
    ctx: typer.Context,
    search: Annotated[
        str | None, typer.Option("--search", "-s", help="Match model id or prompt text.")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, help="How many.")] = 20,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Past generations, newest first."""
    import asyncio

    context: CliContext = ctx.obj
    found = asyncio.run(_history(context.settings, limit, search))
    if as_json:
        context.out.print_json(json.dumps([_row(g) for g in found], ensure_ascii=False))
        return
    table = Table(title=f"{len(found)} generations", title_justify="left")
    for column in ("ID", "When", "Model", "State", "Prompt"):
        table.add_column(column, no_wrap=column != "Prompt")
    for generation in found:
        prompt = _prompt(generation)
        short = prompt if len(prompt) <= _PROMPT_WIDTH else prompt[: _PROMPT_WIDTH - 1] + "…"
        state = generation.state.value + (f" ({generation.reason})" if generation.reason else "")
        table.add_row(
            generation.id,
            generation.created_at.strftime("%Y-%m-%d %H:%M"),
            generation.model_id,
            state,
            escape(short),
        )
    context.out.print(table)


async def _find(settings: CliSettings, key: str) -> tuple[Generation | None, list[Event]]:
    """A generation by its id, KIE task id or correlation id, with its event chain."""
    from kiebot_cli.store import open_store

    async with open_store(settings) as store, store() as uow:
        generation = await uow.generations.get(GenerationId(key))
        if generation is None:
            generation = await uow.generations.get_by_task(key)  # type: ignore[arg-type]
        correlation = generation.correlation_id if generation else CorrelationId(key)
        return generation, await uow.events.chain(correlation)


@tasks_app.command("show")
@guarded
def show(
    ctx: typer.Context,
    generation_id: Annotated[str, typer.Argument(help="A generation id (or KIE task id).")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """One generation: its input, state, result files and URLs."""
    import asyncio

    context: CliContext = ctx.obj
    generation, _ = asyncio.run(_find(context.settings, generation_id))
    if generation is None:
        fail(context.err, f"no generation {generation_id!r} in the local store")
    row = _row(generation) | {
        "input": dict(generation.input),
        "urls": list(generation.result_urls),
    }
    if as_json:
        context.out.print_json(json.dumps(row, ensure_ascii=False))
        return
    table = Table(show_header=False, title=generation.id, title_justify="left")
    table.add_column(style="cyan")
    table.add_column()
    for key, value in row.items():
        shown = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
        table.add_row(key, escape(shown))
    context.out.print(table)


async def _resume(context: CliContext, generation_id: str | None, out: Path) -> list[Outcome]:
    from kiebot_cli.runner import drive, finished
    from kiebot_cli.wiring import open_ports
    from kiebot_core.use_cases.generation import resume_unfinished

    async with open_ports(context.settings, out) as ports:
        await resume_unfinished(ports.pipeline)
        async with ports.store() as uow:
            unfinished = await uow.generations.unfinished()
        chosen = [g for g in unfinished if generation_id in {None, g.id}]
        outcomes = []
        for generation in chosen:
            with context.err.status(f"{generation.id} · resuming", spinner="dots"):
                ended = await drive(ports.pipeline, generation.id, lambda _: None)
            outcomes.append(finished(ended, context.language))
        return outcomes


@tasks_app.command("resume")
@guarded
def resume(
    ctx: typer.Context,
    generation_id: Annotated[
        str | None, typer.Argument(help="One generation (default: every unfinished one).")
    ] = None,
    out: Annotated[Path, typer.Option("--out", help="Where results are saved.")] = Path(
        "kiebot-out"
    ),
) -> None:
    """Finish generations left unfinished by Ctrl-C or a crash."""
    import asyncio

    context: CliContext = ctx.obj
    outcomes = asyncio.run(_resume(context, generation_id, out))
    if not outcomes:
        context.out.print("Nothing to resume.")
        return
    for outcome in outcomes:
        files = ", ".join(outcome.files) or outcome.message or ""
        context.out.print(
            f"{outcome.generation_id}: {outcome.state} {escape(files)}", soft_wrap=True
        )
    if any(outcome.exit_code for outcome in outcomes):
        raise typer.Exit(EXIT_FAILED)


async def _report(settings: CliSettings, key: str) -> DebugReport | None:
    from kiebot_cli.store import open_store
    from kiebot_core.use_cases.diagnosis import debug_report

    async with open_store(settings) as store:
        return await debug_report(store, key)


def debug(
    ctx: typer.Context,
    key: Annotated[
        str,
        typer.Argument(
            help="A generation id, correlation id, KIE task id, Telegram update id or user id "
            "(user:ID or update:ID when a number could be both)."
        ),
    ],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """One generation, action or user on one screen: the timeline with relative times, KIE
    calls, job runs and ledger moves, the final reason with its policy, and a diagnosis line.
    """
    import asyncio

    from kiebot_cli.debugging import report_json, report_renderable

    context: CliContext = ctx.obj
    report = asyncio.run(_report(context.settings, key))
    if report is None:
        fail(context.err, f"nothing recorded for {key!r}")
    if as_json:
        context.out.print_json(
            json.dumps(report_json(report, context.language), ensure_ascii=False)
        )
        return
    context.out.print(report_renderable(report, context.language))


async def _journey(
    settings: CliSettings, user_id: int, since: datetime | None, limit: int
) -> list[JourneyStep]:
    from kiebot_cli.store import open_store
    from kiebot_core.use_cases.diagnosis import user_journey

    async with open_store(settings) as store:
        return await user_journey(store, UserId(user_id), since=since, limit=limit)


def replay(
    ctx: typer.Context,
    user_id: Annotated[
        int,
        typer.Argument(metavar="USER_ID", parser=user_id_argument, help="A Telegram user id."),
    ],
    since: Annotated[
        datetime | None,
        typer.Option("--since", metavar="WHEN", parser=since_moment, help=f"From: {SINCE_HELP}."),
    ] = None,
    limit: Annotated[
        int, typer.Option("--limit", "-n", min=1, help="At most this many latest events.")
    ] = 1000,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """A user's journey from the event chain: the screens they saw, the buttons they pressed,
    the answers they gave, and how their runs ended.
    """
    import asyncio

    from kiebot_cli.debugging import journey_json, journey_table

    context: CliContext = ctx.obj
    steps = asyncio.run(_journey(context.settings, user_id, since, limit))
    if as_json:
        context.out.print_json(json.dumps(journey_json(steps), ensure_ascii=False))
        return
    if not steps:
        fail(
            context.err,
            f"nothing recorded for user {user_id}" + (" in that time" if since else ""),
        )
    context.out.print(journey_table(steps))
