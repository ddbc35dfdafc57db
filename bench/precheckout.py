"""Pre-checkout answer latency of the kiebot bot with concurrent payers, on PostgreSQL.

Usage: uv run python bench/precheckout.py [--users 40] [--rounds 10] [--seconds 40]

The real bot as kiebot-bot composes it (PostgreSQL in a fresh database created from
postgresql://postgres@127.0.0.1:5432/postgres, migrated, dropped at the end, also on Ctrl-C or
SIGTERM; the KIE sandbox; polling with updates handled as tasks) polls the fake Telegram Bot API
of tests/telegram on 127.0.0.1, in this process, as bench/bot_latency.py runs it.

Each of ``--users`` simulated users opens /balance, presses Top up and a package (the packages
on offer in turn) and accepts the terms: the bot creates an order and sends its Stars invoice.
Not measured. Then, for ``--rounds`` rounds, all users pay their invoice at once: Telegram's
``pre_checkout_query``, and once the bot approved it, ``successful_payment`` (a new charge each
time); a round ends when the bot handled every payment. No round starts after ``--seconds``.

Latency is from the moment the fake makes the ``pre_checkout_query`` update available (the
fake's ``PreCheckoutRecord.created_at``, just before it wakes the bot's getUpdates) to the
moment ``answerPreCheckoutQuery`` reaches it (``answered_at``); the part from the bot fetching
the update (getUpdates) to its answer is shown too. Telegram waits 10 s for the answer; the
target is p99 <= 2 s. The figures are reported, not asserted, but the run exits with 1 when a
pre-checkout went unanswered or was refused, a payment was not handled, the fake saw a bad
call, or a balance is not exactly the sum of the packages paid (each charge credited once).
"""

import argparse
import asyncio
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import attrs

from kiebot_core.domain.ids import UserId
from kiebot_core.domain.ledger import Balance, LedgerKind
from kiebot_core.domain.payments import StarPackage
from kiebot_core.ports.storage import UnitOfWorkFactory
from kiebot_telegram.callbacks import Pay, PayAct

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # bench.common, the fake of tests/
from bench.common import (
    Tracker,
    cancel_on_signals,
    fresh_database,
    make_users,
    ms,
    percentile,
    running_kiebot,
)
from tests.telegram.fake_bot_api import ApiCall, Charge, FakeBotApi, FakeMessage, FakeUser

ANSWER_WITHIN_S = 10.0
"""How long Telegram waits for the answer to a pre-checkout query."""
TARGET_P99_S = 2.0
FIRST_USER_ID = 300_001


@attrs.define
class Payer:
    user: FakeUser
    package: StarPackage
    invoice: FakeMessage | None = None
    charges: list[str] = attrs.Factory(list)


@attrs.define
class Results:
    users: int
    rounds: int = 0
    pushed_to_answer: list[float] = attrs.Factory(list)
    fetched_to_answer: list[float] = attrs.Factory(list)
    approved: int = 0
    unanswered: int = 0
    refused: list[str] = attrs.Factory(list)
    unhandled: int = 0
    api_errors: list[str] = attrs.Factory(list)
    wrong_credits: list[str] = attrs.Factory(list)
    credited: int = 0
    setup_s: float = 0.0
    rounds_s: float = 0.0

    @property
    def failures(self) -> list[str]:
        found = []
        if self.unanswered:
            found.append(f"{self.unanswered} pre-checkouts unanswered")
        if self.refused:
            found.append(f"{len(self.refused)} refused ({self.refused[0]})")
        if self.unhandled:
            found.append(f"{self.unhandled} updates not handled within 10 s")
        if self.api_errors:
            found.append(f"{len(self.api_errors)} bad Bot API calls ({self.api_errors[0]})")
        if self.wrong_credits:
            found.append(f"{len(self.wrong_credits)} wrong credits ({self.wrong_credits[0]})")
        if not self.pushed_to_answer:
            found.append("no pre-checkout measured")
        return found


