"""The Telegram update inbox in PostgreSQL, claimed with ``FOR UPDATE SKIP LOCKED``.

A live update is neither processed nor parked. A claim takes the oldest live update of each
chat, if its claim is not live (``claimed_until``, by the database clock), and locks the rows
it takes: a concurrent claimer skips them, and one that reads them only after the claim
committed finds them claimed. Done and parked are final, so a chat's oldest live update in
any snapshot stays its oldest until it is itself done or parked.
"""

from collections.abc import Sequence
from datetime import datetime, timedelta

import attrs

from kiebot_core.domain.coordination import InboxUpdate
from kiebot_core.domain.reasons import ReasonCode
from kiebot_core.ports.storage import InboxRepository
from kiebot_pg.errors import translated
from kiebot_pg.pool import PgConnection, affected_rows
from kiebot_pg.rows import inbox_update_from_row, inbox_values, parked_update_from_row

_STORE = """
    INSERT INTO update_inbox (bot_id, update_id, chat_id, payload, received_at, attempts)
    VALUES ($1, $2, $3, $4, $5, $6)
    ON CONFLICT (bot_id, update_id) DO NOTHING
    RETURNING update_id
"""
_PENDING = """
    SELECT * FROM update_inbox WHERE NOT processed AND parked_reason IS NULL
    ORDER BY bot_id, update_id LIMIT $1
"""
_CLAIM = """
    WITH heads AS (
        SELECT bot_id, update_id FROM update_inbox AS u
        WHERE NOT processed AND parked_reason IS NULL
            AND (claimed_until IS NULL OR claimed_until <= now())
            AND NOT EXISTS (
                SELECT FROM update_inbox AS older
                WHERE older.bot_id = u.bot_id AND older.chat_id = u.chat_id
                    AND older.update_id < u.update_id
                    AND NOT older.processed AND older.parked_reason IS NULL
            )
        ORDER BY bot_id, update_id
        LIMIT $1
        FOR UPDATE SKIP LOCKED
    )
    UPDATE update_inbox AS u
    SET attempts = u.attempts + 1, claimed_until = now() + $2::interval
    FROM heads
    WHERE u.bot_id = heads.bot_id AND u.update_id = heads.update_id
    RETURNING u.*
"""
_EXTEND = """
    UPDATE update_inbox SET claimed_until = now() + $3::interval
    WHERE bot_id = $1 AND update_id = ANY($2::bigint[]) AND claimed_until > now()
        AND NOT processed AND parked_reason IS NULL
"""
_RELEASE = """
    UPDATE update_inbox SET claimed_until = NULL
    WHERE bot_id = $1 AND update_id = $2 AND claimed_until IS NOT NULL
"""
_DONE = """
    UPDATE update_inbox SET processed = true, processed_at = now()
    WHERE bot_id = $1 AND update_id = $2 AND NOT processed AND parked_reason IS NULL
"""
_PARK = """
    UPDATE update_inbox SET parked_reason = $3, parked_at = now()
    WHERE bot_id = $1 AND update_id = $2 AND NOT processed AND parked_reason IS NULL
"""
_PARKED = """
    SELECT * FROM update_inbox WHERE parked_reason IS NOT NULL
    ORDER BY parked_at DESC, bot_id DESC, update_id DESC LIMIT $1
"""
_OLDEST_PENDING_AT = """
    SELECT min(received_at) FROM update_inbox WHERE NOT processed AND parked_reason IS NULL
"""
_PRUNE = "DELETE FROM update_inbox WHERE processed AND processed_at < $1"


@attrs.frozen
class PgInboxRepository(InboxRepository):
    """Updates in the ``update_inbox`` table, unique by (bot id, update id)."""

    _connection: PgConnection

    async def store(self, update: InboxUpdate) -> bool:
        with translated("update", f"{update.bot_id}/{update.update_id}"):
            stored = await self._connection.fetchrow(_STORE, *inbox_values(update))
        return stored is not None

    async def pending(self, *, limit: int) -> list[InboxUpdate]:
        with translated("update", "pending"):
            rows = await self._connection.fetch(_PENDING, max(limit, 0))
        return [inbox_update_from_row(row) for row in rows]

    async def claim(self, *, limit: int, lease: timedelta) -> list[InboxUpdate]:
        with translated("update", "claim"):
            rows = await self._connection.fetch(_CLAIM, max(limit, 0), lease)
        return sorted(
            (inbox_update_from_row(row) for row in rows), key=lambda u: (u.bot_id, u.update_id)
        )

    async def extend(self, bot_id: int, update_ids: Sequence[int], lease: timedelta) -> None:
        with translated("update", f"{bot_id}/extend"):
            await self._connection.execute(_EXTEND, bot_id, list(update_ids), lease)

    async def release(self, bot_id: int, update_id: int) -> None:
        with translated("update", f"{bot_id}/{update_id}"):
            await self._connection.execute(_RELEASE, bot_id, update_id)

    async def done(self, bot_id: int, update_id: int) -> None:
        with translated("update", f"{bot_id}/{update_id}"):
            await self._connection.execute(_DONE, bot_id, update_id)

    async def park(self, bot_id: int, update_id: int, reason: ReasonCode) -> None:
        with translated("update", f"{bot_id}/{update_id}"):
            await self._connection.execute(_PARK, bot_id, update_id, reason.value)

    async def parked(self, *, limit: int) -> list[tuple[InboxUpdate, ReasonCode]]:
        with translated("update", "parked"):
            rows = await self._connection.fetch(_PARKED, max(limit, 0))
        return [parked_update_from_row(row) for row in rows]

    async def oldest_pending_at(self) -> datetime | None:
        with translated("update", "oldest pending"):
            oldest: datetime | None = await self._connection.fetchval(_OLDEST_PENDING_AT)
        return oldest

    async def prune(self, before: datetime) -> int:
        with translated("update", f"done before {before.isoformat()}"):
            status = await self._connection.execute(_PRUNE, before)
        return affected_rows(status)
