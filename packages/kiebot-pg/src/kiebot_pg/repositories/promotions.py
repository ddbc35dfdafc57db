"""The free tier, promo codes and referral rewards in PostgreSQL.

Limits hold under concurrency through conditional writes: a free-run take and a promo use are
single ``UPDATE … WHERE <limit not reached>`` statements, which PostgreSQL re-checks against the
newest row version after waiting for a concurrent writer.
"""

from datetime import date, datetime

import attrs

from kiebot_core.domain.ids import PaymentChargeId, UserId
from kiebot_core.domain.promotions import PromoCode, ReferralSummary
from kiebot_core.ports.storage import FreeRunRepository, PromoRepository, ReferralRepository
from kiebot_pg.errors import translated
from kiebot_pg.pool import PgConnection
from kiebot_pg.rows import promo_from_row, promo_values

_TAKE = """
    INSERT INTO free_runs (user_id, day, used) VALUES ($1, $2, 1)
    ON CONFLICT (user_id, day) DO UPDATE SET used = free_runs.used + 1
        WHERE free_runs.used < $3
    RETURNING used
"""
_GIVE_BACK = """
    UPDATE free_runs SET used = used - 1 WHERE user_id = $1 AND day = $2 AND used > 0
"""
_ADD_PROMO = """
    INSERT INTO promo_codes (code, stars, max_uses, uses, expires_at, created_at)
    VALUES ($1, $2, $3, $4, $5, $6)
    ON CONFLICT (code) DO NOTHING
    RETURNING code
"""
_ADD_REDEMPTION = """
    INSERT INTO promo_redemptions (code, user_id, redeemed_at)
    SELECT $1, $2, $3 WHERE EXISTS (SELECT 1 FROM promo_codes WHERE code = $1)
    ON CONFLICT (code, user_id) DO NOTHING
    RETURNING code
"""
_COUNT_USE = """
    UPDATE promo_codes SET uses = uses + 1
    WHERE code = $1 AND (max_uses IS NULL OR uses < max_uses)
    RETURNING code
"""
_REMOVE_REDEMPTION = "DELETE FROM promo_redemptions WHERE code = $1 AND user_id = $2"
_REWARD = """
    INSERT INTO referral_rewards (invited_id, referrer_id, stars, rewarded_at, charge_id)
    VALUES ($1, $2, $3, $4, $5)
    ON CONFLICT (invited_id) DO NOTHING
    RETURNING invited_id
"""
_SUMMARY = """
    SELECT (SELECT count(*) FROM users WHERE referrer_id = $1) AS invited,
           count(r.invited_id) AS rewarded,
           coalesce(sum(r.stars), 0) AS stars
    FROM referral_rewards r WHERE r.referrer_id = $1
"""


@attrs.frozen
class PgFreeRunRepository(FreeRunRepository):
    """Free runs in ``free_runs``, one row per user and day."""

    _connection: PgConnection

    async def used(self, user_id: UserId, day: date) -> int:
        with translated("free runs", f"user {user_id}"):
            used = await self._connection.fetchval(
                "SELECT used FROM free_runs WHERE user_id = $1 AND day = $2", user_id, day
            )
        return int(used or 0)

    async def take(self, user_id: UserId, day: date, *, daily: int) -> bool:
        if daily <= 0:
            return False
        with translated("free runs", f"user {user_id}"):
            used = await self._connection.fetchval(_TAKE, user_id, day, daily)
        return used is not None

    async def give_back(self, user_id: UserId, day: date) -> None:
        with translated("free runs", f"user {user_id}"):
            await self._connection.execute(_GIVE_BACK, user_id, day)


@attrs.frozen
class PgPromoRepository(PromoRepository):
    """Codes in ``promo_codes``, redemptions in ``promo_redemptions``."""

    _connection: PgConnection

    async def add(self, promo: PromoCode) -> bool:
        with translated("promo code", promo.code):
            added = await self._connection.fetchval(_ADD_PROMO, *promo_values(promo))
        return added is not None

    async def get(self, code: str) -> PromoCode | None:
        with translated("promo code", code):
            row = await self._connection.fetchrow(
                "SELECT * FROM promo_codes WHERE code = $1", code
            )
        return None if row is None else promo_from_row(row)

    async def all(self) -> list[PromoCode]:
        with translated("promo code", "all"):
            rows = await self._connection.fetch(
                "SELECT * FROM promo_codes ORDER BY created_at DESC, code DESC"
            )
        return [promo_from_row(row) for row in rows]

    async def is_redeemed(self, code: str, user_id: UserId) -> bool:
        with translated("promo code", code):
            found = await self._connection.fetchval(
                "SELECT 1 FROM promo_redemptions WHERE code = $1 AND user_id = $2", code, user_id
            )
        return found is not None

    async def redeem(self, code: str, user_id: UserId, at: datetime) -> bool:
        with translated("promo code", code):
            if await self._connection.fetchval(_ADD_REDEMPTION, code, user_id, at) is None:
                return False
            if await self._connection.fetchval(_COUNT_USE, code) is not None:
                return True
            # No use left: take back the redemption this transaction just wrote.
            await self._connection.execute(_REMOVE_REDEMPTION, code, user_id)
        return False


@attrs.frozen
class PgReferralRepository(ReferralRepository):
    """Rewards in ``referral_rewards``; invitations are ``users.referrer_id``."""

    _connection: PgConnection

    async def reward(
        self,
        invited: UserId,
        referrer: UserId,
        stars: int,
        at: datetime,
        charge_id: PaymentChargeId,
    ) -> bool:
        with translated("referral reward", str(invited)):
            added = await self._connection.fetchval(
                _REWARD, invited, referrer, stars, at, charge_id
            )
        return added is not None

    async def rewarded_by(self, charge_id: PaymentChargeId) -> bool:
        with translated("referral reward", charge_id):
            found = await self._connection.fetchval(
                "SELECT 1 FROM referral_rewards WHERE charge_id = $1", charge_id
            )
        return found is not None

    async def summary(self, referrer: UserId) -> ReferralSummary:
        with translated("referral reward", f"referrer {referrer}"):
            row = await self._connection.fetchrow(_SUMMARY, referrer)
        if row is None:
            return ReferralSummary()
        return ReferralSummary(
            invited=int(row["invited"]), rewarded=int(row["rewarded"]), stars=int(row["stars"])
        )
