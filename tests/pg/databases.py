"""PostgreSQL databases for tests: one template migrated per run, one clone per test.

The template is created and migrated once per process (its connection is closed before any
clone, as PostgreSQL requires) and cloned with ``CREATE DATABASE … TEMPLATE`` for each test, which
is much faster than migrating or truncating. Names carry a random suffix so runs that share the
server (several engineers, CI jobs) never collide.
"""

import asyncio
import threading
import uuid
from collections.abc import AsyncIterator, Coroutine, Iterator
from contextlib import asynccontextmanager
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

from kiebot_pg.migrate import migrate

T = TypeVar("T")

_lock = threading.Lock()
_templates: dict[str, tuple[str, int]] = {}
"""admin DSN → (template name, how many fixtures use it)."""


def dsn_for(admin_dsn: str, database: str) -> str:
    """``admin_dsn`` pointed at ``database``."""
    parts = urlsplit(admin_dsn)
    return urlunsplit(parts._replace(path=f"/{database}"))


def run_sync(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run ``coroutine`` to completion on a fresh loop in a thread (safe inside a running loop)."""
    outcome: list[T] = []
    failure: list[BaseException] = []

    def target() -> None:
        try:
            outcome.append(asyncio.run(coroutine))
        except BaseException as error:  # noqa: BLE001 - re-raised in the caller's thread
            failure.append(error)

    thread = threading.Thread(target=target)
    thread.start()
    thread.join()
    if failure:
        raise failure[0]
    return outcome[0]


async def _create_template(admin_dsn: str, name: str) -> None:
    admin = await asyncpg.connect(admin_dsn)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    await migrate(dsn_for(admin_dsn, name))


async def _drop(admin_dsn: str, name: str) -> None:
    admin = await asyncpg.connect(admin_dsn)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


def acquire_template(admin_dsn: str) -> str:
    """The migrated template database for ``admin_dsn``, created on first use."""
    with _lock:
        if admin_dsn in _templates:
            name, users = _templates[admin_dsn]
        else:
            name, users = f"kiebot_test_template_{uuid.uuid4().hex[:12]}", 0
            run_sync(_create_template(admin_dsn, name))
        _templates[admin_dsn] = (name, users + 1)
        return name


def release_template(admin_dsn: str) -> None:
    """Drop the template once its last user is done with it."""
    with _lock:
        name, users = _templates[admin_dsn]
        if users > 1:
            _templates[admin_dsn] = (name, users - 1)
            return
        del _templates[admin_dsn]
        run_sync(_drop(admin_dsn, name))


def new_database_name() -> str:
    """A fresh, unique test database name."""
    return f"kiebot_test_{uuid.uuid4().hex[:16]}"


async def create_database(admin_dsn: str, name: str, *, template: str | None) -> str:
    """Create ``name`` (a clone of ``template``, or empty); its DSN."""
    admin = await asyncpg.connect(admin_dsn)
    try:
        if template is None:
            await admin.execute(f'CREATE DATABASE "{name}"')
        else:
            await admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    finally:
        await admin.close()
    return dsn_for(admin_dsn, name)


async def drop_database(admin_dsn: str, name: str) -> None:
    """Drop ``name``, ending any session still connected to it."""
    await _drop(admin_dsn, name)


@asynccontextmanager
async def cloned_database(admin_dsn: str, template: str | None) -> AsyncIterator[str]:
    """A database of its own for one test (migrated when ``template`` is given); its DSN."""
    name = new_database_name()
    dsn = await create_database(admin_dsn, name, template=template)
    try:
        yield dsn
    finally:
        await drop_database(admin_dsn, name)


@pytest.fixture(scope="session")
def pg_template(pg_admin_dsn: str) -> Iterator[str]:
    """The name of this run's migrated template database (import it into a conftest)."""
    name = acquire_template(pg_admin_dsn)
    yield name
    release_template(pg_admin_dsn)
