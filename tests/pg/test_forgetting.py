"""The append-only tables' one allowed change: forgetting's, for the user forgotten in that very
transaction; and a forgetting racing with a generation's start."""

import asyncio
from datetime import UTC, datetime

import asyncpg
import pytest

from kiebot_core.domain import ledger
from kiebot_core.domain.audit import AuditAction, AuditEntry, cli_actor
from kiebot_core.domain.ids import CorrelationId, UserId
from kiebot_core.domain.ledger import LedgerTransaction
from kiebot_core.domain.outcomes import Rejected
from kiebot_core.domain.privacy import fingerprint
from kiebot_core.domain.promotions import FreeTier, promo_reference, referral_reference
from kiebot_core.domain.reasons import ReasonCode
from kiebot_core.domain.registry import load_registry
from kiebot_core.ports.runtime import SystemClock
from kiebot_core.testing.delivery import RecordingDelivery
from kiebot_core.testing.generation import ScriptedGenerationGateway
from kiebot_core.testing.runtime import SequentialIds
from kiebot_core.use_cases.generation import (
    Pipeline,
    PipelineSettings,
    StartCommand,
    start_generation,
)
from kiebot_core.use_cases.privacy import forget_user
from kiebot_pg.uow import PgUnitOfWork, PgUnitOfWorkFactory
from tests.contracts.builders import make_generation, make_user

ALICE, BOB = UserId(1), UserId(2)
RECORD = """
    INSERT INTO forgotten_users (anonymous_id, fingerprint, forgotten_at)
    VALUES (-nextval('anonymous_user_ids'), $1, now()) RETURNING anonymous_id
"""
WAIT_S = 0.5
"""How long a unit of work is seen waiting for a lock before the test lets it go."""


def planned(transaction: LedgerTransaction | Rejected) -> LedgerTransaction:
    assert isinstance(transaction, LedgerTransaction)
    return transaction


WELCOME = planned(ledger.grant(ALICE, 10, "welcome:1"))
BOBS_PROMO = planned(ledger.grant(BOB, 5, promo_reference("1", BOB)))
BOBS_REWARD = planned(ledger.grant(BOB, 10, referral_reference(ALICE)))
BOBS_OTHER_REWARD = planned(ledger.grant(BOB, 10, referral_reference(UserId(3))))


async def granted(store: PgUnitOfWorkFactory) -> None:
    async with store() as tx:
        for transaction in (WELCOME, BOBS_PROMO, BOBS_REWARD, BOBS_OTHER_REWARD):
            await tx.ledger.append(transaction)
        await tx.commit()


async def forgetting(tx: PgUnitOfWork, user_id: UserId = ALICE) -> int:
    """Record the forgetting of ``user_id`` in ``tx``; its anonymous id."""
    anonymous: int = await tx.connection.fetchval(RECORD, fingerprint(user_id))
    return anonymous


async def test_without_a_forgetting_the_user_id_cannot_change(
    pg_store: PgUnitOfWorkFactory,
) -> None:
    await granted(pg_store)
    async with pg_store() as tx:
        with pytest.raises(asyncpg.RestrictViolationError, match="append-only"):
            await tx.connection.execute("UPDATE ledger_transactions SET user_id = -1")


async def test_an_earlier_transactions_forgetting_allows_nothing(
    pg_store: PgUnitOfWorkFactory,
) -> None:
    await granted(pg_store)
    async with pg_store() as tx:
        anonymous = await forgetting(tx)
        await tx.commit()
    async with pg_store() as tx:
        with pytest.raises(asyncpg.RestrictViolationError, match="append-only"):
            await tx.connection.execute(
                "UPDATE ledger_transactions SET user_id = $1 WHERE user_id = $2", anonymous, ALICE
            )


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE ledger_transactions SET user_id = 999 WHERE user_id = 1",
        "UPDATE ledger_transactions SET kind = 'purchase'",
        "UPDATE ledger_transactions SET created_at = created_at - interval '1 day'",
        "UPDATE ledger_transactions SET reference = 'edited' WHERE user_id = 1",
        "UPDATE ledger_entries SET amount = amount * 2",
        "DELETE FROM ledger_entries",
        "DELETE FROM ledger_transactions",
    ],
)
async def test_while_forgetting_amounts_kinds_times_and_other_owners_stay(
    pg_store: PgUnitOfWorkFactory, statement: str
) -> None:
    await granted(pg_store)
    async with pg_store() as tx:
        await forgetting(tx)
        with pytest.raises(asyncpg.RestrictViolationError, match="append-only"):
            await tx.connection.execute(statement)


