"""Synced model catalogs in PostgreSQL; storing one notifies every instance when it commits."""

import asyncpg
import attrs

from kiebot_core.domain.catalog_sync import (
    CatalogRecord,
    CatalogVersion,
    dump_document,
    dump_overrides,
    load_document,
    load_overrides,
)
from kiebot_core.domain.errors import DuplicateError, StaleWriteError
from kiebot_core.ports.storage import CatalogRepository
from kiebot_pg.errors import translated
from kiebot_pg.notify import CATALOG_CHANNEL
from kiebot_pg.pool import PgConnection

_CURRENT = "SELECT * FROM catalog_versions ORDER BY version DESC LIMIT 1"
_INSERT = """
    INSERT INTO catalog_versions (version, document, price_overrides, actor, summary, created_at)
    SELECT $1, $2::jsonb, $3::jsonb, $4, $5, $6
    WHERE (SELECT coalesce(max(version), 0) FROM catalog_versions) = $1 - 1
    RETURNING version
"""
_HISTORY = """
    SELECT version, actor, summary, created_at, document IS NULL AS is_shipped,
           (SELECT count(*) FROM jsonb_object_keys(price_overrides)) AS overrides
    FROM catalog_versions ORDER BY version DESC LIMIT $1
"""


def _version(row: asyncpg.Record) -> CatalogVersion:
    return CatalogVersion(
        version=row["version"],
        document=load_document(row["document"]),
        price_overrides=load_overrides(row["price_overrides"]),
        actor=row["actor"],
        created_at=row["created_at"],
        summary=row["summary"],
    )


@attrs.frozen
class PgCatalogRepository(CatalogRepository):
    """Versions in the ``catalog_versions`` table."""

    _connection: PgConnection

    async def current(self) -> CatalogVersion | None:
        with translated("catalog", "current"):
            row = await self._connection.fetchrow(_CURRENT)
        return None if row is None else _version(row)

    async def current_version(self) -> int:
        with translated("catalog", "version"):
            found = await self._connection.fetchval(
                "SELECT coalesce(max(version), 0) FROM catalog_versions"
            )
        return int(found)

    async def add(self, version: CatalogVersion) -> None:
        try:
            with translated("catalog", version.version):
                stored = await self._connection.fetchval(
                    _INSERT,
                    version.version,
                    dump_document(version.document),
                    dump_overrides(version.price_overrides),
                    version.actor,
                    version.summary,
                    version.created_at,
                )
                if stored is not None:
                    await self._connection.execute(
                        "SELECT pg_notify($1, $2)", CATALOG_CHANNEL, f"catalog:{version.version}"
                    )
        except DuplicateError as error:
            # Another unit of work stored this number first.
            raise StaleWriteError("catalog", str(version.version)) from error
        if stored is None:
            raise StaleWriteError("catalog", str(version.version))

    async def history(self, *, limit: int) -> list[CatalogRecord]:
        with translated("catalog", "history"):
            rows = await self._connection.fetch(_HISTORY, max(limit, 0))
        return [
            CatalogRecord(
                version=row["version"],
                actor=row["actor"],
                created_at=row["created_at"],
                summary=row["summary"],
                is_shipped=row["is_shipped"],
                overrides=row["overrides"],
            )
            for row in rows
        ]
