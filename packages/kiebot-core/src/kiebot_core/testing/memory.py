"""In-memory storage: a complete, boring implementation of every storage port.

A ``MemoryUnitOfWork`` holds the database's lock for its whole life (transactions run one
after another, like SERIALIZABLE ones that never conflict) and works on a copy of the state,
which replaces the shared state only on ``commit``: rollback semantics match PostgreSQL's.
"""

import asyncio
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from types import TracebackType
from typing import Self

import attrs

from kiebot_core.domain.audit import AuditEntry
from kiebot_core.domain.breakers import Circuit
from kiebot_core.domain.broadcasts import Broadcast, BroadcastId
from kiebot_core.domain.catalog import JsonValue
from kiebot_core.domain.catalog_sync import CatalogVersion
from kiebot_core.domain.coordination import Conversation, InboxUpdate, Lease, SentMessage
from kiebot_core.domain.credits import CreditsState
from kiebot_core.domain.errors import DuplicateError, NotFoundError, StaleWriteError
from kiebot_core.domain.favorites import Favorite
from kiebot_core.domain.figures import (
    GenerationKey,
    InFlightKey,
    OperationsSnapshot,
    OperationsTotals,
    QueueFigures,
)
from kiebot_core.domain.generation import Generation, GenerationState
from kiebot_core.domain.ids import (
    CorrelationId,
    FavoriteId,
    GenerationId,
    IdempotencyKey,
    JobId,
    OrderId,
    PaymentChargeId,
    ProviderTaskId,
    UserId,
)
from kiebot_core.domain.jobs import CLAIM_TIMEOUT, Job
from kiebot_core.domain.json_values import checked_json
from kiebot_core.domain.ledger import AccountKind, Balance, LedgerKind, LedgerTransaction
from kiebot_core.domain.margin import DeliveredRun, ModelMargin, margins
from kiebot_core.domain.payments import Order, Payment, PaymentState
from kiebot_core.domain.privacy import ForgottenUser
from kiebot_core.domain.promotions import PromoCode, ReferralSummary
from kiebot_core.domain.reasons import ReasonCode
from kiebot_core.domain.stats import (
    Activity,
    Funnel,
    MoneyFigures,
    UserFigures,
    model_runs,
    percentiles,
)
from kiebot_core.domain.telemetry import TASK_TAG, UPDATE_TAG, Event
from kiebot_core.domain.users import User
from kiebot_core.ports.runtime import Clock, SystemClock
from kiebot_core.ports.storage import (
    AuditRepository,
    ConversationRepository,
    EventRepository,
    FavoriteRepository,
    FreeRunRepository,
    GenerationRepository,
    InboxRepository,
    JobRepository,
    LeaseRepository,
    LedgerRepository,
    ModelToggleRepository,
    OrderRepository,
    PaymentRepository,
    PromoRepository,
    ReferralRepository,
    ReportRepository,
    SentMessageRepository,
    UnitOfWork,
    UnitOfWorkFactory,
    UserRepository,
)
from kiebot_core.testing.catalogs import MemoryCatalogRepository
from kiebot_core.testing.operations import (
    MemoryAudienceRepository,
    MemoryBroadcastRepository,
    MemoryCircuitRepository,
    MemoryCreditsRepository,
    StoredDelivery,
)
from kiebot_core.testing.privacy import MemoryPrivacyRepository


