"""Forgetting users in PostgreSQL, record by record as ``kiebot_core.domain.privacy`` says.

The ledger and the audit trail stay append-only: their triggers let exactly one kind of UPDATE
through, made by the transaction that recorded the forgetting of that very user (migration
0012), and no ledger entry ever changes.
"""

from datetime import datetime

import asyncpg
import attrs

from kiebot_core.domain.errors import NotFoundError, StaleWriteError
from kiebot_core.domain.generation import GenerationState
from kiebot_core.domain.ids import UserId
from kiebot_core.domain.privacy import (
    USER_DETAIL_PREFIX,
    USER_DETAILS,
    USER_TARGETS,
    ForgottenUser,
    ledger_rewrite,
    referral_reward_key,
    utc_day,
)
from kiebot_core.ports.storage import PrivacyRepository
from kiebot_pg.errors import translated
from kiebot_pg.pool import PgConnection

_TERMINAL = [state.value for state in GenerationState if state.is_terminal]

# An upsert that changes nothing still locks the row: the user's ledger appends (a generation's
# hold among them) wait until this forgetting commits, and then find no balance.
_LOCK_BALANCE = """
    INSERT INTO ledger_balances AS b (user_id) VALUES ($1)
    ON CONFLICT (user_id) DO UPDATE SET user_id = b.user_id
"""
_RECORD = """
    INSERT INTO forgotten_users (
        anonymous_id, fingerprint, forgotten_at, was_banned, free_runs_day, free_runs_used
    )
    VALUES (-nextval('anonymous_user_ids'), $1, $2, $3, $4, $5)
    RETURNING anonymous_id
"""
# The user's transactions, and the one of someone else's that names them (exact keys: both
# are index lookups, and no other key that merely contains the same digits is touched).
_LEDGER = """
    SELECT id, user_id, idempotency_key, reference FROM ledger_transactions
    WHERE user_id = $1 OR idempotency_key = $2
    ORDER BY id
"""
_REWRITE = """
    UPDATE ledger_transactions SET user_id = $2, idempotency_key = $3, reference = $4
    WHERE id = $1
"""
_GENERATIONS = """
    UPDATE generations SET
        user_id = $2, input = '{}', prompt_search = '', result_urls = '[]',
        result_object = NULL, delivered_refs = '[]', version = version + 1
    WHERE user_id = $1
    RETURNING id
"""
_EVENTS = """
    UPDATE events SET user_id = CASE WHEN user_id = $1 THEN $2 ELSE user_id END, payload = '{}'
    WHERE user_id = $1 OR generation_id = ANY($3::text[])
"""
# Handled updates in the user's chat or sent by the user (a pre-checkout query has no chat).
_HANDLED_UPDATES = """
    DELETE FROM update_inbox AS u
    WHERE (u.processed OR u.parked_reason IS NOT NULL)
      AND (u.chat_id = $1 OR (u.chat_id IS NULL AND EXISTS (
          SELECT 1 FROM jsonb_each(u.payload) AS e
          WHERE jsonb_typeof(e.value) = 'object' AND e.value -> 'from' ->> 'id' = $1::text
      )))
    RETURNING bot_id, update_id
"""
_JOURNAL = """
    DELETE FROM sent_messages AS m
    USING unnest($1::bigint[], $2::bigint[]) AS gone(bot_id, update_id)
    WHERE m.bot_id = gone.bot_id AND m.update_id = gone.update_id
"""
# Operators' entries naming the user (kiebot_core.domain.privacy.anonymised_entry).
_AUDIT = """
    UPDATE audit_log SET
        target = CASE WHEN action = ANY($3::text[]) AND target = $1::text
                      THEN $2::text ELSE target END,
        detail = CASE WHEN action = ANY($4::text[]) AND split_part(detail, ' ', 1) = $5
                      THEN $6 || substr(detail, length($5) + 1) ELSE detail END
    WHERE (action = ANY($3::text[]) AND target = $1::text)
       OR (action = ANY($4::text[]) AND split_part(detail, ' ', 1) = $5)
"""
# The update with which the user deleted their data, once done: kept as a duplicate marker.
_ERASE_UPDATE = """
    UPDATE update_inbox SET payload = jsonb_build_object('update_id', update_id), chat_id = NULL
    WHERE bot_id = $1 AND update_id = $2
"""
_RENAMES = (
    "UPDATE ledger_balances SET user_id = $2 WHERE user_id = $1",
    "UPDATE payments SET user_id = $2 WHERE user_id = $1",
    "UPDATE orders SET user_id = $2 WHERE user_id = $1",
    "UPDATE promo_redemptions SET user_id = $2 WHERE user_id = $1",
    "UPDATE referral_rewards SET invited_id = $2 WHERE invited_id = $1",
    "UPDATE referral_rewards SET referrer_id = $2 WHERE referrer_id = $1",
    "UPDATE users SET referrer_id = $2 WHERE referrer_id = $1",
    "UPDATE broadcast_deliveries SET user_id = $2 WHERE user_id = $1",
)
_DELETIONS = (
    "DELETE FROM favorites WHERE user_id = $1",
    "DELETE FROM conversations WHERE user_id = $1 OR chat_id = $1",
    "DELETE FROM free_runs WHERE user_id = $1",
    "DELETE FROM users WHERE id = $1",
)


