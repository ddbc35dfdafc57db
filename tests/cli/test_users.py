import asyncio

from kiebot_core.domain.ids import UserId
from tests.cli.bot_store import BotStore, bot_store
from tests.pg.databases import cloned_database

__all__ = ["bot_store"]


async def test_a_grant_is_recorded_once_per_user_amount_and_reason(bot_store: BotStore):
    first = await bot_store.run("users", "grant", "123", "50", "--reason", "welcome back")
    assert first.exit_code == 0, first.output
    assert "Granted 50 ⭐ to 123" in first.stdout
    again = await bot_store.run("users", "grant", "123", "50", "--reason", "welcome back")
    assert "Already granted" in again.stdout
    assert "available 50 ⭐" in again.stdout
    other = await bot_store.run("users", "grant", "123", "5", "--reason", "promo")
    assert "available 55 ⭐" in other.stdout


async def test_a_grant_needs_a_positive_amount_and_a_reason(bot_store: BotStore):
    for args in (("0", "--reason", "x"), ("5", "--reason", "  "), ("5",)):
        result = await bot_store.run("users", "grant", "123", *args)
        assert result.exit_code == 2, result.output
        assert "DATABASE_URL" not in result.output
    async with bot_store.uow() as uow:
        assert await uow.ledger.history(UserId(123), limit=5) == []


async def test_grants_reach_the_bots_postgresql_ledger(cli, pg_admin_dsn, pg_template):
    async with cloned_database(pg_admin_dsn, pg_template) as dsn:
        result = await asyncio.to_thread(
            cli, "users", "grant", "777", "25", "--reason", "support", env={"DATABASE_URL": dsn}
        )
        assert result.exit_code == 0, result.output
        assert "available 25 ⭐" in result.stdout
