"""``kiebot pricing show``: every model's price in KIE credits and in Stars.
``kiebot pricing margin``: what delivered generations kept against what KIE consumed.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from kiebot_cli.commands.models import known_model
from kiebot_cli.dates import DATE_HELP, day_start, moment_text
from kiebot_cli.errors import guarded
from kiebot_cli.render import price_settings_text, prices_json, prices_table
from kiebot_core.domain.margin import ModelMargin

if TYPE_CHECKING:
    from kiebot_cli.context import CliContext
    from kiebot_cli.settings import CliSettings
    from kiebot_core.domain.catalog import JsonValue, ModelSpec
    from kiebot_core.domain.pricing import PriceSettings

app = typer.Typer(help="Prices in KIE credits and Stars.", no_args_is_help=True)


@app.command("show")
def show_prices(
    ctx: typer.Context,
    model_id: Annotated[
        str | None, typer.Option("--model", "-m", help="Only this model (any, even disabled).")
    ] = None,
    show_all: Annotated[
        bool, typer.Option("--all", help="Include disabled models (with the reason).")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Every price row of every enabled model, with the Stars the current settings give."""
    context: CliContext = ctx.obj
    registry = context.registry
    models: tuple[ModelSpec, ...]
    if model_id is not None:
        models = (known_model(context, model_id),)
    else:
        models = registry.enabled()
        if show_all:
            models = (*models, *(m for m in registry.models if not m.enabled))
    prices = context.settings.prices
    if as_json:
        data = prices_json(models, prices, context.language)
        context.out.print_json(json.dumps(data, ensure_ascii=False))
        return
    context.out.print(price_settings_text(prices))
    context.out.print(prices_table(models, prices))


MARGIN_PERIOD = timedelta(days=30)
"""What ``pricing margin`` covers without ``--since``."""


def _total(rows: list[ModelMargin]) -> ModelMargin:
    return ModelMargin(
        model_id="total",
        generations=sum(row.generations for row in rows),
        stars=sum(row.stars for row in rows),
        credits_quoted=sum((row.credits_quoted for row in rows), Decimal(0)),
        credits_consumed=sum((row.credits_consumed for row in rows), Decimal(0)),
        reported=sum(row.reported for row in rows),
        quoted_reported=sum((row.quoted_reported for row in rows), Decimal(0)),
    )


def _margin_json(row: ModelMargin, prices: PriceSettings) -> dict[str, JsonValue]:
    return {
        "model": row.model_id,
        "generations": row.generations,
        "stars": row.stars,
        "credits_quoted": str(row.credits_quoted),
        "credits_consumed": str(row.credits_consumed),
        "reported": row.reported,
        "cost_stars": str(row.cost_in_stars(prices)),
        "margin_stars": str(row.margin_stars(prices)),
        "underpriced": row.underpriced,
    }


def _margin_cells(row: ModelMargin, prices: PriceSettings) -> tuple[str, ...]:
    return (
        row.model_id,
        str(row.generations),
        str(row.stars),
        str(row.credits_quoted),
        f"{row.credits_consumed} ({row.reported}/{row.generations})",
        f"{row.cost_in_stars(prices):.2f}",
        f"{row.margin_stars(prices):.2f}",
        "⚠ underpriced" if row.underpriced else "",
    )


async def _margins(settings: CliSettings, since: datetime) -> list[ModelMargin]:
    from kiebot_cli.wiring import open_bot_store

    async with open_bot_store(settings) as store, store() as uow:
        return await uow.reports.margin(since)


@app.command("margin")
@guarded
def margin(
    ctx: typer.Context,
    since: Annotated[
        datetime | None,
        typer.Option(
            "--since",
            metavar="DATE",
            parser=day_start,
            help=f"Generations created from: {DATE_HELP}; a date means the start of that "
            "UTC day (default: 30 days ago).",
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Per model: delivered generations, the Stars kept (captured minus refunded) and the KIE
    credits consumed at the operator's rate; a model whose runs consumed more credits than
    quoted is flagged underpriced.
    """
    import asyncio

    context: CliContext = ctx.obj
    start = since if since is not None else datetime.now(UTC) - MARGIN_PERIOD
    rows = asyncio.run(_margins(context.settings, start))
    prices, total = context.settings.prices, _total(rows)
    if as_json:
        data = {
            "since": start.isoformat(),
            "stars_per_credit": str(prices.stars_per_credit),
            "models": [_margin_json(row, prices) for row in rows],
            "total": _margin_json(total, prices),
        }
        context.out.print_json(json.dumps(data, ensure_ascii=False))
        return
    if not rows:
        context.out.print(f"No generations delivered since {moment_text(start)}")
        return
    context.out.print(
        f"Generations delivered since {moment_text(start)}. Quoted and consumed are KIE "
        "credits (consumed: of the runs KIE reported it for); kept, cost and margin are "
        f"Stars, the cost at {prices.stars_per_credit} ⭐ a credit (the operator's rate, "
        "before markup).",
        soft_wrap=True,
    )
    table = Table(title=f"{len(rows)} models", title_justify="left")
    table.add_column("Model", style="cyan", overflow="fold", min_width=10)
    for column in ("Runs", "Kept", "Quoted", "Consumed", "Cost", "Margin"):
        table.add_column(column, justify="right", no_wrap=True)
    table.add_column("", no_wrap=True)
    for n, row in enumerate(rows):
        table.add_row(*_margin_cells(row, prices), end_section=n == len(rows) - 1)
    table.add_row(*_margin_cells(total, prices), style="bold")
    context.out.print(table)
