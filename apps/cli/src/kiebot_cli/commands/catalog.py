"""``kiebot models sync|versions``: catalog updates in the bot's store, without a release.

A sync checks the file exactly as the registry test checks the shipped catalog, shows what it
changes, and stores it as the next catalog version only when it passes and the operator agrees
(``--yes``, or the prompt). Every bot instance serves the new version at once (PostgreSQL
``LISTEN/NOTIFY``); the admins' model switches still apply on top of it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from rich.markup import escape

from kiebot_cli.dates import moment_text
from kiebot_cli.errors import EXIT_FAILED, EXIT_REJECTED, fail

if TYPE_CHECKING:
    from decimal import Decimal

    from rich.console import Console

    from kiebot_cli.context import CliContext
    from kiebot_cli.settings import CliSettings
    from kiebot_core.domain.catalog_sync import CatalogDiff, CatalogRecord, CatalogVersion
    from kiebot_core.domain.outcomes import Rejected
    from kiebot_core.use_cases.catalog_sync import SyncPlan

FILE_HELP = (
    "A newer models.json (the KIE research catalog, or catalog.json; optionally with "
    '"ui_models", "ui_inputs" and "ui_flows" objects for new models\' texts), or a price '
    'file: {"price_overrides": {"MODEL_ID": CREDITS, ...}} (the complete set).'
)


async def _plan(settings: CliSettings, raw: object | None) -> SyncPlan | Rejected:
    from kiebot_cli.wiring import open_bot_store
    from kiebot_core.domain.registry import load_registry
    from kiebot_core.use_cases.catalog_sync import plan_catalog_sync

    async with open_bot_store(settings) as store:
        return await plan_catalog_sync(store, load_registry(), settings.prices, raw)


async def _apply(settings: CliSettings, plan: SyncPlan) -> CatalogVersion | Rejected:
    from kiebot_cli.operator import operator_actor
    from kiebot_cli.wiring import open_bot_store
    from kiebot_core.ports.runtime import SystemClock
    from kiebot_core.use_cases.catalog_sync import apply_catalog_sync

    async with open_bot_store(settings) as store:
        return await apply_catalog_sync(store, SystemClock(), plan, by=operator_actor(settings))


def _credits(value: Decimal | None) -> str:
    return "none" if value is None else f"{value}"


def _stars(value: int | None) -> str:
    return "—" if value is None else f"{value} ⭐"


def _print_diff(out: Console, diff: CatalogDiff) -> None:
    if diff.added:
        out.print(f"[green]+ new ({len(diff.added)}):[/green] {escape(', '.join(diff.added))}")
    if diff.removed:
        out.print(f"[red]- removed ({len(diff.removed)}):[/red] {escape(', '.join(diff.removed))}")
    if diff.changed:
        out.print(f"[yellow]~ changed ({len(diff.changed)}):[/yellow]")
        for change in diff.changed:
            out.print(f"    {escape(change.model_id)}: {escape(', '.join(change.what))}")
    if diff.prices:
        out.print(f"[cyan]⭐ prices ({len(diff.prices)}):[/cyan]")
        for price in diff.prices:
            rows = (
                f"; table {price.rows_before} → {price.rows_after} rows"
                if price.rows_before != price.rows_after
                else ""
            )
            out.print(
                f"    {escape(price.model_id)}: from {_credits(price.old_credits)} → "
                f"{_credits(price.new_credits)} credits ({_stars(price.old_stars)} → "
                f"{_stars(price.new_stars)}){rows}"
            )
    if diff.availability:
        out.print(f"[magenta]● availability ({len(diff.availability)}):[/magenta]")
        for switch in diff.availability:
            before = "enabled" if switch.before is None else f"disabled ({switch.before})"
            after = "enabled" if switch.after is None else f"disabled ({switch.after})"
            out.print(f"    {escape(switch.model_id)}: {before} → {after}")
    if diff.menu_changed:
        out.print("[blue]☰ the main menu's sections or flow titles change[/blue]")


def _read(context: CliContext, file: Path) -> Any:  # parsed JSON of any shape
    try:
        return json.loads(file.read_text(encoding="utf-8"))
    except OSError as problem:
        fail(context.err, f"cannot read {file}: {problem.strerror or problem}")
    except (UnicodeDecodeError, json.JSONDecodeError) as problem:
        fail(context.err, f"{file} is not a JSON file: {problem}")


def _refused(context: CliContext, source: str, plan: Rejected, *, as_json: bool) -> NoReturn:
    problems = (plan.detail or plan.reason).splitlines()
    if as_json:
        report = {"file": source, "valid": False, "problems": problems, "applied": None}
        context.out.print_json(json.dumps(report, ensure_ascii=False))
    else:
        context.err.print(f"[bold red]Not applied:[/bold red] {escape(source)} fails the checks:")
        for problem in problems:
            context.err.print(f"  • {escape(problem)}", highlight=False)
    raise typer.Exit(EXIT_REJECTED)


def _confirm(context: CliContext, version: int, *, as_json: bool) -> None:
    """Ask at a terminal; elsewhere ``--yes`` is required."""
    if not context.interactive or as_json:
        fail(context.err, "not applied: pass --yes to apply (or --dry-run to only check)")
    if not typer.confirm(f"Apply as catalog version {version}?", default=False):
        context.err.print("Not applied.")
        raise typer.Exit(EXIT_FAILED)


def sync(
    ctx: typer.Context,
    file: Annotated[Path | None, typer.Argument(help=FILE_HELP, show_default=False)] = None,
    shipped: Annotated[
        bool,
        typer.Option(
            "--shipped",
            help="Go back to the catalog this kiebot ships (price overrides of its models kept).",
        ),
    ] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Apply without asking.")] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Check and show the diff; change nothing.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Check a newer catalog or price file, show the diff, apply it when it passes.

    The file is checked as the registry test checks the shipped catalog; the diff lists new,
    removed and changed models, price and availability changes. It is stored in the bot's
    store (DATABASE_URL) as the next catalog version only with --yes or at the prompt, and
    every bot instance serves it at once. --shipped goes back to the catalog kiebot ships.
    """
    import asyncio

    from kiebot_core.domain.outcomes import Rejected

    context: CliContext = ctx.obj
    if (file is None) == (not shipped):
        fail(context.err, "give a FILE or --shipped (one of them)")
    raw = None if file is None else _read(context, file)
    source = "--shipped" if file is None else str(file)
    plan = asyncio.run(_plan(context.settings, raw))
    if isinstance(plan, Rejected):
        _refused(context, source, plan, as_json=as_json)
    report: dict[str, Any] = {
        "file": source,
        "kind": plan.kind,
        "valid": True,
        "models": len(plan.registry.models),
        "enabled": len(plan.registry.enabled()),
        "version_before": plan.base_version,
        "summary": plan.diff.summary(),
        "diff": plan.diff.to_json(),
        "applied": None,
    }
    if not as_json:
        context.out.print(
            f"{escape(source)} ({plan.kind}): {report['models']} models, "
            f"{report['enabled']} enabled; it passes every registry check."
        )
        _print_diff(context.out, plan.diff)
    if plan.diff.is_empty or dry_run:
        if as_json:
            context.out.print_json(json.dumps(report, ensure_ascii=False))
        elif plan.diff.is_empty:
            context.out.print("Nothing to apply: the bot already serves this catalog.")
        else:
            context.out.print(f"Dry run: {plan.diff.summary()}; nothing was applied.")
        return
    if not yes:
        _confirm(context, plan.base_version + 1, as_json=as_json)
    stored = asyncio.run(_apply(context.settings, plan))
    if isinstance(stored, Rejected):
        fail(context.err, f"not applied: {stored.detail} (run the sync again)", EXIT_FAILED)
    report["applied"] = stored.version
    if as_json:
        context.out.print_json(json.dumps(report, ensure_ascii=False))
        return
    context.out.print(
        f"Applied: catalog version {stored.version} ({escape(stored.summary)}), by "
        f"{escape(stored.actor)}. Every bot instance serves it now."
    )


