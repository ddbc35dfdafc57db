from datetime import timedelta

import pytest

from kiebot_core.domain.alerts import AlertKind
from kiebot_core.domain.audit import AuditAction, telegram_actor
from kiebot_core.domain.breakers import BreakerSettings, CircuitState, counts_against_model
from kiebot_core.domain.reasons import ReasonCode
from kiebot_core.domain.registry import load_registry
from kiebot_core.testing.memory import MemoryDatabase, MemoryUnitOfWorkFactory
from kiebot_core.testing.operations import RecordingAdminNotifier
from kiebot_core.testing.runtime import FrozenClock
from kiebot_core.use_cases.breakers import BREAKER_ACTOR, CircuitBreaker
from kiebot_core.use_cases.catalog import LoadActiveRegistry, SetModelEnabled

MODEL = "flux-2/pro-text-to-image"
SETTINGS = BreakerSettings(
    failures=3, window=timedelta(minutes=10), cooldown=timedelta(minutes=15)
)


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock()


@pytest.fixture
def store(clock: FrozenClock) -> MemoryUnitOfWorkFactory:
    return MemoryUnitOfWorkFactory(MemoryDatabase(clock))


@pytest.fixture
def notifier() -> RecordingAdminNotifier:
    return RecordingAdminNotifier()


@pytest.fixture
def breaker(
    store: MemoryUnitOfWorkFactory, clock: FrozenClock, notifier: RecordingAdminNotifier
) -> CircuitBreaker:
    return CircuitBreaker(store=store, clock=clock, notifier=notifier, settings=SETTINGS)


async def _enabled(store: MemoryUnitOfWorkFactory, model_id: str = MODEL) -> bool:
    model = (await LoadActiveRegistry(store, load_registry())()).get(model_id)
    assert model is not None
    return model.enabled


def test_only_provider_failures_count() -> None:
    assert counts_against_model(ReasonCode.PROVIDER_FAILED)
    assert counts_against_model(ReasonCode.PROVIDER_TIMEOUT)
    for reason in (
        ReasonCode.CONTENT_POLICY,
        ReasonCode.INVALID_INPUT,
        ReasonCode.PROVIDER_REJECTED,
        ReasonCode.PROVIDER_INPUT_UNREACHABLE,
        ReasonCode.PROVIDER_NO_CREDITS,
        ReasonCode.PROVIDER_AUTH,
        ReasonCode.PROVIDER_RATE_LIMITED,
        ReasonCode.DELIVERY_FAILED,
        ReasonCode.CANCELLED,
    ):
        assert not counts_against_model(reason), reason


def test_the_cooldown_doubles_up_to_its_cap() -> None:
    settings = BreakerSettings(cooldown=timedelta(minutes=15), max_cooldown=timedelta(hours=1))
    assert [settings.cooldown_after(n) for n in (1, 2, 3, 4)] == [
        timedelta(minutes=15),
        timedelta(minutes=30),
        timedelta(hours=1),
        timedelta(hours=1),
    ]


async def test_a_burst_of_failures_switches_the_model_off_and_tells_the_admins_once(
    breaker: CircuitBreaker,
    store: MemoryUnitOfWorkFactory,
    clock: FrozenClock,
    notifier: RecordingAdminNotifier,
) -> None:
    assert await breaker.record_failure(MODEL, ReasonCode.PROVIDER_FAILED, "boom") is None
    clock.advance(timedelta(minutes=3))
    assert await breaker.record_failure(MODEL, ReasonCode.CONTENT_POLICY) is None
    assert await breaker.record_failure(MODEL, ReasonCode.PROVIDER_TIMEOUT) is None
    assert await _enabled(store)
    opened = await breaker.record_failure(MODEL, ReasonCode.PROVIDER_FAILED, "boom")
    assert opened is not None
    assert opened.state is CircuitState.OPEN
    assert opened.retry_at == clock.now() + timedelta(minutes=15)
    assert not await _enabled(store)
    # More failures of runs started before the switch change nothing and tell nobody.
    assert await breaker.record_failure(MODEL, ReasonCode.PROVIDER_FAILED) is None
    assert [alert.kind for alert in notifier.sent] == [AlertKind.CIRCUIT_OPENED]
    assert notifier.sent[0].values["model"] == MODEL
    assert notifier.sent[0].values["failures"] == 3
    async with store() as uow:
        trail = await uow.audit.recent(limit=10)
    assert [(e.actor, e.action, e.target) for e in trail] == [
        (BREAKER_ACTOR, AuditAction.MODEL_DISABLE, MODEL)
    ]
    assert "3 failures" in trail[0].detail


async def test_failures_spread_wider_than_the_window_never_open_it(
    breaker: CircuitBreaker, clock: FrozenClock, notifier: RecordingAdminNotifier
) -> None:
    for _ in range(6):
        assert await breaker.record_failure(MODEL, ReasonCode.PROVIDER_FAILED) is None
        clock.advance(timedelta(minutes=6))
    assert notifier.sent == []


