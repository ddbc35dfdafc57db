"""Operator actions write the audit trail in their own transaction; stats, lookup and bans."""

from datetime import UTC, datetime, timedelta

import pytest

from kiebot_core.domain.audit import (
    AuditAction,
    AuditEntry,
    cli_actor,
    telegram_actor,
    telegram_id_of,
)
from kiebot_core.domain.generation import GenerationState
from kiebot_core.domain.ids import PaymentChargeId, UserId
from kiebot_core.domain.ledger import AccountKind, Balance
from kiebot_core.domain.outcomes import Rejected
from kiebot_core.domain.pricing import PriceSettings
from kiebot_core.domain.reasons import ReasonCode
from kiebot_core.domain.registry import load_registry
from kiebot_core.domain.stats import nearest_rank
from kiebot_core.domain.texts import Language
from kiebot_core.domain.users import User, user_id_query, username_query
from kiebot_core.testing.memory import MemoryDatabase, MemoryUnitOfWorkFactory
from kiebot_core.testing.runtime import FrozenClock, SequentialIds
from kiebot_core.testing.stars import MemoryStarsAccount
from kiebot_core.use_cases.admin import (
    BanChanged,
    UserRecord,
    ban_notice_sent,
    look_up_user,
    operator_stats,
    set_banned,
)
from kiebot_core.use_cases.audit import audit_trail
from kiebot_core.use_cases.billing import MAX_GRANT_STARS, Granted, grant_stars
from kiebot_core.use_cases.catalog import SetModelEnabled
from kiebot_core.use_cases.payments import Payments, refund_charge, register_payment
from kiebot_core.use_cases.promotions import create_promo, register_user
from tests.contracts.builders import make_generation, make_user

ADMIN = telegram_actor(4242)
OPERATOR = cli_actor("alice")
ANN = UserId(1001)
NOW = datetime(2026, 5, 14, 15, 30, tzinfo=UTC)


def store_at(now: datetime = NOW) -> tuple[MemoryUnitOfWorkFactory, FrozenClock]:
    clock = FrozenClock(now)
    return MemoryUnitOfWorkFactory(MemoryDatabase(clock)), clock


async def add_user(store: MemoryUnitOfWorkFactory, user_id: int = ANN, **fields: object):
    async with store() as uow:
        await uow.users.add(make_user(user_id, at=NOW, **fields))
        await uow.commit()


async def trail(store: MemoryUnitOfWorkFactory) -> list[AuditEntry]:
    return await audit_trail(store)


def test_actors_name_a_telegram_admin_or_a_cli_operator():
    assert ADMIN == "tg:4242"
    assert telegram_id_of(ADMIN) == 4242
    assert OPERATOR == "cli:alice"
    assert telegram_id_of(OPERATOR) is None
    with pytest.raises(ValueError, match="empty"):
        cli_actor("  ")


def test_usernames_are_typed_with_or_without_the_at():
    assert username_query(" @Ann_Smith ") == "ann_smith"
    assert username_query("12345") == "12345"
    for text in ("", "@", "ab", "with space", "@" + "x" * 33):
        assert username_query(text) is None


def test_user_ids_are_typed_as_ascii_digits_that_fit_64_bits():
    assert user_id_query(" 1001 ") == 1001
    assert user_id_query("9" * 19) == int("9" * 19)
    for text in ("", "-5", "+5", "1e3", "12 34", "١٢٣", "9" * 20, "@1001"):
        assert user_id_query(text) is None, text


def test_percentiles_pick_the_nearest_rank_like_postgresql():
    values = [timedelta(seconds=n) for n in (40, 10, 30, 20)]
    assert nearest_rank(values, 0.5) == timedelta(seconds=20)
    assert nearest_rank(values, 0.95) == timedelta(seconds=40)
    assert nearest_rank(values[:1], 0.5) == timedelta(seconds=40)
    assert nearest_rank([], 0.5) is None


