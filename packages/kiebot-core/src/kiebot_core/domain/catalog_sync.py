"""Catalog updates without a release: read a catalog file, check it, and tell what it changes.

A sync file is either a **models file** — the KIE research catalog (``kie/models.json``) or the
registry's machine layer (``catalog.json``), optionally with ``ui_models``, ``ui_inputs`` and
``ui_flows`` objects that add to (and override) the current UI overlay — or a **price file**:
``{"price_overrides": {"<model id>": "<credits per unit>", ...}}``, the complete set of price
overrides (a model left out loses its override).

A candidate is accepted only when :func:`catalog_problems` finds nothing: the same checks the
registry test makes of the shipped catalog (every model passes the load-time checks, has its
texts in every language and is reachable from the menu). The stored catalog (the newest
``CatalogVersion``) then wins over the shipped one; the admins' model switches still apply on
top of it.
"""

import json
from collections.abc import Iterable, Mapping
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import attrs

from kiebot_core.domain.catalog import DisabledReason, InputSpec, ModelSpec, Registry
from kiebot_core.domain.catalog_source import is_research_catalog, machine_layer
from kiebot_core.domain.pricing import PriceSettings, price_lines, starting_price
from kiebot_core.domain.registry import CatalogDocument, build_registry, problems
from kiebot_core.domain.texts import Language

OVERLAY_PARTS = ("ui_models", "ui_inputs", "ui_flows")
PRICE_FILE_KEY = "price_overrides"


class SyncFileError(ValueError):
    """A sync file that is neither a models file nor a price file, or a malformed one."""


@attrs.frozen(kw_only=True)
class CatalogVersion:
    """One stored catalog: what the registry is built from until a newer version is stored."""

    version: int
    """1, 2, 3…: one more than the version it replaced."""
    document: CatalogDocument | None
    """The synced document; None means the catalog shipped with the running kiebot."""
    price_overrides: Mapping[str, Decimal] = attrs.field(factory=dict)
    """Model id → credits per unit, replacing the model's price table."""
    actor: str
    """Who stored it (``cli:<login>``)."""
    created_at: datetime
    summary: str = ""
    """What it changed, in one line (``2 new, 1 changed, 3 price changes``)."""

    def registry(self) -> Registry:
        """The registry this version describes (raises ValueError if it cannot be built)."""
        return build_registry(self.price_overrides, document=self.document)


def dump_document(document: CatalogDocument | None) -> str | None:
    """A stored version's document as JSON text (None stays None: the shipped catalog)."""
    if document is None:
        return None
    return json.dumps(document.to_json(), ensure_ascii=False, separators=(",", ":"))


def load_document(text: str | bytes | None) -> CatalogDocument | None:
    """The document :func:`dump_document` wrote. Raises ValueError for anything else."""
    if text is None:
        return None
    raw = json.loads(text)
    if not isinstance(raw, Mapping):
        raise ValueError("a stored catalog document must be a JSON object")  # noqa: TRY004  # ValueError is the contract
    return CatalogDocument.from_json(raw)


def dump_overrides(price_overrides: Mapping[str, Decimal]) -> str:
    """Price overrides as a JSON object of exact decimal strings."""
    return json.dumps({key: str(value) for key, value in sorted(price_overrides.items())})


def load_overrides(text: str | bytes) -> dict[str, Decimal]:
    """The price overrides :func:`dump_overrides` wrote."""
    raw = json.loads(text)
    if not isinstance(raw, Mapping):
        raise ValueError("stored price overrides must be a JSON object")  # noqa: TRY004  # ValueError is the contract
    return {str(key): Decimal(str(value)) for key, value in raw.items()}


@attrs.frozen(kw_only=True)
class CatalogRecord:
    """A stored version without its document: who stored what, when."""

    version: int
    actor: str
    created_at: datetime
    summary: str
    is_shipped: bool
    """True when the version follows the shipped catalog (only prices may be overridden)."""
    overrides: int
    """How many models have an overridden price."""


@attrs.frozen
class ModelsFile:
    """A models file: a new document (already merged with the current overlay)."""

    document: CatalogDocument
    kind: str
    """``research catalog`` or ``machine layer``, for messages."""


@attrs.frozen
class PriceFile:
    """A price file: the complete set of price overrides."""

    price_overrides: Mapping[str, Decimal]


def _overrides(raw: object) -> dict[str, Decimal]:
    if not isinstance(raw, Mapping):
        raise SyncFileError(f'"{PRICE_FILE_KEY}" must be an object of model id → credits')
    found: dict[str, Decimal] = {}
    for model_id, value in raw.items():
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise SyncFileError(
                f"{model_id}: the price must be a number of credits, not {value!r}"
            )
        try:
            credits = Decimal(str(value))
        except InvalidOperation:
            raise SyncFileError(f"{model_id}: {value!r} is not a number of credits") from None
        if not credits.is_finite() or credits <= 0:
            raise SyncFileError(f"{model_id}: the price must be more than 0 credits, not {value}")
        found[str(model_id)] = credits
    return found


