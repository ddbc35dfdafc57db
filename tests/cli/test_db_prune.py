"""``kiebot db prune [--dry-run]`` against the bot's PostgreSQL store."""

from datetime import UTC, datetime, timedelta

import asyncpg
import attrs

from kiebot_core.domain.ids import CorrelationId, OrderId, UserId
from kiebot_core.domain.payments import ORDER_VALIDITY, Order
from tests.cli.bot_store import BotStore, bot_store
from tests.contracts.builders import make_event, make_payment, make_update

__all__ = ["bot_store"]

DAY = timedelta(days=1)


def order(order_id: str, created_at: datetime) -> Order:
    return Order(
        id=OrderId(order_id),
        user_id=UserId(1),
        stars=50,
        bonus=0,
        terms_version=1,
        created_at=created_at,
    )


async def plant(bot_store: BotStore) -> None:
    """Old and recent events, processed updates and unpaid orders; a paid order long expired."""
    now = datetime.now(UTC)
    async with bot_store.uow() as uow:
        for age in (0, 3, 45, 60):
            await uow.events.append(make_event(at=now - age * DAY, kind=f"age {age}"))
            await uow.orders.add(order(f"ord_{age}", now - age * DAY - ORDER_VALIDITY))
            await uow.inbox.store(make_update(age, at=now - age * DAY, chat_id=age))
            await uow.inbox.done(7, age)
        await uow.orders.add(order("ord_paid", now - 90 * DAY))
        await uow.payments.add(attrs.evolve(make_payment(at=now - 90 * DAY), order_id="ord_paid"))
        await uow.inbox.store(make_update(999, at=now - 90 * DAY, chat_id=999))
        await uow.commit()
    # The inbox times "done" by the database clock: move the processed updates back in time.
    connection = await asyncpg.connect(bot_store.dsn)
    try:
        await connection.execute(
            "UPDATE update_inbox SET processed_at = now() - update_id * interval '1 day'"
            " WHERE processed"
        )
    finally:
        await connection.close()


async def test_prune_deletes_what_the_retention_no_longer_keeps(bot_store: BotStore):
    await plant(bot_store)
    dry = await bot_store.run("db", "prune", "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert "Would delete 2 events from before" in dry.stdout
    assert "Would delete 2 processed updates done before" in dry.stdout
    assert "Would delete 2 unpaid orders expired before" in dry.stdout
    assert "Dry run: nothing was deleted" in dry.stdout
    async with bot_store.uow() as uow:
        assert len(await uow.events.chain(CorrelationId("cor_1"))) == 4

    result = await bot_store.run("db", "prune", KIEBOT_INBOX_RETENTION_DAYS="1")
    assert result.exit_code == 0, result.output
    assert "Deleted 2 events" in result.stdout
    assert "Deleted 3 processed updates" in result.stdout
    assert "Deleted 2 unpaid orders" in result.stdout
    async with bot_store.uow() as uow:
        kinds = [e.kind for e in await uow.events.chain(CorrelationId("cor_1"))]
        assert sorted(kinds) == ["age 0", "age 3"]
        assert await uow.orders.get(OrderId("ord_paid")) is not None
        assert await uow.orders.get(OrderId("ord_3")) is not None
        assert await uow.orders.get(OrderId("ord_45")) is None
        assert [u.update_id for u in await uow.inbox.pending(limit=10)] == [999]
        assert await uow.inbox.store(make_update(3, at=datetime.now(UTC))) is True
        assert await uow.inbox.store(make_update(0, at=datetime.now(UTC))) is False

    again = await bot_store.run("db", "prune")
    assert "Deleted 0 events" in again.stdout


async def test_prune_reads_the_retention_settings(bot_store: BotStore):
    result = await bot_store.run("db", "prune", KIEBOT_EVENT_RETENTION_DAYS="0")
    assert result.exit_code == 2, result.output
    assert "KIEBOT_EVENT_RETENTION_DAYS" in result.output


def test_prune_refuses_the_local_store(cli):
    result = cli("db", "prune", env={"DATABASE_URL": ""})
    assert result.exit_code == 2, result.output
    assert "DATABASE_URL is not set" in result.output
    assert not (cli.home / "kiebot.sqlite3").exists()
