"""What only PostgreSQL can show: units of work really racing on several connections."""

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from kiebot_core.domain import ledger
from kiebot_core.domain.errors import StaleWriteError
from kiebot_core.domain.ids import IdempotencyKey, UserId
from kiebot_core.domain.ledger import Balance, LedgerKind, LedgerTransaction
from kiebot_core.domain.outcomes import Rejected
from kiebot_core.ports.storage import UnitOfWork
from kiebot_pg.uow import PgUnitOfWorkFactory
from tests.contracts.builders import make_generation, make_job, make_payment

ALICE = UserId(1)
RACERS = 8


def planned(outcome: LedgerTransaction | Rejected) -> LedgerTransaction:
    assert isinstance(outcome, LedgerTransaction), outcome
    return outcome


async def record(store: PgUnitOfWorkFactory, transaction: LedgerTransaction) -> None:
    async with store() as tx:
        await tx.ledger.append(transaction)
        await tx.commit()


async def balance_of(store: PgUnitOfWorkFactory, user_id: UserId) -> Balance:
    async with store() as tx:
        return await tx.ledger.balance(user_id)


async def test_racing_captures_and_releases_settle_a_hold_exactly_once(
    pg_store: PgUnitOfWorkFactory,
) -> None:
    await record(pg_store, planned(ledger.grant(ALICE, 1000, "welcome")))
    for round_number in range(5):
        reference = f"gen_{round_number}"
        await record(
            pg_store,
            planned(ledger.hold(await balance_of(pg_store, ALICE), ALICE, 100, reference)),
        )
        before = await balance_of(pg_store, ALICE)
        settlements = [
            planned(ledger.capture(ALICE, 100, 60, reference))
            if n % 2
            else planned(ledger.release(ALICE, 100, reference))
            for n in range(RACERS)
        ]
        barrier = asyncio.Barrier(RACERS)

        async def settle(
            transaction: LedgerTransaction, barrier: asyncio.Barrier
        ) -> LedgerTransaction | None:
            async with pg_store() as tx:
                await tx.ledger.balance(ALICE)  # everyone has read before anyone writes
                await barrier.wait()
                try:
                    returned = await tx.ledger.append(transaction)
                except StaleWriteError:
                    return None
                await tx.commit()
                return returned

        results = await asyncio.gather(*(settle(t, barrier) for t in settlements))
        async with pg_store() as tx:
            settled = await tx.ledger.get(IdempotencyKey(f"settle:{reference}"))
            history = await tx.ledger.history(ALICE, limit=1000)
        assert settled in settlements
        assert all(result in (None, settled) for result in results)
        assert sum(t.key == settled.key for t in history) == 1
        assert await balance_of(pg_store, ALICE) == before.apply(settled)


async def test_racing_deliveries_of_one_payment_credit_it_once(
    pg_store: PgUnitOfWorkFactory,
) -> None:
    payment = make_payment("charge_1", at=datetime.now(UTC), stars=100)
    barrier = asyncio.Barrier(RACERS)

    async def handle() -> tuple[bool, LedgerTransaction]:
        async with pg_store() as tx:
            balance = await tx.ledger.balance(ALICE)
            await barrier.wait()
            registered = await tx.payments.add(payment)
            credited = await tx.ledger.append(
                planned(ledger.purchase(balance, ALICE, payment.credited, payment.charge_id))
            )
            await tx.commit()
            return registered, credited

    results = await asyncio.gather(*(handle() for _ in range(RACERS)))
    assert sum(registered for registered, _ in results) == 1
    assert len({credited for _, credited in results}) == 1
    assert await balance_of(pg_store, ALICE) == Balance(available=payment.credited)
    async with pg_store() as tx:
        history = await tx.ledger.history(ALICE, limit=100)
    assert [t.kind for t in history] == [LedgerKind.PURCHASE]


async def test_racing_saves_of_one_version_let_exactly_one_win(
    pg_store: PgUnitOfWorkFactory,
) -> None:
    now = datetime.now(UTC)
    async with pg_store() as tx:
        await tx.generations.add(make_generation(at=now))
        await tx.commit()
    barrier = asyncio.Barrier(RACERS)

    async def cancel() -> bool:
        async with pg_store() as tx:
            generation = await tx.generations.get(make_generation(at=now).id)
            assert generation is not None
            cancelled = generation.cancelled(now)
            assert not isinstance(cancelled, Rejected)
            await barrier.wait()
            try:
                await tx.generations.save(cancelled)
            except StaleWriteError:
                return False
            await tx.commit()
            return True

    assert sorted(await asyncio.gather(*(cancel() for _ in range(RACERS)))) == [False] * (
        RACERS - 1
    ) + [True]