async def test_while_forgetting_the_owner_becomes_the_anonymous_id(
    pg_store: PgUnitOfWorkFactory,
) -> None:
    await granted(pg_store)
    async with pg_store() as tx:
        anonymous = await forgetting(tx)
        await tx.connection.execute(
            "UPDATE ledger_transactions SET user_id = $1, idempotency_key = $2, reference = $3 "
            "WHERE user_id = $4",
            anonymous,
            f"grant:welcome:{anonymous}",
            f"welcome:{anonymous}",
            ALICE,
        )
        await tx.commit()
    async with pg_store() as tx:
        (moved,) = await tx.ledger.history(UserId(anonymous), limit=5)
    assert moved.key == f"grant:welcome:{anonymous}"


@pytest.mark.parametrize(
    ("statement", "key"),
    [
        ("UPDATE ledger_transactions SET user_id = $1", None),
        ("UPDATE ledger_transactions SET user_id = $1 WHERE idempotency_key = $2", BOBS_PROMO.key),
        (
            (
                "UPDATE ledger_transactions SET idempotency_key = 'grant:promo:' "
                "|| $1::bigint || ':2' "
                "WHERE idempotency_key = $2"
            ),
            BOBS_PROMO.key,
        ),
        (
            (
                "UPDATE ledger_transactions SET "
                "idempotency_key = 'grant:referral:' || $1::bigint, "
                "reference = 'referral:' || $1::bigint WHERE idempotency_key = $2"
            ),
            BOBS_OTHER_REWARD.key,
        ),
        (
            (
                "UPDATE ledger_transactions SET idempotency_key = 'grant:referral:' || $1::bigint "
                "WHERE idempotency_key = $2"
            ),
            BOBS_REWARD.key,
        ),
        (
            (
                "UPDATE ledger_transactions SET idempotency_key = 'grant:referral:999', "
                "reference = 'referral:999' WHERE idempotency_key = $2 AND $1::bigint < 0"
            ),
            BOBS_REWARD.key,
        ),
    ],
    ids=[
        "everyone to the anonymous id",
        "another user's transaction to the anonymous id",
        "another user's key",
        "the reward for inviting someone else",
        "the reward's key without its reference",
        "the reward for inviting someone else's id",
    ],
)
async def test_a_forgetting_cannot_move_or_rename_other_users_transactions(
    pg_store: PgUnitOfWorkFactory, statement: str, key: str | None
) -> None:
    await granted(pg_store)
    async with pg_store() as tx:
        anonymous = await forgetting(tx)
        arguments = [anonymous] if key is None else [anonymous, key]
        with pytest.raises(asyncpg.RestrictViolationError, match="append-only"):
            await tx.connection.execute(statement, *arguments)


async def test_the_reward_for_inviting_the_user_becomes_the_reward_for_the_anonymous_id(
    pg_store: PgUnitOfWorkFactory,
) -> None:
    await granted(pg_store)
    async with pg_store() as tx:
        anonymous = await forgetting(tx)
        await tx.connection.execute(
            "UPDATE ledger_transactions SET idempotency_key = 'grant:referral:' || $1::bigint, "
            "reference = 'referral:' || $1::bigint WHERE idempotency_key = $2",
            anonymous,
            BOBS_REWARD.key,
        )
        await tx.commit()
    async with pg_store() as tx:
        rewards = {t.key for t in await tx.ledger.history(BOB, limit=10)}
    assert rewards == {f"grant:referral:{anonymous}", BOBS_OTHER_REWARD.key, BOBS_PROMO.key}


async def test_forgetting_someone_else_allows_nothing_for_this_user(
    pg_store: PgUnitOfWorkFactory,
) -> None:
    await granted(pg_store)
    async with pg_store() as tx:
        anonymous = await forgetting(tx, BOB)
        with pytest.raises(asyncpg.RestrictViolationError, match="append-only"):
            await tx.connection.execute(
                "UPDATE ledger_transactions SET user_id = $1 WHERE user_id = $2", anonymous, ALICE
            )


async def audited(store: PgUnitOfWorkFactory) -> None:
    at = datetime.now(UTC)
    ops = cli_actor("ops")
    async with store() as tx:
        await tx.audit.append(AuditEntry(actor=ops, action=AuditAction.GRANT, target="1", at=at))
        await tx.audit.append(AuditEntry(actor=ops, action=AuditAction.BAN, target="2", at=at))
        await tx.audit.append(
            AuditEntry(actor=ops, action=AuditAction.PROMO_CREATE, target="1", at=at)
        )
        await tx.audit.append(
            AuditEntry(
                actor=ops,
                action=AuditAction.PAYMENT_REFUND,
                target="charge",
                at=at,
                detail="user=1 stars=5",
            )
        )
        await tx.commit()


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_log SET target = $1 WHERE action = 'ban'",
        "UPDATE audit_log SET target = $1 WHERE action = 'promo_create'",
        "UPDATE audit_log SET target = $1, reason = 'edited' WHERE action = 'grant'",
        "UPDATE audit_log SET target = $1, actor = 'cli:x' WHERE action = 'grant'",
        "UPDATE audit_log SET target = $1 || '0' WHERE action = 'grant'",
        "UPDATE audit_log SET detail = 'user=' || $1 WHERE action = 'payment_refund'",
        "UPDATE audit_log SET detail = 'user=' || $1 || ' stars=9' WHERE target = 'charge'",
        "UPDATE audit_log SET target = target WHERE $1::text <> ''",
        "DELETE FROM audit_log WHERE $1::text <> ''",
    ],
)
async def test_a_forgetting_rewrites_only_the_audit_entries_naming_that_user(
    pg_store: PgUnitOfWorkFactory, statement: str
) -> None:
    await audited(pg_store)
    async with pg_store() as tx:
        anonymous = await forgetting(tx)
        with pytest.raises(asyncpg.RestrictViolationError, match="append-only"):
            await tx.connection.execute(statement, str(anonymous))


