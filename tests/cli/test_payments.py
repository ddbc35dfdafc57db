"""``kiebot payments list|refund|reconcile`` against the bot's PostgreSQL store and Telegram
(the fake Bot API on loopback, reached through ``TELEGRAM_API_BASE``)."""

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import attrs
import pytest

from kiebot_core.domain.ids import GenerationId, PaymentChargeId, UserId
from kiebot_core.domain.ledger import Balance, LedgerKind, hold
from kiebot_core.domain.outcomes import Rejected
from kiebot_core.domain.payments import Order, Payment, PaymentState
from kiebot_core.domain.texts import Language
from kiebot_core.domain.users import User
from kiebot_core.ports.runtime import SystemClock, Uuid4Ids
from kiebot_core.use_cases.payments import (
    Payments,
    create_order,
    record_purchase_refund,
    register_payment,
)
from kiebot_pg.pool import open_pool
from kiebot_pg.uow import PgUnitOfWorkFactory
from kiebot_telegram.stars import PAGE_SIZE
from tests.cli.conftest import Cli
from tests.pg.databases import cloned_database
from tests.telegram.fake_bot_api import FakeBotApi

ANN, BOB = 1001, 1002


@attrs.define
class Shop:
    """The bot's store and Telegram, with the payments a test makes in both."""

    cli: Cli
    dsn: str
    api: FakeBotApi
    payments: Payments

    def env(self) -> dict[str, str]:
        return {
            "DATABASE_URL": self.dsn,
            "TELEGRAM_BOT_TOKEN": self.api.token,
            "TELEGRAM_API_BASE": self.api.base_url,
            "COLUMNS": "200",
        }

    async def run(self, *args: str, **env: str):
        result = await asyncio.to_thread(self.cli, *args, env=self.env() | env)
        assert self.api.token not in result.output + result.stderr
        return result

    async def order(self, user_id: int, stars: int) -> Order:
        async with self.payments.uow() as uow:
            if await uow.users.get(UserId(user_id)) is None:
                user = User(
                    id=UserId(user_id),
                    language=Language.EN,
                    created_at=datetime.now(UTC),
                    terms_version=1,
                )
                await uow.users.add(user)
                await uow.commit()
        order = await create_order(self.payments, UserId(user_id), stars)
        assert isinstance(order, Order), order
        return order

    async def register(self, charge_id: str, user_id: int, stars: int, payload: str) -> None:
        registered = await register_payment(
            self.payments, PaymentChargeId(charge_id), UserId(user_id), payload, stars
        )
        assert registered.is_new

    async def paid(self, user_id: int = ANN, stars: int = 100) -> str:
        """The user pays an order of ``stars`` at Telegram, and the bot registers it."""
        order = await self.order(user_id, stars)
        charge = self.api.charge(user_id, stars, order.payload)
        await self.register(charge.charge_id, user_id, stars, order.payload)
        return charge.charge_id

    async def spend(self, user_id: int, stars: int) -> None:
        async with self.payments.uow() as uow:
            balance = await uow.ledger.balance(UserId(user_id))
            planned = hold(balance, UserId(user_id), stars, GenerationId("gen_1"))
            assert not isinstance(planned, Rejected)
            await uow.ledger.append(planned)
            await uow.commit()

    async def balance(self, user_id: int = ANN) -> Balance:
        async with self.payments.uow() as uow:
            return await uow.ledger.balance(UserId(user_id))

    async def kinds(self, user_id: int = ANN) -> list[LedgerKind]:
        async with self.payments.uow() as uow:
            history = await uow.ledger.history(UserId(user_id), limit=50)
        return [t.kind for t in reversed(history)]

    async def payment(self, charge_id: str) -> Payment | None:
        async with self.payments.uow() as uow:
            return await uow.payments.get(PaymentChargeId(charge_id))

    async def snapshot(self) -> tuple[list[Payment], list[Balance]]:
        async with self.payments.uow() as uow:
            stored = await uow.payments.recent()
            balances = [await uow.ledger.balance(UserId(u)) for u in (ANN, BOB)]
        return stored, balances


@pytest.fixture
async def shop(cli: Cli, pg_admin_dsn: str, pg_template: str) -> AsyncIterator[Shop]:
    async with (
        cloned_database(pg_admin_dsn, pg_template) as dsn,
        open_pool(dsn) as pool,
        FakeBotApi() as api,
    ):
        payments = Payments(uow=PgUnitOfWorkFactory(pool), clock=SystemClock(), ids=Uuid4Ids())
        yield Shop(cli, dsn, api, payments)


# ------------------------------------------------------------------ list


