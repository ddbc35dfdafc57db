import asyncio
import sqlite3
from pathlib import Path

import pytest

from kiebot_sqlite.migrate import (
    Migration,
    MigrationError,
    destructive_statements,
    migrate,
    migrations,
    statements,
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


def tables_of(path: Path) -> set[str]:
    with sqlite3.connect(path) as connection:
        rows = connection.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        ).fetchall()
    connection.close()
    return {name for (name,) in rows}


def columns_of(path: Path, table: str) -> set[str]:
    with sqlite3.connect(path) as connection:
        rows = connection.execute("SELECT name FROM pragma_table_info(?)", (table,)).fetchall()
    connection.close()
    return {name for (name,) in rows}


def test_migrations_are_numbered_from_one_without_gaps() -> None:
    found = migrations()
    assert [m.version for m in found] == list(range(1, len(found) + 1))
    assert found[0].name == "0001_initial"


@pytest.mark.parametrize("migration", migrations(), ids=lambda m: m.name)
def test_no_migration_destroys_data(migration: Migration) -> None:
    assert destructive_statements(migration.sql) == []


@pytest.mark.parametrize(
    "sql",
    [
        "DROP TABLE users;",
        "ALTER TABLE users DROP COLUMN language;",
        "ALTER TABLE users DROP language;",
        "TRUNCATE users;",
    ],
)
def test_the_lint_catches_destructive_statements(sql: str) -> None:
    assert destructive_statements(sql) != []


def test_statements_keep_trigger_bodies_whole() -> None:
    migration = Migration(
        version=1,
        name="0001_x",
        sql=(
            "-- a comment\nCREATE TABLE t (a INTEGER);\n"
            "CREATE TRIGGER t_no_delete BEFORE DELETE ON t\nBEGIN\n"
            "    SELECT RAISE(ABORT, 'no; never');\nEND;\n"
        ),
    )
    found = statements(migration)
    assert len(found) == 2
    assert found[1].startswith("CREATE TRIGGER")
    assert found[1].endswith("END;")


def test_an_unfinished_statement_is_refused() -> None:
    with pytest.raises(MigrationError, match="unfinished"):
        statements(Migration(version=1, name="0001_x", sql="CREATE TABLE t (a INTEGER)"))


async def test_migrating_from_nothing_applies_everything_then_nothing(tmp_path: Path) -> None:
    path = tmp_path / "home" / "kiebot" / "kiebot.sqlite3"
    assert await status(path) == ([], every_name())
    assert not path.exists()
    assert await migrate(path) == every_name()
    assert await migrate(path) == []
    assert await status(path) == (every_name(), [])
    assert tables_of(path) == TABLES
    assert columns_of(path, "update_inbox") == INBOX_COLUMNS


async def test_processes_migrating_together_apply_each_migration_once(tmp_path: Path) -> None:
    path = tmp_path / "kiebot.sqlite3"
    results = await asyncio.gather(*(migrate(path) for _ in range(3)))
    assert sorted(results, key=len, reverse=True) == [every_name(), [], []]


async def test_a_changed_migration_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "kiebot.sqlite3"
    await migrate(path)
    with sqlite3.connect(path) as connection:
        connection.execute("UPDATE schema_migrations SET checksum = 'edited'")
    connection.close()
    with pytest.raises(MigrationError, match="changed after it was applied"):
        await migrate(path)
    with pytest.raises(MigrationError):
        await status(path)
