"""Opening the asyncpg pool the units of work draw their connections from."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TypeAlias

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from kiebot_core.domain.errors import UnavailableWhen
from kiebot_pg.errors import is_connection_lost

PgPool: TypeAlias = "asyncpg.Pool[asyncpg.Record]"
"""A pool of connections to one kiebot database."""

PgConnection: TypeAlias = "PoolConnectionProxy[asyncpg.Record]"
"""One connection taken from a ``PgPool`` for the life of a unit of work."""


@asynccontextmanager
async def open_pool(
    dsn: str, *, min_size: int = 1, max_size: int = 10, connect_timeout_s: float = 10.0
) -> AsyncIterator[PgPool]:
    """A pool over ``dsn``, closed when the block ends.

    Args:
        dsn: ``postgresql://user@host:port/database``.
        min_size: Connections opened at once.
        max_size: The most connections open at a time (one per open unit of work).
        connect_timeout_s: How long to wait for the server when connecting.

    Raises:
        StorageUnavailableError: The server cannot be reached.
    """
    with UnavailableWhen(is_connection_lost):
        pool = await asyncpg.create_pool(
            dsn, min_size=min_size, max_size=max_size, timeout=connect_timeout_s
        )
    try:
        yield pool
    finally:
        await pool.close()


def affected_rows(status: str) -> int:
    """The rows a statement changed, from asyncpg's command status (``"DELETE 3"``)."""
    return int(status.rsplit(" ", 1)[-1])
