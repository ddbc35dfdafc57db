"""Rows to domain objects (named constructors) and domain objects to statement parameters.

Repositories never build a domain object from a row themselves: they call one of the
``*_from_row`` functions here, which is the only place that knows both shapes. Each
``*_values`` function gives statement parameters in the column order of its table in
``migrations/`` (``0001_initial.sql``; ``0002_favorites.sql`` for favorites; ``0003_orders.sql``
for orders; ``0004_promotions.sql`` for promo codes; ``0005_inbox_claims.sql`` for the inbox's
claims and parking; ``0007_sent_messages.sql`` for the sent-message journal); the
repositories' statements list the columns in that order.
"""

from collections.abc import Sequence
from datetime import datetime

import asyncpg

from kiebot_core.domain.audit import Actor, AuditAction, AuditEntry
from kiebot_core.domain.catalog import JsonValue
from kiebot_core.domain.coordination import Conversation, InboxUpdate, Lease, SentMessage
from kiebot_core.domain.favorites import Favorite
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
from kiebot_core.domain.jobs import Job, JobKind
from kiebot_core.domain.json_values import (
    dump_object,
    dump_strings,
    dump_value,
    load_object,
    load_strings,
    load_value,
)
from kiebot_core.domain.ledger import AccountKind, Balance, Entry, LedgerKind, LedgerTransaction
from kiebot_core.domain.payments import Order, Payment, PaymentState
from kiebot_core.domain.promotions import PromoCode
from kiebot_core.domain.reasons import ReasonCode
from kiebot_core.domain.telemetry import Event
from kiebot_core.domain.texts import Language
from kiebot_core.domain.users import User


def user_values(user: User) -> tuple[object, ...]:
    """Parameters for the ``users`` columns, in table order."""
    return (
        user.id,
        user.language.value,
        user.created_at,
        user.referrer_id,
        user.is_admin,
        user.is_banned,
        user.terms_version,
        user.username,
        user.last_seen_at,
        user.ban_notice_sent,
    )


def user_from_row(row: asyncpg.Record) -> User:
    """The user stored in ``row``."""
    referrer = row["referrer_id"]
    return User(
        id=UserId(row["id"]),
        language=Language(row["language"]),
        created_at=row["created_at"],
        referrer_id=None if referrer is None else UserId(referrer),
        is_admin=row["is_admin"],
        is_banned=row["is_banned"],
        terms_version=row["terms_version"],
        username=row["username"],
        last_seen_at=row["last_seen_at"],
        ban_notice_sent=row["ban_notice_sent"],
    )


def prompt_of(generation: Generation) -> str:
    """The text ``for_user(search=...)`` matches besides the model id."""
    return str(generation.input.get("prompt", ""))


def generation_values(generation: Generation) -> tuple[object, ...]:
    """Parameters for the ``generations`` columns, in table order."""
    return (
        generation.id,
        generation.user_id,
        generation.model_id,
        dump_object(generation.input),
        generation.credits,
        generation.stars,
        generation.held,
        generation.is_free,
        generation.correlation_id,
        generation.state.value,
        generation.created_at,
        generation.updated_at,
        generation.deadline_at,
        generation.task_id,
        dump_strings(generation.result_urls),
        None if generation.result_object is None else dump_value(generation.result_object),
        generation.credits_consumed,
        dump_strings(generation.delivered_refs),
        None if generation.reason is None else generation.reason.value,
        generation.version,
        generation.model_id.lower(),
        prompt_of(generation).lower(),
        generation.estimated,
        generation.charge,
    )


def generation_from_row(row: asyncpg.Record) -> Generation:
    """The generation stored in ``row``."""
    task_id = row["task_id"]
    result_object = row["result_object"]
    reason = row["reason"]
    return Generation(
        id=GenerationId(row["id"]),
        user_id=UserId(row["user_id"]),
        model_id=row["model_id"],
        input=load_object(row["input"]),
        credits=row["credits"],
        stars=row["stars"],
        held=row["held"],
        is_free=row["is_free"],
        correlation_id=CorrelationId(row["correlation_id"]),
        state=GenerationState(row["state"]),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        deadline_at=row["deadline_at"],
        task_id=None if task_id is None else ProviderTaskId(task_id),
        result_urls=load_strings(row["result_urls"]),
        result_object=None if result_object is None else load_value(result_object),
        credits_consumed=row["credits_consumed"],
        delivered_refs=load_strings(row["delivered_refs"]),
        reason=None if reason is None else ReasonCode(reason),
        version=row["version"],
        estimated=row["estimated"],
        charge=row["charge"],
    )