class Answers:
    """Tells each payer when the bot answered its pre-checkout query (one at a time per user)."""

    def __init__(self, api: FakeBotApi, results: Results) -> None:
        self.api = api
        self.results = results
        self.waiting: dict[int, asyncio.Future[None]] = {}
        api.observers.append(self.on_call)

    def on_call(self, call: ApiCall) -> None:
        if call.error_code is not None and call.method != "getUpdates":
            self.results.api_errors.append(f"{call.method}: {call.description}")
        if call.method != "answerPreCheckoutQuery" or not call.ok:
            return
        record = self.api.pre_checkouts.get(str(call.params.get("pre_checkout_query_id")))
        answered = self.waiting.get(record.user_id) if record is not None else None
        if answered is not None and not answered.done():
            answered.set_result(None)

    async def pay(self, payer: Payer, round_no: int, tracker: Tracker) -> None:
        """Pre-checkout, then (when approved) the successful payment, handled by the bot."""
        user, invoice, results = payer.user, payer.invoice, self.results
        assert invoice is not None
        assert invoice.invoice is not None
        assert invoice.invoice_payload is not None
        total = invoice.invoice["total_amount"]
        answered = asyncio.get_running_loop().create_future()
        self.waiting[user.id] = answered
        try:
            # pre_checkout returns once the bot fetched the update, maybe before its answer.
            record = await user.pre_checkout(invoice.invoice_payload, total)
            if record.answered_at is None:
                await asyncio.wait_for(answered, ANSWER_WITHIN_S)
        except TimeoutError:
            results.unanswered += 1
            return
        finally:
            del self.waiting[user.id]
        assert record.answered_at is not None
        latency = record.answered_at - record.created_at
        results.pushed_to_answer.append(latency)
        if latency > ANSWER_WITHIN_S:  # Telegram gave up on it: the payment fails
            results.unanswered += 1
            return
        fetched = self.api.fetched_at.get(record.update_id)
        if fetched is not None:
            results.fetched_to_answer.append(record.answered_at - fetched)
        if record.ok is not True:
            results.refused.append(f"user {user.id}: {record.error_message}")
            return
        results.approved += 1
        charge = Charge(
            charge_id=f"stxBENCH{round_no:04d}x{user.id}",
            user_id=user.id,
            total=total,
            payload=invoice.invoice_payload,
        )
        self.api.charges[charge.charge_id] = charge
        payer.charges.append(charge.charge_id)
        flight = await tracker.act(
            user,
            "payment",
            lambda: user.push_service_message("successful_payment", charge, wait=False),
        )
        if not flight.done.done():
            results.unhandled += 1


def holding(user: FakeUser, data: str) -> FakeMessage | None:
    """The latest message of the bot with a button of callback data ``data``."""
    for message in reversed(user.with_buttons()):
        if any(button.get("callback_data") == data for button in message.buttons()):
            return message
    return None


async def order(payer: Payer, tracker: Tracker, terms_version: int, results: Results) -> None:
    """/balance → Top up → the payer's package → I accept: the bot sends the invoice."""
    user, stars = payer.user, payer.package.stars
    flight = await tracker.act(user, "balance", lambda: user.send("/balance", wait=False))
    presses = (
        Pay(act=PayAct.TOPUP).pack(),
        Pay(act=PayAct.PACKAGE, arg=str(stars)).pack(),
        Pay(act=PayAct.ACCEPT, arg=f"{terms_version}.{stars}").pack(),
    )
    for data in presses:
        if not flight.done.done():
            break
        message = holding(user, data)
        if message is None:
            raise RuntimeError(f"no button {data!r} for user {user.id}:\n{user.transcript()}")

        async def press(data: str = data, message: FakeMessage = message) -> int:
            return (await user.press_data(data, message, wait=False)).update_id

        flight = await tracker.act(user, "order", press)
    if not flight.done.done():
        results.unhandled += 1
        return
    invoices = user.invoices()
    if len(invoices) != 1 or invoices[0].invoice is None:
        raise RuntimeError(f"user {user.id} has no single invoice:\n{user.transcript()}")
    if invoices[0].invoice["total_amount"] != stars:
        raise RuntimeError(f"user {user.id}: an invoice of {invoices[0].invoice}, not {stars}")
    payer.invoice = invoices[0]


