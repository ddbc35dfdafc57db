"""The free tier, promo codes and referral rewards in SQLite.

A unit of work holds SQLite's write lock from its first statement (``BEGIN IMMEDIATE``), so the
conditional writes below see every committed change: limits are exact across processes.
"""

from datetime import date, datetime

import aiosqlite
import attrs

from kiebot_core.domain.ids import PaymentChargeId, UserId
from kiebot_core.domain.promotions import PromoCode, ReferralSummary
from kiebot_core.ports.storage import FreeRunRepository, PromoRepository, ReferralRepository
from kiebot_sqlite.connection import execute, fetch_all, fetch_one
from kiebot_sqlite.errors import translated
from kiebot_sqlite.rows import promo_from_row, promo_values, timestamp

_TAKE = """
    INSERT INTO free_runs (user_id, day, used) VALUES (?1, ?2, 1)
    ON CONFLICT (user_id, day) DO UPDATE SET used = free_runs.used + 1
        WHERE free_runs.used < ?3
"""
_GIVE_BACK = "UPDATE free_runs SET used = used - 1 WHERE user_id = ? AND day = ? AND used > 0"
_ADD_PROMO = """
    INSERT INTO promo_codes (code, stars, max_uses, uses, expires_at, created_at)
    VALUES (?, ?, ?, ?, ?, ?)
    ON CONFLICT (code) DO NOTHING
"""
_ADD_REDEMPTION = """
    INSERT INTO promo_redemptions (code, user_id, redeemed_at)
    SELECT ?1, ?2, ?3 WHERE EXISTS (SELECT 1 FROM promo_codes WHERE code = ?1)
    ON CONFLICT (code, user_id) DO NOTHING
"""
_COUNT_USE = """
    UPDATE promo_codes SET uses = uses + 1
    WHERE code = ? AND (max_uses IS NULL OR uses < max_uses)
"""
_REMOVE_REDEMPTION = "DELETE FROM promo_redemptions WHERE code = ? AND user_id = ?"
_REWARD = """
    INSERT INTO referral_rewards (invited_id, referrer_id, stars, rewarded_at, charge_id)
    VALUES (?, ?, ?, ?, ?)
    ON CONFLICT (invited_id) DO NOTHING
"""
_SUMMARY = """
    SELECT (SELECT count(*) FROM users WHERE referrer_id = ?1) AS invited,
           count(r.invited_id) AS rewarded,
           coalesce(sum(r.stars), 0) AS stars
    FROM referral_rewards r WHERE r.referrer_id = ?1
"""


@attrs.frozen
class SqliteFreeRunRepository(FreeRunRepository):
    """Free runs in ``free_runs``, one row per user and day."""

    _connection: aiosqlite.Connection

    async def used(self, user_id: UserId, day: date) -> int:
        with translated("free runs", f"user {user_id}"):
            row = await fetch_one(
                self._connection,
                "SELECT used FROM free_runs WHERE user_id = ? AND day = ?",
                (user_id, day.isoformat()),
            )
        return 0 if row is None else int(row["used"])

    async def take(self, user_id: UserId, day: date, *, daily: int) -> bool:
        if daily <= 0:
            return False
        with translated("free runs", f"user {user_id}"):
            return await execute(self._connection, _TAKE, (user_id, day.isoformat(), daily)) > 0

    async def give_back(self, user_id: UserId, day: date) -> None:
        with translated("free runs", f"user {user_id}"):
            await execute(self._connection, _GIVE_BACK, (user_id, day.isoformat()))


@attrs.frozen
class SqlitePromoRepository(PromoRepository):
    """Codes in ``promo_codes``, redemptions in ``promo_redemptions``."""

    _connection: aiosqlite.Connection

    async def add(self, promo: PromoCode) -> bool:
        with translated("promo code", promo.code):
            return await execute(self._connection, _ADD_PROMO, promo_values(promo)) > 0

    async def get(self, code: str) -> PromoCode | None:
        with translated("promo code", code):
            row = await fetch_one(
                self._connection, "SELECT * FROM promo_codes WHERE code = ?", (code,)
            )
        return None if row is None else promo_from_row(row)

    async def all(self) -> list[PromoCode]:
        with translated("promo code", "all"):
            rows = await fetch_all(
                self._connection, "SELECT * FROM promo_codes ORDER BY created_at DESC, code DESC"
            )
        return [promo_from_row(row) for row in rows]

    async def is_redeemed(self, code: str, user_id: UserId) -> bool:
        with translated("promo code", code):
            row = await fetch_one(
                self._connection,
                "SELECT 1 FROM promo_redemptions WHERE code = ? AND user_id = ?",
                (code, user_id),
            )
        return row is not None

    async def redeem(self, code: str, user_id: UserId, at: datetime) -> bool:
        with translated("promo code", code):
            params = (code, user_id, timestamp(at))
            if not await execute(self._connection, _ADD_REDEMPTION, params):
                return False
            if await execute(self._connection, _COUNT_USE, (code,)):
                return True
            # No use left: take back the redemption this transaction just wrote.
            await execute(self._connection, _REMOVE_REDEMPTION, (code, user_id))
        return False


@attrs.frozen
class SqliteReferralRepository(ReferralRepository):
    """Rewards in ``referral_rewards``; invitations are ``users.referrer_id``."""

    _connection: aiosqlite.Connection

    async def reward(
        self,
        invited: UserId,
        referrer: UserId,
        stars: int,
        at: datetime,
        charge_id: PaymentChargeId,
    ) -> bool:
        with translated("referral reward", str(invited)):
            params = (invited, referrer, stars, timestamp(at), charge_id)
            return await execute(self._connection, _REWARD, params) > 0

    async def rewarded_by(self, charge_id: PaymentChargeId) -> bool:
        with translated("referral reward", charge_id):
            row = await fetch_one(
                self._connection,
                "SELECT 1 FROM referral_rewards WHERE charge_id = ?",
                (charge_id,),
            )
        return row is not None

    async def summary(self, referrer: UserId) -> ReferralSummary:
        with translated("referral reward", f"referrer {referrer}"):
            row = await fetch_one(self._connection, _SUMMARY, (referrer,))
        if row is None:
            return ReferralSummary()
        return ReferralSummary(
            invited=int(row["invited"]), rewarded=int(row["rewarded"]), stars=int(row["stars"])
        )