async def test_list_shows_every_payment_newest_first_or_one_users(shop: Shop):
    first = await shop.paid(ANN, 100)
    second = await shop.paid(BOB, 50)
    third = await shop.paid(ANN, 250)
    listed = await shop.run("payments", "list", TELEGRAM_BOT_TOKEN="")
    assert listed.exit_code == 0, listed.output
    assert "3 payments" in listed.stdout
    lines = listed.stdout.splitlines()
    rows = [next(i for i, line in enumerate(lines) if c in line) for c in (third, second, first)]
    assert rows == sorted(rows)
    assert "105 ⭐" in listed.stdout
    assert "275 ⭐" in listed.stdout
    assert "processed" in listed.stdout
    bobs = await shop.run("payments", "list", "--user", str(BOB), "--json")
    assert bobs.exit_code == 0, bobs.output
    [row] = json.loads(bobs.stdout)
    assert row["charge_id"] == second
    assert (row["user_id"], row["stars"], row["credited"], row["state"]) == (
        BOB,
        50,
        50,
        "processed",
    )
    latest = await shop.run("payments", "list", "-n", "1", "--json")
    assert [r["charge_id"] for r in json.loads(latest.stdout)] == [third]
    assert not shop.api.calls


# ------------------------------------------------------------------ refund


async def test_an_unspent_purchase_is_refunded_once_and_booked(shop: Shop):
    charge = await shop.paid(ANN, 100)
    result = await shop.run("payments", "refund", charge)
    assert result.exit_code == 0, result.output
    assert "Refunded 100 ⭐ to 1001 at Telegram; booked: 105 ⭐ left the balance" in result.stdout
    assert "available 0 ⭐, held 0 ⭐, debt 0 ⭐" in result.stdout
    [call] = shop.api.calls_of("refundStarPayment")
    assert call.ok
    assert call.params["telegram_payment_charge_id"] == charge
    assert shop.api.charges[charge].refunded
    assert await shop.kinds() == [LedgerKind.PURCHASE, LedgerKind.PURCHASE_REFUND]
    stored = await shop.payment(charge)
    assert stored is not None
    assert stored.state is PaymentState.REFUNDED


async def test_a_spent_purchase_refunded_by_the_operator_becomes_debt(shop: Shop):
    charge = await shop.paid(ANN, 100)
    await shop.spend(ANN, 80)
    result = await shop.run("payments", "refund", charge)
    assert result.exit_code == 0, result.output
    assert "available 0 ⭐, held 80 ⭐, debt 80 ⭐" in result.stdout
    assert await shop.balance() == Balance(available=0, held=80, debt=80)


async def test_a_repeated_refund_moves_nothing_twice(shop: Shop):
    charge = await shop.paid(ANN, 100)
    assert (await shop.run("payments", "refund", charge)).exit_code == 0
    again = await shop.run("payments", "refund", charge)
    assert again.exit_code == 0, again.output
    assert "Telegram had already refunded it (CHARGE_ALREADY_REFUNDED)" in again.stdout
    assert "the ledger had it already" in again.stdout
    assert [c.description for c in shop.api.calls_of("refundStarPayment")] == [
        None,
        "Bad Request: CHARGE_ALREADY_REFUNDED",
    ]
    assert await shop.kinds() == [LedgerKind.PURCHASE, LedgerKind.PURCHASE_REFUND]
    assert await shop.balance() == Balance()


async def test_a_refund_telegram_made_on_its_own_is_booked_by_the_operator(shop: Shop):
    charge = await shop.paid(ANN, 100)
    shop.api.charges[charge].refund()
    result = await shop.run("payments", "refund", charge)
    assert result.exit_code == 0, result.output
    assert "already refunded it (CHARGE_ALREADY_REFUNDED); booked: 105 ⭐" in result.stdout
    assert await shop.kinds() == [LedgerKind.PURCHASE, LedgerKind.PURCHASE_REFUND]


async def test_an_unknown_charge_is_refused_before_telegram(shop: Shop):
    result = await shop.run("payments", "refund", "stx_nope")
    assert result.exit_code == 2
    assert "no payment stx_nope" in result.stderr
    assert not shop.api.calls_of("refundStarPayment")


async def test_a_charge_telegram_does_not_know_fails_and_books_nothing(shop: Shop):
    await shop.register("stx_store_only", ANN, 100, "x")
    result = await shop.run("payments", "refund", "stx_store_only")
    assert result.exit_code == 1
    assert "Telegram: refundStarPayment: Bad Request: CHARGE_NOT_FOUND" in result.stderr
    assert await shop.kinds() == [LedgerKind.PURCHASE]