def _record(row: asyncpg.Record) -> ForgottenUser:
    return ForgottenUser(
        anonymous_id=UserId(row["anonymous_id"]),
        fingerprint=row["fingerprint"],
        forgotten_at=row["forgotten_at"],
        was_banned=row["was_banned"],
        free_runs_day=row["free_runs_day"],
        free_runs_used=row["free_runs_used"],
    )


@attrs.frozen
class PgPrivacyRepository(PrivacyRepository):
    """Forgetting over every table that names users."""

    _connection: PgConnection

    async def forget(self, user_id: UserId, *, fingerprint: str, at: datetime) -> ForgottenUser:
        connection = self._connection
        with translated("user", user_id):
            banned = await connection.fetchval(
                "SELECT is_banned FROM users WHERE id = $1 FOR UPDATE", user_id
            )
            if banned is None:
                raise NotFoundError("user", str(user_id))
            await connection.execute(_LOCK_BALANCE, user_id)
            running = await connection.fetchval(
                "SELECT count(*) FROM generations WHERE user_id = $1 AND state <> ALL($2::text[])",
                user_id,
                _TERMINAL,
            )
            if running:
                raise StaleWriteError("user", f"{user_id} has unfinished generations")
            day = utc_day(at)
            used = await connection.fetchval(
                "SELECT used FROM free_runs WHERE user_id = $1 AND day = $2", user_id, day
            )
            anonymous = UserId(
                await connection.fetchval(
                    _RECORD, fingerprint, at, banned, day if used else None, used or 0
                )
            )
            await self._ledger(user_id, anonymous)
            generations = [
                row["id"] for row in await connection.fetch(_GENERATIONS, user_id, anonymous)
            ]
            await connection.execute(_EVENTS, user_id, anonymous, generations)
            await connection.execute(
                _AUDIT,
                str(user_id),
                str(anonymous),
                sorted(action.value for action in USER_TARGETS),
                sorted(action.value for action in USER_DETAILS),
                f"{USER_DETAIL_PREFIX}{user_id}",
                f"{USER_DETAIL_PREFIX}{anonymous}",
            )
            for statement in _RENAMES:
                await connection.execute(statement, user_id, anonymous)
            handled = await connection.fetch(_HANDLED_UPDATES, user_id)
            await connection.execute(
                _JOURNAL, [row["bot_id"] for row in handled], [row["update_id"] for row in handled]
            )
            for statement in _DELETIONS:
                await connection.execute(statement, user_id)
        return ForgottenUser(
            anonymous_id=anonymous,
            fingerprint=fingerprint,
            forgotten_at=at,
            was_banned=banned,
            free_runs_day=day if used else None,
            free_runs_used=used or 0,
        )

    async def _ledger(self, user_id: UserId, anonymous: UserId) -> None:
        rows = await self._connection.fetch(_LEDGER, user_id, referral_reward_key(user_id))
        rewrites: list[tuple[int, UserId, str, str]] = []
        for row in rows:
            rewrite = ledger_rewrite(
                UserId(row["user_id"]),
                row["idempotency_key"],
                row["reference"],
                user_id=user_id,
                anonymous_id=anonymous,
                serial=len(rewrites),
            )
            if rewrite is not None:
                rewrites.append((row["id"], rewrite.user_id, rewrite.key, rewrite.reference))
        if rewrites:
            await self._connection.executemany(_REWRITE, rewrites)

    async def forgotten(self, fingerprint: str) -> list[ForgottenUser]:
        with translated("forgotten user", "by fingerprint"):
            rows = await self._connection.fetch(
                "SELECT * FROM forgotten_users WHERE fingerprint = $1 "
                "ORDER BY forgotten_at, anonymous_id DESC",
                fingerprint,
            )
        return [_record(row) for row in rows]

    async def lock_against_forgetting(self, user_id: UserId) -> bool:
        # KEY SHARE conflicts only with forgetting's FOR UPDATE and DELETE: the user's other
        # updates (last seen, language) do not wait for a start.
        with translated("user", user_id):
            found = await self._connection.fetchval(
                "SELECT true FROM users WHERE id = $1 FOR KEY SHARE", user_id
            )
        return bool(found)

    async def erase_update(self, bot_id: int, update_id: int) -> None:
        with translated("update", update_id):
            await self._connection.execute(_ERASE_UPDATE, bot_id, update_id)
            await self._connection.execute(
                "DELETE FROM sent_messages WHERE bot_id = $1 AND update_id = $2",
                bot_id,
                update_id,
            )
