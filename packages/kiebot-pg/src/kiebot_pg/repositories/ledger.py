"""The append-only ledger in PostgreSQL, with cached balances kept in the same transaction.

Appending locks the user's balance row first, so appends for one user run one at a time; a
unit of work that waited for that lock looks for its key again before writing, which is how
a capture racing a release of the same hold (one key, ``settle:<generation>``) ends with one
settlement, the loser getting the winner's transaction back.
"""

import attrs

from kiebot_core.domain.errors import StaleWriteError
from kiebot_core.domain.ids import IdempotencyKey, UserId
from kiebot_core.domain.ledger import Balance, LedgerTransaction
from kiebot_core.ports.storage import LedgerRepository
from kiebot_pg.errors import translated
from kiebot_pg.pool import PgConnection
from kiebot_pg.rows import balance_from_row, entry_arrays, ledger_transaction_from_row

_SELECT = """
    SELECT t.idempotency_key, t.kind, t.user_id, t.reference, t.created_at, e.accounts,
           e.amounts
    FROM ledger_transactions AS t
    CROSS JOIN LATERAL (
        SELECT coalesce(array_agg(account ORDER BY position), '{}') AS accounts,
               coalesce(array_agg(amount ORDER BY position), '{}') AS amounts
        FROM ledger_entries WHERE transaction_id = t.id
    ) AS e
"""
# An upsert that changes nothing still locks the row and returns its latest committed values.
_LOCK_BALANCE = """
    INSERT INTO ledger_balances AS b (user_id) VALUES ($1)
    ON CONFLICT (user_id) DO UPDATE SET user_id = b.user_id
    RETURNING available, held, debt
"""
_INSERT_TRANSACTION = """
    INSERT INTO ledger_transactions (idempotency_key, kind, user_id, reference)
    VALUES ($1, $2, $3, $4)
    ON CONFLICT (idempotency_key) DO NOTHING
    RETURNING id
"""
_INSERT_ENTRIES = """
    INSERT INTO ledger_entries (transaction_id, position, account, amount)
    SELECT $1, position, account, amount
    FROM unnest($2::integer[], $3::text[], $4::bigint[]) AS e(position, account, amount)
"""
_UPDATE_BALANCE = """
    UPDATE ledger_balances SET available = $2, held = $3, debt = $4 WHERE user_id = $1
"""


@attrs.frozen
class PgLedgerRepository(LedgerRepository):
    """Ledger transactions, their entries and the cached balances."""

    _connection: PgConnection

    async def balance(self, user_id: UserId) -> Balance:
        with translated("balance", user_id):
            row = await self._connection.fetchrow(
                "SELECT available, held, debt FROM ledger_balances WHERE user_id = $1", user_id
            )
        return balance_from_row(row)

    async def append(self, transaction: LedgerTransaction) -> LedgerTransaction:
        key = transaction.key
        with translated("ledger", key):
            if (existing := await self.get(key)) is not None:
                return existing
            current = balance_from_row(
                await self._connection.fetchrow(_LOCK_BALANCE, transaction.user_id)
            )
            if (existing := await self.get(key)) is not None:
                return existing
            try:
                after = current.apply(transaction)
            except ValueError as error:
                raise StaleWriteError("ledger", key) from error
            transaction_id = await self._connection.fetchval(
                _INSERT_TRANSACTION,
                key,
                transaction.kind.value,
                transaction.user_id,
                transaction.reference,
            )
            if transaction_id is None:
                # Recorded meanwhile by a unit of work that did not hold this user's lock
                # (the same key used for another user): the first transaction stands.
                first = await self.get(key)
                if first is None:  # pragma: no cover - ON CONFLICT saw a committed row
                    raise StaleWriteError("ledger", key)
                return first
            await self._connection.execute(
                _INSERT_ENTRIES, transaction_id, *entry_arrays(transaction)
            )
            await self._connection.execute(
                _UPDATE_BALANCE, transaction.user_id, after.available, after.held, after.debt
            )
        return transaction

    async def get(self, key: IdempotencyKey) -> LedgerTransaction | None:
        with translated("ledger", key):
            row = await self._connection.fetchrow(f"{_SELECT} WHERE t.idempotency_key = $1", key)
        return None if row is None else ledger_transaction_from_row(row)

    async def history(self, user_id: UserId, *, limit: int) -> list[LedgerTransaction]:
        with translated("ledger", f"user {user_id}"):
            rows = await self._connection.fetch(
                f"{_SELECT} WHERE t.user_id = $1 ORDER BY t.id DESC LIMIT $2",
                user_id,
                max(limit, 0),
            )
        return [ledger_transaction_from_row(row) for row in rows]
