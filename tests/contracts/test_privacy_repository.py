"""Forgetting a user: personal data erased, money kept under an anonymous id, on every store."""

import json
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

import pytest

from kiebot_core.domain.audit import AuditAction, AuditEntry, cli_actor
from kiebot_core.domain.catalog import JsonValue
from kiebot_core.domain.coordination import Conversation, InboxUpdate
from kiebot_core.domain.errors import NotFoundError, StaleWriteError
from kiebot_core.domain.favorites import Favorite
from kiebot_core.domain.generation import GenerationState
from kiebot_core.domain.ids import FavoriteId, GenerationId, IdempotencyKey, OrderId, UserId
from kiebot_core.domain.ledger import Balance, capture, grant, hold, purchase
from kiebot_core.domain.payments import Order
from kiebot_core.domain.privacy import fingerprint, utc_day
from kiebot_core.domain.promotions import PromoCode, promo_reference, referral_reference
from kiebot_core.testing.memory import MemoryUnitOfWorkFactory
from kiebot_core.use_cases.billing import grant_reference
from kiebot_pg.uow import PgUnitOfWorkFactory
from kiebot_sqlite.uow import SqliteUnitOfWorkFactory
from tests.contracts.builders import (
    make_event,
    make_generation,
    make_payment,
    make_user,
    planned,
)
from tests.contracts.stores import BACKENDS, Store

pytestmark = pytest.mark.parametrize("uow", BACKENDS, indirect=True)

ANN, BOB, CAROL = UserId(101), UserId(202), UserId(303)
BOT = 7


def update(update_id: int, uow: Store, *, chat_id: int | None, sender: int) -> InboxUpdate:
    kind = "message" if chat_id is not None else "pre_checkout_query"
    return InboxUpdate(
        bot_id=BOT,
        update_id=update_id,
        chat_id=chat_id,
        payload={"update_id": update_id, kind: {"from": {"id": sender, "first_name": "Ann"}}},
        received_at=uow.now(),
    )


async def populate(uow: Store) -> None:
    """Ann (invited by Bob) with a bit of everything; Carol beside her."""
    now = uow.now()
    async with uow() as tx:
        await tx.users.add(make_user(BOB, at=now))
        await tx.users.add(make_user(ANN, at=now, referrer_id=BOB, username="ann_1"))
        await tx.users.add(make_user(CAROL, at=now, referrer_id=ANN))
        await tx.ledger.append(planned(grant(ANN, 100, f"welcome:{ANN}")))
        await tx.ledger.append(planned(grant(ANN, 7, grant_reference(ANN, 7, "sorry"))))
        await tx.promos.add(PromoCode(code="SPRING", stars=20, created_at=now))
        assert await tx.promos.redeem("SPRING", ANN, now)
        await tx.ledger.append(planned(grant(ANN, 20, f"promo:SPRING:{ANN}")))
        await tx.orders.add(
            Order(
                id=OrderId("ord_1"),
                user_id=ANN,
                stars=100,
                bonus=10,
                terms_version=1,
                created_at=now,
            )
        )
        assert await tx.payments.add(make_payment("charge_ann", at=now, user_id=ANN))
        balance = await tx.ledger.balance(ANN)
        await tx.ledger.append(planned(purchase(balance, ANN, 110, "charge_ann")))
        assert await tx.referrals.reward(ANN, BOB, 10, now, make_payment(at=now).charge_id)
        await tx.ledger.append(planned(grant(BOB, 10, f"referral:{ANN}")))
        await tx.generations.add(
            make_generation(
                "gen_ann",
                at=now,
                user_id=ANN,
                prompt="my secret prompt",
                state=GenerationState.SUCCEEDED,
                held=12,
                result_urls=("https://files.example/ann.png",),
                delivered_refs=("tg-file-ann",),
            )
        )
        balance = await tx.ledger.balance(ANN)
        await tx.ledger.append(planned(hold(balance, ANN, 12, "gen_ann")))
        await tx.ledger.append(planned(capture(ANN, 12, 12, "gen_ann")))
        await tx.generations.add(
            make_generation("gen_carol", at=now, user_id=CAROL, state=GenerationState.FAILED)
        )
        await tx.favorites.add(
            Favorite(
                id=FavoriteId("fav_ann"),
                user_id=ANN,
                model_id="nano-banana-pro",
                answers={"prompt": "my secret prompt"},
                created_at=now,
            )
        )
        await tx.conversations.put(
            Conversation(
                bot_id=BOT, chat_id=ANN, user_id=ANN, state="Flow:wizard", data={"q": "x"}
            )
        )
        await tx.events.append(make_event("cor_a", at=now, user_id=ANN, payload={"text": "hi"}))
        await tx.events.append(
            make_event("cor_g", at=now, generation_id=GenerationId("gen_ann"), payload={"p": 1})
        )
        await tx.events.append(make_event("cor_c", at=now, user_id=CAROL))
        await tx.inbox.store(update(1, uow, chat_id=ANN, sender=ANN))
        await tx.inbox.store(update(2, uow, chat_id=ANN, sender=ANN))
        await tx.inbox.store(update(3, uow, chat_id=None, sender=ANN))
        await tx.inbox.store(update(4, uow, chat_id=CAROL, sender=CAROL))
        await tx.sent_messages.record(BOT, 1, 1, "sendMessage", {"text": "hello Ann"})
        await tx.sent_messages.record(BOT, 4, 1, "sendMessage", {"text": "hello Carol"})
        assert await tx.free_runs.take(ANN, utc_day(now), daily=3)
        assert await tx.free_runs.take(ANN, utc_day(now), daily=3)
        await tx.commit()
    async with uow() as tx:
        for update_id in (1, 3, 4):
            await tx.inbox.done(BOT, update_id)
        await tx.commit()