def balance_from_row(row: asyncpg.Record | None) -> Balance:
    """The balance in ``row``; zero when the user has no balance row yet."""
    if row is None:
        return Balance()
    return Balance(available=row["available"], held=row["held"], debt=row["debt"])


def entry_arrays(transaction: LedgerTransaction) -> tuple[list[int], list[str], list[int]]:
    """Positions, accounts and amounts of ``transaction``'s entries, as parallel arrays."""
    entries = transaction.entries
    return (
        list(range(len(entries))),
        [entry.account.value for entry in entries],
        [entry.amount for entry in entries],
    )


def ledger_transaction_from_row(row: asyncpg.Record) -> LedgerTransaction:
    """The transaction in ``row``, whose ``accounts`` and ``amounts`` arrays are its entries."""
    accounts: Sequence[str] = row["accounts"]
    amounts: Sequence[int] = row["amounts"]
    return LedgerTransaction(
        key=IdempotencyKey(row["idempotency_key"]),
        kind=LedgerKind(row["kind"]),
        user_id=UserId(row["user_id"]),
        entries=tuple(
            Entry(AccountKind(account), amount)
            for account, amount in zip(accounts, amounts, strict=True)
        ),
        reference=row["reference"],
        recorded_at=row["created_at"],
    )


def payment_values(payment: Payment) -> tuple[object, ...]:
    """Parameters for the ``payments`` columns, in table order."""
    return (
        payment.charge_id,
        payment.user_id,
        payment.order_id,
        payment.stars,
        payment.credited,
        payment.state.value,
        payment.created_at,
    )


def payment_from_row(row: asyncpg.Record) -> Payment:
    """The payment stored in ``row``."""
    return Payment(
        charge_id=PaymentChargeId(row["charge_id"]),
        user_id=UserId(row["user_id"]),
        order_id=row["order_id"],
        stars=row["stars"],
        credited=row["credited"],
        state=PaymentState(row["state"]),
        created_at=row["created_at"],
    )


def order_values(order: Order) -> tuple[object, ...]:
    """Parameters for the ``orders`` columns, in table order."""
    return (
        order.id,
        order.user_id,
        order.stars,
        order.bonus,
        order.terms_version,
        order.created_at,
    )


def order_from_row(row: asyncpg.Record) -> Order:
    """The order stored in ``row``."""
    return Order(
        id=OrderId(row["id"]),
        user_id=UserId(row["user_id"]),
        stars=row["stars"],
        bonus=row["bonus"],
        terms_version=row["terms_version"],
        created_at=row["created_at"],
    )


def promo_values(promo: PromoCode) -> tuple[object, ...]:
    """Parameters for the ``promo_codes`` columns, in table order."""
    return (
        promo.code,
        promo.stars,
        promo.max_uses,
        promo.uses,
        promo.expires_at,
        promo.created_at,
    )


def promo_from_row(row: asyncpg.Record) -> PromoCode:
    """The promo code stored in ``row``."""
    return PromoCode(
        code=row["code"],
        stars=row["stars"],
        max_uses=row["max_uses"],
        uses=row["uses"],
        expires_at=row["expires_at"],
        created_at=row["created_at"],
    )


def event_values(event: Event) -> tuple[object, ...]:
    """Parameters for the ``events`` columns after ``id``, in table order."""
    return (
        event.correlation_id,
        event.kind,
        event.at,
        event.user_id,
        event.generation_id,
        None if event.reason is None else event.reason.value,
        event.duration_ms,
        dump_object(event.payload),
    )


def event_from_row(row: asyncpg.Record) -> Event:
    """The event stored in ``row``."""
    user_id = row["user_id"]
    generation_id = row["generation_id"]
    reason = row["reason"]
    return Event(
        correlation_id=CorrelationId(row["correlation_id"]),
        kind=row["kind"],
        at=row["at"],
        user_id=None if user_id is None else UserId(user_id),
        generation_id=None if generation_id is None else GenerationId(generation_id),
        reason=None if reason is None else ReasonCode(reason),
        duration_ms=row["duration_ms"],
        payload=load_object(row["payload"]),
    )


