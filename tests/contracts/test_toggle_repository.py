import pytest

from tests.contracts.stores import BACKENDS, Store

pytestmark = pytest.mark.parametrize("uow", BACKENDS, indirect=True)


async def test_no_model_is_switched_at_first(uow: Store) -> None:
    async with uow() as tx:
        assert dict(await tx.toggles.overrides()) == {}


async def test_switches_are_remembered_and_can_be_flipped(uow: Store) -> None:
    async with uow() as tx:
        await tx.toggles.set("veo3/fast", enabled=False)
        await tx.toggles.set("flux-2/pro", enabled=True)
        await tx.commit()
    async with uow() as tx:
        assert dict(await tx.toggles.overrides()) == {"veo3/fast": False, "flux-2/pro": True}
        await tx.toggles.set("veo3/fast", enabled=True)
        await tx.commit()
    async with uow() as tx:
        assert dict(await tx.toggles.overrides()) == {"veo3/fast": True, "flux-2/pro": True}


async def test_an_uncommitted_switch_is_rolled_back(uow: Store) -> None:
    async with uow() as tx:
        await tx.toggles.set("veo3/fast", enabled=False)
    async with uow() as tx:
        assert dict(await tx.toggles.overrides()) == {}
