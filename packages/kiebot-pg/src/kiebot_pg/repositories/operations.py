"""The operator's records in PostgreSQL: broadcasts, the audience, circuits, credits."""

from collections.abc import Sequence
from datetime import datetime, timedelta
from decimal import Decimal

import asyncpg
import attrs

from kiebot_core.domain.breakers import Circuit, CircuitState
from kiebot_core.domain.broadcasts import (
    Broadcast,
    BroadcastButton,
    BroadcastCounts,
    BroadcastId,
    BroadcastState,
    DeliveryState,
    Segment,
)
from kiebot_core.domain.credits import CreditsState
from kiebot_core.domain.ids import UserId
from kiebot_core.domain.reasons import ReasonCode
from kiebot_core.domain.texts import Language
from kiebot_core.ports.operations import (
    AudienceRepository,
    BroadcastRepository,
    CircuitRepository,
    CreditsRepository,
)
from kiebot_pg.errors import translated
from kiebot_pg.pool import PgConnection

# ------------------------------------------------------------------ the audience

_SELECT = """
    SELECT u.id FROM users u
    WHERE NOT u.is_banned AND u.blocked_at IS NULL
      AND ($1::text IS NULL OR u.language = $1)
      AND ($2::timestamptz IS NULL OR coalesce(u.last_seen_at, u.created_at) >= $2)
      AND ($3::boolean IS NULL
           OR EXISTS (SELECT 1 FROM payments p WHERE p.user_id = u.id) = $3)
    ORDER BY u.id
"""


@attrs.frozen
class PgAudienceRepository(AudienceRepository):
    """Segments of the ``users`` table; ``users.blocked_at`` marks who blocked the bot."""

    _connection: PgConnection

    async def select(self, segment: Segment) -> list[UserId]:
        language = None if segment.language is None else segment.language.value
        with translated("audience", "select"):
            rows = await self._connection.fetch(
                _SELECT, language, segment.active_since, segment.paid
            )
        return [UserId(row["id"]) for row in rows]

    async def mark_blocked(self, user_id: UserId, at: datetime) -> None:
        with translated("user", user_id):
            await self._connection.execute(
                "UPDATE users SET blocked_at = $2 WHERE id = $1 AND blocked_at IS NULL",
                user_id,
                at,
            )

    async def mark_reachable(self, user_id: UserId) -> None:
        with translated("user", user_id):
            await self._connection.execute(
                "UPDATE users SET blocked_at = NULL WHERE id = $1 AND blocked_at IS NOT NULL",
                user_id,
            )

    async def blocked_at(self, user_id: UserId) -> datetime | None:
        with translated("user", user_id):
            value: datetime | None = await self._connection.fetchval(
                "SELECT blocked_at FROM users WHERE id = $1", user_id
            )
        return value


# ------------------------------------------------------------------ broadcasts

_INSERT_BROADCAST = """
    INSERT INTO broadcasts (
        id, author_id, text, button_label, button_url, segment_language,
        segment_active_since, segment_paid, state, total, created_at, finished_at,
        report_chat_id, progress_message_id
    ) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
"""
# Each change of a stored broadcast writes its own columns only, under its own condition, so
# racing writers (the sender, an admin's Stop, the progress message) never undo each other.
_SET_PROGRESS_MESSAGE = """
    UPDATE broadcasts SET progress_message_id = $2 WHERE id = $1 RETURNING id
"""
_STOP = """
    UPDATE broadcasts SET state = 'cancelled'
    WHERE id = $1 AND state = 'sending'
    RETURNING *
"""
_FINISH = """
    UPDATE broadcasts
    SET state = CASE WHEN state = 'sending' THEN 'done' ELSE state END, finished_at = $2
    WHERE id = $1 AND finished_at IS NULL
    RETURNING *
"""
_INSERT_DELIVERIES = """
    INSERT INTO broadcast_deliveries (broadcast_id, user_id, seq)
    SELECT $1, recipient.user_id, recipient.seq - 1
    FROM unnest($2::bigint[]) WITH ORDINALITY AS recipient (user_id, seq)
"""
_CLAIM = """
    UPDATE broadcast_deliveries SET state = 'sending', at = $3
    WHERE broadcast_id = $1 AND user_id = $2 AND state = 'pending'
    RETURNING user_id
"""
_RECORD = """
    UPDATE broadcast_deliveries SET state = $3, at = $4, detail = $5
    WHERE broadcast_id = $1 AND user_id = $2
"""
_INTERRUPTED = """
    UPDATE broadcast_deliveries SET state = 'unconfirmed', at = $2
    WHERE broadcast_id = $1 AND state = 'sending'
"""


