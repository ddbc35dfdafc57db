"""Top-up orders in PostgreSQL."""

from datetime import datetime

import attrs

from kiebot_core.domain.errors import DuplicateError
from kiebot_core.domain.ids import OrderId
from kiebot_core.domain.payments import ORDER_VALIDITY, Order
from kiebot_core.ports.storage import OrderRepository
from kiebot_pg.errors import translated
from kiebot_pg.pool import PgConnection, affected_rows
from kiebot_pg.rows import order_from_row, order_values

_INSERT = """
    INSERT INTO orders (id, user_id, stars, bonus, terms_version, created_at)
    VALUES ($1, $2, $3, $4, $5, $6)
    ON CONFLICT (id) DO NOTHING
    RETURNING id
"""
_PRUNE = """
    DELETE FROM orders AS o
    WHERE o.created_at < $1
        AND NOT EXISTS (SELECT FROM payments AS p WHERE p.order_id = o.id COLLATE "C")
"""


@attrs.frozen
class PgOrderRepository(OrderRepository):
    """Orders in the ``orders`` table."""

    _connection: PgConnection

    async def add(self, order: Order) -> None:
        with translated("order", order.id):
            added = await self._connection.fetchrow(_INSERT, *order_values(order))
        if added is None:
            raise DuplicateError("order", order.id)

    async def get(self, order_id: OrderId) -> Order | None:
        with translated("order", order_id):
            row = await self._connection.fetchrow("SELECT * FROM orders WHERE id = $1", order_id)
        return None if row is None else order_from_row(row)

    async def prune(self, before: datetime) -> int:
        with translated("order", f"expired before {before.isoformat()}"):
            status = await self._connection.execute(_PRUNE, before - ORDER_VALIDITY)
        return affected_rows(status)
