"""Forward-only schema migrations for PostgreSQL.

Migrations are the numbered files in ``kiebot_pg/migrations`` (``0001_initial.sql``, …), applied
in order, each in its own transaction together with its row in ``schema_migrations``. The whole
run holds a session advisory lock, so processes starting together apply each file once: the
others wait, then find nothing pending. A file that was applied must never change (its checksum
is compared), and no file may destroy data (``DROP TABLE``, ``DROP COLUMN``, ``TRUNCATE``…).
"""

import hashlib
import importlib.resources
import re

import asyncpg
import attrs

from kiebot_core.domain.errors import StorageUnavailableError
from kiebot_pg.errors import is_connection_lost

MIGRATIONS_LOCK = 0x6B_69_65_62_6F_74
"""The advisory lock key held while migrating (``b"kiebot"`` as a number)."""

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
        version    integer PRIMARY KEY,
        name       text NOT NULL,
        checksum   text NOT NULL,
        applied_at timestamptz NOT NULL DEFAULT now()
    )
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


def destructive_statements(sql: str) -> list[str]:
    """The fragments of ``sql`` that would destroy data; empty for a forward-only migration."""
    return [match.group(0) for match in _DESTRUCTIVE.finditer(_COMMENTS.sub(" ", sql))]


def migrations() -> list[Migration]:
    """Every migration shipped with this package, in order.

    Raises:
        MigrationError: A file is misnamed, two share a number, or one destroys data.
    """
    found: dict[int, Migration] = {}
    folder = importlib.resources.files("kiebot_pg") / "migrations"
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


async def _connect(dsn: str) -> "asyncpg.Connection[asyncpg.Record]":
    try:
        return await asyncpg.connect(dsn)
    except Exception as error:
        if is_connection_lost(error):
            raise StorageUnavailableError(f"{type(error).__name__}: {error}") from error
        raise


async def _recorded(connection: "asyncpg.Connection[asyncpg.Record]") -> dict[int, asyncpg.Record]:
    rows = await connection.fetch(
        "SELECT version, name, checksum FROM schema_migrations ORDER BY version"
    )
    return {row["version"]: row for row in rows}


def _verify(known: list[Migration], recorded: dict[int, asyncpg.Record]) -> None:
    for migration in known:
        row = recorded.get(migration.version)
        if row is not None and row["checksum"] != migration.checksum:
            raise MigrationError(f"{migration.name} changed after it was applied")


async def migrate(dsn: str) -> list[str]:
    """Apply every pending migration to the database at ``dsn``.

    Args:
        dsn: ``postgresql://user@host:port/database`` of an existing database.

    Returns:
        The names of the migrations applied now, in order (empty when up to date).

    Raises:
        MigrationError: An applied migration changed, or a shipped one is invalid.
        StorageUnavailableError: The server cannot be reached.
    """
    known = migrations()
    connection = await _connect(dsn)
    try:
        return await _apply(connection, known)
    except Exception as error:
        if is_connection_lost(error):
            raise StorageUnavailableError(f"{type(error).__name__}: {error}") from error
        raise
    finally:
        await connection.close()


async def _apply(
    connection: "asyncpg.Connection[asyncpg.Record]", known: list[Migration]
) -> list[str]:
    await connection.execute("SELECT pg_advisory_lock($1)", MIGRATIONS_LOCK)
    try:
        await connection.execute(_BOOTSTRAP)
        recorded = await _recorded(connection)
        _verify(known, recorded)
        applied: list[str] = []
        for migration in known:
            if migration.version in recorded:
                continue
            async with connection.transaction():
                await connection.execute(migration.sql)
                await connection.execute(
                    "INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)",
                    migration.version,
                    migration.name,
                    migration.checksum,
                )
            applied.append(migration.name)
        return applied
    finally:
        await connection.execute("SELECT pg_advisory_unlock($1)", MIGRATIONS_LOCK)


async def status(dsn: str) -> tuple[list[str], list[str]]:
    """What has been applied to the database at ``dsn`` and what is pending.

    Args:
        dsn: ``postgresql://user@host:port/database``.

    Returns:
        ``(applied, pending)``: migration names, each in order. ``applied`` also lists any
        migration recorded by a newer kiebot that this one does not ship.

    Raises:
        MigrationError: An applied migration changed.
        StorageUnavailableError: The server cannot be reached.
    """
    known = migrations()
    connection = await _connect(dsn)
    try:
        exists = await connection.fetchval("SELECT to_regclass('schema_migrations') IS NOT NULL")
        recorded = await _recorded(connection) if exists else {}
    except Exception as error:
        if is_connection_lost(error):
            raise StorageUnavailableError(f"{type(error).__name__}: {error}") from error
        raise
    finally:
        await connection.close()
    _verify(known, recorded)
    applied = [row["name"] for row in recorded.values()]
    pending = [migration.name for migration in known if migration.version not in recorded]
    return applied, pending