@attrs.define
class _State:
    users: dict[UserId, User] = attrs.field(factory=dict)
    generations: dict[GenerationId, Generation] = attrs.field(factory=dict)
    ledger: dict[IdempotencyKey, LedgerTransaction] = attrs.field(factory=dict)
    balances: dict[UserId, Balance] = attrs.field(factory=dict)
    payments: dict[PaymentChargeId, Payment] = attrs.field(factory=dict)
    orders: dict[OrderId, Order] = attrs.field(factory=dict)
    events: list[Event] = attrs.field(factory=list)
    inbox: dict[tuple[int, int], InboxUpdate] = attrs.field(factory=dict)
    inbox_done: dict[tuple[int, int], datetime] = attrs.field(factory=dict)
    inbox_claims: dict[tuple[int, int], datetime] = attrs.field(factory=dict)
    inbox_parked: dict[tuple[int, int], tuple[ReasonCode, datetime]] = attrs.field(factory=dict)
    sent_messages: dict[tuple[int, int, int], SentMessage] = attrs.field(factory=dict)
    leases: dict[str, Lease] = attrs.field(factory=dict)
    conversations: dict[tuple[int, int, int], Conversation] = attrs.field(factory=dict)
    favorites: dict[FavoriteId, Favorite] = attrs.field(factory=dict)
    toggles: dict[str, bool] = attrs.field(factory=dict)
    jobs: dict[JobId, Job] = attrs.field(factory=dict)
    job_keys: dict[str, JobId] = attrs.field(factory=dict)
    claims: dict[JobId, datetime] = attrs.field(factory=dict)
    free_runs: dict[tuple[UserId, date], int] = attrs.field(factory=dict)
    promos: dict[str, PromoCode] = attrs.field(factory=dict)
    redemptions: set[tuple[str, UserId]] = attrs.field(factory=set)
    referral_rewards: dict[UserId, tuple[UserId, int, PaymentChargeId]] = attrs.field(factory=dict)
    audit: list[AuditEntry] = attrs.field(factory=list)
    blocked: dict[UserId, datetime] = attrs.field(factory=dict)
    broadcasts: dict[BroadcastId, Broadcast] = attrs.field(factory=dict)
    deliveries: dict[tuple[BroadcastId, UserId], StoredDelivery] = attrs.field(factory=dict)
    circuits: dict[str, Circuit] = attrs.field(factory=dict)
    failures: list[tuple[str, datetime]] = attrs.field(factory=list)
    credits: dict[str, CreditsState] = attrs.field(factory=dict)
    catalogs: list[CatalogVersion] = attrs.field(factory=list)
    forgotten: list[ForgottenUser] = attrs.field(factory=list)

    def copy(self) -> "_State":
        # Values are frozen, so copying the containers is a full snapshot.
        return _State(
            **{
                field.name: type(getattr(self, field.name))(getattr(self, field.name))
                for field in attrs.fields(_State)
            }
        )


class MemoryDatabase:
    """The shared state behind every ``MemoryUnitOfWork`` made by one factory."""

    def __init__(self, clock: Clock | None = None) -> None:
        self.clock: Clock = clock or SystemClock()
        self.state = _State()
        self.lock = asyncio.Lock()


@attrs.define
class MemoryUserRepository(UserRepository):
    """Users in a dict."""

    _state: _State

    async def get(self, user_id: UserId) -> User | None:
        return self._state.users.get(user_id)

    async def add(self, user: User) -> None:
        if user.id in self._state.users:
            raise DuplicateError("user", str(user.id))
        self._state.users[user.id] = user

    async def save(self, user: User) -> None:
        if user.id not in self._state.users:
            raise NotFoundError("user", str(user.id))
        self._state.users[user.id] = user

    async def update_seen(
        self, user_id: UserId, *, last_seen_at: datetime | None, username: str | None
    ) -> None:
        stored = self._state.users.get(user_id)
        if stored is None:
            raise NotFoundError("user", str(user_id))
        self._state.users[user_id] = attrs.evolve(
            stored, last_seen_at=last_seen_at, username=username
        )

    async def by_username(self, username: str) -> User | None:
        wanted = username.strip().removeprefix("@").lower()
        found = [
            u
            for u in self._state.users.values()
            if (u.username or "").lower() == wanted and wanted
        ]
        return max(found, key=_recency, default=None)


def _recency(user: User) -> tuple[datetime, int]:
    """Orders users by when they were last seen (never seen first), then by id."""
    return (user.last_seen_at or datetime.min.replace(tzinfo=UTC), user.id)


@attrs.define
class MemoryGenerationRepository(GenerationRepository):
    """Generations in a dict, with version checks."""

    _state: _State

    def _task_taken(self, generation: Generation) -> bool:
        return generation.task_id is not None and any(
            other.task_id == generation.task_id and other.id != generation.id
            for other in self._state.generations.values()
        )

    async def add(self, generation: Generation) -> None:
        if generation.id in self._state.generations:
            raise DuplicateError("generation", generation.id)
        if self._task_taken(generation):
            raise DuplicateError("generation task", str(generation.task_id))
        self._state.generations[generation.id] = generation

    async def get(self, generation_id: GenerationId) -> Generation | None:
        return self._state.generations.get(generation_id)

    async def get_by_task(self, task_id: ProviderTaskId) -> Generation | None:
        return next((g for g in self._state.generations.values() if g.task_id == task_id), None)

    async def save(self, generation: Generation) -> Generation:
        stored = self._state.generations.get(generation.id)
        if stored is None:
            raise NotFoundError("generation", generation.id)
        if stored.version != generation.version:
            raise StaleWriteError("generation", generation.id)
        if self._task_taken(generation):
            raise DuplicateError("generation task", str(generation.task_id))
        saved = attrs.evolve(generation, version=generation.version + 1)
        self._state.generations[generation.id] = saved
        return saved

    async def for_user(
        self, user_id: UserId, *, limit: int, search: str | None = None
    ) -> list[Generation]:
        needle = (search or "").lower()
        found = [
            g
            for g in self._state.generations.values()
            if g.user_id == user_id
            and (needle in g.model_id.lower() or needle in str(g.input.get("prompt", "")).lower())
        ]
        found.sort(key=lambda g: (g.created_at, g.id), reverse=True)
        return found[:limit]

    async def unfinished(self, *, user_id: UserId | None = None) -> list[Generation]:
        live = [
            g
            for g in self._state.generations.values()
            if not g.state.is_terminal and user_id in {None, g.user_id}
        ]
        return sorted(live, key=lambda g: (g.created_at, g.id))


