"""Savepoints inside a unit of work's transaction."""

import contextlib
import itertools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from kiebot_pg.pool import PgConnection

_names = itertools.count(1)


@asynccontextmanager
async def savepoint(connection: PgConnection) -> AsyncIterator[None]:
    """Undo only the block's statements if it fails; the transaction stays usable.

    Args:
        connection: A connection inside a transaction.
    """
    name = f"kiebot_sp_{next(_names)}"
    await connection.execute(f"SAVEPOINT {name}")
    try:
        yield
    except BaseException:
        # If even this fails the connection is gone, and the original error says more.
        with contextlib.suppress(Exception):
            await connection.execute(f"ROLLBACK TO SAVEPOINT {name}")
        raise
    await connection.execute(f"RELEASE SAVEPOINT {name}")
