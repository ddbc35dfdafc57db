"""Pure rendering: registry objects to rich renderables and to JSON-ready dicts."""

from collections.abc import Mapping

from rich.console import Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from kiebot_core.domain.catalog import InputSpec, JsonValue, ModelSpec, Registry
from kiebot_core.domain.pricing import (
    PriceLine,
    PriceSettings,
    canonical,
    price_lines,
    starting_price,
)
from kiebot_core.domain.texts import Language


def _value(value: JsonValue) -> str:
    return "" if value is None else canonical(value)


def when_text(when: Mapping[str, tuple[JsonValue, ...]]) -> str:
    """A price row's condition: ``resolution=720p|1080p, duration=10``, or ``always``."""
    if not when:
        return "always"
    return ", ".join(
        f"{key}={'|'.join(canonical(alt) for alt in alts)}" for key, alts in when.items()
    )


def _allowed(spec: InputSpec) -> str:
    if spec.enum is not None:
        return " | ".join(canonical(option) for option in spec.enum)
    limits = []
    if spec.minimum is not None or spec.maximum is not None:
        low = "" if spec.minimum is None else f"{spec.minimum:g}"
        high = "" if spec.maximum is None else f"{spec.maximum:g}"
        limits.append(f"{low}..{high}")
    if spec.max_length is not None:
        limits.append(f"≤ {spec.max_length} chars")
    if spec.max_items is not None or spec.min_items is not None:
        limits.append(f"{spec.min_items or 0}..{spec.max_items or ''} items")
    if spec.media_kind is not None:
        limits.append(f"{spec.media_kind} file (@path) or URL")
    return ", ".join(limits)


def model_row(
    model: ModelSpec, settings: PriceSettings, language: Language
) -> dict[str, JsonValue]:
    """One model as ``models list --json`` prints it."""
    return {
        "id": model.id,
        "title": model.title(language),
        "category": model.category.value,
        "flow": model.flow,
        "flows": list(model.flows),
        "from_stars": starting_price(model, settings),
        "popularity": model.popularity,
        "enabled": model.enabled,
        "disabled_reason": model.disabled.value if model.disabled else None,
    }


def models_table(
    models: tuple[ModelSpec, ...], settings: PriceSettings, language: Language
) -> Table:
    """The ``models list`` table."""
    table = Table(title=f"{len(models)} models", title_justify="left")
    table.add_column("ID", style="bold cyan", no_wrap=True)
    table.add_column("Title")
    table.add_column("Flow")
    table.add_column("From", justify="right")
    for model in models:
        price = starting_price(model, settings)
        status = "" if model.enabled else f"  [dim](disabled: {model.disabled})[/dim]"
        table.add_row(
            model.id,
            model.title(language) + status,
            ", ".join(model.flows),
            "" if price is None else f"{price} ⭐",
        )
    return table


def model_json(
    model: ModelSpec, settings: PriceSettings, language: Language
) -> dict[str, JsonValue]:
    """Everything ``models show --json`` prints about one model."""
    return model_row(model, settings, language) | {
        "pitch": model.pitch(language),
        "result_kind": model.result_kind.value,
        "inputs": [
            {
                "name": spec.name,
                "type": spec.kind.value,
                "required": spec.required,
                "asked": spec.name in model.asked,
                "default": spec.default,
                "enum": list(spec.enum) if spec.enum is not None else None,
                "min": spec.minimum,
                "max": spec.maximum,
                "max_length": spec.max_length,
                "min_items": spec.min_items,
                "max_items": spec.max_items,
                "title": spec.ui.title(language),
                "help": spec.ui.help(language),
                "example": spec.ui.example(language),
            }
            for spec in model.inputs
        ],
        "price": {
            "basis": model.price.basis.value,
            "unit": model.price.unit,
            "rows": [
                {
                    "when": {key: list(alts) for key, alts in row.when.items()},
                    "credits": str(row.credits),
                    "stars": settings.to_stars(row.credits),
                }
                for row in model.price.rows
            ],
            "credits": None if model.price.credits is None else str(model.price.credits),
        },
    }


