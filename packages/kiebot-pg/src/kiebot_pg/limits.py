"""Rate limits in PostgreSQL: one upsert per hit, timed by the database clock (``now()``).

The upsert counts the hit and starts a new window when the key's last one ended, in one
statement, so racing hits from any number of instances are counted exactly (the key's row
lock orders them). A hit that starts a new window also deletes a few ended windows of other
keys, so the table holds little more than the keys active within a window.
"""

from datetime import timedelta

import attrs

from kiebot_core.domain.limits import RateDecision, check_limit
from kiebot_core.ports.limits import RateLimiter
from kiebot_pg.errors import translated
from kiebot_pg.pool import PgPool

SWEEP_BATCH = 100
"""Ended windows deleted at most per new window."""

_HIT = """
    INSERT INTO rate_limits AS r (key, hits, expires_at)
    VALUES ($1, 1, now() + $2::interval)
    ON CONFLICT (key) DO UPDATE SET
        hits = CASE WHEN r.expires_at > now() THEN r.hits + 1 ELSE 1 END,
        expires_at = CASE WHEN r.expires_at > now() THEN r.expires_at ELSE excluded.expires_at END
    RETURNING hits, expires_at - now() AS resets_in
"""
_SWEEP = """
    DELETE FROM rate_limits WHERE key IN (
        SELECT key FROM rate_limits WHERE expires_at < now()
        ORDER BY expires_at LIMIT $1
        FOR UPDATE SKIP LOCKED
    )
"""


@attrs.frozen
class PgRateLimiter(RateLimiter):
    """Fixed windows in the ``rate_limits`` table of a migrated database.

    Args:
        pool: The bot's pool; each hit borrows a connection for one statement (two when it
            starts a new window).
    """

    pool: PgPool

    async def hit(self, key: str, *, limit: int, window: timedelta) -> RateDecision:
        check_limit(limit, window)
        with translated("rate limit", key):
            (row,) = await self.pool.fetch(_HIT, key, window)
            hits: int = row["hits"]
            if hits == 1:
                await self.pool.execute(_SWEEP, SWEEP_BATCH)
        resets_in: timedelta = row["resets_in"]
        return RateDecision.of(hits, limit, resets_in)
