"""The backup and restore runbook (README "Backup and restore") against the real PostgreSQL server:
``pg_dump -Fc`` of a bot database, ``pg_restore`` into an empty one, then its checks."""

import asyncio
import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import asyncpg
import pytest

from kiebot_core.domain.ids import UserId
from kiebot_core.domain.ledger import (
    Balance,
    LedgerTransaction,
    capture,
    grant,
    hold,
    purchase,
    purchase_refund,
)
from kiebot_core.domain.outcomes import Rejected
from kiebot_pg import migrate
from kiebot_pg.pool import open_pool
from kiebot_pg.uow import PgUnitOfWorkFactory
from tests.pg.databases import cloned_database, pg_template

__all__ = ["pg_template"]

CHECK_LEDGER = (Path(__file__).resolve().parents[2] / "deploy" / "check-ledger.sql").read_text()
ANN, BOB = UserId(1), UserId(2)


def tools() -> tuple[str, str]:
    dump, restore = shutil.which("pg_dump"), shutil.which("pg_restore")
    if dump is None or restore is None:
        if os.environ.get("CI") == "true":
            pytest.fail("pg_dump and pg_restore are needed under CI")
        pytest.skip(
            "pg_dump or pg_restore is not installed on this local run (under CI=true this fails)"
        )
    return dump, restore


async def book(
    store: PgUnitOfWorkFactory,
    user_id: UserId,
    plan: Callable[[Balance], LedgerTransaction | Rejected],
) -> None:
    async with store() as uow:
        transaction = plan(await uow.ledger.balance(user_id))
        assert not isinstance(transaction, Rejected), transaction
        await uow.ledger.append(transaction)
        await uow.commit()


async def mismatches(dsn: str) -> list[int]:
    connection = await asyncpg.connect(dsn)
    try:
        return [row["user_id"] for row in await connection.fetch(CHECK_LEDGER)]
    finally:
        await connection.close()


async def test_a_dump_restores_into_an_empty_database_as_it_was(
    pg_admin_dsn: str, pg_template: str, tmp_path: Path
) -> None:
    pg_dump, pg_restore = tools()
    dump = tmp_path / "kiebot.dump"
    async with (
        cloned_database(pg_admin_dsn, pg_template) as source,
        cloned_database(pg_admin_dsn, None) as target,
    ):
        async with open_pool(source) as pool:
            store = PgUnitOfWorkFactory(pool)
            await book(store, ANN, lambda _: grant(ANN, 100, "welcome"))
            await book(store, ANN, lambda balance: hold(balance, ANN, 30, "gen_1"))
            await book(store, ANN, lambda _: capture(ANN, 30, 20, "gen_1"))
            await book(store, BOB, lambda balance: purchase(balance, BOB, 50, "charge_1"))
            await book(store, BOB, lambda balance: hold(balance, BOB, 40, "gen_2"))
            await book(store, BOB, lambda b: purchase_refund(b, BOB, 50, "charge_1"))
            async with store() as uow:
                before = [await uow.ledger.balance(user) for user in (ANN, BOB)]
        assert before == [Balance(available=80), Balance(available=0, held=40, debt=40)]
        assert await mismatches(source) == []

        await asyncio.to_thread(
            subprocess.run, [pg_dump, "-Fc", "--file", str(dump), source], check=True
        )
        await asyncio.to_thread(
            subprocess.run,
            [pg_restore, "--no-owner", "--exit-on-error", "--dbname", target, str(dump)],
            check=True,
        )

        assert (await migrate.status(target))[1] == []
        assert await mismatches(target) == []
        async with open_pool(target) as pool, PgUnitOfWorkFactory(pool)() as uow:
            assert [await uow.ledger.balance(user) for user in (ANN, BOB)] == before
        connection = await asyncpg.connect(target)
        try:
            # The restored ledger is still append-only, and the check sees a tampered balance.
            with pytest.raises(asyncpg.RestrictViolationError, match="append-only"):
                await connection.execute("DELETE FROM ledger_entries")
            await connection.execute("UPDATE ledger_balances SET held = 0 WHERE user_id = 2")
        finally:
            await connection.close()
        assert await mismatches(target) == [BOB]
