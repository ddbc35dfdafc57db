"""What forgetting means for the use cases around it, on every store: inviters, exports, the
audit trail and generations started by (or racing with) a forgotten user."""

import pytest

from kiebot_core.domain.audit import AuditAction, cli_actor
from kiebot_core.domain.generation import GenerationState
from kiebot_core.domain.ids import CorrelationId, GenerationId, PaymentChargeId, UserId
from kiebot_core.domain.ledger import Balance, capture, hold
from kiebot_core.domain.outcomes import Rejected
from kiebot_core.domain.privacy import fingerprint
from kiebot_core.domain.promotions import FreeTier
from kiebot_core.domain.reasons import ReasonCode
from kiebot_core.domain.registry import load_registry
from kiebot_core.domain.texts import Language
from kiebot_core.ports.runtime import Clock, SystemClock
from kiebot_core.testing.delivery import RecordingDelivery
from kiebot_core.testing.generation import ScriptedGenerationGateway
from kiebot_core.testing.runtime import SequentialIds
from kiebot_core.use_cases.admin import set_banned
from kiebot_core.use_cases.billing import grant_stars
from kiebot_core.use_cases.generation import (
    GenerationStarted,
    Pipeline,
    PipelineSettings,
    StartCommand,
    refund_generation,
    start_generation,
)
from kiebot_core.use_cases.payments import Payments, purchases, register_payment
from kiebot_core.use_cases.privacy import Forgotten, export_user_data, forget_user
from kiebot_core.use_cases.promotions import referrals_of, register_user
from tests.contracts.builders import make_generation, make_user, planned
from tests.contracts.stores import BACKENDS, Store

pytestmark = pytest.mark.parametrize("uow", BACKENDS, indirect=True)

INVITER, FRIEND = UserId(5001), UserId(5002)
OPS = cli_actor("ops")
FLUX = "flux-2/flex-text-to-image"


def clock_of(uow: Store) -> Clock:
    return uow.clock or SystemClock()


async def forgotten(uow: Store, user_id: UserId) -> Forgotten:
    outcome = await forget_user(uow, clock_of(uow), user_id)
    assert isinstance(outcome, Forgotten), outcome
    return outcome


async def test_an_inviter_who_deleted_their_data_earns_nothing_more(uow: Store) -> None:
    clock = clock_of(uow)
    await register_user(uow, clock, INVITER, Language.EN)
    await register_user(uow, clock, FRIEND, Language.EN, invited_by=INVITER)
    anonymous = (await forgotten(uow, INVITER)).record.anonymous_id
    payments = Payments(uow=uow, clock=clock, ids=SequentialIds())
    paid = await register_payment(payments, PaymentChargeId("c1"), FRIEND, "p", 50)
    assert paid.is_new
    assert paid.reward is None
    (purchase,) = await purchases(payments, FRIEND)
    assert purchase.refusal is None  # no reward was paid on it: the friend may refund it
    async with uow() as tx:
        assert await tx.ledger.balance(anonymous) == Balance()
        assert await tx.ledger.history(anonymous, limit=10) == []
    summary = await referrals_of(uow, anonymous)
    assert (summary.invited, summary.rewarded, summary.stars) == (1, 0, 0)


async def test_an_inviter_no_longer_stored_earns_nothing(uow: Store) -> None:
    clock = clock_of(uow)
    async with uow() as tx:
        await tx.users.add(make_user(FRIEND, at=clock.now(), referrer_id=INVITER))
        await tx.commit()
    payments = Payments(uow=uow, clock=clock, ids=SequentialIds())
    paid = await register_payment(payments, PaymentChargeId("c1"), FRIEND, "p", 50)
    assert paid.reward is None
    async with uow() as tx:
        assert await tx.ledger.balance(INVITER) == Balance()


async def test_the_export_shows_referral_rewards_without_whom_they_invited(uow: Store) -> None:
    clock = clock_of(uow)
    await register_user(uow, clock, INVITER, Language.EN)
    await register_user(uow, clock, FRIEND, Language.EN, invited_by=INVITER)
    payments = Payments(uow=uow, clock=clock, ids=SequentialIds())
    paid = await register_payment(payments, PaymentChargeId("c1"), FRIEND, "p", 50)
    assert paid.reward is not None
    document = await export_user_data(uow, clock, INVITER)
    assert not isinstance(document, Rejected)
    (move,) = document["ledger"]
    assert (move["kind"], move["key"], move["reference"]) == (
        "grant",
        "grant:referral",
        "referral reward",
    )
    assert move["your_accounts"] == {"available": 10}
    assert str(FRIEND) not in repr(document)


