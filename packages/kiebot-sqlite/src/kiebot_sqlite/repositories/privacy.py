"""Forgetting users in SQLite, record by record as ``kiebot_core.domain.privacy`` says.

The ledger and the audit trail stay append-only: their triggers let one kind of UPDATE through,
concerning the user of a forgetting record that is open, which it is only inside the unit of
work that forgets (migration 0012).
"""

import json
import sqlite3
from datetime import date, datetime

import aiosqlite
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
from kiebot_sqlite.connection import execute, execute_many, fetch_all, fetch_one
from kiebot_sqlite.errors import translated
from kiebot_sqlite.rows import moment_from, timestamp

_TERMINAL = json.dumps([state.value for state in GenerationState if state.is_terminal])

_RECORD = """
    INSERT INTO forgotten_users (
        anonymous_id, fingerprint, forgotten_at, was_banned, free_runs_day, free_runs_used, open
    )
    VALUES ((SELECT min(coalesce(min(anonymous_id), 0), 0) - 1 FROM forgotten_users),
            ?, ?, ?, ?, ?, 1)
    RETURNING anonymous_id
"""
# The user's transactions, and the one of someone else's that names them (exact keys: both
# are index lookups, and no other key that merely contains the same digits is touched).
_LEDGER = """
    SELECT id, user_id, idempotency_key, reference FROM ledger_transactions
    WHERE user_id = ?1 OR idempotency_key = ?2
    ORDER BY id
"""
_REWRITE = """
    UPDATE ledger_transactions SET user_id = ?, idempotency_key = ?, reference = ? WHERE id = ?
"""
_GENERATIONS = """
    UPDATE generations SET
        user_id = ?2, input = '{}', prompt_search = '', result_urls = '[]',
        result_object = NULL, delivered_refs = '[]', version = version + 1
    WHERE user_id = ?1
    RETURNING id
"""
_EVENTS = """
    UPDATE events SET user_id = CASE WHEN user_id = ?1 THEN ?2 ELSE user_id END, payload = '{}'
    WHERE user_id = ?1 OR generation_id IN (SELECT value FROM json_each(?3))
"""
_HANDLED_UPDATES = """
    DELETE FROM update_inbox
    WHERE (processed = 1 OR parked_reason IS NOT NULL)
      AND (chat_id = ?1 OR (chat_id IS NULL AND EXISTS (
          SELECT 1 FROM json_each(update_inbox.payload) AS e
          WHERE e.type = 'object' AND json_extract(e.value, '$.from.id') = ?1
      )))
    RETURNING bot_id, update_id
"""
# Operators' entries naming the user (kiebot_core.domain.privacy.anonymised_entry).
_AUDIT = """
    UPDATE audit_log SET
        target = CASE WHEN action IN (SELECT value FROM json_each(?3)) AND target = ?1
                      THEN ?2 ELSE target END,
        detail = CASE WHEN action IN (SELECT value FROM json_each(?4))
                           AND substr(detail, 1, instr(detail || ' ', ' ') - 1) = ?5
                      THEN ?6 || substr(detail, length(?5) + 1) ELSE detail END
    WHERE (action IN (SELECT value FROM json_each(?3)) AND target = ?1)
       OR (action IN (SELECT value FROM json_each(?4))
           AND substr(detail, 1, instr(detail || ' ', ' ') - 1) = ?5)
"""
# The update with which the user deleted their data, once done: kept as a duplicate marker.
_ERASE_UPDATE = """
    UPDATE update_inbox SET payload = json_object('update_id', update_id), chat_id = NULL
    WHERE bot_id = ? AND update_id = ?
"""
_RENAMES = (
    "UPDATE ledger_balances SET user_id = ?2 WHERE user_id = ?1",
    "UPDATE payments SET user_id = ?2 WHERE user_id = ?1",
    "UPDATE orders SET user_id = ?2 WHERE user_id = ?1",
    "UPDATE promo_redemptions SET user_id = ?2 WHERE user_id = ?1",
    "UPDATE referral_rewards SET invited_id = ?2 WHERE invited_id = ?1",
    "UPDATE referral_rewards SET referrer_id = ?2 WHERE referrer_id = ?1",
    "UPDATE users SET referrer_id = ?2 WHERE referrer_id = ?1",
    "UPDATE broadcast_deliveries SET user_id = ?2 WHERE user_id = ?1",
)
_DELETIONS = (
    "DELETE FROM favorites WHERE user_id = ?1",
    "DELETE FROM conversations WHERE user_id = ?1 OR chat_id = ?1",
    "DELETE FROM free_runs WHERE user_id = ?1",
    "DELETE FROM users WHERE id = ?1",
)