async def _history(settings: CliSettings, limit: int) -> list[CatalogRecord]:
    from kiebot_cli.wiring import open_bot_store
    from kiebot_core.use_cases.catalog_sync import catalog_history

    async with open_bot_store(settings) as store:
        return await catalog_history(store, limit=limit)


def versions(
    ctx: typer.Context,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, help="At most this many.")] = 20,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """The catalog versions `kiebot models sync` stored, newest first.

    The newest one is served; with none, the catalog this kiebot ships.
    """
    import asyncio

    from rich.table import Table

    context: CliContext = ctx.obj
    records = asyncio.run(_history(context.settings, limit))
    if as_json:
        rows = [
            {
                "version": r.version,
                "at": r.created_at.isoformat(),
                "actor": r.actor,
                "summary": r.summary,
                "shipped": r.is_shipped,
                "price_overrides": r.overrides,
            }
            for r in records
        ]
        context.out.print_json(json.dumps(rows, ensure_ascii=False))
        return
    if not records:
        context.out.print("No catalog was synced: the bot serves the catalog this kiebot ships.")
        return
    table = Table(title="Catalog versions, newest first (served: the first)", title_justify="left")
    table.add_column("Version", justify="right")
    table.add_column("When", no_wrap=True)
    table.add_column("Who", no_wrap=True)
    table.add_column("Catalog")
    table.add_column("Price overrides", justify="right")
    table.add_column("What it changed", overflow="fold")
    for record in records:
        table.add_row(
            str(record.version),
            moment_text(record.created_at),
            escape(record.actor),
            "shipped" if record.is_shipped else "synced",
            str(record.overrides),
            escape(record.summary),
        )
    context.out.print(table)
