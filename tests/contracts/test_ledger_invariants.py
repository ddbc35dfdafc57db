"""Random ledger histories keep the money invariants (reliability-performance.md §5.3).

A hypothesis state machine drives one store with purchases (repeated charge ids included),
grants, holds, captures, releases, refunds and purchase refunds, races of duplicate purchases
and of a capture against a release of the same hold (concurrent units of work), plans made
against a stale balance, and units of work abandoned half-way. Through the use cases it also
registers Stars payments (duplicate charges included) and books their refunds, takes and gives
back free-tier runs, and redeems promo codes of limited and unlimited uses. A model of what
must have been recorded is checked after every step: every transaction balances, cached
balances equal the balances derived from the entries, nothing is negative, ``held`` is the sum
of open holds, a hold settles at most once, a charge is credited and refunded at most once, a
payment row agrees with its ledger credit, free runs never exceed the daily quota, and a promo
code is used exactly as often as it was granted, never beyond its uses nor twice by one user.

Each example works in its own users and references, so examples share one store. The number
of examples per store is bounded for CI; ``KIEBOT_LEDGER_STEPS`` asks for about that many
steps per store instead (``KIEBOT_LEDGER_STEPS=100000`` for the long run).
"""

import asyncio
import contextlib
import itertools
import os
from collections import Counter
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from datetime import UTC, datetime
from pathlib import Path
from typing import ClassVar, TypeVar

import attrs
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from kiebot_core.domain import ledger
from kiebot_core.domain.audit import cli_actor
from kiebot_core.domain.errors import StaleWriteError
from kiebot_core.domain.ids import IdempotencyKey, PaymentChargeId, UserId
from kiebot_core.domain.ledger import AccountKind, Balance, LedgerKind, LedgerTransaction
from kiebot_core.domain.outcomes import Rejected
from kiebot_core.domain.payments import PaymentState
from kiebot_core.domain.promotions import promo_reference
from kiebot_core.domain.reasons import ReasonCode
from kiebot_core.ports.storage import UnitOfWork
from kiebot_core.testing.runtime import FrozenClock, SequentialIds
from kiebot_core.use_cases.payments import Payments, record_purchase_refund, register_payment
from kiebot_core.use_cases.promotions import create_promo, redeem_promo
from tests.contracts.stores import BACKENDS, Store, open_store

OPERATOR = cli_actor("tester")

T = TypeVar("T")

STEPS_PER_EXAMPLE = 50
"""The most steps of one example (hypothesis runs about half as many on average)."""
EXAMPLES = {"memory": 100, "sqlite": 20, "pg": 50}
"""Examples per store in the default (CI) run: about 2,400 steps on PostgreSQL."""

USERS = 3
FREE_DAILY = 2
PROMO_USES = 2
"""The limited code's uses (the other code is unlimited)."""
_namespaces = itertools.count(1)


class AbandonedError(Exception):
    """Raised inside a unit of work to leave it half-way."""


@attrs.define
class Model:
    """What the ledger must contain after the steps so far."""

    recorded: dict[IdempotencyKey, LedgerTransaction] = attrs.field(factory=dict)
    balances: dict[UserId, Balance] = attrs.field(factory=dict)
    open_holds: dict[str, tuple[UserId, int]] = attrs.field(factory=dict)
    captured: dict[str, tuple[UserId, int]] = attrs.field(factory=dict)
    purchases: dict[str, tuple[UserId, int]] = attrs.field(factory=dict)
    payments: dict[str, tuple[UserId, int]] = attrs.field(factory=dict)
    refunded_payments: set[str] = attrs.field(factory=set)
    free_runs: Counter[UserId] = attrs.field(factory=Counter)
    redemptions: dict[str, set[UserId]] = attrs.field(factory=dict)

    def balance(self, user_id: UserId) -> Balance:
        return self.balances.get(user_id, Balance())

    def accepts(self, transaction: LedgerTransaction) -> bool:
        """Whether appending ``transaction`` now must record it (not refuse it)."""
        if transaction.key in self.recorded:
            return True
        try:
            self.balance(transaction.user_id).apply(transaction)
        except ValueError:
            return False
        return True

    def appended(self, proposed: LedgerTransaction, returned: LedgerTransaction) -> None:
        """The store answered ``returned`` to the append of ``proposed``."""
        first = self.recorded.get(proposed.key)
        if first is not None:
            assert returned == first, "a repeated key must return the first transaction"
            return
        assert returned == proposed
        self.balances[proposed.user_id] = self.balance(proposed.user_id).apply(proposed)
        self.recorded[proposed.key] = proposed
        reference, user_id = proposed.reference, proposed.user_id
        match proposed.kind:
            case LedgerKind.HOLD:
                self.open_holds[reference] = (user_id, proposed.amount_of(AccountKind.HELD))
            case LedgerKind.CAPTURE | LedgerKind.RELEASE:
                del self.open_holds[reference]
                revenue = proposed.amount_of(AccountKind.REVENUE)
                if revenue > 0:
                    self.captured[reference] = (user_id, revenue)
            case LedgerKind.REFUND:
                del self.captured[reference]
            case LedgerKind.PURCHASE:
                self.purchases[reference] = (user_id, -proposed.amount_of(AccountKind.TELEGRAM))
            case LedgerKind.PURCHASE_REFUND:
                del self.purchases[reference]
            case LedgerKind.GRANT:
                pass