def test_a_user_is_marked_seen_once_a_day_or_when_the_username_changes():
    user = User(id=ANN, language=Language.EN, created_at=NOW)
    seen = user.seen(NOW, "ann")
    assert seen is not None
    assert (seen.last_seen_at, seen.username) == (NOW, "ann")
    assert seen.seen(NOW + timedelta(hours=8), "ann") is None
    renamed = seen.seen(NOW + timedelta(hours=8), "annie")
    assert renamed is not None
    assert (renamed.last_seen_at, renamed.username) == (NOW, "annie")
    next_day = renamed.seen(NOW + timedelta(hours=9), "annie")
    assert next_day is not None
    assert next_day.last_seen_at == NOW + timedelta(hours=9)


async def test_registration_records_the_username_and_the_day_seen():
    store, clock = store_at()
    first = await register_user(store, clock, ANN, Language.EN, username="Ann")
    assert (first.user.username, first.user.last_seen_at) == ("Ann", NOW)
    clock.advance(timedelta(days=1))
    again = await register_user(store, clock, ANN, Language.EN, username=None)
    assert (again.user.username, again.user.last_seen_at) == (None, clock.now())
    async with store() as uow:
        assert await uow.users.get(ANN) == again.user


async def test_a_grant_and_its_audit_entry_are_one_transaction_recorded_once():
    store, clock = store_at()
    granted = await grant_stars(store, clock, ANN, 50, " goodwill ", by=ADMIN)
    assert isinstance(granted, Granted)
    assert granted.balance == Balance(available=50)
    again = await grant_stars(store, clock, ANN, 50, "goodwill", by=OPERATOR)
    assert isinstance(again, Granted)
    assert not again.is_new
    assert await trail(store) == [
        AuditEntry(
            actor=ADMIN,
            action=AuditAction.GRANT,
            target=str(ANN),
            at=NOW,
            detail="stars=50",
            reason="goodwill",
        )
    ]


@pytest.mark.parametrize(
    ("stars", "reason", "field"),
    [(0, "x", "stars"), (MAX_GRANT_STARS + 1, "x", "stars"), (5, "  ", "reason")],
)
async def test_a_refused_grant_records_nothing(stars: int, reason: str, field: str):
    store, clock = store_at()
    refused = await grant_stars(store, clock, ANN, stars, reason, by=ADMIN)
    assert isinstance(refused, Rejected)
    assert (refused.reason, refused.input_name) == (ReasonCode.INVALID_INPUT, field)
    assert await trail(store) == []
    async with store() as uow:
        assert await uow.ledger.balance(ANN) == Balance()


async def test_a_ban_is_audited_and_resets_the_notice_an_unban_lifts_it():
    store, clock = store_at()
    await add_user(store)
    banned = await set_banned(store, clock, ANN, banned=True, by=ADMIN, reason="spam")
    assert banned == BanChanged(await _user(store), changed=True)
    assert banned.user.is_banned
    await ban_notice_sent(store, ANN)
    assert (await _user(store)).ban_notice_sent
    twice = await set_banned(store, clock, ANN, banned=True, by=ADMIN, reason="again")
    assert isinstance(twice, BanChanged)
    assert not twice.changed
    clock.advance(timedelta(minutes=5))
    lifted = await set_banned(store, clock, ANN, banned=False, by=OPERATOR, reason="appeal")
    assert isinstance(lifted, BanChanged)
    assert lifted.changed
    assert not lifted.user.is_banned
    assert not lifted.user.ban_notice_sent
    assert [(e.actor, e.action, e.target, e.reason) for e in await trail(store)] == [
        (OPERATOR, AuditAction.UNBAN, str(ANN), "appeal"),
        (ADMIN, AuditAction.BAN, str(ANN), "spam"),
    ]


async def _user(store: MemoryUnitOfWorkFactory) -> User:
    async with store() as uow:
        user = await uow.users.get(ANN)
    assert user is not None
    return user


async def test_admins_unknown_users_and_empty_reasons_cannot_be_banned():
    store, clock = store_at()
    await add_user(store)
    await add_user(store, 4242)
    admin = await set_banned(
        store, clock, UserId(4242), banned=True, by=ADMIN, reason="oops", protected={4242}
    )
    unknown = await set_banned(store, clock, UserId(7), banned=True, by=ADMIN, reason="spam")
    empty = await set_banned(store, clock, ANN, banned=True, by=ADMIN, reason=" ")
    long = await set_banned(store, clock, ANN, banned=True, by=ADMIN, reason="x" * 501)
    assert [(r.reason, r.input_name) for r in (admin, unknown, empty, long)] == [  # type: ignore[union-attr]
        (ReasonCode.INVALID_INPUT, "user"),
        (ReasonCode.INVALID_INPUT, "user"),
        (ReasonCode.INVALID_INPUT, "reason"),
        (ReasonCode.INVALID_INPUT, "reason"),
    ]
    assert await trail(store) == []
    assert not (await _user(store)).is_banned