async def forget(uow: Store, user_id: UserId = ANN):
    async with uow() as tx:
        record = await tx.privacy.forget(user_id, fingerprint=fingerprint(user_id), at=uow.now())
        await tx.commit()
    return record


async def test_the_profile_goes_and_the_record_remembers_only_what_stops_abuse(
    uow: Store,
) -> None:
    await populate(uow)
    async with uow() as tx:
        await tx.users.save(make_user(ANN, at=uow.now(), referrer_id=BOB, is_banned=True))
        await tx.commit()
    record = await forget(uow)
    assert record.anonymous_id < 0
    assert record.was_banned is True
    assert record.fingerprint == fingerprint(ANN)
    assert (record.free_runs_day, record.free_runs_used) == (utc_day(uow.now()), 2)
    async with uow() as tx:
        assert await tx.users.get(ANN) is None
        assert await tx.privacy.forgotten(fingerprint(ANN)) == [record]
        assert await tx.privacy.forgotten(fingerprint(BOB)) == []
        carol = await tx.users.get(CAROL)
        assert carol is not None
        assert carol.referrer_id == record.anonymous_id
        assert await tx.free_runs.used(ANN, utc_day(uow.now())) == 0


async def test_money_stays_under_the_anonymous_id_and_balances_still_equal_their_entries(
    uow: Store,
) -> None:
    await populate(uow)
    async with uow() as tx:
        before = list(reversed(await tx.ledger.history(ANN, limit=100)))
        balance = await tx.ledger.balance(ANN)
        bob_before = await tx.ledger.balance(BOB)
    anonymous = (await forget(uow)).anonymous_id
    async with uow() as tx:
        assert await tx.ledger.history(ANN, limit=100) == []
        assert await tx.ledger.balance(ANN) == Balance()
        after = list(reversed(await tx.ledger.history(anonymous, limit=100)))
        assert await tx.ledger.balance(anonymous) == balance == Balance.of(after)
        assert [(t.kind, t.entries) for t in after] == [(t.kind, t.entries) for t in before]
        assert all(t.recorded_at == b.recorded_at for t, b in zip(after, before, strict=True))
        for transaction in after:
            assert str(ANN) not in transaction.key.split(":")
            assert str(ANN) not in transaction.reference.split(":")
            assert await tx.ledger.get(transaction.key) == transaction
        assert {t.key for t in after} >= {
            IdempotencyKey(f"grant:welcome:{anonymous}"),
            IdempotencyKey(f"grant:promo:SPRING:{anonymous}"),
            IdempotencyKey("purchase:charge_ann"),
            IdempotencyKey("hold:gen_ann"),
            IdempotencyKey("settle:gen_ann"),
        }
        assert await tx.ledger.get(IdempotencyKey(f"grant:welcome:{ANN}")) is None
        bob = await tx.ledger.history(BOB, limit=10)
        assert [t.key for t in bob] == [f"grant:referral:{anonymous}"]
        assert await tx.ledger.balance(BOB) == bob_before
        (payment,) = await tx.payments.for_user(anonymous, limit=10)
        assert payment.charge_id == "charge_ann"
        assert await tx.payments.for_user(ANN, limit=10) == []
        order = await tx.orders.get(OrderId("ord_1"))
        assert order is not None
        assert order.user_id == anonymous
        assert await tx.promos.is_redeemed("SPRING", anonymous)
        assert not await tx.promos.is_redeemed("SPRING", ANN)
        summary = await tx.referrals.summary(BOB)
        assert (summary.rewarded, summary.stars) == (1, 10)


