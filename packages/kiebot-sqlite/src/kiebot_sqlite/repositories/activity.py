"""The admin's statistics over SQLite (percentiles are computed in Python)."""

from datetime import datetime, timedelta

import aiosqlite

from kiebot_core.domain.generation import GenerationState
from kiebot_core.domain.stats import (
    Activity,
    Funnel,
    MoneyFigures,
    UserFigures,
    model_runs,
    percentiles,
)
from kiebot_sqlite.connection import fetch_all, fetch_one
from kiebot_sqlite.errors import translated
from kiebot_sqlite.rows import moment_from, timestamp

_USERS = """
    SELECT count(*) AS total,
           coalesce(sum(last_seen_at >= ?1), 0) AS active_today,
           coalesce(sum(last_seen_at >= ?2), 0) AS active_week
    FROM users
"""
_STATES = """
    SELECT model_id, state, count(*) AS n FROM generations WHERE created_at >= ?
    GROUP BY model_id, state
"""
_DELIVERED = """
    SELECT model_id, created_at, updated_at FROM generations
    WHERE created_at >= ? AND state = 'succeeded'
"""
_FUNNEL = """
    SELECT count(*) AS started,
           coalesce(sum(EXISTS (SELECT 1 FROM generations g WHERE g.user_id = u.id)), 0)
               AS generated,
           coalesce(sum(EXISTS (SELECT 1 FROM payments p WHERE p.user_id = u.id)), 0) AS paid
    FROM users u WHERE u.created_at >= ?
"""
_MONEY = """
    WITH refunds AS (
        SELECT id, kind, reference FROM ledger_transactions
        WHERE kind IN ('refund', 'purchase_refund') AND created_at >= ?1
    )
    SELECT
        (SELECT coalesce(sum(stars), 0) FROM payments WHERE created_at >= ?1) AS stars_in,
        (SELECT count(*) FROM payments WHERE created_at >= ?1) AS payments,
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
    connection: aiosqlite.Connection, since: datetime, *, today: datetime, week: datetime
) -> Activity:
    """``ReportRepository.activity`` on ``connection``."""
    start = timestamp(since)
    with translated("report", "activity"):
        users = await fetch_one(connection, _USERS, (timestamp(today), timestamp(week)))
        states = await fetch_all(connection, _STATES, (start,))
        delivered = await fetch_all(connection, _DELIVERED, (start,))
        funnel = await fetch_one(connection, _FUNNEL, (start,))
        money = await fetch_one(connection, _MONEY, (start,))
    if users is None or funnel is None or money is None:  # pragma: no cover - aggregates
        raise AssertionError("an aggregate query returned no row")
    durations: dict[str, list[timedelta]] = {}
    for row in delivered:
        took = moment_from(row["updated_at"]) - moment_from(row["created_at"])
        durations.setdefault(row["model_id"], []).append(took)
    return Activity(
        users=UserFigures(
            total=int(users["total"]),
            active_today=int(users["active_today"]),
            active_week=int(users["active_week"]),
        ),
        runs=model_runs(
            ((row["model_id"], GenerationState(row["state"]), int(row["n"])) for row in states),
            {model_id: percentiles(times) for model_id, times in durations.items()},
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
