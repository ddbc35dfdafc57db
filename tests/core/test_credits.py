from datetime import timedelta
from decimal import Decimal

import pytest

from kiebot_core.domain.alerts import AlertKind
from kiebot_core.domain.credits import CreditsPolicy
from kiebot_core.domain.errors import ProviderError
from kiebot_core.domain.ids import CorrelationId, UserId
from kiebot_core.domain.outcomes import Rejected
from kiebot_core.domain.reasons import ReasonCode
from kiebot_core.domain.registry import load_registry
from kiebot_core.testing.delivery import RecordingDelivery
from kiebot_core.testing.generation import ScriptedGenerationGateway
from kiebot_core.testing.memory import MemoryDatabase, MemoryUnitOfWorkFactory
from kiebot_core.testing.operations import RecordingAdminNotifier
from kiebot_core.testing.runtime import FrozenClock, SequentialIds
from kiebot_core.use_cases.credits import CreditsWatch, generations_paused
from kiebot_core.use_cases.generation import (
    GenerationStarted,
    Pipeline,
    PipelineSettings,
    StartCommand,
    start_generation,
)


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock()


@pytest.fixture
def store(clock: FrozenClock) -> MemoryUnitOfWorkFactory:
    return MemoryUnitOfWorkFactory(MemoryDatabase(clock))


@pytest.fixture
def gateway() -> ScriptedGenerationGateway:
    return ScriptedGenerationGateway()


@pytest.fixture
def notifier() -> RecordingAdminNotifier:
    return RecordingAdminNotifier()


@pytest.fixture
def watch(
    store: MemoryUnitOfWorkFactory,
    gateway: ScriptedGenerationGateway,
    clock: FrozenClock,
    notifier: RecordingAdminNotifier,
) -> CreditsWatch:
    return CreditsWatch(
        store=store,
        gateway=gateway,
        clock=clock,
        notifier=notifier,
        policy=CreditsPolicy(alert_below=Decimal(1000)),
    )


def _kinds(notifier: RecordingAdminNotifier) -> list[AlertKind]:
    return [alert.kind for alert in notifier.sent]


async def test_each_crossing_is_told_once(
    watch: CreditsWatch, gateway: ScriptedGenerationGateway, notifier: RecordingAdminNotifier
) -> None:
    for balance in ("5000", "4000", "900", "800", "2500", "900", "0", "0", "300", "2500", "2500"):
        gateway.balance = Decimal(balance)
        await watch.check()
    assert _kinds(notifier) == [
        AlertKind.CREDITS_LOW,
        AlertKind.CREDITS_RECOVERED,
        AlertKind.CREDITS_LOW,
        AlertKind.CREDITS_EXHAUSTED,
        AlertKind.CREDITS_RESUMED,
    ]
    assert notifier.sent[0].values == {"credits": "900", "threshold": "1000"}


async def test_a_pause_lifts_only_at_the_alert_level_so_it_never_flaps(
    watch: CreditsWatch,
    gateway: ScriptedGenerationGateway,
    store: MemoryUnitOfWorkFactory,
    notifier: RecordingAdminNotifier,
) -> None:
    # KIE refuses a run (402) as soon as the credits are below its cost, well above zero.
    await watch.exhausted()
    for balance in ("3", "250", "999.5", "3"):
        gateway.balance = Decimal(balance)
        await watch.check()
        assert await generations_paused(store), balance
        await watch.exhausted()
    assert _kinds(notifier) == [AlertKind.CREDITS_EXHAUSTED]
    gateway.balance = Decimal(1000)
    await watch.check()
    assert not await generations_paused(store)
    assert _kinds(notifier) == [AlertKind.CREDITS_EXHAUSTED, AlertKind.CREDITS_RESUMED]
    # Running again: the next fall to zero pauses (and is told) again.
    gateway.balance = Decimal(0)
    await watch.check()
    assert await generations_paused(store)
    assert _kinds(notifier)[-1] is AlertKind.CREDITS_EXHAUSTED


async def test_a_pause_needs_credits_even_with_no_alert_level(
    store: MemoryUnitOfWorkFactory,
    gateway: ScriptedGenerationGateway,
    clock: FrozenClock,
    notifier: RecordingAdminNotifier,
) -> None:
    watch = CreditsWatch(
        store=store,
        gateway=gateway,
        clock=clock,
        notifier=notifier,
        policy=CreditsPolicy(alert_below=Decimal(0)),
    )
    await watch.exhausted()
    gateway.balance = Decimal(0)
    await watch.check()
    assert await generations_paused(store)
    gateway.balance = Decimal(1)
    await watch.check()
    assert not await generations_paused(store)


async def test_a_failed_check_keeps_the_last_state(
    watch: CreditsWatch, gateway: ScriptedGenerationGateway, store: MemoryUnitOfWorkFactory
) -> None:
    gateway.balance = Decimal(0)
    await watch.check()

    async def broken() -> Decimal:
        raise ProviderError(ReasonCode.PROVIDER_UNAVAILABLE, "down")

    gateway.credits = broken  # type: ignore[method-assign]
    with pytest.raises(ProviderError):
        await watch.check()
    assert await generations_paused(store)


async def test_a_refusal_for_lack_of_credits_pauses_at_once_and_tells_once(
    watch: CreditsWatch, store: MemoryUnitOfWorkFactory, notifier: RecordingAdminNotifier
) -> None:
    await watch.exhausted()
    await watch.exhausted()
    assert await generations_paused(store)
    assert _kinds(notifier) == [AlertKind.CREDITS_EXHAUSTED]


async def test_while_paused_new_generations_are_refused_before_anything_is_held(
    watch: CreditsWatch,
    gateway: ScriptedGenerationGateway,
    store: MemoryUnitOfWorkFactory,
    clock: FrozenClock,
) -> None:
    registry = load_registry()

    async def source():
        return registry

    pipeline = Pipeline(
        uow=store,
        gateway=gateway,
        delivery=RecordingDelivery(),
        clock=clock,
        ids=SequentialIds(),
        registry=source,
        settings=PipelineSettings(bill_users=False),
    )
    command = StartCommand(
        user_id=UserId(5),
        model_id="flux-2/pro-text-to-image",
        answers={"prompt": "a fox"},
        correlation_id=CorrelationId("cor_1"),
    )
    gateway.balance = Decimal(0)
    await watch.check()
    refused = await start_generation(pipeline, command)
    assert isinstance(refused, Rejected)
    assert refused.reason is ReasonCode.PROVIDER_NO_CREDITS
    async with store() as uow:
        assert await uow.generations.for_user(UserId(5), limit=5) == []
    gateway.balance = Decimal(5000)
    clock.advance(timedelta(minutes=5))
    await watch.check()
    assert isinstance(await start_generation(pipeline, command), GenerationStarted)
