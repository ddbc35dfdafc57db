"""Forward-only schema migrations for SQLite.

Migrations are the numbered files in ``kiebot_sqlite/migrations`` (``0001_initial.sql``, …),
applied in order in one transaction begun with ``BEGIN IMMEDIATE``: SQLite's write lock makes a
second process starting at the same time wait, then find nothing pending. A file that was
applied must never change (its checksum is compared), and no file may destroy data
(``DROP TABLE``, ``DROP COLUMN``, ``TRUNCATE``…).
"""

import asyncio
import hashlib
import importlib.resources
import re
import sqlite3
from pathlib import Path

import aiosqlite
import attrs

from kiebot_core.domain.errors import StorageUnavailableError
from kiebot_sqlite.connection import SqlitePath, connect, execute, fetch_all
from kiebot_sqlite.errors import is_unavailable
from kiebot_sqlite.uow import BUSY_TIMEOUT

_FILE_NAME = re.compile(r"^(?P<version>\d{4})_(?P<title>[a-z0-9_]+)\.sql$")
_COMMENTS = re.compile(r"--[^\n]*|/\*.*?\*/", re.DOTALL)
_DESTRUCTIVE = re.compile(
    r"\bDROP\s+(?:TABLE|COLUMN|SCHEMA|DATABASE|OWNED)\b"
    r"|\bTRUNCATE\b(?!\s+ON\b)"
    r"|\bALTER\s+TABLE\b[^;]*?\bDROP\s+(?!CONSTRAINT\b|DEFAULT\b|NOT\s+NULL\b|IDENTITY\b"
    r"|EXPRESSION\b)",
    re.IGNORECASE,
)
_BOOTSTRAP = """
    CREATE TABLE IF NOT EXISTS schema_migrations (
        version    INTEGER PRIMARY KEY,
        name       TEXT NOT NULL,
        checksum   TEXT NOT NULL,
        applied_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f+00:00', 'now'))
    ) STRICT
"""


class MigrationError(RuntimeError):
    """The migrations or the database's record of them cannot be trusted."""


@attrs.frozen
class Migration:
    """One numbered migration file."""

    version: int
    name: str
    """The file name without ``.sql``: ``0001_initial``."""
    sql: str

    @property
    def checksum(self) -> str:
        """SHA-256 of the file's text, recorded when it is applied."""
        return hashlib.sha256(self.sql.encode()).hexdigest()

    def statements(self) -> list[str]:
        """The file's statements, one by one (a trigger body stays whole)."""
        found: list[str] = []
        pending = ""
        for line in self.sql.splitlines(keepends=True):
            pending += line
            if sqlite3.complete_statement(pending):
                if statement := pending.strip():
                    found.append(statement)
                pending = ""
        if _COMMENTS.sub("", pending).strip():
            raise MigrationError(f"{self.name} ends with an unfinished statement")
        return found


def destructive_statements(sql: str) -> list[str]:
    """The fragments of ``sql`` that would destroy data; empty for a forward-only migration."""
    return [match.group(0) for match in _DESTRUCTIVE.finditer(_COMMENTS.sub(" ", sql))]


def migrations() -> list[Migration]:
    """Every migration shipped with this package, in order.

    Raises:
        MigrationError: A file is misnamed, two share a number, or one destroys data.
    """
    found: dict[int, Migration] = {}
    folder = importlib.resources.files("kiebot_sqlite") / "migrations"
    for entry in folder.iterdir():
        if not entry.name.endswith(".sql"):
            continue
        match = _FILE_NAME.match(entry.name)
        if match is None:
            raise MigrationError(f"migration file {entry.name} is not named NNNN_title.sql")
        migration = Migration(
            version=int(match["version"]),
            name=entry.name.removesuffix(".sql"),
            sql=entry.read_text(encoding="utf-8"),
        )
        if migration.version in found:
            raise MigrationError(f"two migrations are numbered {migration.version}")
        if problems := destructive_statements(migration.sql):
            raise MigrationError(f"{entry.name} destroys data: {problems}")
        found[migration.version] = migration
    return [found[version] for version in sorted(found)]


async def _recorded(connection: aiosqlite.Connection) -> dict[int, sqlite3.Row]:
    rows = await fetch_all(
        connection, "SELECT version, name, checksum FROM schema_migrations ORDER BY version"
    )
    return {row["version"]: row for row in rows}


def _verify(known: list[Migration], recorded: dict[int, sqlite3.Row]) -> None:
    for migration in known:
        row = recorded.get(migration.version)
        if row is not None and row["checksum"] != migration.checksum:
            raise MigrationError(f"{migration.name} changed after it was applied")


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
        recorded = await _recorded(connection)
        _verify(known, recorded)
        applied: list[str] = []
        for migration in known:
            if migration.version in recorded:
                continue
            for statement in migration.statements():
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
    try:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise StorageUnavailableError(f"{type(error).__name__}: {error}") from error
    connection = await connect(path, busy_timeout=BUSY_TIMEOUT)
    try:
        return await _apply(connection, known)
    except Exception as error:
        if is_unavailable(error):
            raise StorageUnavailableError(f"{type(error).__name__}: {error}") from error
        raise
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
    recorded: dict[int, sqlite3.Row] = {}
    if await asyncio.to_thread(Path(path).exists):
        connection = await connect(path, busy_timeout=BUSY_TIMEOUT)
        try:
            exists = await fetch_all(
                connection,
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name = ?",
                ("schema_migrations",),
            )
            if exists:
                recorded = await _recorded(connection)
        except Exception as error:
            if is_unavailable(error):
                raise StorageUnavailableError(f"{type(error).__name__}: {error}") from error
            raise
        finally:
            await connection.close()
    _verify(known, recorded)
    applied = [row["name"] for row in recorded.values()]
    pending = [migration.name for migration in known if migration.version not in recorded]
    return applied, pending
