"""The free tier, promo codes, referrals and operator refunds in the core (in-memory store)."""

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kiebot_core.domain.audit import AuditAction, cli_actor
from kiebot_core.domain.catalog import ModelSpec
from kiebot_core.domain.errors import SettingsError
from kiebot_core.domain.generation import GenerationState
from kiebot_core.domain.ids import GenerationId, PaymentChargeId, UserId
from kiebot_core.domain.ledger import Balance, LedgerKind
from kiebot_core.domain.outcomes import Rejected
from kiebot_core.domain.pricing import PriceSettings, starting_price
from kiebot_core.domain.promotions import (
    FreeTier,
    cheapest_image_model,
    free_day,
    normalize_promo_code,
    parse_referral_code,
    referral_code,
)
from kiebot_core.domain.reasons import ReasonCode
from kiebot_core.domain.registry import load_registry
from kiebot_core.domain.settings import free_tier_from_env
from kiebot_core.domain.texts import Language
from kiebot_core.testing.delivery import RecordingDelivery
from kiebot_core.testing.generation import ScriptedGenerationGateway, fails
from kiebot_core.testing.memory import MemoryUnitOfWorkFactory
from kiebot_core.testing.runtime import FrozenClock, SequentialIds
from kiebot_core.use_cases.generation import (
    Pipeline,
    PipelineSettings,
    cancel_generation,
    free_runs_left,
    refund_generation,
)
from kiebot_core.use_cases.payments import (
    Payments,
    purchases,
    refundable_purchase,
    register_payment,
)
from kiebot_core.use_cases.promotions import (
    create_promo,
    list_promos,
    redeem_promo,
    referrals_of,
    register_user,
)
from tests.core.test_pipeline import FLUX, USER, balance, drive, fund, make_pipeline, start

OPERATOR = cli_actor("tester")

FREE = PipelineSettings(free_tier=FreeTier(2, frozenset({FLUX})))


def model(model_id: str) -> ModelSpec:
    found = load_registry().get(model_id)
    assert found is not None
    return found


def flux() -> ModelSpec:
    return model(FLUX)


@given(st.integers(1, 2**53))
def test_referral_codes_name_their_user(user_id: int):
    code = referral_code(UserId(user_id))
    assert code.startswith("ref_")
    assert parse_referral_code(code) == user_id


@given(st.text(max_size=40))
def test_any_start_argument_parses_to_a_user_or_nothing(argument: str):
    parsed = parse_referral_code(argument)
    assert parsed is None or (parsed > 0 and referral_code(parsed) == argument.lower())


@given(st.text(max_size=40))
def test_promo_codes_normalize_to_the_canonical_form_or_nothing(text: str):
    code = normalize_promo_code(text)
    assert code is None or (code == text.strip().upper() and 3 <= len(code) <= 32)


@pytest.mark.parametrize("text", ["", "ab", "a b c", "x" * 33, "-AB", "ПРОМО"])
def test_malformed_promo_codes_are_not_codes(text: str):
    assert normalize_promo_code(text) is None


def test_the_free_day_is_the_utc_day():
    late = datetime(2026, 11, 26, 23, 30, tzinfo=UTC)
    moscow = late.astimezone(timezone(timedelta(hours=3)))
    assert moscow.date() != late.date()
    assert free_day(moscow) == free_day(late) == late.date()


def test_the_default_free_model_is_the_cheapest_image_model():
    registry = load_registry()
    prices = PriceSettings()
    tier = free_tier_from_env({}, registry, prices)
    assert tier.daily == 3
    (model_id,) = tier.models
    assert model_id == cheapest_image_model(registry.enabled(), prices)
    model = registry.get(model_id)
    assert model is not None
    cheapest = starting_price(model, prices)
    assert cheapest is not None
    assert all(
        (starting_price(other, prices) or cheapest) >= cheapest
        for other in registry.enabled()
        if other.category is model.category
    )
    chosen = free_tier_from_env(
        {"KIEBOT_FREE_MODELS": FLUX, "KIEBOT_FREE_DAILY": "0"}, registry, prices
    )
    assert chosen == FreeTier(0, frozenset({FLUX}))
    assert not chosen.covers(FLUX)
    with pytest.raises(SettingsError, match="KIEBOT_FREE_MODELS"):
        free_tier_from_env({"KIEBOT_FREE_MODELS": "no/such-model"}, registry, prices)
    with pytest.raises(SettingsError, match="KIEBOT_FREE_DAILY"):
        free_tier_from_env({"KIEBOT_FREE_DAILY": "many"}, registry, prices)