def read_sync_file(raw: object, current: CatalogDocument) -> ModelsFile | PriceFile:
    """What the parsed JSON file ``raw`` asks for, its overlay merged over ``current``'s.

    Raises ``SyncFileError`` naming the problem when ``raw`` is neither a models file nor a
    price file.
    """
    if not isinstance(raw, Mapping):
        raise SyncFileError("expected a JSON object")
    if PRICE_FILE_KEY in raw:
        if set(raw) != {PRICE_FILE_KEY}:
            extra = ", ".join(sorted(set(raw) - {PRICE_FILE_KEY}))
            raise SyncFileError(f"a price file holds only {PRICE_FILE_KEY!r}, not also {extra}")
        return PriceFile(_overrides(raw[PRICE_FILE_KEY]))
    if not isinstance(raw.get("models"), list) or not raw["models"]:
        raise SyncFileError(
            'expected a models file ({"models": [...]}) or a price file '
            f'({{"{PRICE_FILE_KEY}": {{...}}}})'
        )
    if is_research_catalog(raw):
        try:
            catalog, kind = machine_layer(raw), "research catalog"
        except (KeyError, TypeError, AttributeError) as error:
            raise SyncFileError(
                f"malformed research catalog: {type(error).__name__}: {error}"
            ) from None
    else:
        catalog = {key: value for key, value in raw.items() if key not in OVERLAY_PARTS}
        kind = "machine layer"
    ids = {model.get("id") for model in catalog["models"] if isinstance(model, Mapping)}
    parts: dict[str, Mapping[str, Any]] = {}
    for part in OVERLAY_PARTS:
        given = raw.get(part, {})
        if not isinstance(given, Mapping):
            raise SyncFileError(f'"{part}" must be an object')
        parts[part] = {**getattr(current, part), **given}
    # The overlay follows the models: entries of models the file no longer has are dropped.
    parts["ui_models"] = {key: value for key, value in parts["ui_models"].items() if key in ids}
    document = CatalogDocument(
        catalog=catalog,
        ui_models=parts["ui_models"],
        ui_inputs=parts["ui_inputs"],
        ui_flows=parts["ui_flows"],
    )
    return ModelsFile(document, kind)


def catalog_problems(registry: Registry) -> list[str]:
    """Everything that keeps ``registry`` from being served; empty when it can be.

    These are the registry test's checks of the shipped catalog: no model is disabled for an
    invalid spec (legacy and unpriced models may be), every model and input has its texts in
    every language, every enabled model passes the load-time checks, and every flow of an
    enabled model is in a menu section and has a title.
    """
    found: list[str] = []
    shown = {flow for section in registry.sections for flow in section.flows}
    for model in registry.models:
        if model.disabled is DisabledReason.INVALID_SPEC:
            found.append(f"{model.id}: {model.disabled_detail}")
        for language in Language:
            if not (model.title(language).strip() and model.pitch(language).strip()):
                found.append(f"{model.id}: no title or pitch in {language.value}")
            found.extend(
                f"{model.id}: input {spec.name} lacks a title, help or example in {language}"
                for spec in model.inputs
                if not (
                    spec.ui.title(language).strip()
                    and spec.ui.help(language).strip()
                    and spec.ui.example(language).strip()
                )
            )
    for model in registry.enabled():
        found.extend(f"{model.id}: {problem}" for problem in problems(model, registry.sections))
        for flow in model.flows:
            if flow not in shown:
                found.append(f"{model.id}: flow {flow} is in no menu section")
            elif flow not in registry.flow_titles:
                found.append(f"{model.id}: flow {flow} has no title")
    return list(dict.fromkeys(found))


@attrs.frozen
class ModelChange:
    """A model in both catalogs whose spec or texts differ (prices are told apart)."""

    model_id: str
    what: tuple[str, ...]
    """What differs: ``inputs +seed -style ~prompt``, ``flow``, ``texts``…"""


@attrs.frozen
class PriceChange:
    """A model whose price table differs (a model with a new or a lost price included)."""

    model_id: str
    old_credits: Decimal | None
    """The cheapest rate before (None: no price)."""
    new_credits: Decimal | None
    old_stars: int | None
    """The "from N ⭐" users saw, at the settings the diff was made with."""
    new_stars: int | None
    rows_before: int
    rows_after: int


@attrs.frozen
class AvailabilityChange:
    """A model that could run before and not now, or the other way round."""

    model_id: str
    before: DisabledReason | None
    after: DisabledReason | None