def _broadcast_values(broadcast: Broadcast) -> tuple[object, ...]:
    button, segment = broadcast.button, broadcast.segment
    return (
        broadcast.id,
        broadcast.author_id,
        broadcast.text,
        None if button is None else button.label,
        None if button is None else button.url,
        None if segment.language is None else segment.language.value,
        segment.active_since,
        segment.paid,
        broadcast.state.value,
        broadcast.total,
        broadcast.created_at,
        broadcast.finished_at,
        broadcast.report_chat_id,
        broadcast.progress_message_id,
    )


def _broadcast_from_row(row: asyncpg.Record) -> Broadcast:
    label, url = row["button_label"], row["button_url"]
    language = row["segment_language"]
    return Broadcast(
        id=BroadcastId(row["id"]),
        author_id=UserId(row["author_id"]),
        text=row["text"],
        button=None if label is None or url is None else BroadcastButton(label, url),
        segment=Segment(
            language=None if language is None else Language(language),
            active_since=row["segment_active_since"],
            paid=row["segment_paid"],
        ),
        state=BroadcastState(row["state"]),
        total=row["total"],
        created_at=row["created_at"],
        finished_at=row["finished_at"],
        report_chat_id=row["report_chat_id"],
        progress_message_id=row["progress_message_id"],
    )


@attrs.frozen
class PgBroadcastRepository(BroadcastRepository):
    """Broadcasts in ``broadcasts``; one row per recipient in ``broadcast_deliveries``."""

    _connection: PgConnection

    async def add(self, broadcast: Broadcast, recipients: Sequence[UserId]) -> None:
        unique = list(dict.fromkeys(recipients))
        with translated("broadcast", broadcast.id):
            await self._connection.execute(_INSERT_BROADCAST, *_broadcast_values(broadcast))
            await self._connection.execute(_INSERT_DELIVERIES, broadcast.id, unique)

    async def get(self, broadcast_id: BroadcastId) -> Broadcast | None:
        with translated("broadcast", broadcast_id):
            row = await self._connection.fetchrow(
                "SELECT * FROM broadcasts WHERE id = $1", broadcast_id
            )
        return None if row is None else _broadcast_from_row(row)

    async def set_progress_message(self, broadcast_id: BroadcastId, message_id: int) -> bool:
        with translated("broadcast", broadcast_id):
            row = await self._connection.fetchrow(_SET_PROGRESS_MESSAGE, broadcast_id, message_id)
        return row is not None

    async def stop(self, broadcast_id: BroadcastId) -> Broadcast | None:
        with translated("broadcast", broadcast_id):
            row = await self._connection.fetchrow(_STOP, broadcast_id)
        return None if row is None else _broadcast_from_row(row)

    async def finish(self, broadcast_id: BroadcastId, at: datetime) -> Broadcast | None:
        with translated("broadcast", broadcast_id):
            row = await self._connection.fetchrow(_FINISH, broadcast_id, at)
        return None if row is None else _broadcast_from_row(row)

    async def unfinished(self) -> list[Broadcast]:
        with translated("broadcast", "unfinished"):
            rows = await self._connection.fetch(
                "SELECT * FROM broadcasts WHERE finished_at IS NULL ORDER BY created_at, id"
            )
        return [_broadcast_from_row(row) for row in rows]

    async def recent(self, *, limit: int) -> list[Broadcast]:
        with translated("broadcast", "recent"):
            rows = await self._connection.fetch(
                "SELECT * FROM broadcasts ORDER BY created_at DESC, id DESC LIMIT $1",
                max(limit, 0),
            )
        return [_broadcast_from_row(row) for row in rows]

    async def pending(self, broadcast_id: BroadcastId, *, limit: int) -> list[UserId]:
        with translated("broadcast", broadcast_id):
            rows = await self._connection.fetch(
                """
                SELECT user_id FROM broadcast_deliveries
                WHERE broadcast_id = $1 AND state = 'pending' ORDER BY seq LIMIT $2
                """,
                broadcast_id,
                max(limit, 0),
            )
        return [UserId(row["user_id"]) for row in rows]

    async def claim(self, broadcast_id: BroadcastId, user_id: UserId, at: datetime) -> bool:
        with translated("broadcast delivery", f"{broadcast_id}/{user_id}"):
            claimed = await self._connection.fetchrow(_CLAIM, broadcast_id, user_id, at)
        return claimed is not None

    async def record(
        self,
        broadcast_id: BroadcastId,
        user_id: UserId,
        state: DeliveryState,
        at: datetime,
        detail: str = "",
    ) -> None:
        with translated("broadcast delivery", f"{broadcast_id}/{user_id}"):
            await self._connection.execute(_RECORD, broadcast_id, user_id, state.value, at, detail)

    async def interrupted(self, broadcast_id: BroadcastId, at: datetime) -> int:
        with translated("broadcast", broadcast_id):
            status = await self._connection.execute(_INTERRUPTED, broadcast_id, at)
        return int(status.split()[-1])

    async def counts(self, broadcast_id: BroadcastId) -> BroadcastCounts:
        with translated("broadcast", broadcast_id):
            rows = await self._connection.fetch(
                """
                SELECT state, count(*) AS n FROM broadcast_deliveries
                WHERE broadcast_id = $1 GROUP BY state
                """,
                broadcast_id,
            )
        return BroadcastCounts(**{row["state"]: row["n"] for row in rows})


