"""Stars payments in PostgreSQL, unique by charge id."""

import attrs

from kiebot_core.domain.errors import NotFoundError
from kiebot_core.domain.ids import PaymentChargeId, UserId
from kiebot_core.domain.payments import Payment
from kiebot_core.ports.storage import PaymentRepository
from kiebot_pg.errors import translated
from kiebot_pg.pool import PgConnection
from kiebot_pg.rows import payment_from_row, payment_values

_INSERT = """
    INSERT INTO payments (charge_id, user_id, order_id, stars, credited, state, created_at)
    VALUES ($1, $2, $3, $4, $5, $6, $7)
    ON CONFLICT (charge_id) DO NOTHING
    RETURNING charge_id
"""
_UPDATE = """
    UPDATE payments SET user_id = $2, order_id = $3, stars = $4, credited = $5, state = $6,
                        created_at = $7
    WHERE charge_id = $1
    RETURNING charge_id
"""
_FOR_USER = """
    SELECT * FROM payments WHERE user_id = $1
    ORDER BY created_at DESC, charge_id DESC LIMIT $2
"""
_RECENT = """
    SELECT * FROM payments ORDER BY created_at DESC, charge_id DESC LIMIT $1
"""


@attrs.frozen
class PgPaymentRepository(PaymentRepository):
    """Payments in the ``payments`` table."""

    _connection: PgConnection

    async def add(self, payment: Payment) -> bool:
        with translated("payment", payment.charge_id):
            added = await self._connection.fetchrow(_INSERT, *payment_values(payment))
        return added is not None

    async def get(self, charge_id: PaymentChargeId) -> Payment | None:
        with translated("payment", charge_id):
            row = await self._connection.fetchrow(
                "SELECT * FROM payments WHERE charge_id = $1", charge_id
            )
        return None if row is None else payment_from_row(row)

    async def save(self, payment: Payment) -> None:
        with translated("payment", payment.charge_id):
            saved = await self._connection.fetchrow(_UPDATE, *payment_values(payment))
        if saved is None:
            raise NotFoundError("payment", payment.charge_id)

    async def for_user(self, user_id: UserId, *, limit: int) -> list[Payment]:
        with translated("payment", f"user {user_id}"):
            rows = await self._connection.fetch(_FOR_USER, user_id, max(limit, 0))
        return [payment_from_row(row) for row in rows]

    async def recent(self, *, limit: int | None = None) -> list[Payment]:
        with translated("payment", "recent"):
            # LIMIT NULL is LIMIT ALL in PostgreSQL.
            rows = await self._connection.fetch(_RECENT, None if limit is None else max(limit, 0))
        return [payment_from_row(row) for row in rows]
