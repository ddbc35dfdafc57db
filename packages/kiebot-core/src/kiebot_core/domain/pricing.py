"""Pricing: KIE credits for a concrete parameter combination, and the user's price in Stars.

Credits are exact ``Decimal`` values from the catalog; Stars are integers. Nothing here uses
floats for money. A combination the price table does not cover is not offered; an amount that
depends on something not yet known (the length of the user's media, the source resolution)
is quoted at the longest allowed case and flagged ``is_upper_bound``.
"""

from collections.abc import Callable, Mapping
from decimal import ROUND_CEILING, Decimal

import attrs

from kiebot_core.domain.catalog import (
    InputKind,
    JsonValue,
    MediaKind,
    ModelSpec,
    PriceBasis,
    PriceRow,
    Registry,
)
from kiebot_core.domain.outcomes import Rejected
from kiebot_core.domain.reasons import ReasonCode
from kiebot_core.domain.texts import Localized

Stars = int
"""An amount of Telegram Stars (XTR): always an integer."""


@attrs.frozen
class PriceSettings:
    """The operator's conversion from KIE credits to Stars."""

    stars_per_credit: Decimal = Decimal("0.4")
    markup_percent: int = 100
    min_stars: Stars = 1

    def to_stars(self, credits: Decimal) -> Stars:
        """Credits to Stars with the markup, rounded up, never below ``min_stars``."""
        raw = credits * self.stars_per_credit * (100 + self.markup_percent) / 100
        return max(self.min_stars, int(raw.to_integral_value(rounding=ROUND_CEILING)))


@attrs.frozen
class MediaFacts:
    """What is known about the user's media before a run (None when unknown)."""

    media_seconds: Decimal | None = None
    source_resolution: str | None = None
    output_pixels: int | None = None

    @classmethod
    def of(
        cls, answers: Mapping[str, JsonValue], durations: Mapping[str, Decimal]
    ) -> "MediaFacts":
        """The facts of ``answers``: the longest of their files measured in ``durations``."""
        given = {
            url
            for value in answers.values()
            for url in (value if isinstance(value, list) else [value])
            if isinstance(url, str)
        }
        known = [seconds for url, seconds in durations.items() if url in given]
        return cls(media_seconds=max(known) if known else None)


@attrs.frozen
class Quote:
    """The price of one run."""

    model_id: str
    credits: Decimal
    stars: Stars
    is_upper_bound: bool = False
    """True when part of the amount is a longest-case estimate; the capture may be lower."""


# Output area of the image-size presets KIE's per-megapixel models use (width x height).
PRESET_PIXELS: Mapping[str, int] = {
    "square": 512 * 512,
    "square_hd": 1024 * 1024,
    "portrait_4_3": 768 * 1024,
    "portrait_3_2": 683 * 1024,
    "portrait_16_9": 576 * 1024,
    "landscape_4_3": 1024 * 768,
    "landscape_3_2": 1024 * 683,
    "landscape_16_9": 1024 * 576,
    "landscape_21_9": 1024 * 439,
}
_UPSCALE_TIERS = ((2048 * 2048, "<=2K"), (4096 * 4096, "4K"))


