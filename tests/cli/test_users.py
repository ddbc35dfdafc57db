import asyncio

from tests.pg.databases import cloned_database


def test_a_grant_is_recorded_once_per_user_amount_and_reason(cli):
    first = cli("users", "grant", "123", "50", "--reason", "welcome back")
    assert first.exit_code == 0, first.output
    assert "Granted 50 ⭐ to 123" in first.stdout
    again = cli("users", "grant", "123", "50", "--reason", "welcome back")
    assert "Already granted" in again.stdout
    assert "available 50 ⭐" in again.stdout
    other = cli("users", "grant", "123", "5", "--reason", "promo")
    assert "available 55 ⭐" in other.stdout


def test_a_grant_needs_a_positive_amount_and_a_reason(cli):
    assert cli("users", "grant", "123", "0", "--reason", "x").exit_code == 2
    assert cli("users", "grant", "123", "5", "--reason", "  ").exit_code == 2
    assert cli("users", "grant", "123", "5").exit_code == 2


async def test_grants_reach_the_bots_postgresql_ledger(cli, pg_admin_dsn, pg_template):
    async with cloned_database(pg_admin_dsn, pg_template) as dsn:
        result = await asyncio.to_thread(
            cli, "users", "grant", "777", "25", "--reason", "support", env={"DATABASE_URL": dsn}
        )
        assert result.exit_code == 0, result.output
        assert "available 25 ⭐" in result.stdout
