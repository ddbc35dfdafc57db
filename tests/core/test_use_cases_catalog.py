from kiebot_core.domain.audit import telegram_actor
from kiebot_core.domain.catalog import DisabledReason
from kiebot_core.domain.reasons import ReasonCode
from kiebot_core.domain.registry import load_registry
from kiebot_core.testing.memory import MemoryUnitOfWorkFactory
from kiebot_core.use_cases.catalog import LoadActiveRegistry, SetModelEnabled

ADMIN = telegram_actor(1)


async def test_an_admin_switch_applies_to_every_reader_of_the_store():
    uow = MemoryUnitOfWorkFactory()
    registry = load_registry()
    assert (
        await SetModelEnabled(uow, registry)("flux-2/flex-text-to-image", enabled=False, by=ADMIN)
        is None
    )
    active = await LoadActiveRegistry(uow, registry)()
    switched = active.get("flux-2/flex-text-to-image")
    assert switched is not None
    assert switched.disabled is DisabledReason.OPERATOR
    assert switched not in active.enabled()
    await SetModelEnabled(uow, registry)("flux-2/flex-text-to-image", enabled=True, by=ADMIN)
    again = (await LoadActiveRegistry(uow, registry)()).get("flux-2/flex-text-to-image")
    assert again is not None
    assert again.enabled


async def test_an_admin_may_enable_a_legacy_model_but_not_an_unpriced_one():
    uow = MemoryUnitOfWorkFactory()
    registry = load_registry()
    assert (
        await SetModelEnabled(uow, registry)("sora-2-text-to-video", enabled=True, by=ADMIN)
        is None
    )
    active = await LoadActiveRegistry(uow, registry)()
    sora = active.get("sora-2-text-to-video")
    assert sora is not None
    assert sora.enabled
    refused = await SetModelEnabled(uow, registry)(
        "wan/2-6-flash-video-to-video", enabled=True, by=ADMIN
    )
    assert refused is not None
    assert refused.reason is ReasonCode.PRICE_UNKNOWN
    unknown = await SetModelEnabled(uow, registry)("nope", enabled=True, by=ADMIN)
    assert unknown is not None
    assert unknown.reason is ReasonCode.MODEL_UNKNOWN