async def test_a_forgetting_names_the_anonymous_id_in_the_users_audit_entries(
    pg_store: PgUnitOfWorkFactory,
) -> None:
    await audited(pg_store)
    async with pg_store() as tx:
        anonymous = await forgetting(tx)
        await tx.connection.execute(
            "UPDATE audit_log SET target = $1 WHERE action = 'grant'", str(anonymous)
        )
        await tx.connection.execute(
            "UPDATE audit_log SET detail = 'user=' || $1 || ' stars=5' "
            "WHERE action = 'payment_refund'",
            str(anonymous),
        )
        await tx.commit()
    async with pg_store() as tx:
        with pytest.raises(asyncpg.RestrictViolationError, match="append-only"):
            await tx.connection.execute("UPDATE audit_log SET target = '1' WHERE action = 'grant'")


def pipeline_over(store: PgUnitOfWorkFactory) -> Pipeline:
    registry = load_registry()

    async def registry_source():
        return registry

    return Pipeline(
        uow=store,
        gateway=ScriptedGenerationGateway(),
        delivery=RecordingDelivery(),
        clock=SystemClock(),
        ids=SequentialIds(),
        registry=registry_source,
        settings=PipelineSettings(free_tier=FreeTier(3, frozenset({"flux-2/flex-text-to-image"}))),
    )


async def alice_registered(store: PgUnitOfWorkFactory) -> None:
    async with store() as tx:
        await tx.users.add(make_user(ALICE, at=datetime.now(UTC)))
        await tx.commit()


async def test_a_free_start_waits_for_a_forgetting_under_way_and_then_is_refused(
    pg_store: PgUnitOfWorkFactory,
) -> None:
    await alice_registered(pg_store)
    pipeline = pipeline_over(pg_store)
    command = StartCommand(
        ALICE, "flux-2/flex-text-to-image", {"prompt": "a fox"}, CorrelationId("cor_race")
    )
    async with pg_store() as tx:
        await tx.privacy.forget(ALICE, fingerprint=fingerprint(ALICE), at=datetime.now(UTC))
        start = asyncio.create_task(start_generation(pipeline, command))
        done, _ = await asyncio.wait([start], timeout=WAIT_S)
        assert not done, "the start did not wait for the forgetting"
        await tx.commit()
    refused = await start
    assert isinstance(refused, Rejected)
    assert refused.reason is ReasonCode.USER_UNKNOWN
    async with pg_store() as tx:
        assert await tx.generations.for_user(ALICE, limit=5) == []
        assert await tx.generations.unfinished() == []


async def test_a_forgetting_waits_for_a_start_under_way_and_then_is_refused(
    pg_store: PgUnitOfWorkFactory,
) -> None:
    await alice_registered(pg_store)
    async with pg_store() as starting:
        assert await starting.privacy.lock_against_forgetting(ALICE)
        await starting.generations.add(
            make_generation("gen_race", at=datetime.now(UTC), user_id=ALICE)
        )
        forget = asyncio.create_task(forget_user(pg_store, SystemClock(), ALICE))
        done, _ = await asyncio.wait([forget], timeout=WAIT_S)
        assert not done, "the forgetting did not wait for the start"
        await starting.commit()
    refused = await forget
    assert isinstance(refused, Rejected)
    assert refused.reason is ReasonCode.GENERATIONS_RUNNING
    async with pg_store() as tx:
        assert await tx.users.get(ALICE) is not None
        assert await tx.privacy.forgotten(fingerprint(ALICE)) == []


async def test_a_start_does_not_hold_up_the_users_other_updates(
    pg_store: PgUnitOfWorkFactory,
) -> None:
    await alice_registered(pg_store)
    async with pg_store() as starting:
        assert await starting.privacy.lock_against_forgetting(ALICE)
        async with pg_store() as seen, asyncio.timeout(WAIT_S * 4):
            await seen.users.update_seen(ALICE, last_seen_at=datetime.now(UTC), username="al")
            await seen.commit()
