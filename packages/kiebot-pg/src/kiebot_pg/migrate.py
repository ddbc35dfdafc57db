"""Forward-only schema migrations for PostgreSQL.

Migrations are the numbered files in ``kiebot_pg/migrations`` (``0001_initial.sql``, …), applied
in order, each in its own transaction together with its row in ``schema_migrations``. The whole
run holds a session advisory lock, so processes starting together apply each file once: the
others wait, then find nothing pending. The rules for the files (a file that was applied must
never change, no file may destroy data) are ``kiebot_core.domain.migrations``.
"""

import asyncpg

from kiebot_core.domain.errors import UnavailableWhen
from kiebot_core.domain.migrations import (
    AppliedMigration,
    Migration,
    MigrationError,
    destructive_statements,
    pending,
    shipped_migrations,
    status_of,
)
from kiebot_pg.errors import is_connection_lost

__all__ = [
    "MIGRATIONS_LOCK",
    "Migration",
    "MigrationError",
    "destructive_statements",
    "migrate",
    "migrations",
    "status",
]

MIGRATIONS_LOCK = 0x6B_69_65_62_6F_74
"""The advisory lock key held while migrating (``b"kiebot"`` as a number)."""

_BOOTSTRAP = """
    CREATE TABLE IF NOT EXISTS schema_migrations (
        version    integer PRIMARY KEY,
        name       text NOT NULL,
        checksum   text NOT NULL,
        applied_at timestamptz NOT NULL DEFAULT now()
    )
"""


def migrations() -> list[Migration]:
    """Every migration shipped with this package, in order.

    Raises:
        MigrationError: A file is misnamed, two share a number, or one destroys data.
    """
    return shipped_migrations("kiebot_pg")


async def _connect(dsn: str) -> "asyncpg.Connection[asyncpg.Record]":
    with UnavailableWhen(is_connection_lost):
        return await asyncpg.connect(dsn)


async def _recorded(
    connection: "asyncpg.Connection[asyncpg.Record]",
) -> dict[int, AppliedMigration]:
    rows = await connection.fetch(
        "SELECT version, name, checksum FROM schema_migrations ORDER BY version"
    )
    return {row["version"]: AppliedMigration(*row) for row in rows}


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
        with UnavailableWhen(is_connection_lost):
            return await _apply(connection, known)
    finally:
        await connection.close()


async def _apply(
    connection: "asyncpg.Connection[asyncpg.Record]", known: list[Migration]
) -> list[str]:
    await connection.execute("SELECT pg_advisory_lock($1)", MIGRATIONS_LOCK)
    try:
        await connection.execute(_BOOTSTRAP)
        applied: list[str] = []
        for migration in pending(known, await _recorded(connection)):
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
        with UnavailableWhen(is_connection_lost):
            exists = await connection.fetchval(
                "SELECT to_regclass('schema_migrations') IS NOT NULL"
            )
            recorded = await _recorded(connection) if exists else {}
    finally:
        await connection.close()
    return status_of(known, recorded)
