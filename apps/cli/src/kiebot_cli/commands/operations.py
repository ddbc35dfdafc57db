"""``kiebot sandbox serve``, ``kiebot db migrate|status|prune`` and ``kiebot credits``."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from kiebot_cli.errors import EXIT_FAILED, fail, guarded
from kiebot_core.domain.errors import KiebotError

if TYPE_CHECKING:
    from decimal import Decimal

    from kiebot_cli.context import CliContext
    from kiebot_cli.settings import CliSettings
    from kiebot_core.use_cases.retention import PruneReport

sandbox_app = typer.Typer(help="The built-in KIE sandbox.", no_args_is_help=True)
db_app = typer.Typer(
    help="The store's schema; old records of the bot's store.", no_args_is_help=True
)


@sandbox_app.command("serve")
def sandbox_serve(
    ctx: typer.Context,
    host: Annotated[str, typer.Option(help="Address to bind (loopback by default).")] = (
        "127.0.0.1"
    ),
    port: Annotated[int, typer.Option(help="0 picks a free port; printed as `PORT n`.")] = 0,
    fast: Annotated[bool, typer.Option("--fast", help="Tasks finish in 0.3 s.")] = False,
    data_dir: Annotated[
        Path | None, typer.Option(help="Keep tasks here (default: KIEBOT_HOME/sandbox).")
    ] = None,
) -> None:
    """Serve a KIE-compatible API on loopback until Ctrl-C; any API key is accepted."""
    context: CliContext = ctx.obj
    from kiebot_kie.sandbox.server import serve_forever

    serve_forever(host, port, data_dir or context.settings.sandbox_dir, fast)


async def _migrate(settings: CliSettings) -> list[str]:
    from kiebot_pg import migrate as pg_migrate
    from kiebot_sqlite import migrate as sqlite_migrate

    if settings.database_url:
        return await pg_migrate.migrate(settings.database_url)
    settings.home.mkdir(parents=True, exist_ok=True)
    return await sqlite_migrate.migrate(settings.sqlite_path)


async def _status(settings: CliSettings) -> tuple[list[str], list[str]]:
    from kiebot_pg import migrate as pg_migrate
    from kiebot_sqlite import migrate as sqlite_migrate

    if settings.database_url:
        return await pg_migrate.status(settings.database_url)
    return await sqlite_migrate.status(settings.sqlite_path)


def _store_name(settings: CliSettings) -> str:
    return "PostgreSQL (DATABASE_URL)" if settings.database_url else str(settings.sqlite_path)


@db_app.command("migrate")
@guarded
def db_migrate(ctx: typer.Context) -> None:
    """Apply pending migrations (forward-only; safe to run twice)."""
    import asyncio

    context: CliContext = ctx.obj
    applied = asyncio.run(_migrate(context.settings))
    store = _store_name(context.settings)
    if applied:
        context.out.print(f"Applied {', '.join(applied)} to {store}")
    else:
        context.out.print(f"{store} is up to date")


@db_app.command("status")
@guarded
def db_status(ctx: typer.Context) -> None:
    """Show applied and pending migrations; exit 1 when some are pending."""
    import asyncio

    context: CliContext = ctx.obj
    applied, pending = asyncio.run(_status(context.settings))
    context.out.print(f"Store: {_store_name(context.settings)}")
    context.out.print(f"Applied: {', '.join(applied) or 'none'}")
    context.out.print(f"Pending: {', '.join(pending) or 'none'}")
    if pending:
        raise typer.Exit(EXIT_FAILED)


async def _prune(settings: CliSettings, *, dry_run: bool) -> PruneReport:
    from kiebot_cli.wiring import open_bot_store
    from kiebot_core.ports.runtime import SystemClock
    from kiebot_core.use_cases.retention import prune_old_records

    async with open_bot_store(settings) as store:
        return await prune_old_records(store, SystemClock(), settings.retention, dry_run=dry_run)


@db_app.command("prune")
@guarded
def db_prune(
    ctx: typer.Context,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Count what would be deleted; delete nothing.")
    ] = False,
) -> None:
    """Delete events, processed updates and expired unpaid orders older than their retention
    (days: KIEBOT_EVENT_RETENTION_DAYS 30, KIEBOT_INBOX_RETENTION_DAYS 7,
    KIEBOT_ORDER_RETENTION_DAYS 30); the bot's leader does this on its own.

    The ledger, payments, generations and paid orders are never deleted.
    """
    import asyncio

    context: CliContext = ctx.obj
    report = asyncio.run(_prune(context.settings, dry_run=dry_run))
    cutoffs = report.cutoffs
    verb = "Would delete" if report.dry_run else "Deleted"
    context.out.print(f"{verb} {report.events} events from before {_moment(cutoffs.events)}")
    context.out.print(
        f"{verb} {report.inbox} processed updates done before {_moment(cutoffs.inbox)}"
        f" and {report.sent} bot calls journaled for them"
    )
    context.out.print(
        f"{verb} {report.orders} unpaid orders expired before {_moment(cutoffs.orders)}"
    )
    if report.dry_run:
        context.out.print("Dry run: nothing was deleted")


def _moment(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


async def _credits(settings: CliSettings) -> Decimal:
    from kiebot_cli.wiring import open_gateway

    async with open_gateway(settings) as gateway:
        return await gateway.credits()


def credits(ctx: typer.Context) -> None:
    """Show the KIE account's remaining credits (the sandbox's without KIE_API_KEY)."""
    import asyncio

    context: CliContext = ctx.obj
    try:
        remaining = asyncio.run(_credits(context.settings))
    except KiebotError as error:
        fail(context.err, str(error), EXIT_FAILED)
    source = "KIE sandbox" if context.settings.uses_sandbox else "KIE"
    context.out.print(f"{remaining} credits ({source})")
