"""Storage ports: repositories grouped in a unit of work (one transaction).

Every repository belongs to one unit of work. Nothing is visible to other units of work until
``commit``; leaving the ``async with`` block without committing rolls everything back.
Repositories return domain objects and raise only core errors (``DuplicateError``,
``StaleWriteError``, ``NotFoundError``, ``StorageUnavailableError``).
"""

from collections.abc import Mapping, Sequence
from datetime import date, datetime, timedelta
from types import TracebackType
from typing import Protocol, Self

from kiebot_core.domain.audit import AuditEntry
from kiebot_core.domain.catalog import JsonValue
from kiebot_core.domain.catalog_sync import CatalogRecord, CatalogVersion
from kiebot_core.domain.coordination import Conversation, InboxUpdate, Lease, SentMessage
from kiebot_core.domain.favorites import Favorite
from kiebot_core.domain.figures import OperationsSnapshot, OperationsTotals
from kiebot_core.domain.generation import Generation
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
from kiebot_core.domain.jobs import Job
from kiebot_core.domain.ledger import Balance, LedgerTransaction
from kiebot_core.domain.margin import ModelMargin
from kiebot_core.domain.payments import Order, Payment
from kiebot_core.domain.privacy import ForgottenUser
from kiebot_core.domain.promotions import PromoCode, ReferralSummary
from kiebot_core.domain.reasons import ReasonCode
from kiebot_core.domain.stats import Activity
from kiebot_core.domain.telemetry import Event
from kiebot_core.domain.users import User
from kiebot_core.ports.operations import (
    AudienceRepository,
    BroadcastRepository,
    CircuitRepository,
    CreditsRepository,
)


class UserRepository(Protocol):
    """Users by id."""

    async def get(self, user_id: UserId) -> User | None:
        """The user, or None if never added."""
        ...

    async def add(self, user: User) -> None:
        """Insert a new user. Raises ``DuplicateError`` if the id exists."""
        ...

    async def save(self, user: User) -> None:
        """Replace a stored user. Raises ``NotFoundError`` if it was never added."""
        ...

    async def update_seen(
        self, user_id: UserId, *, last_seen_at: datetime | None, username: str | None
    ) -> None:
        """Store only when the user was last seen and as which username.

        Every other field stays as stored, even when another unit of work just changed it
        (a ban, a language switch). Raises ``NotFoundError`` if the user was never added.
        """
        ...

    async def by_username(self, username: str) -> User | None:
        """The user last seen as ``username`` (any case, without ``@``), or None.

        Usernames move between accounts on Telegram: when several stored users carry it, the
        one seen most recently wins (then the highest id).
        """
        ...


class GenerationRepository(Protocol):
    """Generations, with optimistic concurrency on ``version``."""

    async def add(self, generation: Generation) -> None:
        """Insert a new generation. Raises ``DuplicateError`` if the id exists."""
        ...

    async def get(self, generation_id: GenerationId) -> Generation | None:
        """The generation, or None."""
        ...

    async def get_by_task(self, task_id: ProviderTaskId) -> Generation | None:
        """The generation the provider knows as ``task_id`` (unique), or None."""
        ...

    async def save(self, generation: Generation) -> Generation:
        """Store a changed generation read at ``generation.version``; return it one version on.

        Raises ``StaleWriteError`` if another unit of work saved it since it was read, and
        ``DuplicateError`` if its task id belongs to another generation.
        """
        ...

    async def for_user(
        self, user_id: UserId, *, limit: int, search: str | None = None
    ) -> list[Generation]:
        """The user's generations, newest first; ``search`` matches model id or prompt text."""
        ...

    async def unfinished(self, *, user_id: UserId | None = None) -> list[Generation]:
        """Generations not in a terminal state, oldest first.

        Every user's (to resume at start-up), or only ``user_id``'s (the concurrency limit).
        """
        ...