async def test_prompts_results_favorites_and_conversations_are_erased(uow: Store) -> None:
    await populate(uow)
    anonymous = (await forget(uow)).anonymous_id
    async with uow() as tx:
        generation = await tx.generations.get(GenerationId("gen_ann"))
        assert generation is not None
        assert generation.user_id == anonymous
        assert dict(generation.input) == {}
        assert generation.result_urls == ()
        assert generation.delivered_refs == ()
        assert (generation.model_id, generation.stars, generation.state) == (
            "flux-2/pro-text-to-image",
            12,
            GenerationState.SUCCEEDED,
        )
        assert await tx.generations.for_user(ANN, limit=10) == []
        assert await tx.generations.for_user(anonymous, limit=10, search="secret") == []
        carol = await tx.generations.get(GenerationId("gen_carol"))
        assert carol is not None
        assert carol.input["prompt"] == "a cat in a hat"
        assert await tx.favorites.for_user(ANN, limit=10) == []
        assert await tx.favorites.get(FavoriteId("fav_ann")) is None
        assert await tx.conversations.get(BOT, ANN, ANN) is None


async def test_events_lose_their_payloads_and_handled_updates_are_deleted(uow: Store) -> None:
    await populate(uow)
    anonymous = (await forget(uow)).anonymous_id
    async with uow() as tx:
        (mine,) = await tx.events.chain(make_event("cor_a", at=uow.now()).correlation_id)
        assert (mine.user_id, dict(mine.payload)) == (anonymous, {})
        (about,) = await tx.events.chain(make_event("cor_g", at=uow.now()).correlation_id)
        assert (about.user_id, dict(about.payload)) == (None, {})
        (carol,) = await tx.events.chain(make_event("cor_c", at=uow.now()).correlation_id)
        assert dict(carol.payload) == {"screen": "models"}
        assert [u.update_id for u in await tx.inbox.pending(limit=10)] == [2]
        assert await tx.sent_messages.recorded(BOT, 1, 1) is None
        assert await tx.sent_messages.recorded(BOT, 4, 1) is not None
        assert await tx.inbox.store(update(1, uow, chat_id=ANN, sender=ANN)) is True
        assert await tx.inbox.store(update(3, uow, chat_id=None, sender=ANN)) is True
        assert await tx.inbox.store(update(4, uow, chat_id=CAROL, sender=CAROL)) is False


async def test_forgetting_an_inviter_keeps_their_invitees_counted(uow: Store) -> None:
    await populate(uow)
    anonymous = (await forget(uow, BOB)).anonymous_id
    async with uow() as tx:
        ann = await tx.users.get(ANN)
        assert ann is not None
        assert ann.referrer_id == anonymous
        summary = await tx.referrals.summary(anonymous)
        assert (summary.invited, summary.rewarded, summary.stars) == (1, 1, 10)
        assert [t.key for t in await tx.ledger.history(anonymous, limit=10)] == [
            f"grant:referral:{ANN}"
        ]


async def test_every_forgetting_gets_a_new_anonymous_id(uow: Store) -> None:
    await populate(uow)
    first = await forget(uow)
    async with uow() as tx:
        await tx.users.add(make_user(ANN, at=uow.now() + timedelta(minutes=1)))
        await tx.ledger.append(planned(grant(ANN, 5, f"operator:{ANN}:x")))
        await tx.commit()
    second = await forget(uow)
    third = await forget(uow, CAROL)
    assert len({first.anonymous_id, second.anonymous_id, third.anonymous_id}) == 3
    async with uow() as tx:
        assert await tx.privacy.forgotten(fingerprint(ANN)) == [first, second]
        assert await tx.ledger.balance(second.anonymous_id) == Balance(available=5)