async def test_free_runs_hold_nothing_and_come_back_on_failure_and_cancel():
    gateway = ScriptedGenerationGateway()
    gateway.script(*fails(ReasonCode.PROVIDER_FAILED, "boom"))
    pipeline = make_pipeline(gateway=gateway, settings=FREE)
    first = await start(pipeline)
    assert first.is_free
    assert await balance(pipeline) == Balance()
    failed = await drive(pipeline, first.generation_id)
    assert failed.state is GenerationState.FAILED
    allowance = await free_runs_left(pipeline, USER, flux())
    assert allowance is not None
    assert (allowance.left, allowance.daily) == (2, 2)
    second = await start(pipeline)
    cancelled = await cancel_generation(pipeline, USER, second.generation_id)
    assert not isinstance(cancelled, Rejected)
    allowance = await free_runs_left(pipeline, USER, flux())
    assert allowance is not None
    assert allowance.left == 2
    assert [(await start(pipeline)).is_free for _ in range(2)] == [True, True]
    await fund(pipeline, 100)
    paid = await start(pipeline)
    assert not paid.is_free
    assert await balance(pipeline) == Balance(available=88, held=12)
    assert await free_runs_left(pipeline, USER, model("nano-banana-pro")) is None


async def test_the_free_quota_is_per_utc_day():
    pipeline = make_pipeline(settings=FREE)
    assert [(await start(pipeline)).is_free for _ in range(2)] == [True, True]
    clock = pipeline.clock
    assert isinstance(clock, FrozenClock)
    clock.advance(timedelta(days=1))
    assert (await start(pipeline)).is_free


async def operator_refund(pipeline: Pipeline, generation_id: GenerationId, reason: str):
    return await refund_generation(
        pipeline.uow, pipeline.clock, pipeline.ids, generation_id, reason, by=OPERATOR
    )


async def test_an_operator_refund_returns_the_charge_once_and_queues_the_notice():
    delivery = RecordingDelivery()
    pipeline = make_pipeline(delivery=delivery)
    await fund(pipeline, 100)
    started = await start(pipeline)
    done = await drive(pipeline, started.generation_id)
    assert done.state is GenerationState.SUCCEEDED
    assert await balance(pipeline) == Balance(available=88)
    refunded = await operator_refund(pipeline, done.id, "watermark on the result")
    assert not isinstance(refunded, Rejected)
    assert (refunded.stars, refunded.is_new) == (12, True)
    again = await operator_refund(pipeline, done.id, "again")
    assert not isinstance(again, Rejected)
    assert not again.is_new
    await drive(pipeline, done.id)
    assert await balance(pipeline) == Balance(available=100)
    assert [(g.id, stars, why) for g, stars, why in delivery.refunds] == [
        (done.id, 12, "watermark on the result")
    ]
    async with pipeline.uow() as uow:
        history = await uow.ledger.history(USER, limit=10)
        trail = await uow.audit.recent(limit=10)
    assert history[0].kind is LedgerKind.REFUND
    assert [(e.actor, e.action, e.target, e.detail, e.reason) for e in trail] == [
        (
            OPERATOR,
            AuditAction.GENERATION_REFUND,
            done.id,
            f"user={USER} stars=12",
            "watermark on the result",
        )
    ]


async def test_a_refund_reason_must_be_short_enough_to_tell_the_user():
    pipeline = make_pipeline()
    await fund(pipeline, 100)
    done = await drive(pipeline, (await start(pipeline)).generation_id)
    for reason in ("", "   ", "x" * 501):
        refused = await operator_refund(pipeline, done.id, reason)
        assert isinstance(refused, Rejected)
        assert refused.reason is ReasonCode.INVALID_INPUT
    assert not isinstance(await operator_refund(pipeline, done.id, "x" * 500), Rejected)


async def test_uncharged_and_unknown_generations_are_not_refunded():
    pipeline = make_pipeline(settings=FREE)
    free = await start(pipeline)
    done = await drive(pipeline, free.generation_id)
    refused = await operator_refund(pipeline, done.id, "free")
    assert isinstance(refused, Rejected)
    assert refused.reason is ReasonCode.REFUND_NOT_ALLOWED
    missing = await operator_refund(pipeline, GenerationId("gen_none"), "?")
    assert isinstance(missing, Rejected)