class LedgerRepository(Protocol):
    """The append-only ledger and the balances derived from it."""

    async def balance(self, user_id: UserId) -> Balance:
        """The user's current balance (zero for a user with no transactions)."""
        ...

    async def append(self, transaction: LedgerTransaction) -> LedgerTransaction:
        """Record ``transaction`` once, idempotent by key.

        If the key exists, nothing changes and the transaction first recorded under it is
        returned.

        Raises ``StaleWriteError`` if it would make a balance negative (the rule was planned
        against an outdated balance).
        """
        ...

    async def get(self, key: IdempotencyKey) -> LedgerTransaction | None:
        """The transaction recorded under ``key``, or None."""
        ...

    async def history(self, user_id: UserId, *, limit: int) -> list[LedgerTransaction]:
        """The user's transactions, newest first."""
        ...


class PaymentRepository(Protocol):
    """Stars payments, unique by charge id."""

    async def add(self, payment: Payment) -> bool:
        """Register a payment; False (and no change) if its charge id is already registered."""
        ...

    async def get(self, charge_id: PaymentChargeId) -> Payment | None:
        """The payment, or None."""
        ...

    async def save(self, payment: Payment) -> None:
        """Replace a registered payment (its state). Raises ``NotFoundError`` if unknown."""
        ...

    async def for_user(self, user_id: UserId, *, limit: int) -> list[Payment]:
        """Up to ``limit`` of the user's payments, newest first (then by charge id, descending)."""
        ...

    async def recent(self, *, limit: int | None = None) -> list[Payment]:
        """Up to ``limit`` payments of every user, newest first (then by charge id, descending).

        Every payment when ``limit`` is None.
        """
        ...


class OrderRepository(Protocol):
    """Top-up orders (the invoices' payloads), unique by id."""

    async def add(self, order: Order) -> None:
        """Insert a new order. Raises ``DuplicateError`` if the id exists."""
        ...

    async def get(self, order_id: OrderId) -> Order | None:
        """The order, whoever it belongs to (callers check ``user_id``), or None."""
        ...

    async def prune(self, before: datetime) -> int:
        """Delete the orders that stopped being payable before ``before`` and were never paid.

        An order counts as paid when any payment names it (whatever that payment's state), and
        a paid order is never deleted. Returns how many orders were deleted.
        """
        ...


class EventRepository(Protocol):
    """The telemetry event chain."""

    async def append(self, event: Event) -> None:
        """Record one event."""
        ...

    async def chain(self, correlation_id: CorrelationId) -> list[Event]:
        """Every event of one user action, oldest first."""
        ...

    async def for_generation(self, generation_id: GenerationId) -> list[Event]:
        """Every event naming the generation, oldest first (then in the order appended)."""
        ...

    async def for_task(self, task_id: ProviderTaskId) -> list[Event]:
        """Every event whose payload names the KIE task (``kie_task_id``), oldest first."""
        ...

    async def for_update(self, update_id: int) -> list[Event]:
        """Every event whose payload names the Telegram update (``update_id``), oldest first."""
        ...

    async def for_user(
        self, user_id: UserId, *, limit: int, since: datetime | None = None
    ) -> list[Event]:
        """The ``limit`` newest of the user's events at or after ``since``, oldest first.

        Every retained event of the user counts when ``since`` is None; events of the same
        moment keep the order in which they were appended.
        """
        ...

    async def prune(self, before: datetime) -> int:
        """Delete events older than ``before``; return how many."""
        ...