@attrs.frozen
class CatalogDiff:
    """What replacing one registry with another changes, by model id (each list sorted)."""

    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    changed: tuple[ModelChange, ...] = ()
    prices: tuple[PriceChange, ...] = ()
    availability: tuple[AvailabilityChange, ...] = ()
    menu_changed: bool = False
    """The main menu's sections or the flows' titles differ."""

    @property
    def is_empty(self) -> bool:
        """True when nothing changes."""
        return not (
            self.added
            or self.removed
            or self.changed
            or self.prices
            or self.availability
            or self.menu_changed
        )

    def summary(self) -> str:
        """One line: ``2 new, 1 removed, 3 changed, 4 price changes, 1 availability change``."""
        parts = [
            (len(self.added), "new", "new"),
            (len(self.removed), "removed", "removed"),
            (len(self.changed), "changed", "changed"),
            (len(self.prices), "price change", "price changes"),
            (len(self.availability), "availability change", "availability changes"),
        ]
        said = [f"{count} {one if count == 1 else many}" for count, one, many in parts if count]
        if self.menu_changed:
            said.append("menu changed")
        return ", ".join(said) or "no changes"

    def to_json(self) -> dict[str, Any]:
        """The diff as plain JSON (for ``--json`` and the audit trail)."""

        def number(value: Decimal | None) -> str | None:
            return None if value is None else str(value)

        return {
            "added": list(self.added),
            "removed": list(self.removed),
            "changed": [{"model": c.model_id, "what": list(c.what)} for c in self.changed],
            "prices": [
                {
                    "model": p.model_id,
                    "old_credits": number(p.old_credits),
                    "new_credits": number(p.new_credits),
                    "old_stars": p.old_stars,
                    "new_stars": p.new_stars,
                    "rows_before": p.rows_before,
                    "rows_after": p.rows_after,
                }
                for p in self.prices
            ],
            "availability": [
                {"model": a.model_id, "before": a.before, "after": a.after}
                for a in self.availability
            ],
            "menu_changed": self.menu_changed,
        }


def _texts(model: ModelSpec) -> tuple[object, ...]:
    return (
        model.title,
        model.pitch,
        tuple((spec.name, spec.ui) for spec in model.inputs),
    )


def _machine(spec: InputSpec) -> tuple[object, ...]:
    """The input without its texts (those are compared apart)."""
    return tuple(
        getattr(spec, field.name) for field in attrs.fields(InputSpec) if field.name != "ui"
    )


def _input_changes(old: ModelSpec, new: ModelSpec) -> str | None:
    before = {spec.name: _machine(spec) for spec in old.inputs}
    after = {spec.name: _machine(spec) for spec in new.inputs}
    marks = [f"+{name}" for name in after if name not in before]
    marks += [f"-{name}" for name in before if name not in after]
    marks += [f"~{name}" for name in after if name in before and before[name] != after[name]]
    return f"inputs {' '.join(marks)}" if marks else None


_PLAIN_FIELDS = (
    ("family", "family"),
    ("category", "category"),
    ("flow", "flow"),
    ("modes", "modes"),
    ("status", "status"),
    ("result_kind", "result kind"),
    ("asked", "asked inputs"),
    ("rules", "rules"),
    ("popularity", "popularity"),
    ("tags", "tags"),
    ("notes", "notes"),
)


def _model_changes(old: ModelSpec, new: ModelSpec) -> tuple[str, ...]:
    what = [label for field, label in _PLAIN_FIELDS if getattr(old, field) != getattr(new, field)]
    inputs = _input_changes(old, new)
    if inputs:
        what.append(inputs)
    if _texts(old) != _texts(new):
        what.append("texts")
    return tuple(what)


def _cheapest(model: ModelSpec) -> Decimal | None:
    return min((line.credits for line in price_lines(model, PriceSettings())), default=None)


def _rows(model: ModelSpec) -> int:
    return len(price_lines(model, PriceSettings()))


def diff_registries(old: Registry, new: Registry, prices: PriceSettings) -> CatalogDiff:
    """What serving ``new`` instead of ``old`` changes (Stars at ``prices``)."""
    old_ids = {model.id for model in old.models}
    new_ids = {model.id for model in new.models}
    changed: list[ModelChange] = []
    price_changes: list[PriceChange] = []
    availability: list[AvailabilityChange] = []
    for model_id in sorted(old_ids & new_ids):
        before, after = old.get(model_id), new.get(model_id)
        if before is None or after is None:  # pragma: no cover - both ids come from them
            continue
        what = _model_changes(before, after)
        if what:
            changed.append(ModelChange(model_id, what))
        if before.price != after.price:
            price_changes.append(
                PriceChange(
                    model_id,
                    _cheapest(before),
                    _cheapest(after),
                    starting_price(before, prices),
                    starting_price(after, prices),
                    _rows(before),
                    _rows(after),
                )
            )
        if before.disabled != after.disabled:
            availability.append(AvailabilityChange(model_id, before.disabled, after.disabled))
    return CatalogDiff(
        added=tuple(sorted(new_ids - old_ids)),
        removed=tuple(sorted(old_ids - new_ids)),
        changed=tuple(changed),
        prices=tuple(price_changes),
        availability=tuple(availability),
        menu_changed=old.sections != new.sections
        or dict(old.flow_titles) != dict(new.flow_titles),
    )


def unknown_models(price_overrides: Iterable[str], registry: Registry) -> list[str]:
    """The model ids of ``price_overrides`` the registry does not have, sorted."""
    return sorted(model_id for model_id in price_overrides if registry.get(model_id) is None)