async def test_an_unknown_user_cannot_be_forgotten(uow: Store) -> None:
    async with uow() as tx:
        with pytest.raises(NotFoundError):
            await tx.privacy.forget(ANN, fingerprint=fingerprint(ANN), at=uow.now())


async def test_a_user_with_an_unfinished_generation_is_not_forgotten(uow: Store) -> None:
    await populate(uow)
    async with uow() as tx:
        await tx.generations.add(make_generation("gen_live", at=uow.now(), user_id=ANN))
        await tx.commit()
    async with uow() as tx:
        with pytest.raises(StaleWriteError):
            await tx.privacy.forget(ANN, fingerprint=fingerprint(ANN), at=uow.now())
    async with uow() as tx:
        assert await tx.users.get(ANN) is not None
        assert await tx.privacy.forgotten(fingerprint(ANN)) == []


async def test_an_uncommitted_forgetting_changes_nothing(uow: Store) -> None:
    await populate(uow)
    async with uow() as tx:
        before = await tx.ledger.history(ANN, limit=100)
    async with uow() as tx:
        await tx.privacy.forget(ANN, fingerprint=fingerprint(ANN), at=uow.now())
    async with uow() as tx:
        assert await tx.users.get(ANN) is not None
        assert await tx.ledger.history(ANN, limit=100) == before
        assert await tx.privacy.forgotten(fingerprint(ANN)) == []


async def test_other_users_keys_that_merely_contain_the_users_digits_stay(uow: Store) -> None:
    # A promo code that reads like Ann's id: only her own redemption and the reward for
    # inviting her change.
    code = str(ANN)
    carol_redeemed = planned(grant(CAROL, 5, promo_reference(code, CAROL)))
    bob_operator = planned(grant(BOB, 3, f"operator:{BOB}:{ANN}"))
    async with uow() as tx:
        await tx.users.add(make_user(BOB, at=uow.now()))
        await tx.users.add(make_user(ANN, at=uow.now(), referrer_id=BOB))
        await tx.users.add(make_user(CAROL, at=uow.now()))
        await tx.ledger.append(carol_redeemed)
        await tx.ledger.append(bob_operator)
        await tx.ledger.append(planned(grant(ANN, 5, promo_reference(code, ANN))))
        await tx.ledger.append(planned(grant(BOB, 10, referral_reference(ANN))))
        await tx.commit()
    anonymous = (await forget(uow)).anonymous_id
    async with uow() as tx:
        assert await tx.ledger.get(carol_redeemed.key) == carol_redeemed
        assert await tx.ledger.get(bob_operator.key) == bob_operator
        (mine,) = await tx.ledger.history(anonymous, limit=10)
        assert (mine.key, mine.reference) == (
            f"grant:promo:{code}:{anonymous}",
            f"promo:{code}:{anonymous}",
        )
        reward = await tx.ledger.get(IdempotencyKey(f"grant:referral:{anonymous}"))
        assert reward is not None
        assert (reward.user_id, reward.reference) == (BOB, f"referral:{anonymous}")
        assert await tx.ledger.balance(CAROL) == Balance(available=5)


