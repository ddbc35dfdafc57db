"""The admin's statistics over PostgreSQL: a few aggregate reads in one transaction."""

from datetime import datetime

from kiebot_core.domain.generation import GenerationState
from kiebot_core.domain.stats import Activity, Funnel, MoneyFigures, UserFigures, model_runs
from kiebot_pg.errors import translated
from kiebot_pg.pool import PgConnection

_USERS = """
    SELECT count(*) AS total,
           count(*) FILTER (WHERE last_seen_at >= $1) AS active_today,
           count(*) FILTER (WHERE last_seen_at >= $2) AS active_week
    FROM users
"""
_STATES = """
    SELECT model_id, state, count(*) AS n FROM generations WHERE created_at >= $1
    GROUP BY model_id, state
"""
# percentile_disc is the nearest-rank rule of kiebot_core.domain.stats.nearest_rank.
_DELIVERY = """
    SELECT model_id,
           percentile_disc(0.5) WITHIN GROUP (ORDER BY updated_at - created_at) AS p50,
           percentile_disc(0.95) WITHIN GROUP (ORDER BY updated_at - created_at) AS p95
    FROM generations WHERE created_at >= $1 AND state = 'succeeded'
    GROUP BY model_id
"""
_FUNNEL = """
    SELECT count(*) AS started,
           count(*) FILTER (WHERE EXISTS (SELECT 1 FROM generations g WHERE g.user_id = u.id))
               AS generated,
           count(*) FILTER (WHERE EXISTS (SELECT 1 FROM payments p WHERE p.user_id = u.id))
               AS paid
    FROM users u WHERE u.created_at >= $1
"""
_MONEY = """
    WITH refunds AS (
        SELECT id, kind, reference FROM ledger_transactions
        WHERE kind IN ('refund', 'purchase_refund') AND created_at >= $1
    )
    SELECT
        (SELECT coalesce(sum(stars), 0) FROM payments WHERE created_at >= $1) AS stars_in,
        (SELECT count(*) FROM payments WHERE created_at >= $1) AS payments,
        (SELECT count(*) FROM refunds WHERE kind = 'purchase_refund') AS purchase_refunds,
        (SELECT coalesce(sum(p.stars), 0)
         FROM refunds r JOIN payments p ON p.charge_id = r.reference
         WHERE r.kind = 'purchase_refund') AS purchase_refunded_stars,
        (SELECT count(*) FROM refunds WHERE kind = 'refund') AS generation_refunds,
        (SELECT coalesce(sum(e.amount), 0)
         FROM refunds r JOIN ledger_entries e ON e.transaction_id = r.id
         WHERE r.kind = 'refund' AND e.account = 'available') AS generation_refunded_stars
"""


async def read_activity(
    connection: PgConnection, since: datetime, *, today: datetime, week: datetime
) -> Activity:
    """``ReportRepository.activity`` on ``connection``."""
    with translated("report", "activity"):
        users = await connection.fetchrow(_USERS, today, week)
        states = await connection.fetch(_STATES, since)
        delivery = await connection.fetch(_DELIVERY, since)
        funnel = await connection.fetchrow(_FUNNEL, since)
        money = await connection.fetchrow(_MONEY, since)
    if users is None or funnel is None or money is None:  # pragma: no cover - aggregates
        raise AssertionError("an aggregate query returned no row")
    return Activity(
        users=UserFigures(
            total=int(users["total"]),
            active_today=int(users["active_today"]),
            active_week=int(users["active_week"]),
        ),
        runs=model_runs(
            ((row["model_id"], GenerationState(row["state"]), int(row["n"])) for row in states),
            {row["model_id"]: (row["p50"], row["p95"]) for row in delivery},
        ),
        funnel=Funnel(
            started=int(funnel["started"]),
            generated=int(funnel["generated"]),
            paid=int(funnel["paid"]),
        ),
        money=MoneyFigures(
            stars_in=int(money["stars_in"]),
            payments=int(money["payments"]),
            purchase_refunds=int(money["purchase_refunds"]),
            purchase_refunded_stars=int(money["purchase_refunded_stars"]),
            generation_refunds=int(money["generation_refunds"]),
            generation_refunded_stars=int(money["generation_refunded_stars"]),
        ),
    )