async def test_operators_entries_about_a_forgotten_user_name_the_anonymous_id(
    uow: Store,
) -> None:
    clock = clock_of(uow)
    now = clock.now()
    await register_user(uow, clock, FRIEND, Language.EN)
    granted = await grant_stars(uow, clock, FRIEND, 20, "sorry", by=OPS)
    assert not isinstance(granted, Rejected)
    generation = make_generation(
        "gen_friend", at=now, user_id=FRIEND, state=GenerationState.SUCCEEDED, held=12
    )
    async with uow() as tx:
        await tx.generations.add(generation)
        balance = await tx.ledger.balance(FRIEND)
        await tx.ledger.append(planned(hold(balance, FRIEND, 12, generation.id)))
        await tx.ledger.append(planned(capture(FRIEND, 12, 12, generation.id)))
        await tx.commit()
    refunded = await refund_generation(
        uow, clock, SequentialIds(), generation.id, "it was blurry", by=OPS
    )
    assert not isinstance(refunded, Rejected)
    assert not isinstance(await export_user_data(uow, clock, FRIEND, by=OPS), Rejected)
    banned = await set_banned(uow, clock, FRIEND, banned=True, by=OPS, reason="spam")
    assert not isinstance(banned, Rejected)
    forgetting = await forget_user(uow, clock, FRIEND, by=OPS, reason="GDPR 7")
    assert isinstance(forgetting, Forgotten), forgetting
    anonymous = str(forgetting.record.anonymous_id)
    async with uow() as tx:
        trail = await tx.audit.recent(limit=10)
    assert [(e.action, e.target, e.detail) for e in reversed(trail)] == [
        (AuditAction.GRANT, anonymous, "stars=20"),
        (AuditAction.GENERATION_REFUND, "gen_friend", f"user={anonymous} stars=12"),
        (AuditAction.USER_EXPORT, anonymous, ""),
        (AuditAction.BAN, anonymous, ""),
        (AuditAction.USER_FORGET, anonymous, "20 ⭐ forfeited"),
    ]
    assert all(str(FRIEND) not in f"{e.target} {e.detail}" for e in trail)
    assert [e.reason for e in reversed(trail)] == [
        "sorry",
        "it was blurry",
        "",
        "spam",
        "GDPR 7",
    ]


def pipeline_over(uow: Store) -> Pipeline:
    registry = load_registry()

    async def registry_source():
        return registry

    return Pipeline(
        uow=uow,
        gateway=ScriptedGenerationGateway(),
        delivery=RecordingDelivery(),
        clock=clock_of(uow),
        ids=SequentialIds(),
        registry=registry_source,
        settings=PipelineSettings(free_tier=FreeTier(3, frozenset({FLUX}))),
    )


async def test_a_forgotten_user_starts_nothing_until_they_come_back(uow: Store) -> None:
    pipeline = pipeline_over(uow)
    command = StartCommand(FRIEND, FLUX, {"prompt": "a fox"}, CorrelationId("cor_late"))
    await register_user(uow, pipeline.clock, FRIEND, Language.EN)
    await forgotten(uow, FRIEND)
    refused = await start_generation(pipeline, command)
    assert isinstance(refused, Rejected)
    assert refused.reason is ReasonCode.USER_UNKNOWN
    async with uow() as tx:
        assert await tx.generations.for_user(FRIEND, limit=10) == []
        assert await tx.free_runs.used(FRIEND, pipeline.clock.now().date()) == 0
        (event,) = await tx.events.chain(CorrelationId("cor_late"))
        assert event.user_id is None
        assert await tx.privacy.forgotten(fingerprint(FRIEND))
    await register_user(uow, pipeline.clock, FRIEND, Language.EN)
    started = await start_generation(pipeline, command)
    assert isinstance(started, GenerationStarted), started
    assert started.is_free
    async with uow() as tx:
        (generation,) = await tx.generations.for_user(FRIEND, limit=10)
    assert generation.id == GenerationId(started.generation_id)