async def test_operators_audit_entries_name_the_anonymous_id_instead(uow: Store) -> None:
    ops = cli_actor("ops")

    def entry(action: AuditAction, target: object, detail: str = "") -> AuditEntry:
        return AuditEntry(
            actor=ops, action=action, target=str(target), at=uow.now(), detail=detail, reason="r"
        )

    about_ann = [
        entry(AuditAction.GRANT, ANN, "stars=5"),
        entry(AuditAction.BAN, ANN),
        entry(AuditAction.UNBAN, ANN),
        entry(AuditAction.USER_EXPORT, ANN),
        entry(AuditAction.GENERATION_REFUND, "gen_ann", f"user={ANN} stars=12"),
        entry(AuditAction.PAYMENT_REFUND, "charge_ann", f"user={ANN} stars=110"),
    ]
    others = [
        entry(AuditAction.GRANT, f"{ANN}0", "stars=5"),
        entry(AuditAction.PROMO_CREATE, ANN, "5 ⭐"),
        entry(AuditAction.PAYMENT_REFUND, "charge_bob", f"user={ANN}0 stars=110"),
        entry(AuditAction.GENERATION_REFUND, str(ANN), f"user={BOB} stars=1"),
    ]
    async with uow() as tx:
        await tx.users.add(make_user(ANN, at=uow.now()))
        for written in [*about_ann, *others]:
            await tx.audit.append(written)
        await tx.commit()
    anonymous = (await forget(uow)).anonymous_id
    async with uow() as tx:
        trail = list(reversed(await tx.audit.recent(limit=50)))
    assert trail[len(about_ann) :] == others
    assert [(e.target, e.detail) for e in trail[: len(about_ann)]] == [
        (str(anonymous), "stars=5"),
        (str(anonymous), ""),
        (str(anonymous), ""),
        (str(anonymous), ""),
        ("gen_ann", f"user={anonymous} stars=12"),
        ("charge_ann", f"user={anonymous} stars=110"),
    ]
    assert [(e.actor, e.action, e.at, e.reason) for e in trail[: len(about_ann)]] == [
        (e.actor, e.action, e.at, e.reason) for e in about_ann
    ]


async def test_a_start_locks_the_user_against_forgetting_while_stored(uow: Store) -> None:
    async with uow() as tx:
        await tx.users.add(make_user(ANN, at=uow.now()))
        await tx.commit()
    async with uow() as tx:
        assert await tx.privacy.lock_against_forgetting(ANN) is True
        assert await tx.privacy.lock_against_forgetting(BOB) is False
    await forget(uow)
    async with uow() as tx:
        assert await tx.privacy.lock_against_forgetting(ANN) is False


async def stored_payload(uow: Store, update_id: int) -> JsonValue:
    """The payload stored for a done update, whose chat must be cleared (no port reads it)."""
    factory = uow.factory
    if isinstance(factory, MemoryUnitOfWorkFactory):
        stored = factory.database.state.inbox[BOT, update_id]
        assert stored.chat_id is None
        return dict(stored.payload)
    sql = "SELECT payload, chat_id FROM update_inbox WHERE bot_id = {} AND update_id = {}"
    row: Mapping[str, Any] | None
    if isinstance(factory, SqliteUnitOfWorkFactory):
        async with factory() as tx:
            cursor = await tx.connection.execute(sql.format("?", "?"), (BOT, update_id))
            found = await cursor.fetchone()
            row = None if found is None else dict(found)
    else:
        assert isinstance(factory, PgUnitOfWorkFactory)
        async with factory() as pg:
            record = await pg.connection.fetchrow(sql.format("$1", "$2"), BOT, update_id)
            row = None if record is None else dict(record)
    assert row is not None
    assert row["chat_id"] is None
    payload = row["payload"]
    loaded: JsonValue = json.loads(payload) if isinstance(payload, str) else payload
    return loaded


async def test_the_update_that_deleted_is_erased_once_done_but_stays_a_duplicate(
    uow: Store,
) -> None:
    await populate(uow)
    await forget(uow)
    async with uow() as tx:
        await tx.sent_messages.record(BOT, 2, 1, "answerCallbackQuery", True)
        await tx.sent_messages.record(BOT, 2, 2, "editMessageText", {"text": "deleted"})
        await tx.sent_messages.record(BOT, 4, 2, "sendMessage", {"text": "hi Carol"})
        await tx.inbox.done(BOT, 2)
        await tx.privacy.erase_update(BOT, 2)
        await tx.privacy.erase_update(BOT, 999)
        await tx.commit()
    assert await stored_payload(uow, 2) == {"update_id": 2}
    async with uow() as tx:
        assert await tx.sent_messages.recorded(BOT, 2, 1) is None
        assert await tx.sent_messages.recorded(BOT, 2, 2) is None
        assert await tx.sent_messages.recorded(BOT, 4, 2) is not None
        assert await tx.inbox.store(update(2, uow, chat_id=ANN, sender=ANN)) is False
        assert await tx.inbox.pending(limit=10) == []
