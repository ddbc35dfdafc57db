"""In-memory fakes of the operator ports: broadcasts, the audience, circuits, credits, alerts.

The repositories work on the containers of a ``MemoryUnitOfWork``'s state (see
``kiebot_core.testing.memory``), so they share its transaction and rollback semantics; every
stored value is frozen, so the state's shallow copies are full snapshots.
"""

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta

import attrs

from kiebot_core.domain.alerts import AdminAlert
from kiebot_core.domain.breakers import Circuit, same_circuit
from kiebot_core.domain.broadcasts import (
    Broadcast,
    BroadcastCounts,
    BroadcastId,
    BroadcastState,
    Delivered,
    DeliveryState,
    Segment,
    SendOutcome,
)
from kiebot_core.domain.credits import CreditsState
from kiebot_core.domain.errors import DuplicateError
from kiebot_core.domain.ids import PaymentChargeId, UserId
from kiebot_core.domain.payments import Payment
from kiebot_core.domain.users import User
from kiebot_core.ports.operations import (
    AdminNotifier,
    AudienceRepository,
    BroadcastChannel,
    BroadcastRepository,
    CircuitRepository,
    CreditsRepository,
)

CREDITS_KEY = "provider"


@attrs.frozen
class StoredDelivery:
    """One recipient's delivery as the memory store keeps it."""

    seq: int
    state: DeliveryState = DeliveryState.PENDING
    at: datetime | None = None
    detail: str = ""


@attrs.define
class MemoryAudienceRepository(AudienceRepository):
    """Segments computed from the stored users and payments."""

    _users: Mapping[UserId, User]
    _payments: Mapping[PaymentChargeId, Payment]
    _blocked: dict[UserId, datetime]

    async def select(self, segment: Segment) -> list[UserId]:
        payers = {payment.user_id for payment in self._payments.values()}
        found = []
        for user in self._users.values():
            if user.is_banned or user.id in self._blocked:
                continue
            if segment.language is not None and user.language is not segment.language:
                continue
            active_at = user.last_seen_at or user.created_at
            if segment.active_since is not None and active_at < segment.active_since:
                continue
            if segment.paid is not None and (user.id in payers) is not segment.paid:
                continue
            found.append(user.id)
        return sorted(found)

    async def mark_blocked(self, user_id: UserId, at: datetime) -> None:
        if user_id in self._users and user_id not in self._blocked:
            self._blocked[user_id] = at

    async def mark_reachable(self, user_id: UserId) -> None:
        self._blocked.pop(user_id, None)

    async def blocked_at(self, user_id: UserId) -> datetime | None:
        return self._blocked.get(user_id)


@attrs.define
class MemoryBroadcastRepository(BroadcastRepository):
    """Broadcasts by id; deliveries by (broadcast, user)."""

    _broadcasts: dict[BroadcastId, Broadcast]
    _deliveries: dict[tuple[BroadcastId, UserId], StoredDelivery]

    async def add(self, broadcast: Broadcast, recipients: Sequence[UserId]) -> None:
        if broadcast.id in self._broadcasts:
            raise DuplicateError("broadcast", broadcast.id)
        self._broadcasts[broadcast.id] = broadcast
        for seq, user_id in enumerate(dict.fromkeys(recipients)):
            self._deliveries[broadcast.id, user_id] = StoredDelivery(seq)

    async def get(self, broadcast_id: BroadcastId) -> Broadcast | None:
        return self._broadcasts.get(broadcast_id)

    async def set_progress_message(self, broadcast_id: BroadcastId, message_id: int) -> bool:
        stored = self._broadcasts.get(broadcast_id)
        if stored is None:
            return False
        self._broadcasts[broadcast_id] = attrs.evolve(stored, progress_message_id=message_id)
        return True

    async def stop(self, broadcast_id: BroadcastId) -> Broadcast | None:
        stored = self._broadcasts.get(broadcast_id)
        if stored is None or stored.state is not BroadcastState.SENDING:
            return None
        self._broadcasts[broadcast_id] = stopped = stored.stopped()
        return stopped

    async def finish(self, broadcast_id: BroadcastId, at: datetime) -> Broadcast | None:
        stored = self._broadcasts.get(broadcast_id)
        if stored is None or stored.finished_at is not None:
            return None
        state = BroadcastState.DONE
        if stored.state is BroadcastState.CANCELLED:
            state = BroadcastState.CANCELLED
        self._broadcasts[broadcast_id] = finished = stored.finished(state, at)
        return finished

    async def unfinished(self) -> list[Broadcast]:
        live = [b for b in self._broadcasts.values() if b.finished_at is None]
        return sorted(live, key=lambda b: (b.created_at, b.id))

    async def recent(self, *, limit: int) -> list[Broadcast]:
        ordered = sorted(self._broadcasts.values(), key=lambda b: (b.created_at, b.id))
        return ordered[::-1][: max(limit, 0)]

    def _of(self, broadcast_id: BroadcastId) -> list[tuple[UserId, StoredDelivery]]:
        found = [(user, d) for (b, user), d in self._deliveries.items() if b == broadcast_id]
        return sorted(found, key=lambda item: item[1].seq)

    async def pending(self, broadcast_id: BroadcastId, *, limit: int) -> list[UserId]:
        waiting = [u for u, d in self._of(broadcast_id) if d.state is DeliveryState.PENDING]
        return waiting[: max(limit, 0)]

    async def claim(self, broadcast_id: BroadcastId, user_id: UserId, at: datetime) -> bool:
        stored = self._deliveries.get((broadcast_id, user_id))
        if stored is None or stored.state is not DeliveryState.PENDING:
            return False
        self._deliveries[broadcast_id, user_id] = attrs.evolve(
            stored, state=DeliveryState.SENDING, at=at
        )
        return True

    async def record(
        self,
        broadcast_id: BroadcastId,
        user_id: UserId,
        state: DeliveryState,
        at: datetime,
        detail: str = "",
    ) -> None:
        stored = self._deliveries.get((broadcast_id, user_id))
        if stored is not None:
            self._deliveries[broadcast_id, user_id] = attrs.evolve(
                stored, state=state, at=at, detail=detail
            )

    async def interrupted(self, broadcast_id: BroadcastId, at: datetime) -> int:
        moved = 0
        for user, stored in self._of(broadcast_id):
            if stored.state is DeliveryState.SENDING:
                self._deliveries[broadcast_id, user] = attrs.evolve(
                    stored, state=DeliveryState.UNCONFIRMED, at=at
                )
                moved += 1
        return moved

    async def counts(self, broadcast_id: BroadcastId) -> BroadcastCounts:
        tally = dict.fromkeys(DeliveryState, 0)
        for _, stored in self._of(broadcast_id):
            tally[stored.state] += 1
        return BroadcastCounts(**{state.value: count for state, count in tally.items()})


