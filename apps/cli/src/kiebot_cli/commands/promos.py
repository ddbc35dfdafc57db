"""``kiebot promo create|list``: promo codes in the bot's store (``DATABASE_URL``)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from kiebot_cli.dates import DATE_HELP, day_end, moment_text
from kiebot_cli.errors import EXIT_REJECTED, fail, guarded

if TYPE_CHECKING:
    from kiebot_cli.context import CliContext
    from kiebot_cli.settings import CliSettings
    from kiebot_core.domain.catalog import JsonValue
    from kiebot_core.domain.outcomes import Rejected
    from kiebot_core.domain.promotions import PromoCode

promo_app = typer.Typer(
    help="Promo codes users redeem for Stars (against the store of DATABASE_URL).",
    no_args_is_help=True,
)


def _uses(promo: PromoCode) -> str:
    return f"{promo.uses}/{'∞' if promo.max_uses is None else promo.max_uses}"


def _expiry(promo: PromoCode, now: datetime) -> str:
    if promo.expires_at is None:
        return "never"
    return moment_text(promo.expires_at) + (" (expired)" if promo.is_expired(now) else "")


def _row(promo: PromoCode, now: datetime) -> dict[str, JsonValue]:
    return {
        "code": promo.code,
        "stars": promo.stars,
        "uses": promo.uses,
        "max_uses": promo.max_uses,
        "expires_at": None if promo.expires_at is None else promo.expires_at.isoformat(),
        "expired": promo.is_expired(now),
        "created_at": promo.created_at.isoformat(),
    }


async def _create(
    settings: CliSettings,
    code: str,
    stars: int,
    max_uses: int | None,
    expires_at: datetime | None,
    reason: str,
) -> PromoCode | Rejected:
    from kiebot_cli.operator import operator_actor
    from kiebot_cli.wiring import open_bot_store
    from kiebot_core.ports.runtime import SystemClock
    from kiebot_core.use_cases.promotions import create_promo

    async with open_bot_store(settings) as store:
        return await create_promo(
            store,
            SystemClock(),
            code,
            stars,
            max_uses=max_uses,
            expires_at=expires_at,
            by=operator_actor(settings),
            reason=reason,
        )


@promo_app.command("create")
@guarded
def create(
    ctx: typer.Context,
    code: Annotated[
        str, typer.Argument(help="3 to 32 of A-Z 0-9 _ - (any case; stored upper-case).")
    ],
    stars: Annotated[int, typer.Option("--stars", help="Stars each redemption grants.")],
    max_uses: Annotated[
        int | None,
        typer.Option("--max-uses", help="Users who may redeem it in all (default: unlimited)."),
    ] = None,
    expires: Annotated[
        datetime | None,
        typer.Option(
            "--expires",
            metavar="DATE",
            parser=day_end,
            help=f"When it stops working: {DATE_HELP}; a date means the end of that UTC "
            "day, so it works all that day (default: never).",
        ),
    ] = None,
    reason: Annotated[str, typer.Option("--reason", help="Why (kept in the audit trail).")] = "",
) -> None:
    """Create a promo code worth N Stars, redeemable once per user."""
    import asyncio

    from kiebot_core.domain.outcomes import Rejected

    context: CliContext = ctx.obj
    result = asyncio.run(_create(context.settings, code, stars, max_uses, expires, reason))
    if isinstance(result, Rejected):
        fail(context.err, result.detail or result.reason, EXIT_REJECTED)
    context.out.print(
        f"Created {result.code}: {result.stars} ⭐ once per user, uses {_uses(result)}, "
        f"expires {_expiry(result, result.created_at)}",
        soft_wrap=True,
    )


async def _list(settings: CliSettings) -> list[PromoCode]:
    from kiebot_cli.wiring import open_bot_store
    from kiebot_core.use_cases.promotions import list_promos

    async with open_bot_store(settings) as store:
        return await list_promos(store)


@promo_app.command("list")
@guarded
def list_codes(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Every promo code, newest first, with its uses."""
    import asyncio

    context: CliContext = ctx.obj
    promos = asyncio.run(_list(context.settings))
    now = datetime.now(UTC)
    if as_json:
        context.out.print_json(json.dumps([_row(p, now) for p in promos], ensure_ascii=False))
        return
    table = Table(title=f"{len(promos)} promo codes", title_justify="left")
    table.add_column("Code", style="bold cyan", no_wrap=True)
    table.add_column("Stars", justify="right", no_wrap=True)
    table.add_column("Uses", justify="right", no_wrap=True)
    table.add_column("Expires", no_wrap=True)
    table.add_column("Created", no_wrap=True)
    for promo in promos:
        table.add_row(
            promo.code,
            f"{promo.stars} ⭐",
            _uses(promo),
            _expiry(promo, now),
            moment_text(promo.created_at),
        )
    context.out.print(table)