def planned(outcome: LedgerTransaction | Rejected) -> LedgerTransaction | None:
    return outcome if isinstance(outcome, LedgerTransaction) else None


class LedgerMachine(RuleBasedStateMachine):
    """Random ledger operations against one store, checked against ``Model``."""

    runner: ClassVar[asyncio.Runner]
    store: ClassVar[Store]

    def __init__(self) -> None:
        super().__init__()
        namespace = next(_namespaces)
        self.prefix = f"x{namespace}"
        self.users = [UserId(namespace * 100 + n) for n in range(USERS)]
        self.model = Model()
        self.abandoned = itertools.count(1)
        self.clock = FrozenClock(datetime(2026, 11, 26, 12, tzinfo=UTC))
        self.payments = Payments(uow=self.store, clock=self.clock, ids=SequentialIds())
        self.codes = (f"LIMITED{namespace}", f"OPEN{namespace}")
        for code, uses in zip(self.codes, (PROMO_USES, None), strict=True):
            created = self.run(
                create_promo(self.store, self.clock, code, 7, max_uses=uses, by=OPERATOR)
            )
            assert not isinstance(created, Rejected), created
            self.model.redemptions[code] = set()

    def run(self, work: Awaitable[T]) -> T:
        async def wrapped() -> T:
            return await work

        return self.runner.run(wrapped())

    def ref(self, kind: str, number: int) -> str:
        return f"{self.prefix}-{kind}-{number}"

    async def _append(
        self, user_id: UserId, plan: Callable[[Balance], LedgerTransaction | Rejected]
    ) -> tuple[LedgerTransaction, LedgerTransaction] | None:
        async with self.store() as tx:
            proposed = planned(plan(await tx.ledger.balance(user_id)))
            if proposed is None:
                return None
            returned = await tx.ledger.append(proposed)
            await tx.commit()
        return proposed, returned

    def append(
        self, user_id: UserId, plan: Callable[[Balance], LedgerTransaction | Rejected]
    ) -> None:
        outcome = self.run(self._append(user_id, plan))
        if outcome is not None:
            self.model.appended(*outcome)

    # ------------------------------------------------------------------ rules

    @rule(user=st.integers(0, USERS - 1), amount=st.integers(1, 300), charge=st.integers(0, 5))
    def purchase(self, user: int, amount: int, charge: int) -> None:
        user_id, reference = self.users[user], self.ref("charge", charge)
        self.append(user_id, lambda b: ledger.purchase(b, user_id, amount, reference))

    @rule(user=st.integers(0, USERS - 1), amount=st.integers(1, 100), grant=st.integers(0, 3))
    def grant(self, user: int, amount: int, grant: int) -> None:
        user_id, reference = self.users[user], self.ref("grant", grant)
        self.append(user_id, lambda _: ledger.grant(user_id, amount, reference))

    @rule(user=st.integers(0, USERS - 1), amount=st.integers(1, 150), generation=st.integers(0, 9))
    def hold(self, user: int, amount: int, generation: int) -> None:
        user_id, reference = self.users[user], self.ref("gen", generation)
        self.append(user_id, lambda b: ledger.hold(b, user_id, amount, reference))

    @precondition(lambda self: bool(self.model.open_holds))
    @rule(data=st.data())
    def capture(self, data: st.DataObject) -> None:
        reference = data.draw(st.sampled_from(sorted(self.model.open_holds)))
        user_id, held = self.model.open_holds[reference]
        amount = data.draw(st.integers(0, held))
        self.append(user_id, lambda _: ledger.capture(user_id, held, amount, reference))

    @precondition(lambda self: bool(self.model.open_holds))
    @rule(data=st.data())
    def release(self, data: st.DataObject) -> None:
        reference = data.draw(st.sampled_from(sorted(self.model.open_holds)))
        user_id, held = self.model.open_holds[reference]
        self.append(user_id, lambda _: ledger.release(user_id, held, reference))

    @precondition(lambda self: bool(self.model.open_holds))
    @rule(data=st.data())
    def settle_race(self, data: st.DataObject) -> None:
        """A capture and a release of one hold, in concurrent units of work.

        The capture charges nothing, so both settle the hold to the same balances and the
        model stays the same whichever wins (hypothesis replays steps and needs that); a
        second settlement would still show as a doubled refund of the hold.
        """
        reference = data.draw(st.sampled_from(sorted(self.model.open_holds)))
        user_id, held = self.model.open_holds[reference]
        capture = planned(ledger.capture(user_id, held, 0, reference))
        release = planned(ledger.release(user_id, held, reference))
        assert capture is not None
        assert release is not None

        async def settle(transaction: LedgerTransaction) -> LedgerTransaction | None:
            async with self.store() as tx:
                try:
                    returned = await tx.ledger.append(transaction)
                except StaleWriteError:
                    return None
                await tx.commit()
            return returned

        async def race() -> tuple[list[LedgerTransaction | None], LedgerTransaction | None]:
            results = await asyncio.gather(settle(capture), settle(release))
            async with self.store() as tx:
                return list(results), await tx.ledger.get(capture.key)

        results, settled = self.run(race())
        assert settled in (capture, release)
        assert all(result in (None, settled) for result in results)
        assert any(result is not None for result in results)
        self.model.appended(settled, settled)

    @rule(
        user=st.integers(0, USERS - 1),
        amount=st.integers(1, 300),
        charge=st.integers(0, 5),
        copies=st.integers(2, 4),
    )
    def purchase_race(self, user: int, amount: int, charge: int, copies: int) -> None:
        """The same successful payment handled by several units of work at once."""
        user_id, reference = self.users[user], self.ref("charge", charge)

        def plan(balance: Balance) -> LedgerTransaction | Rejected:
            return ledger.purchase(balance, user_id, amount, reference)

        async def race() -> list[tuple[LedgerTransaction, LedgerTransaction] | None]:
            return list(
                await asyncio.gather(*(self._append(user_id, plan) for _ in range(copies)))
            )

        outcomes = [outcome for outcome in self.run(race()) if outcome is not None]
        firsts = {returned for _, returned in outcomes}
        assert len(firsts) == 1, "every copy must get the one recorded purchase"
        (first,) = firsts
        self.model.appended(first, first)

    @precondition(lambda self: bool(self.model.captured))
    @rule(data=st.data())
    def refund(self, data: st.DataObject) -> None:
        reference = data.draw(st.sampled_from(sorted(self.model.captured)))
        user_id, amount = self.model.captured[reference]
        self.append(user_id, lambda _: ledger.refund(user_id, amount, reference))

    @precondition(lambda self: bool(self.model.purchases))
    @rule(data=st.data())
    def purchase_refund(self, data: st.DataObject) -> None:
        reference = data.draw(st.sampled_from(sorted(self.model.purchases)))
        user_id, amount = self.model.purchases[reference]
        self.append(user_id, lambda b: ledger.purchase_refund(b, user_id, amount, reference))

    @rule(
        user=st.integers(0, USERS - 1),
        available=st.integers(1, 300),
        amount=st.integers(1, 300),
        generation=st.integers(0, 9),
    )
    def hold_planned_on_a_stale_balance(
        self, user: int, available: int, amount: int, generation: int
    ) -> None:
        user_id, reference = self.users[user], self.ref("gen", generation)
        stale = planned(ledger.hold(Balance(available=available), user_id, amount, reference))
        if stale is None:
            return

        async def attempt() -> LedgerTransaction | None:
            async with self.store() as tx:
                try:
                    returned = await tx.ledger.append(stale)
                except StaleWriteError:
                    return None
                await tx.commit()
            return returned

        expected_to_record = self.model.accepts(stale)
        returned = self.run(attempt())
        if expected_to_record:
            assert returned is not None
            self.model.appended(stale, returned)
        else:
            assert returned is None, "an overdraft must be refused"

    @rule(user=st.integers(0, USERS - 1), amount=st.integers(1, 100))
    def abandoned_half_way(self, user: int, amount: int) -> None:
        """A unit of work that appends and then fails before committing changes nothing."""
        user_id = self.users[user]
        reference = self.ref("abandoned", next(self.abandoned))
        grant = planned(ledger.grant(user_id, amount, reference))
        assert grant is not None

        async def abandon() -> LedgerTransaction | None:
            with contextlib.suppress(AbandonedError):
                async with self.store() as tx:
                    await tx.ledger.append(grant)
                    raise AbandonedError
            async with self.store() as tx:
                return await tx.ledger.get(grant.key)

        assert self.run(abandon()) is None

    def _expect(self, expected: LedgerTransaction | Rejected) -> None:
        """The use case just run must have recorded ``expected`` (planned on the model's
        balance), unless its key was recorded before; the model then records it too."""
        assert isinstance(expected, LedgerTransaction), expected
        key = expected.key

        async def read() -> LedgerTransaction | None:
            async with self.store() as tx:
                return await tx.ledger.get(key)

        recorded = self.run(read())
        assert recorded is not None
        if key not in self.model.recorded:
            assert recorded == expected
            self.model.appended(recorded, recorded)

    @rule(user=st.integers(0, USERS - 1), amount=st.integers(1, 300), charge=st.integers(0, 5))
    def payment(self, user: int, amount: int, charge: int) -> None:
        """A successful Stars payment registered; the same charge again credits nothing."""
        user_id, charge_id = self.users[user], PaymentChargeId(self.ref("paid", charge))
        expected = ledger.purchase(self.model.balance(user_id), user_id, amount, charge_id)
        registered = self.run(register_payment(self.payments, charge_id, user_id, "x", amount))
        known = self.model.payments.get(charge_id)
        assert registered.is_new is (known is None)
        if known is None:
            # No order behind payload "x": exactly what was paid is credited, debt first.
            assert registered.payment.credited == amount
            self._expect(expected)
        self.model.payments.setdefault(charge_id, (registered.payment.user_id, amount))

    @precondition(lambda self: bool(self.model.payments))
    @rule(data=st.data())
    def payment_refunded(self, data: st.DataObject) -> None:
        """Telegram refunded a registered payment (possibly twice): booked once, debt if spent."""
        charge_id = data.draw(st.sampled_from(sorted(self.model.payments)))
        user_id, credited = self.model.payments[charge_id]
        expected = ledger.purchase_refund(
            self.model.balance(user_id), user_id, credited, charge_id
        )
        booked = self.run(
            record_purchase_refund(self.payments, user_id, PaymentChargeId(charge_id))
        )
        assert not isinstance(booked, Rejected), booked
        assert booked.is_new is (charge_id not in self.model.refunded_payments)
        self.model.refunded_payments.add(charge_id)
        self._expect(expected)

    @rule(user=st.integers(0, USERS - 1), give_back=st.booleans())
    def free_run(self, user: int, give_back: bool) -> None:
        """A free-tier run taken (while any is left today), or one given back after a failure."""
        user_id, day = self.users[user], self.clock.now().date()

        async def step() -> bool:
            async with self.store() as tx:
                if give_back:
                    await tx.free_runs.give_back(user_id, day)
                    taken = False
                else:
                    taken = await tx.free_runs.take(user_id, day, daily=FREE_DAILY)
                await tx.commit()
            return taken

        taken = self.run(step())
        used = self.model.free_runs[user_id]
        if give_back:
            self.model.free_runs[user_id] = max(0, used - 1)
        else:
            assert taken is (used < FREE_DAILY)
            self.model.free_runs[user_id] = used + taken

    @rule(user=st.integers(0, USERS - 1), limited=st.booleans())
    def promo(self, user: int, limited: bool) -> None:
        """A promo code redeemed: a grant once per user, never beyond the code's uses."""
        user_id, code = self.users[user], self.codes[0 if limited else 1]
        redeemed = self.run(redeem_promo(self.store, self.clock, user_id, code))
        users = self.model.redemptions[code]
        if user_id in users:
            assert isinstance(redeemed, Rejected)
            assert redeemed.reason is ReasonCode.PROMO_ALREADY_REDEEMED
        elif limited and len(users) >= PROMO_USES:
            assert isinstance(redeemed, Rejected)
            assert redeemed.reason is ReasonCode.PROMO_USED_UP
        else:
            assert not isinstance(redeemed, Rejected), redeemed
            users.add(user_id)
            self._expect(ledger.grant(user_id, 7, promo_reference(code, user_id)))

    # ------------------------------------------------------------- invariants

    async def _check(self, tx: UnitOfWork, user_id: UserId) -> None:
        balance = await tx.ledger.balance(user_id)
        history = await tx.ledger.history(user_id, limit=100_000)
        expected = self.model.balance(user_id)
        assert balance == expected
        assert min(balance.available, balance.held, balance.debt) >= 0
        for transaction in history:
            assert sum(entry.amount for entry in transaction.entries) == 0
        assert Balance.of(reversed(history)) == balance, "cached balance differs from entries"
        mine = {k: t for k, t in self.model.recorded.items() if t.user_id == user_id}
        assert {t.key: t for t in history} == mine
        assert len(history) == len(mine), "a key was recorded twice"
        assert balance.held == sum(
            held for owner, held in self.model.open_holds.values() if owner == user_id
        )
        settlements = Counter(
            t.reference for t in history if t.kind in {LedgerKind.CAPTURE, LedgerKind.RELEASE}
        )
        credits = Counter(t.reference for t in history if t.kind is LedgerKind.PURCHASE)
        refunds = Counter(t.reference for t in history if t.kind is LedgerKind.PURCHASE_REFUND)
        assert max([*settlements.values(), *credits.values(), *refunds.values(), 1]) == 1

    async def _check_promotions(self, tx: UnitOfWork) -> None:
        day = self.clock.now().date()
        for user_id in self.users:
            used = await tx.free_runs.used(user_id, day)
            assert used == self.model.free_runs[user_id] <= FREE_DAILY
        for code, users in self.model.redemptions.items():
            promo = await tx.promos.get(code)
            assert promo is not None
            assert promo.uses == len(users)
            assert promo.max_uses is None or promo.uses <= promo.max_uses
            for user_id in self.users:
                assert await tx.promos.is_redeemed(code, user_id) is (user_id in users)
        for charge_id, (user_id, _) in self.model.payments.items():
            payment = await tx.payments.get(PaymentChargeId(charge_id))
            assert payment is not None
            assert payment.user_id == user_id
            refunded = charge_id in self.model.refunded_payments
            assert (payment.state is PaymentState.REFUNDED) is refunded

    @invariant()
    def money_is_conserved(self) -> None:
        async def check() -> None:
            async with self.store() as tx:
                for user_id in self.users:
                    await self._check(tx, user_id)
                await self._check_promotions(tx)

        self.run(check())


def machine_for(runner: asyncio.Runner, store: Store) -> type[LedgerMachine]:
    class LedgerMachineOnStore(LedgerMachine):
        pass

    LedgerMachineOnStore.runner = runner
    LedgerMachineOnStore.store = store
    return LedgerMachineOnStore


def _examples(backend: str) -> int:
    wanted = int(os.environ.get("KIEBOT_LEDGER_STEPS", "0"))
    return max(1, 2 * wanted // STEPS_PER_EXAMPLE) if wanted else EXAMPLES[backend]


@pytest.mark.parametrize("backend", BACKENDS)
def test_random_ledger_histories_keep_the_invariants(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    with asyncio.Runner() as runner:
        stack = AsyncExitStack()
        store = runner.run(stack.enter_async_context(open_store(backend, request, tmp_path)))
        try:
            run_state_machine_as_test(
                machine_for(runner, store),
                settings=settings(
                    max_examples=_examples(backend),
                    stateful_step_count=STEPS_PER_EXAMPLE,
                    deadline=None,
                    database=None,
                    suppress_health_check=[HealthCheck.too_slow],
                ),
            )
        finally:
            runner.run(stack.aclose())