# ------------------------------------------------------------------ circuits

_LOCK_MODEL = "SELECT pg_advisory_xact_lock(hashtextextended('kiebot:circuit:' || $1, 0))"
_UPSERT_CIRCUIT = """
    INSERT INTO model_circuits (
        model_id, state, trips, reason, detail, failures, changed_at, retry_at
    ) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
    ON CONFLICT (model_id) DO UPDATE SET
        state = excluded.state, trips = excluded.trips, reason = excluded.reason,
        detail = excluded.detail, failures = excluded.failures,
        changed_at = excluded.changed_at, retry_at = excluded.retry_at
"""

# Compare-and-set: a row an admin's switch deleted, or a failure moved, meanwhile is left alone
# (READ COMMITTED re-checks the condition on the newest row version after waiting for it).
_MATCHES = "model_id = $1 AND state = $2 AND trips = $3 AND changed_at = $4"
_CLOSE_IF = f"DELETE FROM model_circuits WHERE {_MATCHES} RETURNING model_id"  # noqa: S608  # constant SQL
_REPLACE_IF = f"""
    UPDATE model_circuits SET
        state = $5, trips = $6, reason = $7, detail = $8, failures = $9,
        changed_at = $10, retry_at = $11
    WHERE {_MATCHES}
    RETURNING model_id
"""  # noqa: S608  # constant SQL


def _circuit_from_row(row: asyncpg.Record) -> Circuit:
    return Circuit(
        model_id=row["model_id"],
        state=CircuitState(row["state"]),
        trips=row["trips"],
        reason=ReasonCode(row["reason"]),
        detail=row["detail"],
        failures=row["failures"],
        changed_at=row["changed_at"],
        retry_at=row["retry_at"],
    )