def model_card(model: ModelSpec, settings: PriceSettings, language: Language) -> Panel:
    """The ``models show`` card: pitch, inputs with allowed values and defaults, prices."""
    inputs = Table(box=None, pad_edge=False, show_header=True, header_style="bold")
    inputs.add_column("Input", style="cyan", no_wrap=True)
    inputs.add_column("Type")
    inputs.add_column("Default")
    inputs.add_column("Allowed")
    inputs.add_column("Help")
    for spec in model.inputs:
        marker = "*" if spec.required else ("" if spec.name in model.asked else " (advanced)")
        inputs.add_row(
            spec.name + marker,
            spec.kind.value,
            _value(spec.default),
            _allowed(spec),
            spec.ui.help(language),
        )
    prices = Table(box=None, pad_edge=False, show_header=True, header_style="bold")
    prices.add_column("When")
    prices.add_column("Credits", justify="right")
    prices.add_column("Stars", justify="right")
    for line in price_lines(model, settings):
        prices.add_row(when_text(line.when), str(line.credits), f"{line.stars} ⭐")
    heading = Text.assemble((model.title(language), "bold"), "  ", (model.id, "cyan"))
    notes = (
        []
        if model.enabled
        else [Text(f"Disabled: {model.disabled} {model.disabled_detail}", style="red")]
    )
    return Panel(
        Group(
            Text(model.pitch(language)),
            *notes,
            Text(""),
            inputs,
            Text("* required", style="dim"),
            Text(""),
            Text(f"Price ({model.price.unit})", style="bold"),
            prices,
        ),
        title=heading,
        title_align="left",
    )


def flows_of(registry: Registry) -> list[str]:
    """Every flow some model has, in menu order."""
    return [flow for section in registry.sections for flow in section.flows]


def price_settings_text(settings: PriceSettings) -> str:
    """The operator's conversion in one line (the header of ``pricing show``)."""
    return (
        f"1 credit = {settings.stars_per_credit} ⭐ · markup {settings.markup_percent} % · "
        f"minimum {settings.min_stars} ⭐ (Stars are rounded up)"
    )


def _line_json(line: PriceLine) -> dict[str, JsonValue]:
    return {
        "when": {key: list(alts) for key, alts in line.when.items()},
        "credits": str(line.credits),
        "stars": line.stars,
    }


def prices_json(
    models: tuple[ModelSpec, ...], settings: PriceSettings, language: Language
) -> dict[str, JsonValue]:
    """Everything ``pricing show --json`` prints: the settings and each model's price lines."""
    return {
        "settings": {
            "stars_per_credit": str(settings.stars_per_credit),
            "markup_percent": settings.markup_percent,
            "min_stars": settings.min_stars,
        },
        "models": [
            {
                "id": model.id,
                "title": model.title(language),
                "enabled": model.enabled,
                "disabled_reason": model.disabled.value if model.disabled else None,
                "basis": model.price.basis.value,
                "unit": model.price.unit,
                "prices": [_line_json(line) for line in price_lines(model, settings)],
            }
            for model in models
        ],
    }


def prices_table(models: tuple[ModelSpec, ...], settings: PriceSettings) -> Table:
    """The ``pricing show`` table: one row per price line; the model (with why it is disabled)
    and its basis on its first line.
    """
    table = Table(title=f"{len(models)} models", title_justify="left")
    table.add_column("Model", style="cyan", overflow="fold")
    table.add_column("Basis", overflow="fold")
    table.add_column("When", overflow="fold")
    table.add_column("Credits", justify="right", no_wrap=True)
    table.add_column("Stars", justify="right", no_wrap=True)
    for model in models:
        name = Text(model.id, style="bold")
        if not model.enabled:
            name.append(f"\ndisabled: {model.disabled}", style="red")
        lines = price_lines(model, settings)
        if not lines:
            table.add_row(name, model.price.unit, "no price", "", "", end_section=True)
        for n, line in enumerate(lines):
            table.add_row(
                "" if n else name,
                "" if n else model.price.unit,
                when_text(line.when),
                str(line.credits),
                f"{line.stars} ⭐",
                end_section=n == len(lines) - 1,
            )
    return table
