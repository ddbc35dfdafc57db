"""Fixtures of the storage contract suites: the ``uow`` store, over every implementation.

A test module applies ``pytest.mark.parametrize("uow", BACKENDS, indirect=True)``; each test
then gets a fresh, empty store: a new ``MemoryDatabase``, a new migrated SQLite file, or a new
PostgreSQL database cloned from the run's migrated template.
"""

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.contracts.stores import Store, open_store
from tests.pg.databases import pg_template

__all__ = ["pg_template", "uow"]


@pytest.fixture
async def uow(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    """A fresh store of the implementation named by the test's parameter."""
    async with open_store(request.param, request, tmp_path) as store:
        yield store
