from decimal import Decimal

import attrs
import pytest

from kiebot_core.domain.credits import CreditsState
from tests.contracts.stores import BACKENDS, Store

pytestmark = pytest.mark.parametrize("uow", BACKENDS, indirect=True)


async def test_the_last_check_is_kept_and_replaced(uow: Store) -> None:
    state = CreditsState(
        credits=Decimal("812.5"), checked_at=uow.now(), is_low=True, is_paused=False
    )
    async with uow() as tx:
        assert await tx.credits.get() is None
        await tx.credits.put(state)
        await tx.commit()
    async with uow() as tx:
        stored = await tx.credits.get(for_update=True)
        assert stored is not None
        uow.assert_close(stored.checked_at, state.checked_at)
        assert attrs.evolve(stored, checked_at=state.checked_at) == state
        await tx.credits.put(attrs.evolve(state, credits=Decimal(0), is_paused=True))
        await tx.commit()
    async with uow() as tx:
        paused = await tx.credits.get()
        assert paused is not None
        assert paused.is_paused
        assert paused.credits == 0


async def test_an_uncommitted_check_is_rolled_back(uow: Store) -> None:
    async with uow() as tx:
        await tx.credits.put(
            CreditsState(credits=Decimal(5), checked_at=uow.now(), is_low=True, is_paused=False)
        )
    async with uow() as tx:
        assert await tx.credits.get() is None
