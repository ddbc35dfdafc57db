from datetime import timedelta

import pytest

from kiebot_core.domain import ledger
from kiebot_core.domain.generation import Generation, GenerationState
from kiebot_core.domain.ids import UserId
from kiebot_core.domain.stats import Activity, Funnel, ModelRuns, MoneyFigures, UserFigures
from kiebot_core.ports.storage import UnitOfWork
from tests.contracts.builders import make_generation, make_payment, make_user, planned
from tests.contracts.stores import BACKENDS, Store

pytestmark = pytest.mark.parametrize("uow", BACKENDS, indirect=True)

FLUX, KLING = "flux-2/pro-text-to-image", "kling-3.0/video"
S = GenerationState


async def test_an_empty_store_has_no_activity(uow: Store) -> None:
    now = uow.now()
    async with uow() as tx:
        activity = await tx.reports.activity(now - timedelta(days=7), today=now, week=now)
    assert activity == Activity()


async def refund_purchase(tx: UnitOfWork, user_id: UserId, charge_id: str, credited: int) -> None:
    balance = await tx.ledger.balance(user_id)
    await tx.ledger.append(planned(ledger.purchase(balance, user_id, credited, charge_id)))
    balance = await tx.ledger.balance(user_id)
    await tx.ledger.append(planned(ledger.purchase_refund(balance, user_id, credited, charge_id)))


async def refund_generation(tx: UnitOfWork, generation: Generation, refunded: int) -> None:
    user_id = generation.user_id
    await tx.ledger.append(planned(ledger.grant(user_id, 100, f"welcome {user_id}")))
    balance = await tx.ledger.balance(user_id)
    await tx.ledger.append(planned(ledger.hold(balance, user_id, 12, generation.id)))
    await tx.ledger.append(planned(ledger.capture(user_id, 12, 12, generation.id)))
    await tx.ledger.append(planned(ledger.refund(user_id, refunded, generation.id)))


async def test_activity_counts_users_runs_money_and_the_funnel_of_the_period(uow: Store) -> None:
    now = uow.now()
    since, today, week = now - timedelta(days=1), now - timedelta(hours=1), now - timedelta(days=6)
    hour, second = timedelta(hours=1), timedelta(seconds=1)
    users = [
        make_user(1, at=now - timedelta(days=30), last_seen_at=now - timedelta(minutes=30)),
        make_user(2, at=since + hour, last_seen_at=now - timedelta(days=3)),
        make_user(3, at=since + 2 * hour),
        make_user(4, at=since + 3 * hour, last_seen_at=now - 2 * hour),
        make_user(5, at=now - timedelta(days=30), last_seen_at=now - timedelta(days=10)),
    ]

    def run(gid: str, model_id: str, state: S, *, user: int = 1, took: int = 0, at=since):
        started = at + hour
        return make_generation(
            gid,
            at=started,
            user_id=user,
            model_id=model_id,
            state=state,
            updated_at=started + took * second,
        )

    delivered = [
        run("gen_s1", FLUX, S.SUCCEEDED, user=2, took=40),
        run("gen_s2", FLUX, S.SUCCEEDED, took=10),
        run("gen_s3", FLUX, S.SUCCEEDED, took=30),
        run("gen_s4", FLUX, S.SUCCEEDED, took=20),
        run("gen_k1", KLING, S.SUCCEEDED, user=3, took=100),
    ]
    others = [
        run("gen_f1", FLUX, S.FAILED, took=5),
        run("gen_c1", FLUX, S.CANCELLED),
        run("gen_r1", FLUX, S.RUNNING),
        run("gen_k2", KLING, S.FAILED, took=500),
        run("gen_old", FLUX, S.SUCCEEDED, took=999, at=since - timedelta(days=2)),
    ]
    async with uow() as tx:
        for user in users:
            await tx.users.add(user)
        for generation in delivered + others:
            await tx.generations.add(generation)
        await tx.payments.add(make_payment("charge_new", at=since + hour, user_id=2, stars=100))
        await tx.payments.add(make_payment("charge_old", at=since - hour, user_id=1, stars=50))
        await refund_purchase(tx, UserId(2), "charge_new", 110)
        await refund_generation(tx, delivered[0], 5)
        await tx.commit()
    async with uow() as tx:
        activity = await tx.reports.activity(since, today=today, week=week)
    assert activity == Activity(
        users=UserFigures(total=5, active_today=1, active_week=3),
        runs=(
            ModelRuns(
                model_id=FLUX,
                states={S.SUCCEEDED: 4, S.FAILED: 1, S.CANCELLED: 1, S.RUNNING: 1},
                p50=20 * second,
                p95=40 * second,
            ),
            ModelRuns(
                model_id=KLING,
                states={S.SUCCEEDED: 1, S.FAILED: 1},
                p50=100 * second,
                p95=100 * second,
            ),
        ),
        funnel=Funnel(started=3, generated=2, paid=1),
        money=MoneyFigures(
            stars_in=100,
            payments=1,
            purchase_refunds=1,
            purchase_refunded_stars=100,
            generation_refunds=1,
            generation_refunded_stars=5,
        ),
    )
    assert activity.runs[0].failure_rate == pytest.approx(1 / 5)
    assert activity.states[S.SUCCEEDED] == 5
    # A period starting later leaves the runs, payments and newcomers out; users stay counted.
    async with uow() as tx:
        later = await tx.reports.activity(now + hour, today=today, week=week)
    assert later.runs == ()
    assert later.funnel == Funnel()
    assert (later.money.stars_in, later.money.generation_refunds) == (0, 0)
    assert later.users == activity.users