async def test_workers_claiming_together_never_get_the_same_job(
    pg_store: PgUnitOfWorkFactory,
) -> None:
    past = datetime.now(UTC) - timedelta(seconds=1)
    async with pg_store() as tx:
        for n in range(40):
            await tx.jobs.enqueue(make_job(f"job_{n:02}", run_at=past))
        await tx.commit()
    claimed: list[str] = []

    async def worker() -> None:
        while True:
            async with pg_store() as tx:
                jobs = await tx.jobs.claim(limit=3)
                await asyncio.sleep(0.01)  # hold the row locks while the others claim
                await tx.commit()
            if not jobs:
                return
            claimed.extend(job.id for job in jobs)

    await asyncio.gather(*(worker() for _ in range(4)))
    assert sorted(claimed) == [f"job_{n:02}" for n in range(40)]


async def test_a_claim_skips_jobs_locked_by_an_open_claim(pg_store: PgUnitOfWorkFactory) -> None:
    past = datetime.now(UTC) - timedelta(seconds=1)
    async with pg_store() as tx:
        for n in range(4):
            await tx.jobs.enqueue(make_job(f"job_{n}", run_at=past))
        await tx.commit()
    async with pg_store() as first:
        mine = await first.jobs.claim(limit=2)
        async with pg_store() as second:
            theirs = await asyncio.wait_for(second.jobs.claim(limit=10), timeout=5)
            await second.commit()
        await first.commit()
    assert [job.id for job in mine] == ["job_0", "job_1"]
    assert [job.id for job in theirs] == ["job_2", "job_3"]


async def test_only_one_of_many_contenders_takes_a_free_lease(
    pg_store: PgUnitOfWorkFactory,
) -> None:
    barrier = asyncio.Barrier(RACERS)

    async def contend(holder: str) -> bool:
        async with pg_store() as tx:
            await barrier.wait()
            lease = await tx.leases.acquire("poller", holder, timedelta(seconds=30))
            await tx.commit()
            return lease is not None

    won = await asyncio.gather(*(contend(f"instance-{n}") for n in range(RACERS)))
    assert sum(won) == 1


async def test_uncommitted_changes_are_invisible_to_other_units_of_work(
    pg_store: PgUnitOfWorkFactory,
) -> None:
    grant = planned(ledger.grant(ALICE, 10, "welcome"))
    async with pg_store() as writer:
        await writer.ledger.append(grant)
        async with pg_store() as reader:
            assert await reader.ledger.balance(ALICE) == Balance()
            assert await reader.ledger.get(grant.key) is None
        await writer.commit()
        async with pg_store() as reader:
            assert await reader.ledger.balance(ALICE) == Balance(available=10)


async def test_a_unit_of_work_waiting_on_a_lock_reads_the_winners_result(
    pg_store: PgUnitOfWorkFactory,
) -> None:
    await record(pg_store, planned(ledger.grant(ALICE, 100, "welcome")))
    await record(pg_store, planned(ledger.hold(Balance(available=100), ALICE, 100, "gen_1")))
    capture = planned(ledger.capture(ALICE, 100, 100, "gen_1"))
    release = planned(ledger.release(ALICE, 100, "gen_1"))
    winner_appended = asyncio.Event()

    async def winner(tx: UnitOfWork) -> None:
        await tx.ledger.append(capture)
        winner_appended.set()
        await asyncio.sleep(0.2)  # the loser is now blocked on the balance row
        await tx.commit()

    async with pg_store() as first, pg_store() as second:
        task = asyncio.create_task(winner(first))
        await winner_appended.wait()
        returned = await second.ledger.append(release)
        await second.commit()
        await task
    assert returned == capture
    assert await balance_of(pg_store, ALICE) == Balance()


@pytest.mark.parametrize("racers", [2, RACERS])
async def test_racing_holds_never_overdraw(pg_store: PgUnitOfWorkFactory, racers: int) -> None:
    await record(pg_store, planned(ledger.grant(ALICE, 100, "welcome")))
    barrier = asyncio.Barrier(racers)

    async def hold(number: int) -> bool:
        async with pg_store() as tx:
            balance = await tx.ledger.balance(ALICE)
            await barrier.wait()
            try:
                await tx.ledger.append(planned(ledger.hold(balance, ALICE, 60, f"gen_{number}")))
            except StaleWriteError:
                return False
            await tx.commit()
            return True

    assert sum(await asyncio.gather(*(hold(n) for n in range(racers)))) == 1
    assert await balance_of(pg_store, ALICE) == Balance(available=40, held=60)