@attrs.define
class MemoryLedgerRepository(LedgerRepository):
    """Ledger transactions in insertion order, with cached balances."""

    _state: _State
    _clock: Clock

    async def balance(self, user_id: UserId) -> Balance:
        return self._state.balances.get(user_id, Balance())

    async def append(self, transaction: LedgerTransaction) -> LedgerTransaction:
        existing = self._state.ledger.get(transaction.key)
        if existing is not None:
            return existing
        try:
            after = (await self.balance(transaction.user_id)).apply(transaction)
        except ValueError as error:
            raise StaleWriteError("ledger", transaction.key) from error
        recorded = attrs.evolve(transaction, recorded_at=self._clock.now())
        self._state.ledger[transaction.key] = recorded
        self._state.balances[transaction.user_id] = after
        return transaction

    async def get(self, key: IdempotencyKey) -> LedgerTransaction | None:
        return self._state.ledger.get(key)

    async def history(self, user_id: UserId, *, limit: int) -> list[LedgerTransaction]:
        mine = [t for t in self._state.ledger.values() if t.user_id == user_id]
        return mine[::-1][:limit]


@attrs.define
class MemoryPaymentRepository(PaymentRepository):
    """Payments by charge id."""

    _state: _State

    async def add(self, payment: Payment) -> bool:
        if payment.charge_id in self._state.payments:
            return False
        self._state.payments[payment.charge_id] = payment
        return True

    async def get(self, charge_id: PaymentChargeId) -> Payment | None:
        return self._state.payments.get(charge_id)

    async def save(self, payment: Payment) -> None:
        if payment.charge_id not in self._state.payments:
            raise NotFoundError("payment", payment.charge_id)
        self._state.payments[payment.charge_id] = payment

    async def for_user(self, user_id: UserId, *, limit: int) -> list[Payment]:
        mine = [p for p in self._state.payments.values() if p.user_id == user_id]
        return self._newest(mine, limit)

    async def recent(self, *, limit: int | None = None) -> list[Payment]:
        return self._newest(list(self._state.payments.values()), limit)

    @staticmethod
    def _newest(payments: list[Payment], limit: int | None) -> list[Payment]:
        payments.sort(key=lambda p: (p.created_at, p.charge_id), reverse=True)
        return payments if limit is None else payments[: max(limit, 0)]


@attrs.define
class MemoryOrderRepository(OrderRepository):
    """Orders by id."""

    _state: _State

    async def add(self, order: Order) -> None:
        if order.id in self._state.orders:
            raise DuplicateError("order", order.id)
        self._state.orders[order.id] = order

    async def get(self, order_id: OrderId) -> Order | None:
        return self._state.orders.get(order_id)

    async def prune(self, before: datetime) -> int:
        paid = {payment.order_id for payment in self._state.payments.values()}
        old = [
            order.id
            for order in self._state.orders.values()
            if order.expires_at < before and order.id not in paid
        ]
        for order_id in old:
            del self._state.orders[order_id]
        return len(old)


