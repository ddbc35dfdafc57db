"""Stars payments in SQLite, unique by charge id."""

import aiosqlite
import attrs

from kiebot_core.domain.errors import NotFoundError
from kiebot_core.domain.ids import PaymentChargeId, UserId
from kiebot_core.domain.payments import Payment
from kiebot_core.ports.storage import PaymentRepository
from kiebot_sqlite.connection import execute, fetch_all, fetch_one
from kiebot_sqlite.errors import translated
from kiebot_sqlite.rows import payment_from_row, payment_values

_INSERT = """
    INSERT INTO payments (charge_id, user_id, order_id, stars, credited, state, created_at)
    VALUES (?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT (charge_id) DO NOTHING
"""
_UPDATE = """
    UPDATE payments SET user_id = ?2, order_id = ?3, stars = ?4, credited = ?5, state = ?6,
                        created_at = ?7
    WHERE charge_id = ?1
"""
_FOR_USER = """
    SELECT * FROM payments WHERE user_id = ?
    ORDER BY created_at DESC, charge_id DESC LIMIT ?
"""
_RECENT = """
    SELECT * FROM payments ORDER BY created_at DESC, charge_id DESC LIMIT ?
"""


@attrs.frozen
class SqlitePaymentRepository(PaymentRepository):
    """Payments in the ``payments`` table."""

    _connection: aiosqlite.Connection

    async def add(self, payment: Payment) -> bool:
        with translated("payment", payment.charge_id):
            return bool(await execute(self._connection, _INSERT, payment_values(payment)))

    async def get(self, charge_id: PaymentChargeId) -> Payment | None:
        with translated("payment", charge_id):
            row = await fetch_one(
                self._connection, "SELECT * FROM payments WHERE charge_id = ?", (charge_id,)
            )
        return None if row is None else payment_from_row(row)

    async def save(self, payment: Payment) -> None:
        with translated("payment", payment.charge_id):
            saved = await execute(self._connection, _UPDATE, payment_values(payment))
        if not saved:
            raise NotFoundError("payment", payment.charge_id)

    async def for_user(self, user_id: UserId, *, limit: int) -> list[Payment]:
        with translated("payment", f"user {user_id}"):
            rows = await fetch_all(self._connection, _FOR_USER, (user_id, max(limit, 0)))
        return [payment_from_row(row) for row in rows]

    async def recent(self, *, limit: int | None = None) -> list[Payment]:
        with translated("payment", "recent"):
            # A negative LIMIT is no limit in SQLite.
            rows = await fetch_all(
                self._connection, _RECENT, (-1 if limit is None else max(limit, 0),)
            )
        return [payment_from_row(row) for row in rows]
