"""Catalog sync in the core: reading a file, the registry checks, the diff, storing, serving."""

from datetime import timedelta
from decimal import Decimal

import attrs
import pytest

from kiebot_core.domain.audit import AuditAction, cli_actor
from kiebot_core.domain.catalog import DisabledReason
from kiebot_core.domain.catalog_sync import (
    CatalogVersion,
    ModelsFile,
    PriceFile,
    SyncFileError,
    catalog_problems,
    diff_registries,
    read_sync_file,
)
from kiebot_core.domain.outcomes import Rejected
from kiebot_core.domain.pricing import PriceSettings
from kiebot_core.domain.reasons import ReasonCode
from kiebot_core.domain.registry import (
    CatalogDocument,
    build_registry,
    load_registry,
    shipped_document,
)
from kiebot_core.testing.memory import MemoryDatabase, MemoryUnitOfWorkFactory
from kiebot_core.testing.runtime import FrozenClock
from kiebot_core.use_cases.catalog import LoadActiveRegistry, stored_registry
from kiebot_core.use_cases.catalog_sync import (
    SyncPlan,
    apply_catalog_sync,
    plan_catalog_sync,
)
from tests.catalog_files import FLUX, GONE, NEW, UNPRICED, model, newer, research

ANN = cli_actor("ann")
PRICES = PriceSettings()


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock()


@pytest.fixture
def store(clock: FrozenClock) -> MemoryUnitOfWorkFactory:
    return MemoryUnitOfWorkFactory(MemoryDatabase(clock))


def planned(outcome: SyncPlan | Rejected) -> SyncPlan:
    assert isinstance(outcome, SyncPlan), outcome
    return outcome


def test_the_research_catalog_as_shipped_reads_as_the_shipped_document():
    parsed = read_sync_file(research(), shipped_document())
    assert isinstance(parsed, ModelsFile)
    assert parsed.kind == "research catalog"
    assert parsed.document == shipped_document()
    registry = build_registry(document=parsed.document)
    assert catalog_problems(registry) == []
    assert diff_registries(load_registry(), registry, PRICES).is_empty


def test_the_machine_layer_reads_too():
    parsed = read_sync_file(dict(shipped_document().catalog), shipped_document())
    assert isinstance(parsed, ModelsFile)
    assert (parsed.kind, parsed.document) == ("machine layer", shipped_document())


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        ([], "expected a JSON object"),
        ({"models": []}, "expected a models file"),
        ({"price_overrides": {FLUX: "-1"}}, "more than 0 credits"),
        ({"price_overrides": {FLUX: "ten"}}, "not a number"),
        ({"price_overrides": {FLUX: True}}, "must be a number"),
        ({"price_overrides": {}, "models": []}, "holds only"),
        ({"models": [{"id": "x", "result": {}}]}, "malformed research catalog"),
    ],
)
def test_a_file_that_is_neither_kind_is_refused(raw, problem):
    with pytest.raises(SyncFileError, match=problem):
        read_sync_file(raw, shipped_document())


def test_a_price_file_is_the_complete_set_of_overrides():
    parsed = read_sync_file({"price_overrides": {UNPRICED: 30, FLUX: "12.5"}}, shipped_document())
    assert parsed == PriceFile({UNPRICED: Decimal(30), FLUX: Decimal("12.5")})


def test_the_diff_tells_new_removed_changed_and_price_changes():
    parsed = read_sync_file(newer(), shipped_document())
    assert isinstance(parsed, ModelsFile)
    registry = build_registry(document=parsed.document)
    assert catalog_problems(registry) == []
    diff = diff_registries(load_registry(), registry, PRICES)
    assert diff.added == (NEW,)
    assert diff.removed == (GONE,)
    assert [change.model_id for change in diff.changed] == []
    (price,) = diff.prices
    assert (price.model_id, price.old_credits, price.new_credits) == (
        FLUX,
        Decimal(14),
        Decimal(16),
    )
    assert (price.old_stars, price.new_stars) == (12, 13)
    assert diff.summary() == "1 new, 1 removed, 1 price change"


def test_a_changed_input_and_text_are_told_apart():
    catalog = newer()
    flux = model(catalog, FLUX)
    flux["inputs"] = [i for i in flux["inputs"] if i["name"] != "nsfw_checker"]
    texts = dict(shipped_document().ui_models[FLUX])
    catalog["ui_models"][FLUX] = {**texts, "pitch": {"en": "Faster.", "ru": "Быстрее."}}
    parsed = read_sync_file(catalog, shipped_document())
    assert isinstance(parsed, ModelsFile)
    diff = diff_registries(load_registry(), build_registry(document=parsed.document), PRICES)
    (change,) = diff.changed
    assert change.what == ("inputs -nsfw_checker", "texts")


def test_a_new_model_without_texts_cannot_be_built():
    catalog = newer()
    del catalog["ui_models"]
    parsed = read_sync_file(catalog, shipped_document())
    assert isinstance(parsed, ModelsFile)
    with pytest.raises(ValueError, match=f"no entry for {NEW}"):
        build_registry(document=parsed.document)


def test_the_registry_checks_find_a_broken_model():
    catalog = research()
    aspect = next(i for i in model(catalog, FLUX)["inputs"] if i["name"] == "aspect_ratio")
    aspect["default"] = "7:5"
    parsed = read_sync_file(catalog, shipped_document())
    assert isinstance(parsed, ModelsFile)
    registry = build_registry(document=parsed.document)
    assert catalog_problems(registry) == [f"{FLUX}: default of aspect_ratio is not in its enum"]