def canonical(value: JsonValue) -> str:
    """A comparison key equal for ``"5"``, ``5`` and ``5.0``, and for ``true``/``True``."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def effective_values(model: ModelSpec, values: Mapping[str, JsonValue]) -> dict[str, JsonValue]:
    """``values`` over the documented defaults: what KIE will actually use."""
    defaults = {spec.name: spec.default for spec in model.inputs if spec.has_default}
    return defaults | {name: value for name, value in values.items() if value is not None}


def _has_video_input(
    model: ModelSpec, values: Mapping[str, JsonValue], _: MediaFacts
) -> JsonValue:
    return any(
        spec.media_kind is MediaKind.VIDEO and bool(values.get(spec.name)) for spec in model.inputs
    )


def _upscale_output_tier(
    _: ModelSpec, __: Mapping[str, JsonValue], facts: MediaFacts
) -> JsonValue:
    if facts.output_pixels is None:
        return None
    return next((tier for limit, tier in _UPSCALE_TIERS if facts.output_pixels <= limit), "8K")


def _source_resolution(_: ModelSpec, __: Mapping[str, JsonValue], facts: MediaFacts) -> JsonValue:
    return facts.source_resolution


Fact = Callable[[ModelSpec, Mapping[str, JsonValue], MediaFacts], JsonValue]

# Price-table keys that are facts, not inputs: one small named function each (None: unknown).
DERIVED_FACTS: Mapping[str, Fact] = {
    "video_input": _has_video_input,
    "output": _upscale_output_tier,
    "resolution": _source_resolution,
}


def rate(
    model: ModelSpec, values: Mapping[str, JsonValue], facts: MediaFacts = MediaFacts()
) -> tuple[Decimal, bool] | None:
    """The per-unit credits for these effective values and whether it is a longest case.

    None when the combination is not in the price table (the option is not offered).
    """
    price = model.price
    if not price.rows:
        return None if price.credits is None else (price.credits, False)
    known: dict[str, str] = {}
    unknown = False
    for key in price.keys:
        if model.input(key) is not None:
            value = values.get(key)
        elif key in DERIVED_FACTS:
            value = DERIVED_FACTS[key](model, values, facts)
        else:
            value = None
        if value is None:
            unknown = True
        else:
            known[key] = canonical(value)
    matching = [
        row.credits
        for row in price.rows
        if all(
            key not in known or known[key] in {canonical(alt) for alt in alternatives}
            for key, alternatives in row.when.items()
        )
    ]
    if not matching:
        return None
    return max(matching), unknown and len(set(matching)) > 1


def _count(model: ModelSpec, values: Mapping[str, JsonValue]) -> int:
    name = model.price.count_input
    value = values.get(name) if name else None
    if value is None or isinstance(value, bool | list | dict):
        return model.price.count_when_omitted if name else 1
    return int(Decimal(str(value)))


def _seconds(
    model: ModelSpec, values: Mapping[str, JsonValue], facts: MediaFacts
) -> tuple[Decimal, bool] | None:
    price = model.price
    duration = values.get(price.duration_input) if price.duration_input else None
    if isinstance(duration, int | float | str) and not isinstance(duration, bool):
        seconds = Decimal(str(duration))
        if seconds > 0:
            return seconds, False
    if price.frames_inputs is not None:
        frames, fps = (values.get(name) for name in price.frames_inputs)
        if isinstance(frames, int | float) and isinstance(fps, int | float) and fps > 0:
            return Decimal(str(frames)) / Decimal(str(fps)), False
    if facts.media_seconds is not None:
        return facts.media_seconds, False
    if price.max_seconds is not None:
        return Decimal(price.max_seconds), True
    return None


def _megapixels(
    model: ModelSpec, values: Mapping[str, JsonValue], facts: MediaFacts
) -> tuple[Decimal, bool] | None:
    size = values.get("image_size")
    if isinstance(size, str) and size in PRESET_PIXELS:
        return Decimal(PRESET_PIXELS[size]) / 1_000_000, False
    if facts.output_pixels is not None:
        return Decimal(facts.output_pixels) / 1_000_000, False
    if model.price.max_megapixels is not None:
        return model.price.max_megapixels, True
    return None


def _characters(model: ModelSpec, values: Mapping[str, JsonValue]) -> int:
    total = 0
    for spec in model.inputs:
        value = values.get(spec.name)
        if spec.kind is InputKind.STRING and spec.name == "text" and isinstance(value, str):
            total += len(value)
        elif spec.kind is InputKind.ARRAY and isinstance(value, list):
            total += sum(
                len(text)
                for item in value
                if isinstance(item, dict) and isinstance(text := item.get("text"), str)
            )
    return total


def _quantity(
    model: ModelSpec, values: Mapping[str, JsonValue], facts: MediaFacts
) -> tuple[Decimal, bool] | None:
    count = Decimal(_count(model, values))
    match model.price.basis:
        case PriceBasis.RUN:
            return Decimal(1), False
        case PriceBasis.OUTPUT:
            return count, False
        case PriceBasis.SECOND:
            return _seconds(model, values, facts)
        case PriceBasis.MEGAPIXEL:
            area = _megapixels(model, values, facts)
            return None if area is None else (area[0] * count, area[1])
        case PriceBasis.KCHAR:
            return Decimal(_characters(model, values)) / 1000, False


def credits_for(
    model: ModelSpec, values: Mapping[str, JsonValue], facts: MediaFacts = MediaFacts()
) -> tuple[Decimal, bool] | Rejected:
    """KIE credits of one run with ``values`` (answers; defaults are applied here).

    Returns the amount and whether it is an upper bound, or ``Rejected(PRICE_UNKNOWN)`` when
    the price table has no row for this combination or the quantity cannot be bounded.
    """
    effective = effective_values(model, values)
    per_unit = rate(model, effective, facts)
    quantity = _quantity(model, effective, facts)
    if per_unit is None or quantity is None:
        return Rejected(
            ReasonCode.PRICE_UNKNOWN, detail=f"no price for {model.id} with these inputs"
        )
    return per_unit[0] * quantity[0], per_unit[1] or quantity[1]


def quote(
    model: ModelSpec,
    values: Mapping[str, JsonValue],
    settings: PriceSettings,
    facts: MediaFacts = MediaFacts(),
) -> Quote | Rejected:
    """The price of one run of ``model`` with ``values``, or why it has none."""
    amount = credits_for(model, values, facts)
    if isinstance(amount, Rejected):
        return amount
    credits, is_upper_bound = amount
    return Quote(model.id, credits, settings.to_stars(credits), is_upper_bound)


def option_prices(
    model: ModelSpec,
    values: Mapping[str, JsonValue],
    input_name: str,
    options: tuple[JsonValue, ...],
    settings: PriceSettings,
    *,
    facts: MediaFacts = MediaFacts(),
) -> dict[str, Stars | None]:
    """The price each option of ``input_name`` would give, keyed by ``canonical(option)``.

    None marks an option the price table does not offer with the other choices made.
    """
    prices: dict[str, Stars | None] = {}
    for option in options:
        result = quote(model, {**values, input_name: option}, settings, facts)
        prices[canonical(option)] = None if isinstance(result, Rejected) else result.stars
    return prices


def cheapest_for_flow(
    registry: Registry, flow: str, settings: PriceSettings
) -> tuple[ModelSpec, Quote] | None:
    """The enabled model that does ``flow`` at the lowest price with its defaults."""
    priced = [
        (model, result)
        for model in registry.by_flow(flow)
        if isinstance(result := quote(model, {}, settings), Quote)
    ]
    return min(priced, key=lambda pair: (pair[1].credits, pair[0].id), default=None)


@attrs.frozen
class PriceLine:
    """One row of a model's price table: its rate in KIE credits and in Stars."""

    when: Mapping[str, tuple[JsonValue, ...]]
    """The values the row applies to, each key one of its alternatives (empty: always)."""
    credits: Decimal
    """KIE credits per unit of the model's ``PriceSpec.basis`` (exact)."""
    stars: Stars
    """``credits`` in Stars with the settings the line was made with."""