async def check_credits(
    store: UnitOfWorkFactory, payers: Sequence[Payer], results: Results
) -> None:
    """Each payer's balance is its package's credit once per charge, from one purchase each."""
    async with store() as uow:
        for payer in payers:
            user_id = UserId(payer.user.id)
            expected = payer.package.credited * len(payer.charges)
            balance = await uow.ledger.balance(user_id)
            history = await uow.ledger.history(user_id, limit=len(payer.charges) + 10)
            purchases = sorted(t.reference for t in history if t.kind == LedgerKind.PURCHASE)
            stored = await uow.payments.for_user(user_id, limit=len(payer.charges) + 10)
            paid = sorted(p.charge_id for p in stored)
            if balance != Balance(available=expected):
                results.wrong_credits.append(f"user {user_id}: {balance}, expected {expected}")
            elif purchases != sorted(payer.charges) or paid != sorted(payer.charges):
                results.wrong_credits.append(
                    f"user {user_id}: purchases {purchases}, payments {paid}, "
                    f"charges {sorted(payer.charges)}"
                )
            results.credited += balance.available


async def bench(dsn: str, args: argparse.Namespace) -> Results:
    results = Results(users=args.users)
    async with FakeBotApi() as api:
        tracker = Tracker(api)
        answers = Answers(api, results)
        async with running_kiebot(api, dsn, tracker, welcome_stars=0) as runtime:
            payments = runtime.settings.payments
            packages = payments.packages
            payers = [
                Payer(user, packages[n % len(packages)])
                for n, user in enumerate(make_users(api, FIRST_USER_ID, args.users))
            ]
            started = time.perf_counter()
            await asyncio.gather(
                *(order(p, tracker, payments.terms_version, results) for p in payers)
            )
            results.setup_s = time.perf_counter() - started
            if results.unhandled:
                return results
            started = time.perf_counter()
            deadline = started + args.seconds
            while results.rounds < args.rounds and time.perf_counter() < deadline:
                results.rounds += 1
                await asyncio.gather(*(answers.pay(p, results.rounds, tracker) for p in payers))
            results.rounds_s = time.perf_counter() - started
            await check_credits(runtime.store, payers, results)
    return results


def report(results: Results, args: argparse.Namespace) -> None:
    latencies = results.pushed_to_answer
    print(
        f"payers={results.users} rounds={results.rounds}/{args.rounds} "
        f"setup={results.setup_s:.1f}s rounds={results.rounds_s:.1f}s  (latency: the fake makes "
        "the pre_checkout_query available -> answerPreCheckoutQuery arrives)"
    )
    print(f"{'pre-checkout':<22}{'count':>7}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'max ms':>9}")
    for name, samples in (
        ("available -> answer", latencies),
        ("fetched -> answer", results.fetched_to_answer),
    ):
        print(
            f"{name:<22}{len(samples):>7}{ms(percentile(samples, 0.5)):>9}"
            f"{ms(percentile(samples, 0.95)):>9}{ms(percentile(samples, 0.99)):>9}"
            f"{ms(max(samples, default=float('nan'))):>9}"
        )
    p99 = percentile(latencies, 0.99)
    verdict = "met" if p99 <= TARGET_P99_S else "MISSED"
    print(f"target p99 <= {1000 * TARGET_P99_S:.0f} ms: {verdict} (p99 {1000 * p99:.1f} ms)")
    print(
        f"payments: {results.approved} approved, "
        f"{len(results.refused)} refused, {results.unanswered} unanswered, "
        f"{results.unhandled} unhandled; {results.credited} ⭐ credited, "
        f"{len(results.wrong_credits)} wrong balances; {len(results.api_errors)} bad API calls"
    )


async def run(args: argparse.Namespace) -> Results:
    cancel_on_signals()
    async with fresh_database() as dsn:
        return await bench(dsn, args)


def main() -> int:
    parser = argparse.ArgumentParser(description="kiebot pre-checkout answer latency")
    parser.add_argument("--users", type=int, default=40, help="payers, all paying at once")
    parser.add_argument("--rounds", type=int, default=10, help="payments per payer")
    parser.add_argument("--seconds", type=float, default=40.0, help="no round starts after")
    args = parser.parse_args()
    if args.users < 1 or args.rounds < 1:
        parser.error("--users and --rounds must be at least 1")
    try:
        results = asyncio.run(run(args))
    except (KeyboardInterrupt, asyncio.CancelledError):
        print("interrupted; the benchmark database was dropped", file=sys.stderr)
        return 130
    report(results, args)
    if results.failures:
        print("FAILED: " + "; ".join(results.failures), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