def test_the_registry_checks_find_a_missing_text():
    shipped = load_registry()
    flux = shipped.get(FLUX)
    assert flux is not None
    blank = attrs.evolve(flux.title, texts={**flux.title.texts, next(iter(flux.title.texts)): ""})
    broken = shipped.with_models([attrs.evolve(flux, title=blank), *shipped.models[1:]])
    assert any("no title or pitch" in problem for problem in catalog_problems(broken))


async def test_a_sync_is_stored_served_and_audited(store, clock):
    plan = planned(await plan_catalog_sync(store, load_registry(), PRICES, newer()))
    assert plan.base_version == 0
    stored = await apply_catalog_sync(store, clock, plan, by=ANN)
    assert isinstance(stored, CatalogVersion)
    assert (stored.version, stored.actor) == (1, "cli:ann")
    assert stored.summary == "research catalog: 1 new, 1 removed, 1 price change"
    active = await LoadActiveRegistry(store, load_registry())()
    assert active.get(NEW) is not None
    assert active.get(GONE) is None
    async with store() as uow:
        (entry,) = await uow.audit.recent(limit=5)
    assert (entry.action, entry.target, entry.detail) == (
        AuditAction.CATALOG_SYNC,
        "catalog v1",
        stored.summary,
    )


async def test_the_switches_still_apply_on_top_of_a_synced_catalog(store, clock):
    plan = planned(await plan_catalog_sync(store, load_registry(), PRICES, newer()))
    await apply_catalog_sync(store, clock, plan, by=ANN)
    async with store() as uow:
        await uow.toggles.set(NEW, enabled=False)
        await uow.commit()
    active = await LoadActiveRegistry(store, load_registry())()
    new = active.get(NEW)
    assert new is not None
    assert new.disabled is DisabledReason.OPERATOR


async def test_a_price_file_enables_an_unpriced_model_and_a_models_file_keeps_it(store, clock):
    prices = {"price_overrides": {UNPRICED: 30}}
    plan = planned(await plan_catalog_sync(store, load_registry(), PRICES, prices))
    (change,) = plan.diff.availability
    assert (change.model_id, change.before, change.after) == (
        UNPRICED,
        DisabledReason.PRICE_UNKNOWN,
        None,
    )
    await apply_catalog_sync(store, clock, plan, by=ANN)
    async with store() as uow:
        entries = await uow.audit.recent(limit=5)
    assert [(e.action, e.target, e.detail) for e in entries] == [
        (AuditAction.PRICE_OVERRIDE, UNPRICED, "none → 30 credits"),
        (
            AuditAction.CATALOG_SYNC,
            "catalog v1",
            "price overrides: 1 price change, 1 availability change",
        ),
    ]
    clock.advance(timedelta(minutes=1))
    plan = planned(await plan_catalog_sync(store, load_registry(), PRICES, newer()))
    assert plan.price_overrides == {UNPRICED: Decimal(30)}
    assert plan.diff.availability == ()
    await apply_catalog_sync(store, clock, plan, by=ANN)
    active = await LoadActiveRegistry(store, load_registry())()
    unpriced = active.get(UNPRICED)
    assert unpriced is not None
    assert unpriced.enabled


async def test_a_price_for_an_unknown_model_is_refused(store):
    outcome = await plan_catalog_sync(
        store, load_registry(), PRICES, {"price_overrides": {"nope/model": 3}}
    )
    assert isinstance(outcome, Rejected)
    assert outcome.reason is ReasonCode.CATALOG_INVALID
    assert outcome.detail == "no model nope/model to override the price of"


async def test_an_invalid_file_is_refused_with_every_problem(store):
    catalog = research()
    for model_id in (FLUX, "nano-banana-pro"):
        for spec in model(catalog, model_id)["inputs"]:
            if spec["name"] == "aspect_ratio":
                spec["default"] = "7:5"
    outcome = await plan_catalog_sync(store, load_registry(), PRICES, catalog)
    assert isinstance(outcome, Rejected)
    assert outcome.reason is ReasonCode.CATALOG_INVALID
    assert sorted((outcome.detail or "").splitlines()) == [
        f"{FLUX}: default of aspect_ratio is not in its enum",
        "nano-banana-pro: default of aspect_ratio is not in its enum",
    ]
    async with store() as uow:
        assert await uow.catalogs.current() is None


async def test_a_plan_outdated_by_another_sync_is_not_applied(store, clock):
    first = planned(await plan_catalog_sync(store, load_registry(), PRICES, newer()))
    second = planned(
        await plan_catalog_sync(store, load_registry(), PRICES, {"price_overrides": {FLUX: 1}})
    )
    await apply_catalog_sync(store, clock, first, by=ANN)
    outcome = await apply_catalog_sync(store, clock, second, by=ANN)
    assert isinstance(outcome, Rejected)
    assert outcome.reason is ReasonCode.STALE_ACTION


async def test_going_back_to_the_shipped_catalog(store, clock):
    plan = planned(await plan_catalog_sync(store, load_registry(), PRICES, newer()))
    await apply_catalog_sync(store, clock, plan, by=ANN)
    back = planned(await plan_catalog_sync(store, load_registry(), PRICES, None))
    assert (back.kind, back.document) == ("shipped catalog", None)
    assert (back.diff.added, back.diff.removed) == ((GONE,), (NEW,))
    await apply_catalog_sync(store, clock, back, by=ANN)
    active = await LoadActiveRegistry(store, load_registry())()
    assert active.get(NEW) is None
    assert active.get(GONE) is not None


def test_a_stored_version_this_kiebot_cannot_build_falls_back_to_the_shipped_one(clock):
    broken = CatalogVersion(
        version=3,
        document=CatalogDocument({"models": [{"id": "x"}]}, {}, {}, {}),
        actor="cli:ann",
        created_at=clock.now(),
    )
    assert stored_registry(broken, load_registry()) is load_registry()
