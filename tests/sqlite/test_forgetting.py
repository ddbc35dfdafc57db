"""The append-only tables' one allowed change in SQLite: forgetting's, for the user of the
forgetting record open in that very unit of work."""

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest

from kiebot_core.domain import ledger
from kiebot_core.domain.audit import AuditAction, AuditEntry, cli_actor
from kiebot_core.domain.ids import UserId
from kiebot_core.domain.ledger import LedgerTransaction
from kiebot_core.domain.outcomes import Rejected
from kiebot_core.domain.privacy import fingerprint
from kiebot_core.domain.promotions import promo_reference, referral_reference
from kiebot_sqlite.migrate import migrate
from kiebot_sqlite.uow import SqliteUnitOfWork, SqliteUnitOfWorkFactory
from tests.contracts.builders import make_user

ALICE, BOB = UserId(1), UserId(2)
RECORD = """
    INSERT INTO forgotten_users (anonymous_id, fingerprint, forgotten_at, open)
    VALUES (-1, ?, '2026-01-01T00:00:00.000000+00:00', ?)
"""
ANONYMOUS = -1


def planned(transaction: LedgerTransaction | Rejected) -> LedgerTransaction:
    assert isinstance(transaction, LedgerTransaction)
    return transaction


WELCOME = planned(ledger.grant(ALICE, 10, "welcome:1"))
BOBS_PROMO = planned(ledger.grant(BOB, 5, promo_reference("1", BOB)))
BOBS_REWARD = planned(ledger.grant(BOB, 10, referral_reference(ALICE)))
BOBS_OTHER_REWARD = planned(ledger.grant(BOB, 10, referral_reference(UserId(3))))


@pytest.fixture
async def store(tmp_path: Path) -> SqliteUnitOfWorkFactory:
    path = tmp_path / "kiebot.sqlite3"
    await migrate(path)
    factory = SqliteUnitOfWorkFactory(path)
    at = datetime.now(UTC)
    ops = cli_actor("ops")
    async with factory() as tx:
        for transaction in (WELCOME, BOBS_PROMO, BOBS_REWARD, BOBS_OTHER_REWARD):
            await tx.ledger.append(transaction)
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
    return factory


async def forgetting(tx: SqliteUnitOfWork, user_id: UserId = ALICE, *, is_open: int = 1) -> None:
    await tx.connection.execute(RECORD, (fingerprint(user_id), is_open))


@pytest.mark.parametrize("record_open", [None, 0])
async def test_without_an_open_forgetting_the_user_id_cannot_change(
    store: SqliteUnitOfWorkFactory, record_open: int | None
) -> None:
    async with store() as tx:
        if record_open is not None:
            await forgetting(tx, is_open=record_open)
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            await tx.connection.execute(
                "UPDATE ledger_transactions SET user_id = -1 WHERE user_id = 1"
            )


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE ledger_transactions SET user_id = -1",
        "UPDATE ledger_transactions SET user_id = 999 WHERE user_id = 1",
        "UPDATE ledger_transactions SET kind = 'purchase'",
        "UPDATE ledger_transactions SET reference = 'edited' WHERE user_id = 1",
        "UPDATE ledger_entries SET amount = amount * 2",
        "DELETE FROM ledger_transactions",
        "UPDATE ledger_transactions SET user_id = -1 WHERE user_id = 2",
        (
            "UPDATE ledger_transactions SET idempotency_key = 'grant:promo:-1:2' "
            "WHERE idempotency_key = 'grant:promo:1:2'"
        ),
        (
            "UPDATE ledger_transactions SET idempotency_key = 'grant:referral:-1', "
            "reference = 'referral:-1' WHERE idempotency_key = 'grant:referral:3'"
        ),
        (
            "UPDATE ledger_transactions SET idempotency_key = 'grant:referral:-1' "
            "WHERE idempotency_key = 'grant:referral:1'"
        ),
        (
            "UPDATE ledger_transactions SET idempotency_key = 'grant:referral:999', "
            "reference = 'referral:999' WHERE idempotency_key = 'grant:referral:1'"
        ),
    ],
)
async def test_while_forgetting_amounts_kinds_and_other_users_transactions_stay(
    store: SqliteUnitOfWorkFactory, statement: str
) -> None:
    async with store() as tx:
        await forgetting(tx)
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            await tx.connection.execute(statement)


