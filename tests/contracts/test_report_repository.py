from datetime import timedelta
from decimal import Decimal

import pytest

from kiebot_core.domain import ledger
from kiebot_core.domain.generation import Generation, GenerationState
from kiebot_core.domain.ids import UserId
from kiebot_core.domain.margin import ModelMargin
from kiebot_core.ports.storage import UnitOfWork
from tests.contracts.builders import make_generation, planned
from tests.contracts.stores import BACKENDS, Store

pytestmark = pytest.mark.parametrize("uow", BACKENDS, indirect=True)

ALICE = UserId(1)
FLUX, KLING = "flux-2/pro-text-to-image", "kling-3.0/video"


async def charge(
    tx: UnitOfWork, generation: Generation, *, captured: int | None, refunded: int = 0
) -> None:
    """Hold the generation's Stars, then capture ``captured`` (None: release) and refund."""
    user_id, held = generation.user_id, generation.stars
    balance = await tx.ledger.balance(user_id)
    await tx.ledger.append(planned(ledger.hold(balance, user_id, held, generation.id)))
    if captured is None:
        await tx.ledger.append(planned(ledger.release(user_id, held, generation.id)))
    else:
        await tx.ledger.append(planned(ledger.capture(user_id, held, captured, generation.id)))
    if refunded:
        await tx.ledger.append(planned(ledger.refund(user_id, refunded, generation.id)))


async def test_nothing_delivered_is_an_empty_report(uow: Store) -> None:
    async with uow() as tx:
        assert await tx.reports.margin(uow.now() - timedelta(days=30)) == []


async def test_the_margin_of_each_model_counts_delivered_runs_since_the_date(uow: Store) -> None:
    since = uow.now() - timedelta(days=1)

    def run(
        gid: str,
        model_id: str,
        credits: str,
        *,
        after: timedelta,
        state: GenerationState = GenerationState.SUCCEEDED,
        consumed: str | None = None,
        free: bool = False,
    ) -> Generation:
        return make_generation(
            gid,
            at=since + after,
            model_id=model_id,
            credits=credits,
            state=state,
            credits_consumed=None if consumed is None else Decimal(consumed),
            held=0 if free else 12,
            is_free=free,
        )

    hour = timedelta(hours=1)
    kept = run("gen_kept", FLUX, "5.6", after=0 * hour, consumed="7.25")
    refunded = run("gen_refunded", FLUX, "5.6", after=hour)
    free = run("gen_free", KLING, "14", after=2 * hour, consumed="12", free=True)
    failed = run("gen_failed", FLUX, "5.6", after=3 * hour, state=GenerationState.FAILED)
    running = run("gen_running", FLUX, "5.6", after=3 * hour, state=GenerationState.RUNNING)
    old = run("gen_old", FLUX, "5.6", after=-hour, consumed="99")
    async with uow() as tx:
        await tx.ledger.append(planned(ledger.grant(ALICE, 1000, "welcome")))
        for generation in (kept, refunded, free, failed, running, old):
            await tx.generations.add(generation)
        await charge(tx, kept, captured=12)
        await charge(tx, refunded, captured=10, refunded=4)
        await charge(tx, failed, captured=None)
        await tx.ledger.append(
            planned(ledger.hold(await tx.ledger.balance(ALICE), ALICE, 12, running.id))
        )
        await charge(tx, old, captured=12)
        await tx.commit()
    async with uow() as tx:
        report = await tx.reports.margin(since)
    assert report == [
        ModelMargin(
            model_id=FLUX,
            generations=2,
            stars=12 + 10 - 4,
            credits_quoted=Decimal("11.2"),
            credits_consumed=Decimal("7.25"),
            reported=1,
            quoted_reported=Decimal("5.6"),
        ),
        ModelMargin(
            model_id=KLING,
            generations=1,
            stars=0,
            credits_quoted=Decimal(14),
            credits_consumed=Decimal(12),
            reported=1,
            quoted_reported=Decimal(14),
        ),
    ]
    # The run that reported consumed more than its quote: flagged, although the model's
    # quotes in all (11.2) exceed what was reported (7.25).
    assert report[0].underpriced
    assert not report[1].underpriced
    async with uow() as tx:
        assert await tx.reports.margin(since + timedelta(hours=2)) == [report[1]]
        assert await tx.reports.margin(since + timedelta(hours=4)) == []
