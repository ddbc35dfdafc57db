import asyncio
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from kiebot_core.domain.catalog_sync import CatalogVersion
from kiebot_core.domain.errors import StaleWriteError
from kiebot_core.domain.registry import CatalogDocument
from kiebot_core.ports.storage import UnitOfWorkFactory
from tests.contracts.stores import BACKENDS, Racers, Store

DOCUMENT = CatalogDocument(
    catalog={"generated_from": "test", "models": [{"id": "m/1", "inputs": []}]},
    ui_models={"m/1": {"title": {"en": "M", "ru": "Эм"}, "popularity": 3}},
    ui_inputs={"prompt": {"title": {"en": "Prompt", "ru": "Запрос"}}},
    ui_flows={"flows": {}, "sections": []},
)


def version(number: int, uow: Store, **changes: object) -> CatalogVersion:
    fields: dict[str, object] = {
        "version": number,
        "document": DOCUMENT,
        "price_overrides": {"m/1": Decimal("5.6")},
        "actor": "cli:ann",
        "created_at": uow.now(),
        "summary": "machine layer: 1 new",
    }
    fields.update(changes)
    return CatalogVersion(**fields)  # type: ignore[arg-type]


@pytest.mark.parametrize("uow", BACKENDS, indirect=True)
async def test_nothing_is_stored_at_first(uow: Store) -> None:
    async with uow() as tx:
        assert await tx.catalogs.current() is None
        assert await tx.catalogs.current_version() == 0
        assert await tx.catalogs.history(limit=10) == []


@pytest.mark.parametrize("uow", BACKENDS, indirect=True)
async def test_a_stored_version_reads_back_equal_and_is_the_newest(uow: Store) -> None:
    first = version(1, uow, document=None, price_overrides={}, summary="shipped catalog")
    second = version(2, uow)
    async with uow() as tx:
        await tx.catalogs.add(first)
        await tx.commit()
    async with uow() as tx:
        assert await tx.catalogs.current() == first
        await tx.catalogs.add(second)
        await tx.commit()
    async with uow() as tx:
        current = await tx.catalogs.current()
        assert current == second
        assert current is not None
        assert current.price_overrides == {"m/1": Decimal("5.6")}
        uow.assert_close(current.created_at, second.created_at)
        assert await tx.catalogs.current_version() == 2


@pytest.mark.parametrize("uow", BACKENDS, indirect=True)
async def test_a_version_that_is_not_the_next_number_is_stale(uow: Store) -> None:
    async with uow() as tx:
        await tx.catalogs.add(version(1, uow))
        await tx.commit()
    for number in (1, 3):
        async with uow() as tx:
            with pytest.raises(StaleWriteError):
                await tx.catalogs.add(version(number, uow))
    async with uow() as tx:
        assert await tx.catalogs.current_version() == 1


@pytest.mark.parametrize("uow", BACKENDS, indirect=True)
async def test_an_uncommitted_version_is_rolled_back(uow: Store) -> None:
    async with uow() as tx:
        await tx.catalogs.add(version(1, uow))
    async with uow() as tx:
        assert await tx.catalogs.current() is None


@pytest.mark.parametrize("uow", BACKENDS, indirect=True)
async def test_history_lists_versions_newest_first_without_documents(uow: Store) -> None:
    async with uow() as tx:
        await tx.catalogs.add(version(1, uow, document=None, price_overrides={}))
        await tx.catalogs.add(version(2, uow, summary="price overrides: 1 price change"))
        await tx.catalogs.add(version(3, uow, actor="cli:bob"))
        await tx.commit()
    async with uow() as tx:
        history = await tx.catalogs.history(limit=2)
        everything = await tx.catalogs.history(limit=10)
    assert [record.version for record in history] == [3, 2]
    assert history[1].summary == "price overrides: 1 price change"
    assert history[0].actor == "cli:bob"
    assert [(r.is_shipped, r.overrides) for r in everything] == [(False, 1), (False, 1), (True, 0)]


async def test_of_two_racing_syncs_of_one_number_exactly_one_is_stored(racers: Racers) -> None:
    async def sync(store: UnitOfWorkFactory, actor: str) -> bool:
        async with store() as tx:
            try:
                await tx.catalogs.add(
                    CatalogVersion(
                        version=1,
                        document=None,
                        actor=actor,
                        created_at=datetime.now(UTC),
                    )
                )
                await asyncio.sleep(0.05)
                await tx.commit()
            except StaleWriteError:
                return False
        return True

    outcomes = await asyncio.gather(*(sync(racers(), f"cli:{n}") for n in range(4)))
    assert outcomes.count(True) == 1
    async with racers()() as tx:
        assert await tx.catalogs.current_version() == 1