class InboxRepository(Protocol):
    """Telegram updates stored before they are acknowledged, handed out in order per chat.

    An update is live from ``store`` until it is done (processed) or parked; both are final and
    the first one wins. "Oldest first" means by bot id, then update id. A chat (one bot's
    ``chat_id``) offers only its oldest live update to ``claim``, so its updates are claimed one
    at a time, in order, each once the one before it is done or parked. Updates without a chat
    stand alone. Claims are timed by the store's clock (PostgreSQL's ``now()``) and processing
    is at least once: an update whose claim lapsed before it was done (its worker died, or
    outran the lease) is claimed again.
    """

    async def store(self, update: InboxUpdate) -> bool:
        """Store an update; False (and no change) if this bot's update id is already stored.

        It is stored as given, ``attempts`` included (0 for a new update).
        """
        ...

    async def pending(self, *, limit: int) -> list[InboxUpdate]:
        """Up to ``limit`` live updates, claimed or not, oldest first (parked ones are not)."""
        ...

    async def claim(self, *, limit: int, lease: timedelta) -> list[InboxUpdate]:
        """Take up to ``limit`` claimable updates, oldest first, counting an attempt on each.

        Claimable: live, its chat's oldest live update (or without a chat), and not under a
        live claim. A claim lasts ``lease`` from now; until then (or until ``release``) no
        other unit of work claims the update, not even one claiming at the same moment. The
        returned updates' ``attempts`` include this claim.
        """
        ...

    async def extend(self, bot_id: int, update_ids: Sequence[int], lease: timedelta) -> None:
        """Renew the live claims of these updates to ``lease`` from now: still being handled.

        Updates no longer claimed, done, parked or unknown are left as they are.
        """
        ...

    async def release(self, bot_id: int, update_id: int) -> None:
        """Hand a claimed update back: claimable again at once, its attempts kept.

        Idempotent; an unknown update is ignored.
        """
        ...

    async def done(self, bot_id: int, update_id: int) -> None:
        """Mark a live update processed, which lets its chat's next update be claimed.

        Idempotent; a parked or unknown update is left as it is.
        """
        ...

    async def park(self, bot_id: int, update_id: int, reason: ReasonCode) -> None:
        """Take a live update out of processing for good, recording ``reason``.

        It stays stored but is neither pending nor claimable, and no longer holds its chat
        back. Idempotent (the first reason stays); a processed or unknown update is left as
        it is.
        """
        ...

    async def parked(self, *, limit: int) -> list[tuple[InboxUpdate, ReasonCode]]:
        """Up to ``limit`` parked updates with their reasons, most recently parked first.

        Updates parked at the same time come newest first (by bot id, then update id,
        descending).
        """
        ...

    async def oldest_pending_at(self) -> datetime | None:
        """The earliest ``received_at`` of the live updates (claimed or not); None if none."""
        ...

    async def prune(self, before: datetime) -> int:
        """Delete the updates marked done before ``before`` (by the store's clock).

        Live and parked updates are kept, however old. A deleted update's id is forgotten, so
        storing it again succeeds. Returns how many updates were deleted.
        """
        ...


class SentMessageRepository(Protocol):
    """The journal of calls made while handling inbox updates, so a retry does not repeat them.

    One record per (bot id, update id, seq); the first one recorded stays. Records are timed by
    the store's clock (PostgreSQL's ``now()``).
    """

    async def recorded(self, bot_id: int, update_id: int, seq: int) -> SentMessage | None:
        """The ``seq``-th call recorded for this bot's update, or None."""
        ...

    async def record(
        self, bot_id: int, update_id: int, seq: int, method: str, result: JsonValue
    ) -> bool:
        """Record the ``seq``-th call of this bot's update and Telegram's ``result``.

        False (and no change) if that call was recorded before: idempotent, the first record
        stays. Raises ``TypeError`` if ``result`` is not plain JSON.
        """
        ...

    async def prune(self, before: datetime) -> int:
        """Delete the records made before ``before``; return how many."""
        ...


class ConversationRepository(Protocol):
    """Conversation state that survives restarts and is shared by every instance."""

    async def get(self, bot_id: int, chat_id: int, user_id: int) -> Conversation | None:
        """The stored conversation, or None if nothing was ever stored for it."""
        ...

    async def put(self, conversation: Conversation) -> None:
        """Store (insert or replace) the conversation."""
        ...


