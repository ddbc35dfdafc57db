"""The Telegram update inbox in SQLite.

A live update is neither processed nor parked. A claim takes only the oldest live update of
each chat and lasts until ``claimed_until``, by the adapter's clock. The unit of work holds
SQLite's write lock, so two claims never overlap.
"""

from collections.abc import Sequence
from datetime import datetime, timedelta

import aiosqlite
import attrs

from kiebot_core.domain.coordination import InboxUpdate
from kiebot_core.domain.reasons import ReasonCode
from kiebot_core.ports.runtime import Clock
from kiebot_core.ports.storage import InboxRepository
from kiebot_sqlite.connection import execute, fetch_all, fetch_one
from kiebot_sqlite.errors import translated
from kiebot_sqlite.rows import (
    inbox_update_from_row,
    inbox_values,
    moment_from,
    parked_update_from_row,
    timestamp,
)

_STORE = """
    INSERT INTO update_inbox (bot_id, update_id, chat_id, payload, received_at, attempts)
    VALUES (?, ?, ?, ?, ?, ?)
    ON CONFLICT (bot_id, update_id) DO NOTHING
"""
_PENDING = """
    SELECT * FROM update_inbox WHERE processed = 0 AND parked_reason IS NULL
    ORDER BY bot_id, update_id LIMIT ?
"""
_CLAIM = """
    UPDATE update_inbox SET attempts = attempts + 1, claimed_until = ?2
    WHERE (bot_id, update_id) IN (
        SELECT bot_id, update_id FROM update_inbox AS u
        WHERE processed = 0 AND parked_reason IS NULL
            AND (claimed_until IS NULL OR claimed_until <= ?1)
            AND NOT EXISTS (
                SELECT 1 FROM update_inbox AS older
                WHERE older.bot_id = u.bot_id AND older.chat_id = u.chat_id
                    AND older.update_id < u.update_id
                    AND older.processed = 0 AND older.parked_reason IS NULL
            )
        ORDER BY bot_id, update_id
        LIMIT ?3
    )
    RETURNING *
"""
_EXTEND = """
    UPDATE update_inbox SET claimed_until = ?4
    WHERE bot_id = ?1 AND update_id = ?2 AND claimed_until > ?3
        AND processed = 0 AND parked_reason IS NULL
"""
_RELEASE = """
    UPDATE update_inbox SET claimed_until = NULL
    WHERE bot_id = ? AND update_id = ? AND claimed_until IS NOT NULL
"""
_DONE = """
    UPDATE update_inbox SET processed = 1, processed_at = ?3
    WHERE bot_id = ?1 AND update_id = ?2 AND processed = 0 AND parked_reason IS NULL
"""
_PARK = """
    UPDATE update_inbox SET parked_reason = ?3, parked_at = ?4
    WHERE bot_id = ?1 AND update_id = ?2 AND processed = 0 AND parked_reason IS NULL
"""
_PARKED = """
    SELECT * FROM update_inbox WHERE parked_reason IS NOT NULL
    ORDER BY parked_at DESC, bot_id DESC, update_id DESC LIMIT ?
"""
_OLDEST_PENDING_AT = """
    SELECT received_at FROM update_inbox WHERE processed = 0 AND parked_reason IS NULL
    ORDER BY received_at LIMIT 1
"""
_PRUNE = "DELETE FROM update_inbox WHERE processed = 1 AND processed_at < ?"


@attrs.frozen
class SqliteInboxRepository(InboxRepository):
    """Updates in the ``update_inbox`` table, unique by (bot id, update id)."""

    _connection: aiosqlite.Connection
    _clock: Clock

    async def store(self, update: InboxUpdate) -> bool:
        with translated("update", f"{update.bot_id}/{update.update_id}"):
            return bool(await execute(self._connection, _STORE, inbox_values(update)))

    async def pending(self, *, limit: int) -> list[InboxUpdate]:
        with translated("update", "pending"):
            rows = await fetch_all(self._connection, _PENDING, (max(limit, 0),))
        return [inbox_update_from_row(row) for row in rows]

    async def claim(self, *, limit: int, lease: timedelta) -> list[InboxUpdate]:
        now = self._clock.now()
        with translated("update", "claim"):
            rows = await fetch_all(
                self._connection,
                _CLAIM,
                (timestamp(now), timestamp(now + lease), max(limit, 0)),
            )
        return sorted(
            (inbox_update_from_row(row) for row in rows), key=lambda u: (u.bot_id, u.update_id)
        )

    async def extend(self, bot_id: int, update_ids: Sequence[int], lease: timedelta) -> None:
        now = self._clock.now()
        with translated("update", f"{bot_id}/extend"):
            for update_id in update_ids:
                await execute(
                    self._connection,
                    _EXTEND,
                    (bot_id, update_id, timestamp(now), timestamp(now + lease)),
                )

    async def release(self, bot_id: int, update_id: int) -> None:
        with translated("update", f"{bot_id}/{update_id}"):
            await execute(self._connection, _RELEASE, (bot_id, update_id))

    async def done(self, bot_id: int, update_id: int) -> None:
        with translated("update", f"{bot_id}/{update_id}"):
            await execute(
                self._connection, _DONE, (bot_id, update_id, timestamp(self._clock.now()))
            )

    async def park(self, bot_id: int, update_id: int, reason: ReasonCode) -> None:
        parked_at = timestamp(self._clock.now())
        with translated("update", f"{bot_id}/{update_id}"):
            await execute(self._connection, _PARK, (bot_id, update_id, reason.value, parked_at))

    async def parked(self, *, limit: int) -> list[tuple[InboxUpdate, ReasonCode]]:
        with translated("update", "parked"):
            rows = await fetch_all(self._connection, _PARKED, (max(limit, 0),))
        return [parked_update_from_row(row) for row in rows]

    async def oldest_pending_at(self) -> datetime | None:
        with translated("update", "oldest pending"):
            row = await fetch_one(self._connection, _OLDEST_PENDING_AT)
        return None if row is None else moment_from(row["received_at"])

    async def prune(self, before: datetime) -> int:
        with translated("update", f"done before {before.isoformat()}"):
            return await execute(self._connection, _PRUNE, (timestamp(before),))
