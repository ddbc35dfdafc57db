"""SQLite-only behaviour: the schema's guards, one writer at a time, failures as core errors."""

import asyncio
import sqlite3
from datetime import timedelta
from pathlib import Path

import pytest

from kiebot_core.domain import ledger
from kiebot_core.domain.errors import StaleWriteError, StorageUnavailableError
from kiebot_core.domain.ids import UserId
from kiebot_core.domain.ledger import Balance, LedgerTransaction
from kiebot_sqlite.errors import translated
from kiebot_sqlite.migrate import migrate
from kiebot_sqlite.uow import SqliteUnitOfWorkFactory

ALICE = UserId(1)


def grant(reference: str, amount: int = 10) -> LedgerTransaction:
    transaction = ledger.grant(ALICE, amount, reference)
    assert isinstance(transaction, LedgerTransaction)
    return transaction


@pytest.fixture
async def store(tmp_path: Path) -> SqliteUnitOfWorkFactory:
    path = tmp_path / "kiebot.sqlite3"
    await migrate(path)
    return SqliteUnitOfWorkFactory(path)


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE ledger_transactions SET reference = 'edited'",
        "DELETE FROM ledger_transactions",
        "UPDATE ledger_entries SET amount = amount * 2",
        "DELETE FROM ledger_entries",
    ],
)
async def test_the_ledger_is_append_only(store: SqliteUnitOfWorkFactory, statement: str) -> None:
    async with store() as tx:
        await tx.ledger.append(grant("welcome"))
        await tx.commit()
    async with store() as tx:
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            await tx.connection.execute(statement)


async def test_a_cached_balance_cannot_go_negative(store: SqliteUnitOfWorkFactory) -> None:
    async with store() as tx:
        await tx.ledger.append(grant("welcome"))
        with pytest.raises(StaleWriteError), translated("balance", ALICE):
            await tx.connection.execute("UPDATE ledger_balances SET available = -1")


async def test_strict_tables_refuse_values_of_the_wrong_type(
    store: SqliteUnitOfWorkFactory,
) -> None:
    async with store() as tx:
        with pytest.raises(sqlite3.IntegrityError, match="cannot store REAL"):
            await tx.connection.execute("INSERT INTO ledger_balances VALUES (9, 1.5, 0, 0)")


async def test_two_factories_on_one_file_write_one_at_a_time(tmp_path: Path) -> None:
    path = tmp_path / "kiebot.sqlite3"
    await migrate(path)
    first, second = SqliteUnitOfWorkFactory(path), SqliteUnitOfWorkFactory(path)

    async def add(factory: SqliteUnitOfWorkFactory, number: int) -> None:
        async with factory() as tx:
            balance = await tx.ledger.balance(ALICE)
            await asyncio.sleep(0)
            await tx.ledger.append(grant(f"g{number}", balance.available + 1))
            await tx.commit()

    await asyncio.gather(*(add(first if n % 2 else second, n) for n in range(10)))
    async with first() as tx:
        assert await tx.ledger.balance(ALICE) == Balance(available=2**10 - 1)


async def test_a_database_locked_too_long_is_storage_unavailable(tmp_path: Path) -> None:
    path = tmp_path / "kiebot.sqlite3"
    await migrate(path)
    impatient = SqliteUnitOfWorkFactory(path, busy_timeout=timedelta(milliseconds=50))
    holder = sqlite3.connect(path, isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")
        with pytest.raises(StorageUnavailableError):
            async with impatient():
                pass
    finally:
        holder.close()
    async with impatient() as tx:
        assert await tx.ledger.balance(ALICE) == Balance()


async def test_a_missing_folder_is_storage_unavailable(tmp_path: Path) -> None:
    factory = SqliteUnitOfWorkFactory(tmp_path / "missing" / "kiebot.sqlite3")
    with pytest.raises(StorageUnavailableError):
        async with factory():
            pass
