from datetime import timedelta

import attrs
import pytest

from kiebot_core.domain.breakers import BreakerSettings, Circuit, CircuitState
from kiebot_core.domain.reasons import ReasonCode
from tests.contracts.stores import BACKENDS, Store

pytestmark = pytest.mark.parametrize("uow", BACKENDS, indirect=True)

WINDOW = timedelta(minutes=10)


async def test_failures_are_counted_per_model_within_a_sliding_window(uow: Store) -> None:
    start = uow.now()
    async with uow() as tx:
        assert await tx.circuits.failure("a", start, WINDOW) == 1
        assert await tx.circuits.failure("a", start + timedelta(minutes=4), WINDOW) == 2
        assert await tx.circuits.failure("b", start + timedelta(minutes=5), WINDOW) == 1
        assert await tx.circuits.failure("a", start + timedelta(minutes=9), WINDOW) == 3
        await tx.commit()
    async with uow() as tx:
        # The first one has left the window; the others are still in it.
        assert await tx.circuits.failure("a", start + timedelta(minutes=11), WINDOW) == 3
        assert await tx.circuits.failure("a", start + timedelta(minutes=30), WINDOW) == 1


async def test_a_circuit_is_stored_replaced_and_removed(uow: Store) -> None:
    at = uow.now()
    opened = Circuit.opened(
        None,
        model_id="veo3/fast",
        reason=ReasonCode.PROVIDER_FAILED,
        detail="Generation failed",
        failures=5,
        at=at,
        settings=BreakerSettings(),
    )
    async with uow() as tx:
        assert await tx.circuits.get("veo3/fast") is None
        await tx.circuits.put(opened)
        await tx.circuits.put(attrs.evolve(opened, model_id="a-model"))
        await tx.commit()
    async with uow() as tx:
        stored = await tx.circuits.get("veo3/fast")
        assert stored is not None
        uow.assert_close(stored.changed_at, opened.changed_at)
        uow.assert_close(stored.retry_at, opened.retry_at)
        assert attrs.evolve(stored, changed_at=at, retry_at=opened.retry_at) == opened
        assert [c.model_id for c in await tx.circuits.all()] == ["a-model", "veo3/fast"]
        await tx.circuits.put(opened.on_trial(at, BreakerSettings()))
        await tx.commit()
    async with uow() as tx:
        trial = await tx.circuits.get("veo3/fast")
        assert trial is not None
        assert trial.state is CircuitState.TRIAL
        assert await tx.circuits.remove("veo3/fast")
        assert not await tx.circuits.remove("veo3/fast")
        await tx.commit()
    async with uow() as tx:
        assert [c.model_id for c in await tx.circuits.all()] == ["a-model"]


def _opened(uow: Store, model_id: str = "veo3/fast") -> Circuit:
    return Circuit.opened(
        None,
        model_id=model_id,
        reason=ReasonCode.PROVIDER_FAILED,
        detail="Generation failed",
        failures=5,
        at=uow.now(),
        settings=BreakerSettings(),
    )


async def test_a_circuit_moves_only_from_the_circuit_it_was_read_as(uow: Store) -> None:
    settings = BreakerSettings()
    async with uow() as tx:
        await tx.circuits.put(_opened(uow))
        await tx.commit()
    async with uow() as tx:
        opened = await tx.circuits.get("veo3/fast")
    assert opened is not None
    await uow.elapse(uow.tick)
    trial = opened.on_trial(uow.now(), settings)
    async with uow() as tx:
        assert await tx.circuits.replace(opened, trial)
        # Read before that move: stale now, so it moves nothing.
        assert not await tx.circuits.replace(opened, trial)
        assert not await tx.circuits.replace(opened, None)
        await tx.commit()
    async with uow() as tx:
        stored = await tx.circuits.get("veo3/fast")
        assert stored is not None
        assert stored.state is CircuitState.TRIAL
        uow.assert_close(stored.retry_at, trial.retry_at)
        assert await tx.circuits.replace(stored, None)
        await tx.commit()
    async with uow() as tx:
        assert await tx.circuits.get("veo3/fast") is None


async def test_a_closed_circuit_is_never_created_again_by_a_move(uow: Store) -> None:
    async with uow() as tx:
        await tx.circuits.put(_opened(uow))
        await tx.commit()
    async with uow() as tx:
        opened = await tx.circuits.get("veo3/fast")
        assert opened is not None
        # An admin's switch closes it meanwhile.
        assert await tx.circuits.remove("veo3/fast")
        assert not await tx.circuits.replace(opened, opened.on_trial(uow.now(), BreakerSettings()))
        assert not await tx.circuits.replace(opened, None)
        await tx.commit()
    async with uow() as tx:
        assert await tx.circuits.all() == []


async def test_a_move_to_another_models_circuit_is_a_programming_error(uow: Store) -> None:
    async with uow() as tx:
        await tx.circuits.put(_opened(uow))
        await tx.commit()
    async with uow() as tx:
        opened = await tx.circuits.get("veo3/fast")
        assert opened is not None
        with pytest.raises(ValueError, match="cannot replace"):
            await tx.circuits.replace(opened, attrs.evolve(opened, model_id="a-model"))
