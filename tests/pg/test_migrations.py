import asyncio
import socket

import asyncpg
import pytest

from kiebot_core.domain.errors import StorageUnavailableError
from kiebot_pg.migrate import (
    MigrationError,
    destructive_statements,
    migrate,
    migrations,
    status,
)

TABLES = {
    "users",
    "generations",
    "ledger_transactions",
    "ledger_entries",
    "ledger_balances",
    "payments",
    "events",
    "update_inbox",
    "leader_leases",
    "conversations",
    "favorites",
    "orders",
    "free_runs",
    "promo_codes",
    "promo_redemptions",
    "referral_rewards",
    "model_toggles",
    "jobs",
    "sent_messages",
    "rate_limits",
    "catalog_versions",
    "forgotten_users",
    "audit_log",
    "broadcasts",
    "broadcast_deliveries",
    "model_circuits",
    "model_failures",
    "provider_credits",
    "schema_migrations",
}

INBOX_COLUMNS = {
    "bot_id",
    "update_id",
    "chat_id",
    "payload",
    "received_at",
    "processed",
    "processed_at",
    "attempts",
    "claimed_until",
    "parked_reason",
    "parked_at",
}
"""``update_inbox`` after ``0005_inbox_claims``."""


def every_name() -> list[str]:
    return [migration.name for migration in migrations()]


def test_migrations_are_numbered_from_one_without_gaps() -> None:
    found = migrations()
    assert found
    assert [m.version for m in found] == list(range(1, len(found) + 1))
    assert found[0].name == "0001_initial"


@pytest.mark.parametrize("migration", migrations(), ids=lambda m: m.name)
def test_no_migration_destroys_data(migration: object) -> None:
    sql = getattr(migration, "sql", "")
    assert destructive_statements(sql) == []


@pytest.mark.parametrize(
    "sql",
    [
        "DROP TABLE users;",
        "drop   table if exists users;",
        "ALTER TABLE users DROP COLUMN language;",
        "ALTER TABLE users DROP language;",
        "alter table users\n  drop column if exists language;",
        "TRUNCATE users;",
        "truncate table ledger_entries cascade;",
        "DROP SCHEMA public CASCADE;",
    ],
)
def test_the_lint_catches_destructive_statements(sql: str) -> None:
    assert destructive_statements(sql) != []


@pytest.mark.parametrize(
    "sql",
    [
        "CREATE TRIGGER t BEFORE TRUNCATE ON ledger_entries EXECUTE FUNCTION f();",
        "ALTER TABLE users DROP CONSTRAINT users_check;",
        "ALTER TABLE users ALTER COLUMN language DROP NOT NULL;",
        "ALTER TABLE users ALTER COLUMN language DROP DEFAULT;",
        "-- DROP TABLE users; is what we never do\nCREATE INDEX i ON users (id);",
        "DROP INDEX generations_by_user;",
    ],
)
def test_the_lint_allows_safe_statements(sql: str) -> None:
    assert destructive_statements(sql) == []


async def test_migrating_from_empty_applies_everything_then_nothing(empty_pg_dsn: str) -> None:
    assert await status(empty_pg_dsn) == ([], every_name())
    assert await migrate(empty_pg_dsn) == every_name()
    assert await migrate(empty_pg_dsn) == []
    assert await status(empty_pg_dsn) == (every_name(), [])
    connection = await asyncpg.connect(empty_pg_dsn)
    try:
        rows = await connection.fetch(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
        )
        inbox = await connection.fetch(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_schema = 'public' AND table_name = 'update_inbox'"
        )
    finally:
        await connection.close()
    assert {row["tablename"] for row in rows} == TABLES
    assert {row["column_name"] for row in inbox} == INBOX_COLUMNS


async def test_processes_migrating_together_apply_each_migration_once(
    empty_pg_dsn: str,
) -> None:
    results = await asyncio.gather(*(migrate(empty_pg_dsn) for _ in range(4)))
    assert sorted(results, key=len, reverse=True) == [every_name(), [], [], []]
    connection = await asyncpg.connect(empty_pg_dsn)
    try:
        recorded = await connection.fetchval("SELECT count(*) FROM schema_migrations")
    finally:
        await connection.close()
    assert recorded == len(every_name())


async def test_a_changed_migration_is_refused(pg_dsn: str) -> None:
    connection = await asyncpg.connect(pg_dsn)
    try:
        await connection.execute(
            "UPDATE schema_migrations SET checksum = 'edited' WHERE version = 1"
        )
    finally:
        await connection.close()
    with pytest.raises(MigrationError, match="changed after it was applied"):
        await migrate(pg_dsn)
    with pytest.raises(MigrationError):
        await status(pg_dsn)


async def test_status_lists_migrations_of_a_newer_kiebot(pg_dsn: str) -> None:
    connection = await asyncpg.connect(pg_dsn)
    try:
        await connection.execute(
            "INSERT INTO schema_migrations (version, name, checksum) "
            "VALUES (9999, '9999_from_the_future', 'x')"
        )
    finally:
        await connection.close()
    assert await status(pg_dsn) == ([*every_name(), "9999_from_the_future"], [])
    assert await migrate(pg_dsn) == []


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


async def test_an_unreachable_server_is_storage_unavailable() -> None:
    dsn = f"postgresql://postgres@127.0.0.1:{_closed_port()}/kiebot"
    with pytest.raises(StorageUnavailableError):
        await migrate(dsn)
    with pytest.raises(StorageUnavailableError):
        await status(dsn)
