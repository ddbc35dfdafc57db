"""Forward-only schema migrations for SQLite.

Migrations are the numbered files in ``kiebot_sqlite/migrations`` (``0001_initial.sql``, …),
applied in order in one transaction begun with ``BEGIN IMMEDIATE``: SQLite's write lock makes a
second process starting at the same time wait, then find nothing pending. The rules for the
files (a file that was applied must never change, no file may destroy data) are
``kiebot_core.domain.migrations``.
"""

import asyncio
import sqlite3
from pathlib import Path

import aiosqlite

from kiebot_core.domain.errors import UnavailableWhen
from kiebot_core.domain.migrations import (
    AppliedMigration,
    Migration,
    MigrationError,
    destructive_statements,
    pending,
    shipped_migrations,
    status_of,
    without_comments,
)
from kiebot_sqlite.connection import SqlitePath, connect, execute, fetch_all
from kiebot_sqlite.errors import is_unavailable
from kiebot_sqlite.uow import BUSY_TIMEOUT

__all__ = [
    "Migration",
    "MigrationError",
    "destructive_statements",
    "migrate",
    "migrations",
    "statements",
    "status",
]

_BOOTSTRAP = """
    CREATE TABLE IF NOT EXISTS schema_migrations (
        version    INTEGER PRIMARY KEY,
        name       TEXT NOT NULL,
        checksum   TEXT NOT NULL,
        applied_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f+00:00', 'now'))
    ) STRICT
"""


def statements(migration: Migration) -> list[str]:
    """The statements of ``migration``'s file, one by one (a trigger body stays whole).

    Raises:
        MigrationError: The file ends with an unfinished statement.
    """
    found: list[str] = []
    unfinished = ""
    for line in migration.sql.splitlines(keepends=True):
        unfinished += line
        if sqlite3.complete_statement(unfinished):
            if statement := unfinished.strip():
                found.append(statement)
            unfinished = ""
    if without_comments(unfinished).strip():
        raise MigrationError(f"{migration.name} ends with an unfinished statement")
    return found


def migrations() -> list[Migration]:
    """Every migration shipped with this package, in order.

    Raises:
        MigrationError: A file is misnamed, two share a number, or one destroys data.
    """
    return shipped_migrations("kiebot_sqlite")


async def _recorded(connection: aiosqlite.Connection) -> dict[int, AppliedMigration]:
    rows = await fetch_all(
        connection, "SELECT version, name, checksum FROM schema_migrations ORDER BY version"
    )
    return {row["version"]: AppliedMigration(*row) for row in rows}


async def _lock_in_wal(connection: aiosqlite.Connection) -> None:
    """Switch to WAL (readers go on while a unit of work writes), then take the write lock.

    While another process is switching the file's journal mode, both statements fail at once
    with "database is locked" (SQLite does not call the busy handler then): retry them.
    """
    deadline = asyncio.get_running_loop().time() + BUSY_TIMEOUT.total_seconds()
    while True:
        try:
            await connection.execute("PRAGMA journal_mode = WAL")
            await connection.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError:
            if asyncio.get_running_loop().time() >= deadline:
                raise
            await asyncio.sleep(0.02)
        else:
            return


async def _apply(connection: aiosqlite.Connection, known: list[Migration]) -> list[str]:
    await _lock_in_wal(connection)
    try:
        await connection.execute(_BOOTSTRAP)
        applied: list[str] = []
        for migration in pending(known, await _recorded(connection)):
            for statement in statements(migration):
                await connection.execute(statement)
            await execute(
                connection,
                "INSERT INTO schema_migrations (version, name, checksum) VALUES (?, ?, ?)",
                (migration.version, migration.name, migration.checksum),
            )
            applied.append(migration.name)
        await connection.execute("COMMIT")
    except BaseException:
        if connection.in_transaction:
            await connection.execute("ROLLBACK")
        raise
    return applied


async def migrate(path: SqlitePath) -> list[str]:
    """Apply every pending migration to the database file at ``path`` (created if missing).

    Args:
        path: The database file; its folder is created if needed.

    Returns:
        The names of the migrations applied now, in order (empty when up to date).

    Raises:
        MigrationError: An applied migration changed, or a shipped one is invalid.
        StorageUnavailableError: The file cannot be opened or stays locked.
    """
    known = migrations()
    with UnavailableWhen(is_unavailable):
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    connection = await connect(path, busy_timeout=BUSY_TIMEOUT)
    try:
        with UnavailableWhen(is_unavailable):
            return await _apply(connection, known)
    finally:
        await connection.close()


async def status(path: SqlitePath) -> tuple[list[str], list[str]]:
    """What has been applied to the database file at ``path`` and what is pending.

    Args:
        path: The database file (a missing file has everything pending).

    Returns:
        ``(applied, pending)``: migration names, each in order. ``applied`` also lists any
        migration recorded by a newer kiebot that this one does not ship.

    Raises:
        MigrationError: An applied migration changed.
        StorageUnavailableError: The file cannot be read.
    """
    known = migrations()
    recorded: dict[int, AppliedMigration] = {}
    if await asyncio.to_thread(Path(path).exists):
        connection = await connect(path, busy_timeout=BUSY_TIMEOUT)
        try:
            with UnavailableWhen(is_unavailable):
                exists = await fetch_all(
                    connection,
                    "SELECT name FROM sqlite_master WHERE type = 'table' AND name = ?",
                    ("schema_migrations",),
                )
                if exists:
                    recorded = await _recorded(connection)
        finally:
            await connection.close()
    return status_of(known, recorded)