@attrs.frozen
class PgCircuitRepository(CircuitRepository):
    """Circuits in ``model_circuits``; failures in ``model_failures``."""

    _connection: PgConnection

    async def failure(self, model_id: str, at: datetime, window: timedelta) -> int:
        since = at - window
        with translated("model failure", model_id):
            # Held to the end of the transaction: one decision per model at a time.
            await self._connection.execute(_LOCK_MODEL, model_id)
            await self._connection.execute(
                "DELETE FROM model_failures WHERE model_id = $1 AND at <= $2", model_id, since
            )
            await self._connection.execute(
                "INSERT INTO model_failures (model_id, at) VALUES ($1, $2)", model_id, at
            )
            counted: int = await self._connection.fetchval(
                "SELECT count(*) FROM model_failures WHERE model_id = $1 AND at > $2 AND at <= $3",
                model_id,
                since,
                at,
            )
        return counted

    async def get(self, model_id: str) -> Circuit | None:
        with translated("circuit", model_id):
            row = await self._connection.fetchrow(
                "SELECT * FROM model_circuits WHERE model_id = $1", model_id
            )
        return None if row is None else _circuit_from_row(row)

    async def put(self, circuit: Circuit) -> None:
        with translated("circuit", circuit.model_id):
            await self._connection.execute(
                _UPSERT_CIRCUIT,
                circuit.model_id,
                circuit.state.value,
                circuit.trips,
                circuit.reason.value,
                circuit.detail,
                circuit.failures,
                circuit.changed_at,
                circuit.retry_at,
            )

    async def remove(self, model_id: str) -> bool:
        with translated("circuit", model_id):
            removed = await self._connection.fetchrow(
                "DELETE FROM model_circuits WHERE model_id = $1 RETURNING model_id", model_id
            )
        return removed is not None

    async def replace(self, expected: Circuit, circuit: Circuit | None) -> bool:
        if circuit is not None and circuit.model_id != expected.model_id:
            raise ValueError(f"{circuit.model_id} cannot replace {expected.model_id}")
        matches = (
            expected.model_id,
            expected.state.value,
            expected.trips,
            expected.changed_at,
        )
        with translated("circuit", expected.model_id):
            if circuit is None:
                row = await self._connection.fetchrow(_CLOSE_IF, *matches)
            else:
                row = await self._connection.fetchrow(
                    _REPLACE_IF,
                    *matches,
                    circuit.state.value,
                    circuit.trips,
                    circuit.reason.value,
                    circuit.detail,
                    circuit.failures,
                    circuit.changed_at,
                    circuit.retry_at,
                )
        return row is not None

    async def all(self) -> list[Circuit]:
        with translated("circuit", "all"):
            rows = await self._connection.fetch("SELECT * FROM model_circuits ORDER BY model_id")
        return [_circuit_from_row(row) for row in rows]


# ------------------------------------------------------------------ credits

_LOCK_CREDITS = "SELECT pg_advisory_xact_lock(hashtextextended('kiebot:provider_credits', 0))"
_PUT_CREDITS = """
    INSERT INTO provider_credits (id, credits, checked_at, is_low, is_paused)
    VALUES (1, $1, $2, $3, $4)
    ON CONFLICT (id) DO UPDATE SET
        credits = excluded.credits, checked_at = excluded.checked_at,
        is_low = excluded.is_low, is_paused = excluded.is_paused
"""


@attrs.frozen
class PgCreditsRepository(CreditsRepository):
    """The one row of ``provider_credits``."""

    _connection: PgConnection

    async def get(self, *, for_update: bool = False) -> CreditsState | None:
        with translated("provider credits", 1):
            if for_update:
                await self._connection.execute(_LOCK_CREDITS)
            row = await self._connection.fetchrow("SELECT * FROM provider_credits WHERE id = 1")
        if row is None:
            return None
        return CreditsState(
            credits=Decimal(row["credits"]),
            checked_at=row["checked_at"],
            is_low=row["is_low"],
            is_paused=row["is_paused"],
        )

    async def put(self, state: CreditsState) -> None:
        with translated("provider credits", 1):
            await self._connection.execute(
                _PUT_CREDITS, state.credits, state.checked_at, state.is_low, state.is_paused
            )
