"""The operator's records in SQLite: broadcasts, the audience, circuits, credits.

Units of work hold SQLite's write lock for their whole life, so the "one at a time" promises
of the ports hold without further locking.
"""

import sqlite3
from collections.abc import Sequence
from datetime import datetime, timedelta
from decimal import Decimal

import aiosqlite
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
from kiebot_sqlite.connection import execute, fetch_all, fetch_one
from kiebot_sqlite.errors import translated
from kiebot_sqlite.rows import moment_from, timestamp


def _moment(text: str | None) -> datetime | None:
    return None if text is None else moment_from(text)


def _stamp(moment: datetime | None) -> str | None:
    return None if moment is None else timestamp(moment)


# ------------------------------------------------------------------ the audience

_SELECT = """
    SELECT u.id FROM users u
    WHERE NOT u.is_banned AND u.blocked_at IS NULL
      AND (?1 IS NULL OR u.language = ?1)
      AND (?2 IS NULL OR coalesce(u.last_seen_at, u.created_at) >= ?2)
      AND (?3 IS NULL OR EXISTS (SELECT 1 FROM payments p WHERE p.user_id = u.id) = ?3)
    ORDER BY u.id
"""


@attrs.frozen
class SqliteAudienceRepository(AudienceRepository):
    """Segments of the ``users`` table; ``users.blocked_at`` marks who blocked the bot."""

    _connection: aiosqlite.Connection

    async def select(self, segment: Segment) -> list[UserId]:
        language = None if segment.language is None else segment.language.value
        paid = None if segment.paid is None else int(segment.paid)
        with translated("audience", "select"):
            rows = await fetch_all(
                self._connection, _SELECT, (language, _stamp(segment.active_since), paid)
            )
        return [UserId(row["id"]) for row in rows]

    async def mark_blocked(self, user_id: UserId, at: datetime) -> None:
        with translated("user", user_id):
            await execute(
                self._connection,
                "UPDATE users SET blocked_at = ? WHERE id = ? AND blocked_at IS NULL",
                (timestamp(at), user_id),
            )

    async def mark_reachable(self, user_id: UserId) -> None:
        with translated("user", user_id):
            await execute(
                self._connection, "UPDATE users SET blocked_at = NULL WHERE id = ?", (user_id,)
            )

    async def blocked_at(self, user_id: UserId) -> datetime | None:
        with translated("user", user_id):
            row = await fetch_one(
                self._connection, "SELECT blocked_at FROM users WHERE id = ?", (user_id,)
            )
        return None if row is None else _moment(row["blocked_at"])


# ------------------------------------------------------------------ broadcasts

