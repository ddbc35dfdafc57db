"""The in-memory store of synced catalogs (``UnitOfWork.catalogs`` of the memory fake)."""

import attrs

from kiebot_core.domain.catalog_sync import CatalogRecord, CatalogVersion
from kiebot_core.domain.errors import StaleWriteError
from kiebot_core.ports.storage import CatalogRepository


@attrs.define
class MemoryCatalogRepository(CatalogRepository):
    """Versions in a list, oldest first."""

    _versions: list[CatalogVersion]

    async def current(self) -> CatalogVersion | None:
        return self._versions[-1] if self._versions else None

    async def current_version(self) -> int:
        return self._versions[-1].version if self._versions else 0

    async def add(self, version: CatalogVersion) -> None:
        if version.version != await self.current_version() + 1:
            raise StaleWriteError("catalog", str(version.version))
        self._versions.append(version)

    async def history(self, *, limit: int) -> list[CatalogRecord]:
        newest = list(reversed(self._versions))[: max(limit, 0)]
        return [
            CatalogRecord(
                version=stored.version,
                actor=stored.actor,
                created_at=stored.created_at,
                summary=stored.summary,
                is_shipped=stored.document is None,
                overrides=len(stored.price_overrides),
            )
            for stored in newest
        ]