def audit_values(entry: AuditEntry) -> tuple[object, ...]:
    """Parameters for the ``audit_log`` columns after ``id``, in table order (``0010``)."""
    return (
        entry.at,
        entry.actor,
        entry.action.value,
        entry.target,
        entry.detail,
        entry.reason,
    )


def audit_from_row(row: asyncpg.Record) -> AuditEntry:
    """The audit entry stored in ``row``."""
    return AuditEntry(
        actor=Actor(row["actor"]),
        action=AuditAction(row["action"]),
        target=row["target"],
        at=row["at"],
        detail=row["detail"],
        reason=row["reason"],
    )


def inbox_values(update: InboxUpdate) -> tuple[object, ...]:
    """Parameters for the ``update_inbox`` columns before ``processed``, then ``attempts``."""
    return (
        update.bot_id,
        update.update_id,
        update.chat_id,
        dump_object(update.payload),
        update.received_at,
        update.attempts,
    )


def inbox_update_from_row(row: asyncpg.Record) -> InboxUpdate:
    """The update stored in ``row``."""
    return InboxUpdate(
        bot_id=row["bot_id"],
        update_id=row["update_id"],
        chat_id=row["chat_id"],
        payload=load_object(row["payload"]),
        received_at=row["received_at"],
        attempts=row["attempts"],
    )


def parked_update_from_row(row: asyncpg.Record) -> tuple[InboxUpdate, ReasonCode]:
    """The parked update stored in ``row``, with the reason it was parked."""
    return inbox_update_from_row(row), ReasonCode(row["parked_reason"])


def conversation_values(conversation: Conversation) -> tuple[object, ...]:
    """Parameters for the ``conversations`` columns before ``updated_at``, in table order."""
    return (
        conversation.bot_id,
        conversation.chat_id,
        conversation.user_id,
        conversation.state,
        dump_object(conversation.data),
    )


def conversation_from_row(row: asyncpg.Record) -> Conversation:
    """The conversation stored in ``row``."""
    return Conversation(
        bot_id=row["bot_id"],
        chat_id=row["chat_id"],
        user_id=row["user_id"],
        state=row["state"],
        data=load_object(row["data"]),
    )


def favorite_values(favorite: Favorite) -> tuple[object, ...]:
    """Parameters for the ``favorites`` columns, in table order."""
    return (
        favorite.id,
        favorite.user_id,
        favorite.model_id,
        dump_object(favorite.answers),
        favorite.title,
        favorite.created_at,
        favorite.key,
    )


def favorite_from_row(row: asyncpg.Record) -> Favorite:
    """The favorite stored in ``row``."""
    return Favorite(
        id=FavoriteId(row["id"]),
        user_id=UserId(row["user_id"]),
        model_id=row["model_id"],
        answers=load_object(row["answers"]),
        title=row["title"],
        created_at=row["created_at"],
    )


def lease_from_row(row: asyncpg.Record) -> Lease:
    """The lease stored in ``row``."""
    expires_at: datetime = row["expires_at"]
    return Lease(name=row["name"], holder=row["holder"], epoch=row["epoch"], expires_at=expires_at)


def job_values(job: Job) -> tuple[object, ...]:
    """Parameters for the ``jobs`` columns before ``claimed_until``, in table order."""
    return (job.id, job.kind.value, job.key, dump_object(job.payload), job.run_at, job.attempts)


def job_from_row(row: asyncpg.Record) -> Job:
    """The job stored in ``row``."""
    return Job(
        id=JobId(row["id"]),
        kind=JobKind(row["kind"]),
        key=row["key"],
        payload=load_object(row["payload"]),
        run_at=row["run_at"],
        attempts=row["attempts"],
    )


def sent_message_values(
    bot_id: int, update_id: int, seq: int, method: str, result: JsonValue
) -> tuple[object, ...]:
    """Parameters for the ``sent_messages`` columns before ``recorded_at``, in table order.

    Raises:
        TypeError: ``result`` is not plain JSON.
    """
    return (bot_id, update_id, seq, method, dump_value(result))


def sent_message_from_row(row: asyncpg.Record) -> SentMessage:
    """The sent-message record stored in ``row``."""
    return SentMessage(
        bot_id=row["bot_id"],
        update_id=row["update_id"],
        seq=row["seq"],
        method=row["method"],
        result=load_value(row["result"]),
        recorded_at=row["recorded_at"],
    )