_INSERT_BROADCAST = """
    INSERT INTO broadcasts (
        id, author_id, text, button_label, button_url, segment_language,
        segment_active_since, segment_paid, state, total, created_at, finished_at,
        report_chat_id, progress_message_id
    ) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)
"""
# Each change of a stored broadcast writes its own columns only, under its own condition (as
# in PostgreSQL, where writers really race).
_STOP = """
    UPDATE broadcasts SET state = 'cancelled'
    WHERE id = ? AND state = 'sending'
    RETURNING *
"""
_FINISH = """
    UPDATE broadcasts
    SET state = CASE WHEN state = 'sending' THEN 'done' ELSE state END, finished_at = ?2
    WHERE id = ?1 AND finished_at IS NULL
    RETURNING *
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
        _stamp(segment.active_since),
        None if segment.paid is None else int(segment.paid),
        broadcast.state.value,
        broadcast.total,
        timestamp(broadcast.created_at),
        _stamp(broadcast.finished_at),
        broadcast.report_chat_id,
        broadcast.progress_message_id,
    )


def _broadcast_from_row(row: sqlite3.Row) -> Broadcast:
    label, url = row["button_label"], row["button_url"]
    language, paid = row["segment_language"], row["segment_paid"]
    return Broadcast(
        id=BroadcastId(row["id"]),
        author_id=UserId(row["author_id"]),
        text=row["text"],
        button=None if label is None or url is None else BroadcastButton(label, url),
        segment=Segment(
            language=None if language is None else Language(language),
            active_since=_moment(row["segment_active_since"]),
            paid=None if paid is None else bool(paid),
        ),
        state=BroadcastState(row["state"]),
        total=row["total"],
        created_at=moment_from(row["created_at"]),
        finished_at=_moment(row["finished_at"]),
        report_chat_id=row["report_chat_id"],
        progress_message_id=row["progress_message_id"],
    )


@attrs.frozen
class SqliteBroadcastRepository(BroadcastRepository):
    """Broadcasts in ``broadcasts``; one row per recipient in ``broadcast_deliveries``."""

    _connection: aiosqlite.Connection

    async def add(self, broadcast: Broadcast, recipients: Sequence[UserId]) -> None:
        unique = list(dict.fromkeys(recipients))
        with translated("broadcast", broadcast.id):
            await execute(self._connection, _INSERT_BROADCAST, _broadcast_values(broadcast))
            await self._connection.executemany(
                "INSERT INTO broadcast_deliveries (broadcast_id, user_id, seq) VALUES (?, ?, ?)",
                [(broadcast.id, user_id, seq) for seq, user_id in enumerate(unique)],
            )

    async def get(self, broadcast_id: BroadcastId) -> Broadcast | None:
        with translated("broadcast", broadcast_id):
            row = await fetch_one(
                self._connection, "SELECT * FROM broadcasts WHERE id = ?", (broadcast_id,)
            )
        return None if row is None else _broadcast_from_row(row)

    async def set_progress_message(self, broadcast_id: BroadcastId, message_id: int) -> bool:
        with translated("broadcast", broadcast_id):
            changed = await execute(
                self._connection,
                "UPDATE broadcasts SET progress_message_id = ? WHERE id = ?",
                (message_id, broadcast_id),
            )
        return changed > 0

    async def stop(self, broadcast_id: BroadcastId) -> Broadcast | None:
        with translated("broadcast", broadcast_id):
            row = await fetch_one(self._connection, _STOP, (broadcast_id,))
        return None if row is None else _broadcast_from_row(row)

    async def finish(self, broadcast_id: BroadcastId, at: datetime) -> Broadcast | None:
        with translated("broadcast", broadcast_id):
            row = await fetch_one(self._connection, _FINISH, (broadcast_id, timestamp(at)))
        return None if row is None else _broadcast_from_row(row)

    async def unfinished(self) -> list[Broadcast]:
        with translated("broadcast", "unfinished"):
            rows = await fetch_all(
                self._connection,
                "SELECT * FROM broadcasts WHERE finished_at IS NULL ORDER BY created_at, id",
            )
        return [_broadcast_from_row(row) for row in rows]

    async def recent(self, *, limit: int) -> list[Broadcast]:
        with translated("broadcast", "recent"):
            rows = await fetch_all(
                self._connection,
                "SELECT * FROM broadcasts ORDER BY created_at DESC, id DESC LIMIT ?",
                (max(limit, 0),),
            )
        return [_broadcast_from_row(row) for row in rows]

    async def pending(self, broadcast_id: BroadcastId, *, limit: int) -> list[UserId]:
        with translated("broadcast", broadcast_id):
            rows = await fetch_all(
                self._connection,
                """
                SELECT user_id FROM broadcast_deliveries
                WHERE broadcast_id = ? AND state = 'pending' ORDER BY seq LIMIT ?
                """,
                (broadcast_id, max(limit, 0)),
            )
        return [UserId(row["user_id"]) for row in rows]

    async def claim(self, broadcast_id: BroadcastId, user_id: UserId, at: datetime) -> bool:
        with translated("broadcast delivery", f"{broadcast_id}/{user_id}"):
            claimed = await execute(
                self._connection,
                """
                UPDATE broadcast_deliveries SET state = 'sending', at = ?
                WHERE broadcast_id = ? AND user_id = ? AND state = 'pending'
                """,
                (timestamp(at), broadcast_id, user_id),
            )
        return claimed > 0

    async def record(
        self,
        broadcast_id: BroadcastId,
        user_id: UserId,
        state: DeliveryState,
        at: datetime,
        detail: str = "",
    ) -> None:
        with translated("broadcast delivery", f"{broadcast_id}/{user_id}"):
            await execute(
                self._connection,
                """
                UPDATE broadcast_deliveries SET state = ?, at = ?, detail = ?
                WHERE broadcast_id = ? AND user_id = ?
                """,
                (state.value, timestamp(at), detail, broadcast_id, user_id),
            )

    async def interrupted(self, broadcast_id: BroadcastId, at: datetime) -> int:
        with translated("broadcast", broadcast_id):
            return await execute(
                self._connection,
                """
                UPDATE broadcast_deliveries SET state = 'unconfirmed', at = ?
                WHERE broadcast_id = ? AND state = 'sending'
                """,
                (timestamp(at), broadcast_id),
            )

    async def counts(self, broadcast_id: BroadcastId) -> BroadcastCounts:
        with translated("broadcast", broadcast_id):
            rows = await fetch_all(
                self._connection,
                """
                SELECT state, count(*) AS n FROM broadcast_deliveries
                WHERE broadcast_id = ? GROUP BY state
                """,
                (broadcast_id,),
            )
        return BroadcastCounts(**{row["state"]: row["n"] for row in rows})


# ------------------------------------------------------------------ circuits

_UPSERT_CIRCUIT = """
    INSERT INTO model_circuits (
        model_id, state, trips, reason, detail, failures, changed_at, retry_at
    ) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT (model_id) DO UPDATE SET
        state = excluded.state, trips = excluded.trips, reason = excluded.reason,
        detail = excluded.detail, failures = excluded.failures,
        changed_at = excluded.changed_at, retry_at = excluded.retry_at
"""

_MATCHES = "model_id = ?1 AND state = ?2 AND trips = ?3 AND changed_at = ?4"
_CLOSE_IF = f"DELETE FROM model_circuits WHERE {_MATCHES}"  # noqa: S608  # constant SQL
_REPLACE_IF = f"""
    UPDATE model_circuits SET
        state = ?5, trips = ?6, reason = ?7, detail = ?8, failures = ?9,
        changed_at = ?10, retry_at = ?11
    WHERE {_MATCHES}
