"""Top-up orders in SQLite."""

from datetime import datetime

import aiosqlite
import attrs

from kiebot_core.domain.errors import DuplicateError
from kiebot_core.domain.ids import OrderId
from kiebot_core.domain.payments import ORDER_VALIDITY, Order
from kiebot_core.ports.storage import OrderRepository
from kiebot_sqlite.connection import execute, fetch_one
from kiebot_sqlite.errors import translated
from kiebot_sqlite.rows import order_from_row, order_values, timestamp

_INSERT = """
    INSERT INTO orders (id, user_id, stars, bonus, terms_version, created_at)
    VALUES (?, ?, ?, ?, ?, ?)
    ON CONFLICT (id) DO NOTHING
"""
_PRUNE = """
    DELETE FROM orders
    WHERE created_at < ?
        AND NOT EXISTS (SELECT 1 FROM payments WHERE payments.order_id = orders.id)
"""


@attrs.frozen
class SqliteOrderRepository(OrderRepository):
    """Orders in the ``orders`` table."""

    _connection: aiosqlite.Connection

    async def add(self, order: Order) -> None:
        with translated("order", order.id):
            added = await execute(self._connection, _INSERT, order_values(order))
        if not added:
            raise DuplicateError("order", order.id)

    async def get(self, order_id: OrderId) -> Order | None:
        with translated("order", order_id):
            row = await fetch_one(
                self._connection, "SELECT * FROM orders WHERE id = ?", (order_id,)
            )
        return None if row is None else order_from_row(row)

    async def prune(self, before: datetime) -> int:
        with translated("order", f"expired before {before.isoformat()}"):
            return await execute(self._connection, _PRUNE, (timestamp(before - ORDER_VALIDITY),))
