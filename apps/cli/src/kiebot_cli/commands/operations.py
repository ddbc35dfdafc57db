"""``kiebot sandbox serve``, ``kiebot db migrate|status`` and ``kiebot credits``."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from kiebot_cli.errors import EXIT_FAILED, fail, guarded
from kiebot_core.domain.errors import KiebotError

if TYPE_CHECKING:
    from decimal import Decimal

    from kiebot_cli.context import CliContext
    from kiebot_cli.settings import CliSettings

sandbox_app = typer.Typer(help="The built-in KIE sandbox.", no_args_is_help=True)
db_app = typer.Typer(help="The local store's schema.", no_args_is_help=True)


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