"""  # noqa: S608  # constant SQL


def _circuit_from_row(row: sqlite3.Row) -> Circuit:
    return Circuit(
        model_id=row["model_id"],
        state=CircuitState(row["state"]),
        trips=row["trips"],
        reason=ReasonCode(row["reason"]),
        detail=row["detail"],
        failures=row["failures"],
        changed_at=moment_from(row["changed_at"]),
        retry_at=moment_from(row["retry_at"]),
    )


@attrs.frozen
class SqliteCircuitRepository(CircuitRepository):
    """Circuits in ``model_circuits``; failures in ``model_failures``."""

    _connection: aiosqlite.Connection

    async def failure(self, model_id: str, at: datetime, window: timedelta) -> int:
        since, now = timestamp(at - window), timestamp(at)
        with translated("model failure", model_id):
            await execute(
                self._connection,
                "DELETE FROM model_failures WHERE model_id = ? AND at <= ?",
                (model_id, since),
            )
            await execute(
                self._connection,
                "INSERT INTO model_failures (model_id, at) VALUES (?, ?)",
                (model_id, now),
            )
            row = await fetch_one(
                self._connection,
                """
                SELECT count(*) AS n FROM model_failures
                WHERE model_id = ? AND at > ? AND at <= ?
                """,
                (model_id, since, now),
            )
        return 0 if row is None else int(row["n"])

    async def get(self, model_id: str) -> Circuit | None:
        with translated("circuit", model_id):
            row = await fetch_one(
                self._connection, "SELECT * FROM model_circuits WHERE model_id = ?", (model_id,)
            )
        return None if row is None else _circuit_from_row(row)

    async def put(self, circuit: Circuit) -> None:
        with translated("circuit", circuit.model_id):
            await execute(
                self._connection,
                _UPSERT_CIRCUIT,
                (
                    circuit.model_id,
                    circuit.state.value,
                    circuit.trips,
                    circuit.reason.value,
                    circuit.detail,
                    circuit.failures,
                    timestamp(circuit.changed_at),
                    timestamp(circuit.retry_at),
                ),
            )

    async def remove(self, model_id: str) -> bool:
        with translated("circuit", model_id):
            removed = await execute(
                self._connection, "DELETE FROM model_circuits WHERE model_id = ?", (model_id,)
            )
        return removed > 0

    async def replace(self, expected: Circuit, circuit: Circuit | None) -> bool:
        if circuit is not None and circuit.model_id != expected.model_id:
            raise ValueError(f"{circuit.model_id} cannot replace {expected.model_id}")
        matches = (
            expected.model_id,
            expected.state.value,
            expected.trips,
            timestamp(expected.changed_at),
        )
        with translated("circuit", expected.model_id):
            if circuit is None:
                changed = await execute(self._connection, _CLOSE_IF, matches)
            else:
                changed = await execute(
                    self._connection,
                    _REPLACE_IF,
                    (
                        *matches,
                        circuit.state.value,
                        circuit.trips,
                        circuit.reason.value,
                        circuit.detail,
                        circuit.failures,
                        timestamp(circuit.changed_at),
                        timestamp(circuit.retry_at),
                    ),
                )
        return changed > 0

    async def all(self) -> list[Circuit]:
        with translated("circuit", "all"):
            rows = await fetch_all(
                self._connection, "SELECT * FROM model_circuits ORDER BY model_id"
            )
        return [_circuit_from_row(row) for row in rows]


# ------------------------------------------------------------------ credits

_PUT_CREDITS = """
    INSERT INTO provider_credits (id, credits, checked_at, is_low, is_paused)
    VALUES (1, ?, ?, ?, ?)
    ON CONFLICT (id) DO UPDATE SET
        credits = excluded.credits, checked_at = excluded.checked_at,
        is_low = excluded.is_low, is_paused = excluded.is_paused
"""


@attrs.frozen
class SqliteCreditsRepository(CreditsRepository):
    """The one row of ``provider_credits``."""

    _connection: aiosqlite.Connection

    async def get(self, *, for_update: bool = False) -> CreditsState | None:  # noqa: ARG002  # the write lock is held
        with translated("provider credits", 1):
            row = await fetch_one(self._connection, "SELECT * FROM provider_credits WHERE id = 1")
        if row is None:
            return None
        return CreditsState(
            credits=Decimal(row["credits"]),
            checked_at=moment_from(row["checked_at"]),
            is_low=bool(row["is_low"]),
            is_paused=bool(row["is_paused"]),
        )

    async def put(self, state: CreditsState) -> None:
        if not state.credits.is_finite():
            raise ValueError(f"refusing to store the non-finite amount {state.credits}")
        with translated("provider credits", 1):
            await execute(
                self._connection,
                _PUT_CREDITS,
                (
                    str(state.credits),
                    timestamp(state.checked_at),
                    int(state.is_low),
                    int(state.is_paused),
                ),
            )