async def test_after_the_cooldown_the_model_is_tried_again_and_a_good_trial_closes_it(
    breaker: CircuitBreaker,
    store: MemoryUnitOfWorkFactory,
    clock: FrozenClock,
    notifier: RecordingAdminNotifier,
) -> None:
    for _ in range(3):
        await breaker.record_failure(MODEL, ReasonCode.PROVIDER_FAILED)
    clock.advance(timedelta(minutes=14))
    assert await breaker.recover() == []
    clock.advance(timedelta(minutes=1))
    [trial] = await breaker.recover()
    assert trial.state is CircuitState.TRIAL
    assert await _enabled(store)
    assert notifier.sent[-1].kind is AlertKind.CIRCUIT_TRIAL
    clock.advance(timedelta(minutes=10))
    [closed] = await breaker.recover()
    assert closed.model_id == MODEL
    async with store() as uow:
        assert await uow.circuits.all() == []
    # Closed: it takes a whole burst again to open it.
    assert await breaker.record_failure(MODEL, ReasonCode.PROVIDER_FAILED) is None
    assert await _enabled(store)


async def test_a_failure_on_trial_opens_it_again_for_twice_as_long(
    breaker: CircuitBreaker, store: MemoryUnitOfWorkFactory, clock: FrozenClock
) -> None:
    for _ in range(3):
        await breaker.record_failure(MODEL, ReasonCode.PROVIDER_FAILED)
    clock.advance(timedelta(minutes=15))
    await breaker.recover()
    clock.advance(timedelta(minutes=1))
    reopened = await breaker.record_failure(MODEL, ReasonCode.PROVIDER_UNAVAILABLE)
    assert reopened is not None
    assert reopened.trips == 2
    assert reopened.retry_at == clock.now() + timedelta(minutes=30)
    assert not await _enabled(store)


async def test_an_admin_switch_takes_over_from_the_breaker(
    breaker: CircuitBreaker, store: MemoryUnitOfWorkFactory, clock: FrozenClock
) -> None:
    for _ in range(3):
        await breaker.record_failure(MODEL, ReasonCode.PROVIDER_FAILED)
    registry = await LoadActiveRegistry(store, load_registry())()
    model = registry.get(MODEL)
    assert model is not None
    assert model.disabled_detail == "circuit open: 3 x provider_failed"
    switch = SetModelEnabled(store, load_registry(), clock)
    assert await switch(MODEL, enabled=False, by=telegram_actor(1)) is None
    clock.advance(timedelta(hours=1))
    assert await breaker.recover() == []
    assert not await _enabled(store)


async def test_rejected_inputs_never_switch_a_model_off_for_everyone(
    breaker: CircuitBreaker, store: MemoryUnitOfWorkFactory, notifier: RecordingAdminNotifier
) -> None:
    # KIE answers 400/413/422 for an input it refuses: one user can repeat that at will.
    for _ in range(5):
        assert await breaker.record_failure(MODEL, ReasonCode.PROVIDER_REJECTED, "422") is None
    assert await _enabled(store)
    assert notifier.sent == []
    async with store() as uow:
        assert await uow.circuits.all() == []


async def test_failures_after_an_admin_switched_the_model_off_never_switch_it_back_on(
    breaker: CircuitBreaker,
    store: MemoryUnitOfWorkFactory,
    clock: FrozenClock,
    notifier: RecordingAdminNotifier,
) -> None:
    switch = SetModelEnabled(store, load_registry(), clock)
    assert await switch(MODEL, enabled=False, by=telegram_actor(1)) is None
    # Runs started before the switch fail afterwards: not the breaker's business.
    for _ in range(5):
        assert await breaker.record_failure(MODEL, ReasonCode.PROVIDER_FAILED, "boom") is None
    async with store() as uow:
        assert await uow.circuits.all() == []
    clock.advance(timedelta(hours=5))
    assert await breaker.recover() == []
    assert not await _enabled(store)
    assert notifier.sent == []
    # Back on by the admin's hand, it takes a whole new burst to open it: those were not counted.
    assert await switch(MODEL, enabled=True, by=telegram_actor(1)) is None
    assert await breaker.record_failure(MODEL, ReasonCode.PROVIDER_FAILED) is None
    assert await _enabled(store)


async def test_an_admin_switching_off_a_model_on_trial_keeps_it_off(
    breaker: CircuitBreaker, store: MemoryUnitOfWorkFactory, clock: FrozenClock
) -> None:
    for _ in range(3):
        await breaker.record_failure(MODEL, ReasonCode.PROVIDER_FAILED)
    clock.advance(timedelta(minutes=15))
    [trial] = await breaker.recover()
    assert trial.state is CircuitState.TRIAL
    switch = SetModelEnabled(store, load_registry(), clock)
    assert await switch(MODEL, enabled=False, by=telegram_actor(1)) is None
    for _ in range(4):
        assert await breaker.record_failure(MODEL, ReasonCode.PROVIDER_FAILED) is None
    clock.advance(timedelta(hours=5))
    assert await breaker.recover() == []
    assert not await _enabled(store)
