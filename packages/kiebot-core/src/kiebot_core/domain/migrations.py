"""Forward-only schema migrations: the rules both storage adapters keep (no database driver).

An adapter ships its migrations as numbered files in its package's ``migrations`` folder
(``0001_initial.sql``, …) and records each one it applies, with its checksum, in a
``schema_migrations`` table. Files are applied in order and once; a file that was applied must
never change (its checksum is compared), and no file may destroy data (``DROP TABLE``,
``DROP COLUMN``, ``TRUNCATE``…). Running the statements and locking out other processes is the
adapter's part.
"""

import hashlib
import re
from collections.abc import Mapping, Sequence
from importlib import resources
from typing import ClassVar

import attrs

from kiebot_core.domain.errors import KiebotError
from kiebot_core.domain.reasons import ReasonCode

_FILE_NAME = re.compile(r"^(?P<version>\d{4})_(?P<title>[a-z0-9_]+)\.sql$")
_COMMENTS = re.compile(r"--[^\n]*|/\*.*?\*/", re.DOTALL)
_DESTRUCTIVE = re.compile(
    r"\bDROP\s+(?:TABLE|COLUMN|SCHEMA|DATABASE|OWNED)\b"
    r"|\bTRUNCATE\b(?!\s+ON\b)"
    r"|\bALTER\s+TABLE\b[^;]*?\bDROP\s+(?!CONSTRAINT\b|DEFAULT\b|NOT\s+NULL\b|IDENTITY\b"
    r"|EXPRESSION\b)",
    re.IGNORECASE,
)


@attrs.frozen
class MigrationError(KiebotError):
    """The migrations or the database's record of them cannot be trusted; nothing is applied."""

    reason: ClassVar[ReasonCode] = ReasonCode.STORAGE_ERROR
    problem: str


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


@attrs.frozen
class AppliedMigration:
    """A migration as the database recorded it (a ``schema_migrations`` row)."""

    version: int
    name: str
    checksum: str


def without_comments(sql: str) -> str:
    """``sql`` with each ``--`` and ``/* */`` comment replaced by a space."""
    return _COMMENTS.sub(" ", sql)


def destructive_statements(sql: str) -> list[str]:
    """The fragments of ``sql`` that would destroy data; empty for a forward-only migration."""
    return [match.group(0) for match in _DESTRUCTIVE.finditer(without_comments(sql))]


def shipped_migrations(package: str) -> list[Migration]:
    """Every migration in the ``migrations`` folder of ``package``, in order.

    Args:
        package: The adapter's import name (``"kiebot_pg"``); files not ending in ``.sql`` are
            ignored.

    Returns:
        The migrations by ascending version.

    Raises:
        MigrationError: A file is misnamed, two share a number, or one destroys data.
    """
    found: dict[int, Migration] = {}
    folder = resources.files(package) / "migrations"
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


def verify(known: Sequence[Migration], recorded: Mapping[int, AppliedMigration]) -> None:
    """Check that every shipped migration the database recorded is still the file it applied.

    Args:
        known: The shipped migrations.
        recorded: The database's record, by version.

    Raises:
        MigrationError: A migration changed after it was applied.
    """
    for migration in known:
        applied = recorded.get(migration.version)
        if applied is not None and applied.checksum != migration.checksum:
            raise MigrationError(f"{migration.name} changed after it was applied")


def pending(
    known: Sequence[Migration], recorded: Mapping[int, AppliedMigration]
) -> list[Migration]:
    """The shipped migrations the database has not recorded yet, in order, once verified.

    Args:
        known: The shipped migrations, in order.
        recorded: The database's record, by version.

    Raises:
        MigrationError: A migration changed after it was applied.
    """
    verify(known, recorded)
    return [migration for migration in known if migration.version not in recorded]


def status_of(
    known: Sequence[Migration], recorded: Mapping[int, AppliedMigration]
) -> tuple[list[str], list[str]]:
    """What has been applied and what is pending, once verified.

    Args:
        known: The shipped migrations, in order.
        recorded: The database's record, by version, in order.

    Returns:
        ``(applied, pending)``: migration names, each in order. ``applied`` also lists any
        migration recorded by a newer kiebot that this one does not ship.

    Raises:
        MigrationError: A migration changed after it was applied.
    """
    return (
        [applied.name for applied in recorded.values()],
        [migration.name for migration in pending(known, recorded)],
    )