@attrs.define
class MemoryEventRepository(EventRepository):
    """Events in a list."""

    _state: _State

    async def append(self, event: Event) -> None:
        self._state.events.append(event)

    async def chain(self, correlation_id: CorrelationId) -> list[Event]:
        chain = [e for e in self._state.events if e.correlation_id == correlation_id]
        return sorted(chain, key=lambda e: e.at)

    async def for_generation(self, generation_id: GenerationId) -> list[Event]:
        found = [e for e in self._state.events if e.generation_id == generation_id]
        return sorted(found, key=lambda e: e.at)

    async def for_task(self, task_id: ProviderTaskId) -> list[Event]:
        found = [e for e in self._state.events if e.payload.get(TASK_TAG) == task_id]
        return sorted(found, key=lambda e: e.at)

    async def for_update(self, update_id: int) -> list[Event]:
        found = [e for e in self._state.events if e.payload.get(UPDATE_TAG) == update_id]
        return sorted(found, key=lambda e: e.at)

    async def for_user(
        self, user_id: UserId, *, limit: int, since: datetime | None = None
    ) -> list[Event]:
        found = [
            e
            for e in self._state.events
            if e.user_id == user_id and (since is None or e.at >= since)
        ]
        return sorted(found, key=lambda e: e.at)[-limit:] if limit > 0 else []

    async def prune(self, before: datetime) -> int:
        kept = [e for e in self._state.events if e.at >= before]
        pruned = len(self._state.events) - len(kept)
        self._state.events[:] = kept
        return pruned


def _inbox_key(update: InboxUpdate) -> tuple[int, int]:
    return (update.bot_id, update.update_id)


@attrs.define
class MemoryInboxRepository(InboxRepository):
    """Updates by (bot id, update id); claims timed by the database's clock."""

    _state: _State
    _clock: Clock

    def _live(self) -> list[InboxUpdate]:
        """Updates neither done nor parked, oldest first."""
        settled = self._state.inbox_done.keys() | self._state.inbox_parked.keys()
        return sorted(
            (u for key, u in self._state.inbox.items() if key not in settled), key=_inbox_key
        )

    async def store(self, update: InboxUpdate) -> bool:
        key = _inbox_key(update)
        if key in self._state.inbox:
            return False
        self._state.inbox[key] = update
        return True

    async def pending(self, *, limit: int) -> list[InboxUpdate]:
        return self._live()[:limit]

    async def claim(self, *, limit: int, lease: timedelta) -> list[InboxUpdate]:
        now = self._clock.now()
        chats_seen: set[tuple[int, int]] = set()
        claimable = []
        for update in self._live():
            if update.chat_id is not None:
                chat = (update.bot_id, update.chat_id)
                if chat in chats_seen:
                    continue
                chats_seen.add(chat)
            until = self._state.inbox_claims.get(_inbox_key(update))
            if until is None or until <= now:
                claimable.append(update)
        claimed = []
        for update in claimable[: max(limit, 0)]:
            key = _inbox_key(update)
            self._state.inbox[key] = attrs.evolve(update, attempts=update.attempts + 1)
            self._state.inbox_claims[key] = now + lease
            claimed.append(self._state.inbox[key])
        return claimed

    async def extend(self, bot_id: int, update_ids: Sequence[int], lease: timedelta) -> None:
        now = self._clock.now()
        settled = self._state.inbox_done.keys() | self._state.inbox_parked.keys()
        for key in ((bot_id, update_id) for update_id in update_ids):
            until = self._state.inbox_claims.get(key)
            if until is not None and until > now and key not in settled:
                self._state.inbox_claims[key] = now + lease

    async def release(self, bot_id: int, update_id: int) -> None:
        self._state.inbox_claims.pop((bot_id, update_id), None)

    async def done(self, bot_id: int, update_id: int) -> None:
        key = (bot_id, update_id)
        if key in self._state.inbox and key not in self._state.inbox_parked:
            self._state.inbox_done.setdefault(key, self._clock.now())

    async def park(self, bot_id: int, update_id: int, reason: ReasonCode) -> None:
        key = (bot_id, update_id)
        if key in self._state.inbox and key not in self._state.inbox_done:
            self._state.inbox_parked.setdefault(key, (reason, self._clock.now()))

    async def parked(self, *, limit: int) -> list[tuple[InboxUpdate, ReasonCode]]:
        newest = sorted(
            self._state.inbox_parked.items(), key=lambda item: (item[1][1], item[0]), reverse=True
        )
        return [(self._state.inbox[key], reason) for key, (reason, _) in newest[: max(limit, 0)]]

    async def oldest_pending_at(self) -> datetime | None:
        return min((u.received_at for u in self._live()), default=None)

    async def prune(self, before: datetime) -> int:
        old = [key for key, at in self._state.inbox_done.items() if at < before]
        for key in old:
            del self._state.inbox[key]
            del self._state.inbox_done[key]
            self._state.inbox_claims.pop(key, None)
        return len(old)


