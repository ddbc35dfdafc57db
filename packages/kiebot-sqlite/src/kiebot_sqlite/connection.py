"""Opening SQLite connections and running statements on them."""

import asyncio
import os
import sqlite3
from collections.abc import Iterable, Sequence
from datetime import timedelta
from pathlib import Path
from typing import TypeAlias

import aiosqlite

from kiebot_core.domain.errors import StorageUnavailableError, UnavailableWhen
from kiebot_core.domain.privacy import fingerprint_of
from kiebot_sqlite.errors import is_unavailable

SqlitePath: TypeAlias = str | os.PathLike[str]
"""Where the database file is (``KIEBOT_HOME/kiebot.sqlite3`` for the CLI)."""

Params: TypeAlias = Sequence[object]

MINIMUM_SQLITE = (3, 37, 0)
"""STRICT tables need SQLite 3.37."""


FINGERPRINT_FUNCTION = "kiebot_fingerprint"
"""The SQL function the append-only triggers call (migration 0012): a user id's fingerprint."""


def _probe(path: Path) -> None:
    sqlite3.connect(path).close()


def _fingerprint(user_id: object) -> str | None:
    return None if user_id is None else fingerprint_of(str(user_id))


async def connect(path: SqlitePath, *, busy_timeout: timedelta) -> aiosqlite.Connection:
    """A connection to ``path`` in manual transaction mode, rows readable by column name.

    Args:
        path: The database file (created if missing).
        busy_timeout: How long a statement waits for another process's write lock.

    Raises:
        StorageUnavailableError: The file cannot be opened, or SQLite is too old.
    """
    if sqlite3.sqlite_version_info < MINIMUM_SQLITE:
        raise StorageUnavailableError(
            f"SQLite {sqlite3.sqlite_version} is too old; kiebot needs 3.37 or newer"
        )
    with UnavailableWhen(is_unavailable):
        # Opened once in a plain thread first: when aiosqlite fails to connect it leaves its
        # worker thread to report to an event loop that may be gone by then.
        await asyncio.to_thread(_probe, Path(path))
        connection = await aiosqlite.connect(Path(path), isolation_level=None)
    try:
        connection.row_factory = sqlite3.Row
        await connection.execute(
            f"PRAGMA busy_timeout = {int(busy_timeout.total_seconds() * 1000)}"
        )
        await connection.execute("PRAGMA foreign_keys = ON")
        await connection.create_function(FINGERPRINT_FUNCTION, 1, _fingerprint, deterministic=True)
    except BaseException:
        await connection.close()
        raise
    return connection


async def fetch_one(
    connection: aiosqlite.Connection, sql: str, params: Params = ()
) -> sqlite3.Row | None:
    """The first row ``sql`` returns, or None."""
    async with connection.execute(sql, params) as cursor:
        row: sqlite3.Row | None = await cursor.fetchone()
        return row


async def fetch_all(
    connection: aiosqlite.Connection, sql: str, params: Params = ()
) -> list[sqlite3.Row]:
    """Every row ``sql`` returns."""
    async with connection.execute(sql, params) as cursor:
        return list(await cursor.fetchall())


async def execute(connection: aiosqlite.Connection, sql: str, params: Params = ()) -> int:
    """Run ``sql``; the number of rows it changed."""
    async with connection.execute(sql, params) as cursor:
        return cursor.rowcount


async def insert(connection: aiosqlite.Connection, sql: str, params: Params = ()) -> int | None:
    """Run an INSERT; the new row's rowid, or None if it inserted nothing."""
    async with connection.execute(sql, params) as cursor:
        return cursor.lastrowid if cursor.rowcount > 0 else None


async def execute_many(connection: aiosqlite.Connection, sql: str, rows: Iterable[Params]) -> None:
    """Run ``sql`` once per parameter row."""
    async with connection.executemany(sql, rows):
        pass
