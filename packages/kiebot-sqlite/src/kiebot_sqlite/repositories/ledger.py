"""The append-only ledger in SQLite, with cached balances kept in the same transaction.

Every unit of work holds SQLite's write lock from its start (``BEGIN IMMEDIATE``), so appends
never interleave: the key check, the balance check and the writes see one consistent state.
"""

import json
import sqlite3

import aiosqlite
import attrs

from kiebot_core.domain.errors import StaleWriteError
from kiebot_core.domain.ids import IdempotencyKey, UserId
from kiebot_core.domain.ledger import Balance, LedgerTransaction
from kiebot_core.ports.runtime import Clock
from kiebot_core.ports.storage import LedgerRepository
from kiebot_sqlite.connection import execute, execute_many, fetch_all, fetch_one, insert
from kiebot_sqlite.errors import translated
from kiebot_sqlite.rows import (
    balance_from_row,
    entry_values,
    ledger_transaction_from_rows,
    timestamp,
)

_INSERT_TRANSACTION = """
    INSERT INTO ledger_transactions (idempotency_key, kind, user_id, reference, created_at)
    VALUES (?, ?, ?, ?, ?)
"""
_INSERT_ENTRY = """
    INSERT INTO ledger_entries (transaction_id, position, account, amount) VALUES (?, ?, ?, ?)
"""
_SAVE_BALANCE = """
    INSERT INTO ledger_balances (user_id, available, held, debt) VALUES (?, ?, ?, ?)
    ON CONFLICT (user_id) DO UPDATE SET
        available = excluded.available, held = excluded.held, debt = excluded.debt
"""


@attrs.frozen
class SqliteLedgerRepository(LedgerRepository):
    """Ledger transactions, their entries and the cached balances."""

    _connection: aiosqlite.Connection
    _clock: Clock

    async def balance(self, user_id: UserId) -> Balance:
        with translated("balance", user_id):
            row = await fetch_one(
                self._connection,
                "SELECT available, held, debt FROM ledger_balances WHERE user_id = ?",
                (user_id,),
            )
        return balance_from_row(row)

    async def append(self, transaction: LedgerTransaction) -> LedgerTransaction:
        key = transaction.key
        with translated("ledger", key):
            if (existing := await self.get(key)) is not None:
                return existing
            try:
                after = (await self.balance(transaction.user_id)).apply(transaction)
            except ValueError as error:
                raise StaleWriteError("ledger", key) from error
            transaction_id = await insert(
                self._connection,
                _INSERT_TRANSACTION,
                (
                    key,
                    transaction.kind.value,
                    transaction.user_id,
                    transaction.reference,
                    timestamp(self._clock.now()),
                ),
            )
            if transaction_id is None:  # pragma: no cover - a plain INSERT inserts or raises
                raise StaleWriteError("ledger", key)
            await execute_many(
                self._connection, _INSERT_ENTRY, entry_values(transaction_id, transaction)
            )
            await execute(
                self._connection,
                _SAVE_BALANCE,
                (transaction.user_id, after.available, after.held, after.debt),
            )
        return transaction

    async def _with_entries(self, rows: list[sqlite3.Row]) -> list[LedgerTransaction]:
        if not rows:
            return []
        entries = await fetch_all(
            self._connection,
            """
            SELECT transaction_id, account, amount FROM ledger_entries
            WHERE transaction_id IN (SELECT value FROM json_each(?))
            ORDER BY transaction_id, position
            """,
            (json.dumps([row["id"] for row in rows]),),
        )
        by_transaction: dict[int, list[sqlite3.Row]] = {row["id"]: [] for row in rows}
        for entry in entries:
            by_transaction[entry["transaction_id"]].append(entry)
        return [ledger_transaction_from_rows(row, by_transaction[row["id"]]) for row in rows]

    async def get(self, key: IdempotencyKey) -> LedgerTransaction | None:
        with translated("ledger", key):
            rows = await fetch_all(
                self._connection,
                "SELECT * FROM ledger_transactions WHERE idempotency_key = ?",
                (key,),
            )
            found = await self._with_entries(rows)
        return found[0] if found else None

    async def history(self, user_id: UserId, *, limit: int) -> list[LedgerTransaction]:
        with translated("ledger", f"user {user_id}"):
            rows = await fetch_all(
                self._connection,
                "SELECT * FROM ledger_transactions WHERE user_id = ? ORDER BY id DESC LIMIT ?",
                (user_id, max(limit, 0)),
            )
            return await self._with_entries(rows)