async def test_while_forgetting_the_users_own_and_their_inviters_reward_change(
    store: SqliteUnitOfWorkFactory,
) -> None:
    async with store() as tx:
        await forgetting(tx)
        await tx.connection.execute(
            "UPDATE ledger_transactions SET user_id = -1, idempotency_key = 'grant:welcome:-1', "
            "reference = 'welcome:-1' WHERE user_id = 1"
        )
        await tx.connection.execute(
            "UPDATE ledger_transactions SET idempotency_key = 'grant:referral:-1', "
            "reference = 'referral:-1' WHERE idempotency_key = 'grant:referral:1'"
        )
        await tx.commit()
    async with store() as tx:
        (moved,) = await tx.ledger.history(UserId(ANONYMOUS), limit=5)
        assert moved.key == "grant:welcome:-1"
        assert {t.key for t in await tx.ledger.history(BOB, limit=5)} == {
            "grant:referral:-1",
            BOBS_OTHER_REWARD.key,
            BOBS_PROMO.key,
        }


async def test_forgetting_someone_else_allows_nothing_for_this_user(
    store: SqliteUnitOfWorkFactory,
) -> None:
    async with store() as tx:
        await forgetting(tx, BOB)
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            await tx.connection.execute(
                "UPDATE ledger_transactions SET user_id = -1 WHERE user_id = 1"
            )


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_log SET target = '-1' WHERE action = 'ban'",
        "UPDATE audit_log SET target = '-1' WHERE action = 'promo_create'",
        "UPDATE audit_log SET target = '-1', reason = 'edited' WHERE action = 'grant'",
        "UPDATE audit_log SET target = '-1', actor = 'cli:x' WHERE action = 'grant'",
        "UPDATE audit_log SET target = '-10' WHERE action = 'grant'",
        "UPDATE audit_log SET detail = 'user=-1' WHERE action = 'payment_refund'",
        "UPDATE audit_log SET detail = 'user=-1 stars=50' WHERE action = 'payment_refund'",
        "UPDATE audit_log SET target = target",
        "DELETE FROM audit_log",
    ],
)
async def test_a_forgetting_rewrites_only_the_audit_entries_naming_that_user(
    store: SqliteUnitOfWorkFactory, statement: str
) -> None:
    async with store() as tx:
        await forgetting(tx)
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            await tx.connection.execute(statement)


async def test_a_forgetting_names_the_anonymous_id_in_the_users_audit_entries(
    store: SqliteUnitOfWorkFactory,
) -> None:
    async with store() as tx:
        await forgetting(tx)
        await tx.connection.execute("UPDATE audit_log SET target = '-1' WHERE action = 'grant'")
        await tx.connection.execute(
            "UPDATE audit_log SET detail = 'user=-1 stars=5' WHERE action = 'payment_refund'"
        )
        await tx.commit()
    async with store() as tx:
        details = {(e.action, e.target, e.detail) for e in await tx.audit.recent(limit=10)}
    assert (AuditAction.GRANT, "-1", "") in details
    assert (AuditAction.PAYMENT_REFUND, "charge", "user=-1 stars=5") in details


async def test_a_forgetting_closes_its_record(store: SqliteUnitOfWorkFactory) -> None:
    async with store() as tx:
        await tx.users.add(make_user(ALICE, at=tx._clock.now()))
        record = await tx.privacy.forget(ALICE, fingerprint=fingerprint(ALICE), at=tx._clock.now())
        await tx.commit()
    async with store() as tx:
        row = await (await tx.connection.execute("SELECT open FROM forgotten_users")).fetchone()
        assert row is not None
        assert row["open"] == 0
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            await tx.connection.execute(
                "UPDATE ledger_transactions SET user_id = ? WHERE user_id = ?",
                (record.anonymous_id - 1, record.anonymous_id),
            )


async def test_without_kiebots_connection_the_ledger_refuses_every_update(
    store: SqliteUnitOfWorkFactory, tmp_path: Path
) -> None:
    plain = sqlite3.connect(tmp_path / "kiebot.sqlite3")
    try:
        with pytest.raises(sqlite3.OperationalError, match="kiebot_fingerprint"):
            plain.execute("UPDATE ledger_transactions SET user_id = -1")
    finally:
        plain.close()