async def test_users_are_looked_up_by_id_or_username_with_their_money_and_runs():
    store, clock = store_at()
    await add_user(store, username="Ann_Smith", last_seen_at=NOW)
    await grant_stars(store, clock, ANN, 30, "welcome", by=ADMIN)
    async with store() as uow:
        await uow.generations.add(make_generation("gen_1", at=NOW, user_id=ANN))
        await uow.commit()
    by_id = await look_up_user(store, " 1001 ")
    by_name = await look_up_user(store, "@ann_smith")
    assert isinstance(by_id, UserRecord)
    assert by_id == by_name
    assert by_id.balance == Balance(available=30)
    assert [m.amount_of(AccountKind.AVAILABLE) for m in by_id.moves] == [30]
    assert [g.id for g in by_id.generations] == ["gen_1"]
    assert await look_up_user(store, "2002") is None
    assert await look_up_user(store, "@nobody") is None
    malformed = await look_up_user(store, "who is ann?")
    assert isinstance(malformed, Rejected)
    assert malformed.input_name == "query"


async def test_operator_refunds_promo_codes_and_switches_are_audited():
    store, clock = store_at()
    payments = Payments(uow=store, clock=clock, ids=SequentialIds())
    account = MemoryStarsAccount()
    charge = PaymentChargeId("stx_1")
    account.pay(charge, ANN, 100)
    await register_payment(payments, charge, ANN, "ord_x.t1", 100)
    await refund_charge(payments, account, charge, by=OPERATOR, reason="asked by mail")
    await create_promo(store, clock, "spring", 25, max_uses=10, by=ADMIN, reason="campaign")
    switch = SetModelEnabled(store, load_registry(), clock)
    assert await switch("flux-2/flex-text-to-image", enabled=False, by=ADMIN) is None
    assert await switch("flux-2/flex-text-to-image", enabled=False, by=ADMIN) is None
    assert await switch("nope", enabled=False, by=ADMIN) is not None
    assert [(e.actor, e.action, e.target, e.detail, e.reason) for e in await trail(store)] == [
        (ADMIN, AuditAction.MODEL_DISABLE, "flux-2/flex-text-to-image", "", ""),
        (ADMIN, AuditAction.PROMO_CREATE, "SPRING", "stars=25 max_uses=10", "campaign"),
        (OPERATOR, AuditAction.PAYMENT_REFUND, "stx_1", "user=1001 stars=100", "asked by mail"),
    ]


async def test_stats_cover_the_utc_days_of_the_period_with_the_margin():
    store, clock = store_at()
    await add_user(store, last_seen_at=NOW - timedelta(hours=2))
    async with store() as uow:
        for gid, days_ago in (("gen_today", 0), ("gen_week", 6), ("gen_old", 7)):
            started = NOW - timedelta(days=days_ago)
            await uow.generations.add(
                make_generation(
                    gid,
                    at=started,
                    state=GenerationState.SUCCEEDED,
                    updated_at=started + timedelta(seconds=30),
                )
            )
        await uow.commit()
    today = await operator_stats(store, clock, PriceSettings(), days=1)
    week = await operator_stats(store, clock, PriceSettings(), days=7)
    assert today.since == datetime(2026, 5, 14, tzinfo=UTC)
    assert week.since == datetime(2026, 5, 8, tzinfo=UTC)
    assert [r.total for r in today.activity.runs] == [1]
    assert [r.total for r in week.activity.runs] == [2]
    assert [m.generations for m in week.margins] == [2]
    assert week.activity.users.active_today == 1
    with pytest.raises(ValueError, match="0 days"):
        await operator_stats(store, clock, PriceSettings(), days=0)
