"""``kiebot models list|show|sync|versions``: the registry from a terminal."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated

import typer

from kiebot_cli.commands import catalog
from kiebot_cli.errors import fail, guarded
from kiebot_cli.render import flows_of, model_card, model_json, model_row, models_table
from kiebot_core.domain.catalog import Category, ModelSpec

if TYPE_CHECKING:
    from kiebot_cli.context import CliContext

app = typer.Typer(help="Browse the model registry.", no_args_is_help=True)


def known_model(context: CliContext, model_id: str) -> ModelSpec:
    """The model ``model_id`` (enabled or not); else exit 2 naming up to 5 close ids."""
    model = context.registry.get(model_id)
    if model is None:
        close = [m.id for m in context.registry.search(model_id.replace("/", " "))][:5]
        hint = f"; did you mean: {', '.join(close)}" if close else ""
        fail(context.err, f"no model {model_id!r}{hint}")
    return model


@app.command("list")
def list_models(
    ctx: typer.Context,
    category: Annotated[
        Category | None, typer.Option("--category", "-c", help="image, video or audio.")
    ] = None,
    flow: Annotated[
        str | None, typer.Option("--flow", "-f", help="e.g. text_to_image, image_to_video.")
    ] = None,
    search: Annotated[
        str | None, typer.Option("--search", "-s", help="Words to find in ids, titles, tags.")
    ] = None,
    show_all: Annotated[
        bool, typer.Option("--all", help="Include disabled models (with the reason).")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List models, most popular first."""
    context: CliContext = ctx.obj
    registry = context.registry
    if flow is not None and flow not in flows_of(registry):
        fail(context.err, f"unknown flow {flow!r}; one of: {', '.join(flows_of(registry))}")
    models = registry.search(search) if search else registry.enabled()
    if show_all and not search:
        models = (*models, *(m for m in registry.models if not m.enabled))
    if category is not None:
        models = tuple(m for m in models if m.category is category)
    if flow is not None:
        models = tuple(m for m in models if flow in m.flows)
    prices = context.settings.prices
    if as_json:
        rows = [model_row(m, prices, context.language) for m in models]
        context.out.print_json(json.dumps(rows, ensure_ascii=False))
        return
    context.out.print(models_table(models, prices, context.language))


@app.command("show")
def show_model(
    ctx: typer.Context,
    model_id: Annotated[str, typer.Argument(help="A model id from `kiebot models list`.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Show one model: inputs, allowed values, defaults and prices."""
    context: CliContext = ctx.obj
    model = known_model(context, model_id)
    if as_json:
        context.out.print_json(
            json.dumps(
                model_json(model, context.settings.prices, context.language), ensure_ascii=False
            )
        )
        return
    context.out.print(model_card(model, context.settings.prices, context.language))


app.command("sync")(guarded(catalog.sync))
app.command("versions")(guarded(catalog.versions))
