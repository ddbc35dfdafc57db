"""Catalog updates without a release: plan a sync (check the file, tell the diff), then apply it.

``plan_catalog_sync`` reads nothing but the stored catalog and changes nothing; the shell shows
its diff and asks. ``apply_catalog_sync`` stores the plan as the next catalog version with the
operator's audit entry, in one transaction, and only if no other sync was stored since the
plan was made. Every bot instance hears of the new version when it commits and serves it
(``LoadActiveRegistry``).
"""

from collections.abc import Mapping
from decimal import Decimal

import attrs

from kiebot_core.domain.audit import Actor, AuditAction
from kiebot_core.domain.catalog import Registry
from kiebot_core.domain.catalog_sync import (
    CatalogDiff,
    CatalogRecord,
    CatalogVersion,
    ModelsFile,
    PriceFile,
    SyncFileError,
    catalog_problems,
    diff_registries,
    read_sync_file,
    unknown_models,
)
from kiebot_core.domain.errors import StaleWriteError
from kiebot_core.domain.outcomes import Rejected
from kiebot_core.domain.pricing import PriceSettings
from kiebot_core.domain.reasons import ReasonCode
from kiebot_core.domain.registry import CatalogDocument, build_registry, shipped_document
from kiebot_core.ports.runtime import Clock
from kiebot_core.ports.storage import UnitOfWorkFactory
from kiebot_core.use_cases.audit import audited
from kiebot_core.use_cases.catalog import stored_registry

SHIPPED = "shipped catalog"
PRICES = "price overrides"


@attrs.frozen(kw_only=True)
class SyncPlan:
    """A checked catalog change: what it would store, and what that changes."""

    base_version: int
    """The stored version it was planned against (0: none); it is stored as the next one."""
    kind: str
    """``research catalog``, ``machine layer``, ``price overrides`` or ``shipped catalog``."""
    document: CatalogDocument | None
    """The document to store (None: follow the catalog this kiebot ships)."""
    price_overrides: Mapping[str, Decimal]
    registry: Registry
    """The registry it makes (before the admins' switches)."""
    diff: CatalogDiff
    """What it changes against the registry served now (before the switches)."""
    overrides_before: Mapping[str, Decimal]
    """The price overrides stored now (for the audit trail)."""


def _invalid(problems: list[str]) -> Rejected:
    return Rejected(ReasonCode.CATALOG_INVALID, detail="\n".join(problems))


async def plan_catalog_sync(
    store: UnitOfWorkFactory,
    shipped: Registry,
    prices: PriceSettings,
    raw: object | None,
) -> SyncPlan | Rejected:
    """Check the parsed catalog file ``raw`` (None: go back to the shipped catalog).

    A models file keeps the stored price overrides of the models it still has; a price file
    replaces them all and keeps the stored document; going back to the shipped catalog keeps
    the overrides of the models it has. Returns ``Rejected(CATALOG_INVALID)`` with every
    problem (one per line of ``detail``) when the file cannot be read, the catalog cannot be
    built, an override names an unknown model, or any registry check fails.
    """
    async with store() as uow:
        current = await uow.catalogs.current()
    serving = stored_registry(current, shipped)
    document = current.document if current is not None else None
    overrides: Mapping[str, Decimal] = current.price_overrides if current is not None else {}
    try:
        parsed = None if raw is None else read_sync_file(raw, document or shipped_document())
    except SyncFileError as problem:
        return _invalid([str(problem)])
    kind, new_document, new_overrides = SHIPPED, None, dict(overrides)
    if isinstance(parsed, ModelsFile):
        kind, new_document = parsed.kind, parsed.document
    elif isinstance(parsed, PriceFile):
        kind, new_document, new_overrides = PRICES, document, dict(parsed.price_overrides)
    try:
        registry = build_registry(new_overrides, document=new_document)
    except ValueError as problem:
        return _invalid([str(problem)])
    if not isinstance(parsed, PriceFile):
        # Overrides follow the models: a model the new catalog lacks loses its override.
        new_overrides = {k: v for k, v in new_overrides.items() if registry.get(k) is not None}
        registry = build_registry(new_overrides, document=new_document)
    unknown = unknown_models(new_overrides, registry)
    if unknown:
        return _invalid([f"no model {model_id} to override the price of" for model_id in unknown])
    problems = catalog_problems(registry)
    if problems:
        return _invalid(problems)
    return SyncPlan(
        base_version=current.version if current is not None else 0,
        kind=kind,
        document=new_document,
        price_overrides=new_overrides,
        registry=registry,
        diff=diff_registries(serving, registry, prices),
        overrides_before=overrides,
    )


def _credits(value: Decimal | None) -> str:
    return "none" if value is None else f"{value} credits"


async def apply_catalog_sync(
    store: UnitOfWorkFactory, clock: Clock, plan: SyncPlan, *, by: Actor
) -> CatalogVersion | Rejected:
    """Store ``plan`` as the next catalog version; every bot instance serves it at once.

    The audit trail gets a ``catalog_sync`` entry (the diff's summary) and a
    ``price_override`` entry per model whose override changed, in the same transaction.
    Returns ``Rejected(STALE_ACTION)`` when another sync was stored after the plan was made
    (plan it again).
    """
    now = clock.now()
    version = CatalogVersion(
        version=plan.base_version + 1,
        document=plan.document,
        price_overrides=plan.price_overrides,
        actor=by,
        created_at=now,
        summary=f"{plan.kind}: {plan.diff.summary()}",
    )
    async with store() as uow:
        try:
            await uow.catalogs.add(version)
        except StaleWriteError:
            return Rejected(
                ReasonCode.STALE_ACTION,
                detail=f"another catalog was synced after version {plan.base_version}",
            )
        await audited(
            uow,
            by,
            AuditAction.CATALOG_SYNC,
            f"catalog v{version.version}",
            at=now,
            detail=version.summary,
        )
        before, after = plan.overrides_before, plan.price_overrides
        for model_id in sorted(set(before) | set(after)):
            if before.get(model_id) != after.get(model_id):
                await audited(
                    uow,
                    by,
                    AuditAction.PRICE_OVERRIDE,
                    model_id,
                    at=now,
                    detail=f"{_credits(before.get(model_id))} → {_credits(after.get(model_id))}",
                )
        await uow.commit()
    return version


async def catalog_history(store: UnitOfWorkFactory, *, limit: int = 20) -> list[CatalogRecord]:
    """The stored catalog versions, newest first."""
    async with store() as uow:
        return await uow.catalogs.history(limit=limit)