@pytest.mark.parametrize("command", [["refund", "stx_1"], ["reconcile"]])
async def test_the_bot_api_commands_need_a_token(shop: Shop, command: list[str]):
    missing = await shop.run("payments", *command, TELEGRAM_BOT_TOKEN="")
    assert missing.exit_code == 2
    assert (
        missing.stderr.strip()
        == "Error: TELEGRAM_BOT_TOKEN is not set (the Bot API needs the bot's token)"
    )
    garbled = "not-a-token-s3cr3t"
    malformed = await shop.run("payments", *command, TELEGRAM_BOT_TOKEN=garbled)
    assert malformed.exit_code == 2
    assert "TELEGRAM_BOT_TOKEN is not a bot token" in malformed.stderr
    assert garbled not in malformed.output + malformed.stderr
    assert not shop.api.calls


async def test_telegram_out_of_reach_fails_in_one_line_without_the_token(shop: Shop):
    charge = await shop.paid(ANN, 100)
    async with FakeBotApi() as gone:
        gone_base = gone.base_url
    result = await shop.run("payments", "refund", charge, TELEGRAM_API_BASE=gone_base)
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: Telegram: refundStarPayment:")
    assert await shop.kinds() == [LedgerKind.PURCHASE]


# ------------------------------------------------------------------ reconcile


async def test_reconcile_is_clean_when_the_store_agrees_with_telegram(shop: Shop):
    await shop.paid(ANN, 100)
    refunded = await shop.paid(BOB, 50)
    assert (await shop.run("payments", "refund", refunded)).exit_code == 0
    result = await shop.run("payments", "reconcile")
    assert result.exit_code == 0, result.output
    assert "Every payment matches Telegram's record" in result.stdout
    as_json = await shop.run("payments", "reconcile", "--json")
    assert as_json.exit_code == 0
    assert json.loads(as_json.stdout) == []


async def test_reconcile_names_every_mismatch_and_changes_nothing(shop: Shop):
    await shop.paid(ANN, 100)
    missing = shop.api.charge(BOB, 30, charge_id="stx_missing").charge_id
    await shop.register("stx_unknown", ANN, 40, "x")
    shop.api.charge(ANN, 100, charge_id="stx_amount")
    await shop.register("stx_amount", ANN, 50, "x")
    shop.api.charge(ANN, 60, charge_id="stx_user")
    await shop.register("stx_user", BOB, 60, "x")
    not_booked = await shop.paid(ANN, 50)
    shop.api.charges[not_booked].refund()
    not_refunded = await shop.paid(BOB, 100)
    booked = await record_purchase_refund(
        shop.payments, UserId(BOB), PaymentChargeId(not_refunded)
    )
    assert not isinstance(booked, Rejected)
    before = await shop.snapshot()
    result = await shop.run("payments", "reconcile")
    assert result.exit_code == 1, result.output
    expected = [
        ("missing_in_store", missing),
        ("unknown_to_telegram", "stx_unknown"),
        ("amount_differs", "stx_amount"),
        ("user_differs", "stx_user"),
        ("refund_not_booked", not_booked),
        ("refund_not_at_telegram", not_refunded),
    ]
    assert "6 mismatches with Telegram's record" in result.stdout
    for kind, charge in expected:
        assert f"{kind}  {charge}  " in result.stdout
    assert "stored 50 ⭐, Telegram 100 ⭐" in result.stdout
    assert "stored user 1002, Telegram user 1001" in result.stdout
    as_json = await shop.run("payments", "reconcile", "--json")
    assert as_json.exit_code == 1
    assert sorted((m["kind"], m["charge_id"]) for m in json.loads(as_json.stdout)) == sorted(
        expected
    )
    assert await shop.snapshot() == before
    assert not shop.api.calls_of("refundStarPayment")


async def test_reconcile_pages_through_every_transaction(shop: Shop):
    for n in range(PAGE_SIZE + 10):
        charge = shop.api.charge(ANN + n % 3, n + 1, charge_id=f"stx_{n:04d}")
        await shop.register(charge.charge_id, charge.user_id, charge.total, "x")
    shop.api.charge(BOB, 7, charge_id="stx_late")
    result = await shop.run("payments", "reconcile", "--json")
    assert result.exit_code == 1, result.output
    assert json.loads(result.stdout) == [
        {
            "charge_id": "stx_late",
            "kind": "missing_in_store",
            "detail": "Telegram has a payment of 7 ⭐ by user 1002; the store has none",
        }
    ]
    pages = shop.api.calls_of("getStarTransactions")
    assert [(c.params.get("offset"), c.params.get("limit")) for c in pages] == [
        ("0", "100"),
        ("100", "100"),
    ]
