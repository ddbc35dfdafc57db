"""Synced model catalogs in SQLite (the CLI's local store)."""

import sqlite3

import aiosqlite
import attrs

from kiebot_core.domain.catalog_sync import (
    CatalogRecord,
    CatalogVersion,
    dump_document,
    dump_overrides,
    load_document,
    load_overrides,
)
from kiebot_core.domain.errors import StaleWriteError
from kiebot_core.ports.storage import CatalogRepository
from kiebot_sqlite.connection import fetch_all, fetch_one, insert
from kiebot_sqlite.errors import translated
from kiebot_sqlite.rows import moment_from, timestamp

_NEWEST = "SELECT coalesce(max(version), 0) AS version FROM catalog_versions"
_INSERT = """
    INSERT INTO catalog_versions (version, document, price_overrides, actor, summary, created_at)
    SELECT ?1, ?2, ?3, ?4, ?5, ?6
    WHERE (SELECT coalesce(max(version), 0) FROM catalog_versions) = ?1 - 1
"""
_HISTORY = """
    SELECT version, actor, summary, created_at, document IS NULL AS is_shipped,
           (SELECT count(*) FROM json_each(price_overrides)) AS overrides
    FROM catalog_versions ORDER BY version DESC LIMIT ?
"""


def _version(row: sqlite3.Row) -> CatalogVersion:
    return CatalogVersion(
        version=row["version"],
        document=load_document(row["document"]),
        price_overrides=load_overrides(row["price_overrides"]),
        actor=row["actor"],
        created_at=moment_from(row["created_at"]),
        summary=row["summary"],
    )


@attrs.frozen
class SqliteCatalogRepository(CatalogRepository):
    """Versions in the ``catalog_versions`` table (units of work never interleave)."""

    _connection: aiosqlite.Connection

    async def current(self) -> CatalogVersion | None:
        with translated("catalog", "current"):
            row = await fetch_one(
                self._connection, "SELECT * FROM catalog_versions ORDER BY version DESC LIMIT 1"
            )
        return None if row is None else _version(row)

    async def current_version(self) -> int:
        with translated("catalog", "version"):
            row = await fetch_one(self._connection, _NEWEST)
        return 0 if row is None else int(row["version"])

    async def add(self, version: CatalogVersion) -> None:
        with translated("catalog", version.version):
            stored = await insert(
                self._connection,
                _INSERT,
                (
                    version.version,
                    dump_document(version.document),
                    dump_overrides(version.price_overrides),
                    version.actor,
                    version.summary,
                    timestamp(version.created_at),
                ),
            )
        if stored is None:
            raise StaleWriteError("catalog", str(version.version))

    async def history(self, *, limit: int) -> list[CatalogRecord]:
        with translated("catalog", "history"):
            rows = await fetch_all(self._connection, _HISTORY, (max(limit, 0),))
        return [
            CatalogRecord(
                version=row["version"],
                actor=row["actor"],
                created_at=moment_from(row["created_at"]),
                summary=row["summary"],
                is_shipped=bool(row["is_shipped"]),
                overrides=row["overrides"],
            )
            for row in rows
        ]