def price_lines(model: ModelSpec, settings: PriceSettings) -> tuple[PriceLine, ...]:
    """Every row of ``model``'s price table, in table order.

    A flat rate is one line with an empty ``when``; a model without a price has none.
    """
    price = model.price
    rows = price.rows or (() if price.credits is None else (PriceRow({}, price.credits),))
    return tuple(PriceLine(row.when, row.credits, settings.to_stars(row.credits)) for row in rows)


def starting_price(model: ModelSpec, settings: PriceSettings) -> Stars | None:
    """The "from N ⭐" figure: the cheapest row (or the flat rate) for one unit of output."""
    return min((line.stars for line in price_lines(model, settings)), default=None)


@attrs.frozen
class Alternative:
    """A cheaper model for a flow, and its "from N ⭐" price."""

    flow: str
    flow_title: Localized
    model: ModelSpec
    stars: Stars


_WHOLE_RUN_BASES = frozenset({PriceBasis.RUN, PriceBasis.OUTPUT})


def cheaper_alternative(
    registry: Registry, model: ModelSpec, current: Quote, settings: PriceSettings
) -> Alternative | None:
    """The cheapest other model of ``model``'s main flow whose starting price is below ``current``.

    Candidates are enabled and have that flow as their own main flow (a model doing it as an
    extra mode may have its cheapest row in another mode); ties go to the more popular one;
    None when no candidate is cheaper. Only comparable prices are compared: ``current`` must be
    exact (an upper bound may be far above what the run will cost), and candidates are priced
    per run or per output, whose starting price is the price of a whole run (a per-second,
    per-megapixel or per-1000-characters one is not, and would promise a saving the run may
    not give).
    """
    if current.is_upper_bound:
        return None
    flow = model.flow
    priced = [
        (candidate, stars)
        for candidate in registry.by_flow(flow)
        if candidate.flow == flow
        and candidate.id != model.id
        and candidate.price.basis in _WHOLE_RUN_BASES
        and (stars := starting_price(candidate, settings)) is not None
    ]
    best = min(priced, key=lambda pair: pair[1], default=None)
    if best is None or best[1] >= current.stars:
        return None
    return Alternative(flow, registry.flow_titles[flow], best[0], best[1])