class FavoriteRepository(Protocol):
    """Users' favorites: one per user, model and answers (``Favorite.key``)."""

    async def add(self, favorite: Favorite) -> Favorite:
        """Save ``favorite``, idempotent by user, model and answers.

        If the user already saved the same model with equal answers, nothing changes and that
        favorite (its id, title and time) is returned; otherwise ``favorite`` is stored and
        returned.

        Raises ``DuplicateError`` if another favorite has its id.
        """
        ...

    async def for_user(self, user_id: UserId, *, limit: int) -> list[Favorite]:
        """Up to ``limit`` of the user's favorites, newest first (then by id, descending)."""
        ...

    async def get(self, favorite_id: FavoriteId) -> Favorite | None:
        """The favorite, whoever saved it, or None (callers check ``user_id``)."""
        ...

    async def remove(self, user_id: UserId, favorite_id: FavoriteId) -> bool:
        """Delete the favorite if ``user_id`` saved it; False (and no change) otherwise.

        Removing a favorite that is gone, or another user's, changes nothing: idempotent.
        """
        ...


class LeaseRepository(Protocol):
    """Leader leases, timed by the store's own clock."""

    async def acquire(self, name: str, holder: str, ttl: timedelta) -> Lease | None:
        """Take or renew the lease ``name`` for ``ttl``.

        The holder renews its own lease (same epoch); an expired or free lease is taken with
        the epoch increased by one; a lease another holder keeps gives None.
        """
        ...

    async def release(self, name: str, holder: str) -> None:
        """Give the lease up if ``holder`` has it. Idempotent."""
        ...

    async def check(self, name: str, holder: str, epoch: int) -> None:
        """Fence singleton work: pass only while ``holder`` holds ``name`` at ``epoch``.

        Raises ``StaleWriteError`` when the lease expired, was released or was taken over
        (a newer epoch); call it inside the unit of work whose writes it guards.
        """
        ...


class ModelToggleRepository(Protocol):
    """Runtime model switches set by admins; they win over the shipped registry."""

    async def overrides(self) -> Mapping[str, bool]:
        """Model id → enabled, for every model an admin has switched."""
        ...

    async def set(self, model_id: str, *, enabled: bool) -> None:
        """Switch a model on or off for every instance."""
        ...


class JobRepository(Protocol):
    """Durable jobs, enqueued in the same transaction as the change that needs them."""

    async def enqueue(self, job: Job) -> bool:
        """Add a job; False (and no change) if a job with its key exists.

        Raises ``DuplicateError`` if another job has its id.
        """
        ...

    async def claim(self, *, limit: int) -> list[Job]:
        """Take up to ``limit`` due jobs (``run_at`` passed), counting an attempt on each.

        A claimed job is not claimed again until ``retry`` or until its claim times out.
        """
        ...

    async def complete(self, job_id: JobId) -> None:
        """Finish a claimed job. Idempotent."""
        ...

    async def retry(self, job_id: JobId, run_at: datetime) -> None:
        """Put a claimed job back to run again at ``run_at``."""
        ...

    async def extend(self, job_ids: Sequence[JobId]) -> None:
        """Renew the live claims of these jobs for another claim timeout: still running.

        Jobs no longer claimed (their claim timed out) or gone are left as they are.
        """
        ...


class FreeRunRepository(Protocol):
    """Free-tier runs taken per user and UTC day."""

    async def used(self, user_id: UserId, day: date) -> int:
        """How many free runs the user has taken on ``day``."""
        ...

    async def take(self, user_id: UserId, day: date, *, daily: int) -> bool:
        """Take one of the ``daily`` free runs of ``day``; False (no change) when none is left.

        Exact under concurrency: concurrent takes never exceed ``daily``.
        """
        ...

    async def give_back(self, user_id: UserId, day: date) -> None:
        """Return one free run taken on ``day`` (the count never goes below zero)."""
        ...


class PromoRepository(Protocol):
    """Promo codes and who redeemed them."""

    async def add(self, promo: PromoCode) -> bool:
        """Create a code; False (and no change) when the code exists."""
        ...

    async def get(self, code: str) -> PromoCode | None:
        """The code, or None."""
        ...

    async def all(self) -> list[PromoCode]:
        """Every code, newest first."""
        ...

    async def is_redeemed(self, code: str, user_id: UserId) -> bool:
        """True when the user has redeemed the code."""
        ...

    async def redeem(self, code: str, user_id: UserId, at: datetime) -> bool:
        """Record the user's redemption and count a use; False (no change) if it cannot.

        It cannot when the user redeemed the code before or no use is left. Exact under
        concurrency: never more than ``max_uses`` redemptions, never two by one user.
        """
        ...