@attrs.define
class MemorySentMessageRepository(SentMessageRepository):
    """Sent-message records by (bot id, update id, seq), timed by the database's clock."""

    _state: _State
    _clock: Clock

    async def recorded(self, bot_id: int, update_id: int, seq: int) -> SentMessage | None:
        return self._state.sent_messages.get((bot_id, update_id, seq))

    async def record(
        self, bot_id: int, update_id: int, seq: int, method: str, result: JsonValue
    ) -> bool:
        result = checked_json(result)
        key = (bot_id, update_id, seq)
        if key in self._state.sent_messages:
            return False
        self._state.sent_messages[key] = SentMessage(
            bot_id=bot_id,
            update_id=update_id,
            seq=seq,
            method=method,
            result=result,
            recorded_at=self._clock.now(),
        )
        return True

    async def prune(self, before: datetime) -> int:
        old = [key for key, m in self._state.sent_messages.items() if m.recorded_at < before]
        for key in old:
            del self._state.sent_messages[key]
        return len(old)


@attrs.define
class MemoryLeaseRepository(LeaseRepository):
    """Leases timed by the database's clock."""

    _state: _State
    _clock: Clock

    async def acquire(self, name: str, holder: str, ttl: timedelta) -> Lease | None:
        now = self._clock.now()
        current = self._state.leases.get(name)
        if current is not None and current.expires_at > now:
            if current.holder != holder:
                return None
            lease = attrs.evolve(current, expires_at=now + ttl)
        else:
            epoch = current.epoch + 1 if current is not None else 1
            lease = Lease(name=name, holder=holder, epoch=epoch, expires_at=now + ttl)
        self._state.leases[name] = lease
        return lease

    async def release(self, name: str, holder: str) -> None:
        current = self._state.leases.get(name)
        if current is not None and current.holder == holder:
            expired = min(current.expires_at, self._clock.now())
            self._state.leases[name] = attrs.evolve(current, expires_at=expired)

    async def check(self, name: str, holder: str, epoch: int) -> None:
        current = self._state.leases.get(name)
        if (
            current is None
            or (current.holder, current.epoch) != (holder, epoch)
            or current.expires_at <= self._clock.now()
        ):
            raise StaleWriteError("lease", name)


@attrs.define
class MemoryConversationRepository(ConversationRepository):
    """Conversations by (bot, chat, user)."""

    _state: _State

    async def get(self, bot_id: int, chat_id: int, user_id: int) -> Conversation | None:
        return self._state.conversations.get((bot_id, chat_id, user_id))

    async def put(self, conversation: Conversation) -> None:
        key = (conversation.bot_id, conversation.chat_id, conversation.user_id)
        self._state.conversations[key] = conversation


@attrs.define
class MemoryFavoriteRepository(FavoriteRepository):
    """Favorites in a dict, found again by user, model and answers key."""

    _state: _State

    async def add(self, favorite: Favorite) -> Favorite:
        key = favorite.key
        for stored in self._state.favorites.values():
            if (stored.user_id, stored.model_id, stored.key) == (
                favorite.user_id,
                favorite.model_id,
                key,
            ):
                return stored
        if favorite.id in self._state.favorites:
            raise DuplicateError("favorite", favorite.id)
        self._state.favorites[favorite.id] = favorite
        return favorite

    async def for_user(self, user_id: UserId, *, limit: int) -> list[Favorite]:
        mine = [f for f in self._state.favorites.values() if f.user_id == user_id]
        mine.sort(key=lambda f: (f.created_at, f.id), reverse=True)
        return mine[: max(limit, 0)]

    async def get(self, favorite_id: FavoriteId) -> Favorite | None:
        return self._state.favorites.get(favorite_id)

    async def remove(self, user_id: UserId, favorite_id: FavoriteId) -> bool:
        stored = self._state.favorites.get(favorite_id)
        if stored is None or stored.user_id != user_id:
            return False
        del self._state.favorites[favorite_id]
        return True


@attrs.define
class MemoryModelToggleRepository(ModelToggleRepository):
    """Model switches in a dict."""

    _state: _State

    async def overrides(self) -> Mapping[str, bool]:
        return dict(self._state.toggles)

    async def set(self, model_id: str, *, enabled: bool) -> None:
        self._state.toggles[model_id] = enabled