@attrs.define
class MemoryCircuitRepository(CircuitRepository):
    """Circuits by model id; failures in a list of (model id, time)."""

    _circuits: dict[str, Circuit]
    _failures: list[tuple[str, datetime]]

    async def failure(self, model_id: str, at: datetime, window: timedelta) -> int:
        since = at - window
        kept = [(m, when) for m, when in self._failures if m != model_id or when > since]
        kept.append((model_id, at))
        self._failures[:] = kept
        return sum(1 for m, when in kept if m == model_id and since < when <= at)

    async def get(self, model_id: str) -> Circuit | None:
        return self._circuits.get(model_id)

    async def put(self, circuit: Circuit) -> None:
        self._circuits[circuit.model_id] = circuit

    async def remove(self, model_id: str) -> bool:
        return self._circuits.pop(model_id, None) is not None

    async def replace(self, expected: Circuit, circuit: Circuit | None) -> bool:
        if circuit is not None and circuit.model_id != expected.model_id:
            raise ValueError(f"{circuit.model_id} cannot replace {expected.model_id}")
        stored = self._circuits.get(expected.model_id)
        if stored is None or not same_circuit(stored, expected):
            return False
        if circuit is None:
            del self._circuits[expected.model_id]
        else:
            self._circuits[expected.model_id] = circuit
        return True

    async def all(self) -> list[Circuit]:
        return [self._circuits[model_id] for model_id in sorted(self._circuits)]


@attrs.define
class MemoryCreditsRepository(CreditsRepository):
    """The one credits record, under ``CREDITS_KEY``."""

    _credits: dict[str, CreditsState]

    async def get(self, *, for_update: bool = False) -> CreditsState | None:  # noqa: ARG002  # one transaction at a time
        return self._credits.get(CREDITS_KEY)

    async def put(self, state: CreditsState) -> None:
        self._credits[CREDITS_KEY] = state


@attrs.define
class RecordingAdminNotifier(AdminNotifier):
    """Keeps every alert in ``sent`` and reports ``admins`` admins reached."""

    admins: int = 1
    sent: list[AdminAlert] = attrs.field(factory=list)

    async def notify(self, alert: AdminAlert) -> int:
        self.sent.append(alert)
        return self.admins


@attrs.define
class ScriptedBroadcastChannel(BroadcastChannel):
    """Answers each send from a per-user FIFO script (``Delivered`` when it runs out).

    ``sent`` lists every send attempt as (broadcast id, user id) in order; ``reports`` every
    progress and final report as (``"progress"`` or ``"finished"``, counts).
    """

    scripts: dict[UserId, list[SendOutcome]] = attrs.field(factory=dict)
    sent: list[tuple[BroadcastId, UserId]] = attrs.field(factory=list)
    reports: list[tuple[str, BroadcastCounts]] = attrs.field(factory=list)

    async def send(self, broadcast: Broadcast, user_id: UserId) -> SendOutcome:
        self.sent.append((broadcast.id, user_id))
        script = self.scripts.get(user_id)
        return script.pop(0) if script else Delivered()

    async def progress(self, broadcast: Broadcast, counts: BroadcastCounts) -> None:  # noqa: ARG002
        self.reports.append(("progress", counts))

    async def finished(self, broadcast: Broadcast, counts: BroadcastCounts) -> None:  # noqa: ARG002
        self.reports.append(("finished", counts))