class ReferralRepository(Protocol):
    """Rewards for inviting users."""

    async def reward(
        self,
        invited: UserId,
        referrer: UserId,
        stars: int,
        at: datetime,
        charge_id: PaymentChargeId,
    ) -> bool:
        """Record the reward for inviting ``invited``, paid by their payment ``charge_id``.

        False (no change) if a reward for ``invited`` was recorded before.
        """
        ...

    async def rewarded_by(self, charge_id: PaymentChargeId) -> bool:
        """True when the payment ``charge_id`` paid an inviter's reward."""
        ...

    async def summary(self, referrer: UserId) -> ReferralSummary:
        """Users ``referrer`` invited, how many of them were rewarded, and the Stars earned."""
        ...


class ReportRepository(Protocol):
    """Read-only figures for operators."""

    async def margin(self, since: datetime) -> list[ModelMargin]:
        """Per model, the generations delivered since ``since``; sorted by model id.

        Each row has the Stars kept (captures minus refunds), the credits quoted and the
        credits KIE reported.
        """
        ...

    async def activity(self, since: datetime, *, today: datetime, week: datetime) -> Activity:
        """Users, generations, money and the funnel of the period from ``since``.

        Users are counted now: all of them, and those last seen at or after ``today`` and
        ``week``. Generations started since ``since`` are counted per model and state, with
        the nearest-rank p50/p95 of start-to-delivery time of the succeeded ones. Money:
        payments received since ``since``, and purchase and generation refunds recorded since
        then. The funnel follows the users who joined since ``since``.
        """
        ...

    async def operations(self) -> OperationsSnapshot:
        """The work in progress now, for metrics: cheap enough for every scrape.

        Unfinished generations by model and state, the job queue and the inbox: reads of
        small or indexed sets only, never a whole table. The store's clock decides what is
        due.
        """
        ...

    async def totals(self) -> OperationsTotals:
        """Everything counted since the store began, for metrics: read rarely.

        Finished generations by model, state and reason, and the Stars paid and refunded.
        These read whole tables: callers read them rarely (the bot's metrics once a minute).
        """
        ...


class AuditRepository(Protocol):
    """The audit trail of operator actions: append-only, never pruned.

    Entries never change but by a forgetting (``PrivacyRepository.forget`` names the anonymous
    id instead of the user's).
    """

    async def append(self, entry: AuditEntry) -> None:
        """Record one entry (in the unit of work of the action it records)."""
        ...

    async def recent(self, *, limit: int, since: datetime | None = None) -> list[AuditEntry]:
        """Up to ``limit`` entries at or after ``since`` (all when None), newest first.

        Entries of the same moment come in reverse order of recording.
        """
        ...


class CatalogRepository(Protocol):
    """Synced model catalogs, versioned; the newest one wins over the shipped catalog."""

    async def current(self) -> CatalogVersion | None:
        """The newest stored version, or None while the catalog was never synced."""
        ...

    async def current_version(self) -> int:
        """The newest version's number (0 while none is stored); cheap enough to poll."""
        ...

    async def add(self, version: CatalogVersion) -> None:
        """Store ``version``, which must be numbered one more than the newest (1 for the first).

        Raises ``StaleWriteError`` when another unit of work stored that number first (or the
        number skips one): the caller read an outdated catalog. Every bot instance is told once
        it commits (``CATALOG_CHANNEL`` in PostgreSQL).
        """
        ...

    async def history(self, *, limit: int) -> list[CatalogRecord]:
        """Up to ``limit`` stored versions without their documents, newest first."""
        ...


