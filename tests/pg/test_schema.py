"""The database refuses what the adapter must never do, and failures arrive as core errors."""

import socket
from datetime import UTC, datetime

import asyncpg
import pytest

from kiebot_core.domain import ledger
from kiebot_core.domain.errors import StaleWriteError, StorageUnavailableError
from kiebot_core.domain.ids import IdempotencyKey, UserId
from kiebot_core.domain.ledger import Balance, LedgerTransaction
from kiebot_pg.errors import translated
from kiebot_pg.pool import PgPool, open_pool
from kiebot_pg.uow import PgUnitOfWorkFactory
from tests.contracts.builders import make_user

ALICE = UserId(1)


async def granted(store: PgUnitOfWorkFactory) -> None:
    grant = ledger.grant(ALICE, 10, "welcome")
    assert isinstance(grant, LedgerTransaction)
    async with store() as tx:
        await tx.ledger.append(grant)
        await tx.commit()


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE ledger_transactions SET reference = 'edited'",
        "DELETE FROM ledger_transactions",
        "TRUNCATE ledger_transactions CASCADE",
        "UPDATE ledger_entries SET amount = amount * 2",
        "DELETE FROM ledger_entries",
        "TRUNCATE ledger_entries",
    ],
)
async def test_the_ledger_is_append_only(pg_store: PgUnitOfWorkFactory, statement: str) -> None:
    await granted(pg_store)
    async with pg_store() as tx:
        with pytest.raises(asyncpg.RestrictViolationError, match="append-only"):
            await tx.connection.execute(statement)


async def test_a_cached_balance_cannot_go_negative(pg_store: PgUnitOfWorkFactory) -> None:
    await granted(pg_store)
    async with pg_store() as tx:
        with pytest.raises(StaleWriteError), translated("balance", ALICE):
            await tx.connection.execute("UPDATE ledger_balances SET available = -1")


async def test_an_unbalanced_transaction_is_refused_at_commit(
    pg_store: PgUnitOfWorkFactory,
) -> None:
    async with pg_store() as tx:
        transaction_id = await tx.connection.fetchval(
            "INSERT INTO ledger_transactions (idempotency_key, kind, user_id, reference) "
            "VALUES ('grant:bad', 'grant', 1, 'bad') RETURNING id"
        )
        await tx.connection.execute(
            "INSERT INTO ledger_entries VALUES ($1, 0, 'available', 5)", transaction_id
        )
        with pytest.raises(StaleWriteError):
            await tx.commit()
        # The failed commit rolled back; the unit of work goes on in a new transaction.
        assert await tx.ledger.get(IdempotencyKey("grant:bad")) is None


async def test_a_lost_connection_is_storage_unavailable(
    pg_store: PgUnitOfWorkFactory, pg_pool: PgPool, pg_admin_dsn: str
) -> None:
    admin = await asyncpg.connect(pg_admin_dsn)
    try:
        async with pg_store() as tx:
            await tx.users.add(make_user(1, at=datetime.now(UTC)))
            pid = tx.connection.get_server_pid()
            await admin.execute("SELECT pg_terminate_backend($1)", pid)
            with pytest.raises(StorageUnavailableError):
                await tx.users.get(ALICE)
    finally:
        await admin.close()
    async with pg_store() as tx:
        assert await tx.users.get(ALICE) is None
        assert await tx.ledger.balance(ALICE) == Balance()


async def test_an_unreachable_server_is_storage_unavailable() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(StorageUnavailableError):
        async with open_pool(f"postgresql://postgres@127.0.0.1:{port}/kiebot"):
            pass