async def test_promo_codes_are_created_listed_and_redeemed_with_reasons():
    store, clock = MemoryUnitOfWorkFactory(), FrozenClock()
    assert isinstance(await create_promo(store, clock, "x", 5, by=OPERATOR), Rejected)
    assert isinstance(await create_promo(store, clock, "GOOD", 0, by=OPERATOR), Rejected)
    past = clock.now() - timedelta(seconds=1)
    assert isinstance(
        await create_promo(store, clock, "GOOD", 5, expires_at=past, by=OPERATOR), Rejected
    )
    soon = clock.now() + timedelta(hours=1)
    assert not isinstance(
        await create_promo(store, clock, "good", 5, expires_at=soon, by=OPERATOR), Rejected
    )
    duplicate = await create_promo(store, clock, "GOOD", 5, by=OPERATOR)
    assert isinstance(duplicate, Rejected)
    assert duplicate.detail == "GOOD exists"
    assert [p.code for p in await list_promos(store)] == ["GOOD"]
    redeemed = await redeem_promo(store, clock, USER, " good ")
    assert not isinstance(redeemed, Rejected)
    assert redeemed.balance == Balance(available=5)
    second = await redeem_promo(store, clock, USER, "GOOD")
    assert isinstance(second, Rejected)
    assert second.reason is ReasonCode.PROMO_ALREADY_REDEEMED
    clock.advance(timedelta(hours=2))
    late = await redeem_promo(store, clock, UserId(7), "GOOD")
    assert isinstance(late, Rejected)
    assert late.reason is ReasonCode.PROMO_EXPIRED
    nonsense = await redeem_promo(store, clock, UserId(7), "?!")
    assert isinstance(nonsense, Rejected)
    assert nonsense.reason is ReasonCode.PROMO_UNKNOWN


async def test_an_inviter_is_rewarded_once_on_the_first_payment_only():
    store, clock = MemoryUnitOfWorkFactory(), FrozenClock()
    inviter, friend = UserId(1), UserId(2)
    await register_user(store, clock, inviter, Language.EN)
    joined = await register_user(store, clock, friend, Language.EN, invited_by=inviter)
    assert joined.user.referrer_id == inviter
    assert joined.referral_refused is None
    again = await register_user(store, clock, friend, Language.EN, invited_by=UserId(3))
    assert not again.is_new
    assert again.user.referrer_id == inviter
    payments = Payments(uow=store, clock=clock, ids=SequentialIds())
    first = await register_payment(payments, PaymentChargeId("c1"), friend, "p", 50)
    assert first.reward is not None
    assert (first.reward.referrer_id, first.reward.stars) == (inviter, 10)
    second = await register_payment(payments, PaymentChargeId("c2"), friend, "p", 50)
    assert second.reward is None
    summary = await referrals_of(store, inviter)
    assert (summary.invited, summary.rewarded, summary.stars) == (1, 1, 10)
    # The purchase that paid the reward is not refunded by its user (no free Stars by
    # inviting oneself and refunding); the later one is.
    listed = {p.payment.charge_id: p.refusal for p in await purchases(payments, friend)}
    refusal = listed[PaymentChargeId("c1")]
    assert refusal is not None
    assert refusal.reason is ReasonCode.REFUND_REFERRAL_REWARDED
    assert listed[PaymentChargeId("c2")] is None
    refused = await refundable_purchase(payments, friend, PaymentChargeId("c1"))
    assert isinstance(refused, Rejected)
    assert refused.reason is ReasonCode.REFUND_REFERRAL_REWARDED
    async with store() as uow:
        assert await uow.ledger.balance(inviter) == Balance(available=10)


@pytest.mark.parametrize(
    ("user_id", "inviter"), [(5, 5), (6, 404)], ids=["self", "unknown inviter"]
)
async def test_self_referrals_and_unknown_inviters_are_refused(user_id: int, inviter: int):
    store, clock = MemoryUnitOfWorkFactory(), FrozenClock()
    joined = await register_user(
        store, clock, UserId(user_id), Language.EN, invited_by=UserId(inviter)
    )
    assert joined.is_new
    assert joined.user.referrer_id is None
    assert joined.referral_refused is not None
    assert joined.referral_refused.reason is ReasonCode.REFERRAL_REFUSED


async def test_only_the_cheapest_setup_of_a_free_model_is_free():
    pipeline = make_pipeline(settings=FREE)
    await fund(pipeline, 100)
    dearer = await start(pipeline, {"prompt": "a fox", "resolution": "2K"})
    assert not dearer.is_free
    assert dearer.quote.stars == 20
    assert await balance(pipeline) == Balance(available=80, held=20)
    assert await free_runs_left(pipeline, USER, flux(), dearer.quote.stars) is None
    allowance = await free_runs_left(pipeline, USER, flux(), 12)
    assert allowance is not None
    assert allowance.left == 2  # the paid run used none of them
    assert (await start(pipeline, {"prompt": "a fox", "resolution": "1K"})).is_free