@attrs.define
class MemoryJobRepository(JobRepository):
    """Jobs in a dict, claimed by due time."""

    _state: _State
    _clock: Clock

    async def enqueue(self, job: Job) -> bool:
        if job.key in self._state.job_keys:
            return False
        if job.id in self._state.jobs:
            raise DuplicateError("job", job.id)
        self._state.jobs[job.id] = job
        self._state.job_keys[job.key] = job.id
        return True

    async def claim(self, *, limit: int) -> list[Job]:
        now = self._clock.now()
        due = sorted(
            (
                job
                for job in self._state.jobs.values()
                if job.run_at <= now
                and (job.id not in self._state.claims or self._state.claims[job.id] <= now)
            ),
            key=lambda job: (job.run_at, job.id),
        )[:limit]
        claimed = []
        for job in due:
            taken = attrs.evolve(job, attempts=job.attempts + 1)
            self._state.jobs[job.id] = taken
            self._state.claims[job.id] = now + CLAIM_TIMEOUT
            claimed.append(taken)
        return claimed

    async def complete(self, job_id: JobId) -> None:
        job = self._state.jobs.pop(job_id, None)
        self._state.claims.pop(job_id, None)
        if job is not None:
            self._state.job_keys.pop(job.key, None)

    async def retry(self, job_id: JobId, run_at: datetime) -> None:
        job = self._state.jobs.get(job_id)
        if job is None:
            raise NotFoundError("job", job_id)
        self._state.jobs[job_id] = attrs.evolve(job, run_at=run_at)
        self._state.claims.pop(job_id, None)

    async def extend(self, job_ids: Sequence[JobId]) -> None:
        now = self._clock.now()
        for job_id in job_ids:
            until = self._state.claims.get(job_id)
            if until is not None and until > now:
                self._state.claims[job_id] = now + CLAIM_TIMEOUT


@attrs.define
class MemoryFreeRunRepository(FreeRunRepository):
    """Free runs per (user, day)."""

    _state: _State

    async def used(self, user_id: UserId, day: date) -> int:
        return self._state.free_runs.get((user_id, day), 0)

    async def take(self, user_id: UserId, day: date, *, daily: int) -> bool:
        used = await self.used(user_id, day)
        if used >= daily:
            return False
        self._state.free_runs[user_id, day] = used + 1
        return True

    async def give_back(self, user_id: UserId, day: date) -> None:
        used = await self.used(user_id, day)
        if used > 0:
            self._state.free_runs[user_id, day] = used - 1


@attrs.define
class MemoryPromoRepository(PromoRepository):
    """Promo codes by code, and (code, user) redemptions."""

    _state: _State

    async def add(self, promo: PromoCode) -> bool:
        if promo.code in self._state.promos:
            return False
        self._state.promos[promo.code] = promo
        return True

    async def get(self, code: str) -> PromoCode | None:
        return self._state.promos.get(code)

    async def all(self) -> list[PromoCode]:
        return sorted(
            self._state.promos.values(), key=lambda p: (p.created_at, p.code), reverse=True
        )

    async def is_redeemed(self, code: str, user_id: UserId) -> bool:
        return (code, user_id) in self._state.redemptions

    async def redeem(self, code: str, user_id: UserId, at: datetime) -> bool:
        del at  # redemptions keep no time in memory
        promo = self._state.promos.get(code)
        if promo is None or (code, user_id) in self._state.redemptions or promo.uses_left == 0:
            return False
        self._state.redemptions.add((code, user_id))
        self._state.promos[code] = attrs.evolve(promo, uses=promo.uses + 1)
        return True


@attrs.define
class MemoryReferralRepository(ReferralRepository):
    """Rewards by invited user."""

    _state: _State

    async def reward(
        self,
        invited: UserId,
        referrer: UserId,
        stars: int,
        at: datetime,
        charge_id: PaymentChargeId,
    ) -> bool:
        del at  # rewards keep no time in memory
        if invited in self._state.referral_rewards:
            return False
        self._state.referral_rewards[invited] = (referrer, stars, charge_id)
        return True

    async def rewarded_by(self, charge_id: PaymentChargeId) -> bool:
        return any(c == charge_id for _, _, c in self._state.referral_rewards.values())

    async def summary(self, referrer: UserId) -> ReferralSummary:
        invited = sum(1 for u in self._state.users.values() if u.referrer_id == referrer)
        rewards = [s for r, s, _ in self._state.referral_rewards.values() if r == referrer]
        return ReferralSummary(invited=invited, rewarded=len(rewards), stars=sum(rewards))


