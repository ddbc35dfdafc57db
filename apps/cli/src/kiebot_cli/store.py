"""The CLI's store alone (PostgreSQL or the local SQLite file), without KIE, HTTP or delivery.

Commands that only read or write the store (``debug``, ``replay``, ``history``, the operator
commands) open it from here, so they start without importing the KIE client and sandbox; each
store's driver is imported only when that store is used.
"""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

from kiebot_cli.settings import CliSettings
from kiebot_core.domain.errors import SettingsError
from kiebot_core.ports.storage import UnitOfWorkFactory

LOCAL_CLAIM_TIMEOUT = timedelta(seconds=30)
"""The local store has one user's processes: a killed run's claims come back quickly."""


@asynccontextmanager
async def open_store(settings: CliSettings) -> AsyncIterator[UnitOfWorkFactory]:
    """PostgreSQL when ``DATABASE_URL`` is set, else SQLite under ``KIEBOT_HOME``; migrated."""
    # One driver per run: the other is never imported (a shorter start for every command).
    if settings.database_url:
        from kiebot_pg import migrate as pg_migrate  # noqa: PLC0415
        from kiebot_pg.pool import open_pool  # noqa: PLC0415
        from kiebot_pg.uow import PgUnitOfWorkFactory  # noqa: PLC0415

        await pg_migrate.migrate(settings.database_url)
        async with open_pool(settings.database_url) as pool:
            yield PgUnitOfWorkFactory(pool)
        return
    from kiebot_sqlite import migrate as sqlite_migrate  # noqa: PLC0415
    from kiebot_sqlite.uow import SqliteUnitOfWorkFactory  # noqa: PLC0415

    settings.home.mkdir(parents=True, exist_ok=True)
    await sqlite_migrate.migrate(settings.sqlite_path)
    yield SqliteUnitOfWorkFactory(settings.sqlite_path, claim_timeout=LOCAL_CLAIM_TIMEOUT)


@asynccontextmanager
async def open_bot_store(settings: CliSettings) -> AsyncIterator[UnitOfWorkFactory]:
    """The bot's PostgreSQL store (``DATABASE_URL``), for operator commands; migrated.

    Raises ``SettingsError`` without ``DATABASE_URL``: the local store is never the bot's.
    """
    if not settings.database_url:
        raise SettingsError(
            "DATABASE_URL", "is not set (operator commands use the bot's database)"
        )
    async with open_store(settings) as store:
        yield store
