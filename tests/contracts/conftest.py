"""Fixtures of the storage contract suites: the ``uow`` store, over every implementation.

A test module applies ``pytest.mark.parametrize("uow", BACKENDS, indirect=True)``; each test
then gets a fresh, empty store: a new ``MemoryDatabase``, a new migrated SQLite file, or a new
PostgreSQL database cloned from the run's migrated template. A test that takes ``racers``
runs over ``RACING_BACKENDS`` with separate ways into one fresh store.
"""

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.contracts.stores import RACING_BACKENDS, Racers, Store, open_racers, open_store
from tests.pg.databases import pg_template

__all__ = ["pg_template", "racers", "uow"]


@pytest.fixture
async def uow(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    """A fresh store of the implementation named by the test's parameter."""
    async with open_store(request.param, request, tmp_path) as store:
        yield store


@pytest.fixture(params=RACING_BACKENDS)
async def racers(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Racers]:
    """Each racer's own way into one fresh store that runs units of work in parallel."""
    async with open_racers(request.param, request, tmp_path) as racers:
        yield racers