def _record(row: sqlite3.Row) -> ForgottenUser:
    day = row["free_runs_day"]
    return ForgottenUser(
        anonymous_id=UserId(row["anonymous_id"]),
        fingerprint=row["fingerprint"],
        forgotten_at=moment_from(row["forgotten_at"]),
        was_banned=bool(row["was_banned"]),
        free_runs_day=None if day is None else date.fromisoformat(day),
        free_runs_used=row["free_runs_used"],
    )


@attrs.frozen
class SqlitePrivacyRepository(PrivacyRepository):
    """Forgetting over every table that names users (the unit of work holds the write lock)."""

    _connection: aiosqlite.Connection

    async def forget(self, user_id: UserId, *, fingerprint: str, at: datetime) -> ForgottenUser:
        connection = self._connection
        with translated("user", user_id):
            user = await fetch_one(
                connection, "SELECT is_banned FROM users WHERE id = ?", (user_id,)
            )
            if user is None:
                raise NotFoundError("user", str(user_id))
            running = await fetch_one(
                connection,
                "SELECT count(*) AS n FROM generations "
                "WHERE user_id = ? AND state NOT IN (SELECT value FROM json_each(?))",
                (user_id, _TERMINAL),
            )
            if running is not None and running["n"]:
                raise StaleWriteError("user", f"{user_id} has unfinished generations")
            day = utc_day(at)
            counter = await fetch_one(
                connection,
                "SELECT used FROM free_runs WHERE user_id = ? AND day = ?",
                (user_id, day.isoformat()),
            )
            used = 0 if counter is None else int(counter["used"])
            banned = bool(user["is_banned"])
            recorded = await fetch_one(
                connection,
                _RECORD,
                (fingerprint, timestamp(at), banned, day.isoformat() if used else None, used),
            )
            if recorded is None:  # pragma: no cover - INSERT … RETURNING returns the row
                raise StaleWriteError("forgotten user", str(user_id))
            anonymous = UserId(recorded["anonymous_id"])
            await self._ledger(user_id, anonymous)
            generations = [
                row["id"]
                for row in await fetch_all(connection, _GENERATIONS, (user_id, anonymous))
            ]
            await execute(connection, _EVENTS, (user_id, anonymous, json.dumps(generations)))
            await execute(
                connection,
                _AUDIT,
                (
                    str(user_id),
                    str(anonymous),
                    json.dumps(sorted(action.value for action in USER_TARGETS)),
                    json.dumps(sorted(action.value for action in USER_DETAILS)),
                    f"{USER_DETAIL_PREFIX}{user_id}",
                    f"{USER_DETAIL_PREFIX}{anonymous}",
                ),
            )
            for statement in _RENAMES:
                await execute(connection, statement, (user_id, anonymous))
            handled = await fetch_all(connection, _HANDLED_UPDATES, (user_id,))
            await execute_many(
                connection,
                "DELETE FROM sent_messages WHERE bot_id = ? AND update_id = ?",
                [(row["bot_id"], row["update_id"]) for row in handled],
            )
            for statement in _DELETIONS:
                await execute(connection, statement, (user_id,))
            await execute(
                connection,
                "UPDATE forgotten_users SET open = 0 WHERE anonymous_id = ?",
                (anonymous,),
            )
        return ForgottenUser(
            anonymous_id=anonymous,
            fingerprint=fingerprint,
            forgotten_at=at,
            was_banned=banned,
            free_runs_day=day if used else None,
            free_runs_used=used,
        )

    async def _ledger(self, user_id: UserId, anonymous: UserId) -> None:
        rows = await fetch_all(self._connection, _LEDGER, (user_id, referral_reward_key(user_id)))
        rewrites: list[tuple[UserId, str, str, int]] = []
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
                rewrites.append((rewrite.user_id, rewrite.key, rewrite.reference, row["id"]))
        await execute_many(self._connection, _REWRITE, rewrites)

    async def forgotten(self, fingerprint: str) -> list[ForgottenUser]:
        with translated("forgotten user", "by fingerprint"):
            rows = await fetch_all(
                self._connection,
                "SELECT * FROM forgotten_users WHERE fingerprint = ? "
                "ORDER BY forgotten_at, anonymous_id DESC",
                (fingerprint,),
            )
        return [_record(row) for row in rows]

    async def lock_against_forgetting(self, user_id: UserId) -> bool:
        # Every unit of work holds SQLite's one write lock from its start (BEGIN IMMEDIATE):
        # a forgetting cannot run beside it, so reading is enough.
        with translated("user", user_id):
            found = await fetch_one(
                self._connection, "SELECT 1 AS found FROM users WHERE id = ?", (user_id,)
            )
        return found is not None

    async def erase_update(self, bot_id: int, update_id: int) -> None:
        with translated("update", update_id):
            await execute(self._connection, _ERASE_UPDATE, (bot_id, update_id))
            await execute(
                self._connection,
                "DELETE FROM sent_messages WHERE bot_id = ? AND update_id = ?",
                (bot_id, update_id),
            )