@attrs.define
class MemoryReportRepository(ReportRepository):
    """Reports computed from the other collections."""

    _state: _State
    _clock: Clock = attrs.field(factory=SystemClock)

    async def operations(self) -> OperationsSnapshot:
        now, state = self._clock.now(), self._state
        in_flight: dict[InFlightKey, int] = {}
        for g in state.generations.values():
            if not g.state.is_terminal:
                in_flight[g.model_id, g.state] = in_flight.get((g.model_id, g.state), 0) + 1
        running = {i for i, until in state.claims.items() if until > now and i in state.jobs}
        idle = [job for job in state.jobs.values() if job.id not in running]
        due = [job.run_at for job in idle if job.run_at <= now]
        settled = state.inbox_done.keys() | state.inbox_parked.keys()
        live = [u.received_at for key, u in state.inbox.items() if key not in settled]
        return OperationsSnapshot(
            in_flight=in_flight,
            jobs=QueueFigures(
                waiting=len(due),
                running=len(running),
                scheduled=len(idle) - len(due),
                oldest_wait=max(now - min(due), timedelta(0)) if due else timedelta(0),
            ),
            updates_pending=len(live),
            oldest_update_wait=max(now - min(live), timedelta(0)) if live else timedelta(0),
            updates_parked=len(state.inbox_parked),
        )

    async def totals(self) -> OperationsTotals:
        state = self._state
        finished: dict[GenerationKey, int] = {}
        for g in state.generations.values():
            if g.state.is_terminal:
                ended = g.state in {GenerationState.FAILED, GenerationState.CANCELLED}
                key = (g.model_id, g.state, g.reason if ended else None)
                finished[key] = finished.get(key, 0) + 1
        refunded = [p for p in state.payments.values() if p.state is PaymentState.REFUNDED]
        return OperationsTotals(
            finished=finished,
            stars_purchased=sum(p.stars for p in state.payments.values()),
            stars_refunded=sum(p.stars for p in refunded),
            payments=len(state.payments),
            refunds=len(refunded),
        )

    async def activity(self, since: datetime, *, today: datetime, week: datetime) -> Activity:
        state = self._state
        counts: dict[tuple[str, GenerationState], int] = {}
        durations: dict[str, list[timedelta]] = {}
        for g in state.generations.values():
            if g.created_at < since:
                continue
            counts[g.model_id, g.state] = counts.get((g.model_id, g.state), 0) + 1
            if g.state is GenerationState.SUCCEEDED:
                durations.setdefault(g.model_id, []).append(g.updated_at - g.created_at)
        seen = [u.last_seen_at for u in state.users.values() if u.last_seen_at is not None]
        joined = [u.id for u in state.users.values() if u.created_at >= since]
        generated = {g.user_id for g in state.generations.values()}
        paid = {p.user_id for p in state.payments.values()}
        payments = [p for p in state.payments.values() if p.created_at >= since]
        moves = [
            t
            for t in state.ledger.values()
            if t.recorded_at is not None and t.recorded_at >= since
        ]
        purchase_refunds = [t for t in moves if t.kind is LedgerKind.PURCHASE_REFUND]
        refunds = [t for t in moves if t.kind is LedgerKind.REFUND]
        refunded_payments = [
            state.payments.get(PaymentChargeId(t.reference)) for t in purchase_refunds
        ]
        return Activity(
            users=UserFigures(
                total=len(state.users),
                active_today=sum(1 for at in seen if at >= today),
                active_week=sum(1 for at in seen if at >= week),
            ),
            runs=model_runs(
                ((model_id, s, n) for (model_id, s), n in counts.items()),
                {model_id: percentiles(times) for model_id, times in durations.items()},
            ),
            funnel=Funnel(
                started=len(joined),
                generated=sum(1 for u in joined if u in generated),
                paid=sum(1 for u in joined if u in paid),
            ),
            money=MoneyFigures(
                stars_in=sum(p.stars for p in payments),
                payments=len(payments),
                purchase_refunds=len(purchase_refunds),
                purchase_refunded_stars=sum(p.stars for p in refunded_payments if p is not None),
                generation_refunds=len(refunds),
                generation_refunded_stars=sum(t.amount_of(AccountKind.AVAILABLE) for t in refunds),
            ),
        )

    async def margin(self, since: datetime) -> list[ModelMargin]:
        kept: dict[str, int] = {}
        for transaction in self._state.ledger.values():
            kept[transaction.reference] = kept.get(
                transaction.reference, 0
            ) + transaction.amount_of(AccountKind.REVENUE)
        return margins(
            DeliveredRun(
                model_id=g.model_id,
                credits=g.credits,
                credits_consumed=g.credits_consumed,
                stars=kept.get(g.id, 0),
            )
            for g in self._state.generations.values()
            if g.state is GenerationState.SUCCEEDED and g.created_at >= since
        )