class PrivacyRepository(Protocol):
    """Forgetting users: personal data erased, money records kept under an anonymous id.

    What happens to each record is the table in ``kiebot_core.domain.privacy``.
    """

    async def forget(self, user_id: UserId, *, fingerprint: str, at: datetime) -> ForgottenUser:
        """Forget the stored user ``user_id``, recording ``fingerprint`` and the time ``at``.

        Allocates the anonymous id (negative, never used before). Raises ``NotFoundError`` for
        a user never added (or already forgotten), and ``StaleWriteError`` while one of their
        generations is unfinished (checked after locking out the user's ledger appends and
        waiting for the units of work that hold ``lock_against_forgetting``).
        """
        ...

    async def forgotten(self, fingerprint: str) -> list[ForgottenUser]:
        """Every forgetting of the person with ``fingerprint``, oldest first (empty if none)."""
        ...

    async def lock_against_forgetting(self, user_id: UserId) -> bool:
        """Keep the stored user ``user_id`` from being forgotten until this unit of work ends.

        A shared lock (starting generations takes it; they do not wait for one another): a
        ``forget`` either waits for this unit of work and then sees what it stored, or ended
        first, and then the user is not stored. False when the user is not stored (never
        added, or forgotten).
        """
        ...

    async def erase_update(self, bot_id: int, update_id: int) -> None:
        """Erase what is stored of the inbox update with which a user deleted their data.

        Called once the update is done: its payload becomes ``{"update_id": …}`` and its chat
        is cleared (the row stays, so the same update delivered again is still a duplicate),
        and the calls journaled for it are deleted. Idempotent; an unknown update is ignored.
        """
        ...


class UnitOfWork(Protocol):
    """One transaction over every repository."""

    @property
    def users(self) -> UserRepository:
        """Users."""
        ...

    @property
    def generations(self) -> GenerationRepository:
        """Generations."""
        ...

    @property
    def ledger(self) -> LedgerRepository:
        """The ledger."""
        ...

    @property
    def payments(self) -> PaymentRepository:
        """Payments."""
        ...

    @property
    def orders(self) -> OrderRepository:
        """Top-up orders."""
        ...

    @property
    def events(self) -> EventRepository:
        """The event chain."""
        ...

    @property
    def inbox(self) -> InboxRepository:
        """The update inbox."""
        ...

    @property
    def leases(self) -> LeaseRepository:
        """Leader leases."""
        ...

    @property
    def sent_messages(self) -> SentMessageRepository:
        """The journal of calls made for inbox updates."""
        ...

    @property
    def conversations(self) -> ConversationRepository:
        """Conversation state (the bot's wizard)."""
        ...

    @property
    def favorites(self) -> FavoriteRepository:
        """Users' favorites."""
        ...

    @property
    def toggles(self) -> ModelToggleRepository:
        """Runtime model toggles."""
        ...

    @property
    def jobs(self) -> JobRepository:
        """Durable jobs."""
        ...

    @property
    def free_runs(self) -> FreeRunRepository:
        """Free-tier counters."""
        ...

    @property
    def promos(self) -> PromoRepository:
        """Promo codes."""
        ...

    @property
    def referrals(self) -> ReferralRepository:
        """Referral rewards."""
        ...

    @property
    def reports(self) -> ReportRepository:
        """Operator reports."""
        ...

    @property
    def audit(self) -> AuditRepository:
        """The audit trail of operator actions."""
        ...

    @property
    def catalogs(self) -> CatalogRepository:
        """Synced model catalogs."""
        ...

    @property
    def privacy(self) -> PrivacyRepository:
        """Forgetting users."""
        ...

    @property
    def audience(self) -> AudienceRepository:
        """Who broadcasts reach, and who blocked the bot."""
        ...

    @property
    def broadcasts(self) -> BroadcastRepository:
        """Broadcasts and their deliveries."""
        ...

    @property
    def circuits(self) -> CircuitRepository:
        """The models' circuit breakers."""
        ...

    @property
    def credits(self) -> CreditsRepository:
        """The provider account's credits as last checked."""
        ...

    async def commit(self) -> None:
        """Make every change of this unit of work visible at once."""
        ...

    async def __aenter__(self) -> Self:
        """Begin the transaction."""
        ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """End it, rolling back whatever was not committed."""
        ...


class UnitOfWorkFactory(Protocol):
    """Opens units of work."""

    def __call__(self) -> UnitOfWork:
        """A new, not yet entered, unit of work."""
        ...
