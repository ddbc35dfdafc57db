"""``kiebot audit``: the audit trail of operator actions in the bot's store (``DATABASE_URL``)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.table import Table

from kiebot_cli.dates import DATE_HELP, day_start, moment_text

if TYPE_CHECKING:
    from kiebot_cli.context import CliContext
    from kiebot_cli.settings import CliSettings
    from kiebot_core.domain.audit import AuditEntry
    from kiebot_core.domain.catalog import JsonValue


def _row(entry: AuditEntry) -> dict[str, JsonValue]:
    return {
        "at": entry.at.isoformat(),
        "actor": entry.actor,
        "action": entry.action.value,
        "target": entry.target,
        "detail": entry.detail,
        "reason": entry.reason,
    }


async def _entries(settings: CliSettings, since: datetime | None, limit: int) -> list[AuditEntry]:
    from kiebot_cli.wiring import open_bot_store
    from kiebot_core.use_cases.audit import audit_trail

    async with open_bot_store(settings) as store:
        return await audit_trail(store, limit=limit, since=since)


def audit(
    ctx: typer.Context,
    since: Annotated[
        datetime | None,
        typer.Option(
            "--since",
            metavar="DATE",
            parser=day_start,
            help=f"Only actions at or after {DATE_HELP}; a date means from the start of that "
            "UTC day (default: any time).",
        ),
    ] = None,
    limit: Annotated[
        int, typer.Option("--limit", "-n", min=1, help="At most this many, newest first.")
    ] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Who did which operator action (grants, refunds, bans, model switches, promo codes,
    broadcasts, price overrides), when and why; newest first.
    """
    import asyncio

    context: CliContext = ctx.obj
    found = asyncio.run(_entries(context.settings, since, limit + 1))
    entries, more = found[:limit], len(found) > limit
    if as_json:
        context.out.print_json(json.dumps([_row(e) for e in entries], ensure_ascii=False))
    else:
        noun = "entry" if len(entries) == 1 else "entries"
        title = f"{len(entries)} audit {noun}, newest first"
        table = Table(title=title, title_justify="left")
        table.add_column("When", no_wrap=True)
        table.add_column("Who", no_wrap=True)
        table.add_column("Action", style="bold", no_wrap=True)
        table.add_column("Target", overflow="fold")
        table.add_column("Detail", overflow="fold")
        table.add_column("Why", overflow="fold")
        for entry in entries:
            table.add_row(
                moment_text(entry.at),
                escape(entry.actor),
                entry.action.value,
                escape(entry.target),
                escape(entry.detail),
                escape(entry.reason),
            )
        context.out.print(table)
    if more:
        context.err.print(
            f"More entries than {limit}: raise --limit or narrow --since.", highlight=False
        )
