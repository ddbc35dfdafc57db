"""Limits that must hold while units of work really race, on the stores that run in parallel.

Each racer has its own connection (the ``racers`` fixture, ``tests.contracts.stores``).
"""

import asyncio
from datetime import date

from kiebot_core.domain.audit import cli_actor
from kiebot_core.domain.ids import UserId
from kiebot_core.domain.ledger import AccountKind, LedgerKind
from kiebot_core.domain.outcomes import Rejected
from kiebot_core.domain.promotions import PromoCode
from kiebot_core.domain.reasons import ReasonCode
from kiebot_core.ports.runtime import SystemClock
from kiebot_core.use_cases.promotions import Redeemed, create_promo, redeem_promo
from tests.contracts.stores import RACERS_AT_ONCE, Racers

OPERATOR = cli_actor("tester")

USERS = [UserId(100 + n) for n in range(RACERS_AT_ONCE)]
MAX_USES = 5
ALICE = UserId(1)
DAY = date(2026, 3, 1)


async def test_users_racing_for_a_limited_code_get_exactly_its_uses(racers: Racers) -> None:
    clock, store = SystemClock(), racers()
    created = await create_promo(store, clock, "RACE", 7, max_uses=MAX_USES, by=OPERATOR)
    assert isinstance(created, PromoCode), created
    barrier = asyncio.Barrier(len(USERS))

    async def redeem(user_id: UserId) -> Redeemed | Rejected:
        own = racers()
        await barrier.wait()
        return await redeem_promo(own, clock, user_id, "race")

    results = dict(zip(USERS, await asyncio.gather(*map(redeem, USERS)), strict=True))
    winners = {u for u, result in results.items() if isinstance(result, Redeemed)}
    refusals = [result for result in results.values() if isinstance(result, Rejected)]
    assert len(winners) == MAX_USES
    assert {r.reason for r in refusals} == {ReasonCode.PROMO_USED_UP}
    assert len(refusals) == len(USERS) - MAX_USES
    async with store() as tx:
        promo = await tx.promos.get("RACE")
        redeemed = {u for u in USERS if await tx.promos.is_redeemed("RACE", u)}
        history = {u: await tx.ledger.history(u, limit=10) for u in USERS}
    assert promo is not None
    assert promo.uses == MAX_USES
    assert redeemed == winners
    grants = {
        u: [(t.kind, t.amount_of(AccountKind.AVAILABLE)) for t in h]
        for u, h in history.items()
        if h
    }
    assert grants == {u: [(LedgerKind.GRANT, 7)] for u in winners}


async def test_two_racing_takes_of_the_last_free_run_let_one_win(racers: Racers) -> None:
    store = racers()
    async with store() as tx:
        assert await tx.free_runs.take(ALICE, DAY, daily=3)
        assert await tx.free_runs.take(ALICE, DAY, daily=3)
        await tx.commit()
    barrier = asyncio.Barrier(2)

    async def take() -> bool:
        own = racers()
        await barrier.wait()
        async with own() as tx:
            assert await tx.free_runs.used(ALICE, DAY) in {2, 3}
            await asyncio.sleep(0.05)  # on PostgreSQL both transactions are now open
            took = await tx.free_runs.take(ALICE, DAY, daily=3)
            await tx.commit()
        return took

    assert sorted(await asyncio.gather(take(), take())) == [False, True]
    async with store() as tx:
        assert await tx.free_runs.used(ALICE, DAY) == 3