@attrs.define
class MemoryAuditRepository(AuditRepository):
    """Audit entries in recording order."""

    _state: _State

    async def append(self, entry: AuditEntry) -> None:
        self._state.audit.append(entry)

    async def recent(self, *, limit: int, since: datetime | None = None) -> list[AuditEntry]:
        ordered = sorted(enumerate(self._state.audit), key=lambda item: (item[1].at, item[0]))
        newest = [entry for _, entry in reversed(ordered) if since is None or entry.at >= since]
        return newest[: max(limit, 0)]


class MemoryUnitOfWork(UnitOfWork):
    """One transaction over a ``MemoryDatabase``."""

    def __init__(self, database: MemoryDatabase) -> None:
        self._database = database
        self._state = _State()

    @property
    def users(self) -> MemoryUserRepository:
        return MemoryUserRepository(self._state)

    @property
    def generations(self) -> MemoryGenerationRepository:
        return MemoryGenerationRepository(self._state)

    @property
    def ledger(self) -> MemoryLedgerRepository:
        return MemoryLedgerRepository(self._state, self._database.clock)

    @property
    def payments(self) -> MemoryPaymentRepository:
        return MemoryPaymentRepository(self._state)

    @property
    def orders(self) -> MemoryOrderRepository:
        return MemoryOrderRepository(self._state)

    @property
    def events(self) -> MemoryEventRepository:
        return MemoryEventRepository(self._state)

    @property
    def inbox(self) -> MemoryInboxRepository:
        return MemoryInboxRepository(self._state, self._database.clock)

    @property
    def leases(self) -> MemoryLeaseRepository:
        return MemoryLeaseRepository(self._state, self._database.clock)

    @property
    def sent_messages(self) -> MemorySentMessageRepository:
        return MemorySentMessageRepository(self._state, self._database.clock)

    @property
    def conversations(self) -> MemoryConversationRepository:
        return MemoryConversationRepository(self._state)

    @property
    def favorites(self) -> MemoryFavoriteRepository:
        return MemoryFavoriteRepository(self._state)

    @property
    def toggles(self) -> MemoryModelToggleRepository:
        return MemoryModelToggleRepository(self._state)

    @property
    def jobs(self) -> MemoryJobRepository:
        return MemoryJobRepository(self._state, self._database.clock)

    @property
    def free_runs(self) -> MemoryFreeRunRepository:
        return MemoryFreeRunRepository(self._state)

    @property
    def promos(self) -> MemoryPromoRepository:
        return MemoryPromoRepository(self._state)

    @property
    def referrals(self) -> MemoryReferralRepository:
        return MemoryReferralRepository(self._state)

    @property
    def audit(self) -> MemoryAuditRepository:
        return MemoryAuditRepository(self._state)

    @property
    def catalogs(self) -> MemoryCatalogRepository:
        return MemoryCatalogRepository(self._state.catalogs)

    @property
    def privacy(self) -> MemoryPrivacyRepository:
        return MemoryPrivacyRepository(self._state)

    @property
    def audience(self) -> MemoryAudienceRepository:
        state = self._state
        return MemoryAudienceRepository(state.users, state.payments, state.blocked)

    @property
    def broadcasts(self) -> MemoryBroadcastRepository:
        return MemoryBroadcastRepository(self._state.broadcasts, self._state.deliveries)

    @property
    def circuits(self) -> MemoryCircuitRepository:
        return MemoryCircuitRepository(self._state.circuits, self._state.failures)

    @property
    def credits(self) -> MemoryCreditsRepository:
        return MemoryCreditsRepository(self._state.credits)

    @property
    def reports(self) -> MemoryReportRepository:
        return MemoryReportRepository(self._state, self._database.clock)

    async def commit(self) -> None:
        self._database.state = self._state
        self._state = self._state.copy()

    async def __aenter__(self) -> Self:
        await self._database.lock.acquire()
        self._state = self._database.state.copy()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._state = _State()
        self._database.lock.release()


@attrs.frozen
class MemoryUnitOfWorkFactory(UnitOfWorkFactory):
    """Makes units of work over one shared ``MemoryDatabase``."""

    database: MemoryDatabase = attrs.field(factory=MemoryDatabase)

    def __call__(self) -> MemoryUnitOfWork:
        return MemoryUnitOfWork(self.database)
