"""Forgetting users in the memory fake (``UnitOfWork.privacy``).

Record by record as the table in ``kiebot_core.domain.privacy`` says.
"""

from collections.abc import Mapping
from datetime import date, datetime
from typing import Protocol

import attrs

from kiebot_core.domain.audit import AuditEntry
from kiebot_core.domain.broadcasts import BroadcastId
from kiebot_core.domain.catalog import JsonValue
from kiebot_core.domain.coordination import Conversation, InboxUpdate, SentMessage
from kiebot_core.domain.errors import NotFoundError, StaleWriteError
from kiebot_core.domain.favorites import Favorite
from kiebot_core.domain.generation import Generation
from kiebot_core.domain.ids import (
    FavoriteId,
    GenerationId,
    IdempotencyKey,
    OrderId,
    PaymentChargeId,
    UserId,
)
from kiebot_core.domain.ledger import Balance, LedgerTransaction
from kiebot_core.domain.payments import Order, Payment
from kiebot_core.domain.privacy import (
    ForgottenUser,
    anonymised_entry,
    ledger_rewrite,
    utc_day,
)
from kiebot_core.domain.reasons import ReasonCode
from kiebot_core.domain.telemetry import Event
from kiebot_core.domain.users import User
from kiebot_core.ports.storage import PrivacyRepository
from kiebot_core.testing.operations import StoredDelivery


class PrivacyState(Protocol):
    """The parts of the memory store forgetting touches."""

    users: dict[UserId, User]
    generations: dict[GenerationId, Generation]
    ledger: dict[IdempotencyKey, LedgerTransaction]
    balances: dict[UserId, Balance]
    payments: dict[PaymentChargeId, Payment]
    orders: dict[OrderId, Order]
    events: list[Event]
    inbox: dict[tuple[int, int], InboxUpdate]
    inbox_done: dict[tuple[int, int], datetime]
    inbox_claims: dict[tuple[int, int], datetime]
    inbox_parked: dict[tuple[int, int], tuple[ReasonCode, datetime]]
    sent_messages: dict[tuple[int, int, int], SentMessage]
    conversations: dict[tuple[int, int, int], Conversation]
    favorites: dict[FavoriteId, Favorite]
    free_runs: dict[tuple[UserId, date], int]
    redemptions: set[tuple[str, UserId]]
    referral_rewards: dict[UserId, tuple[UserId, int, PaymentChargeId]]
    blocked: dict[UserId, datetime]
    deliveries: dict[tuple[BroadcastId, UserId], StoredDelivery]
    forgotten: list[ForgottenUser]
    audit: list[AuditEntry]


def update_sender(payload: Mapping[str, JsonValue]) -> int | None:
    """The id in ``from`` of the update's object (message, callback query …), if any."""
    for value in payload.values():
        if isinstance(value, dict):
            sender = value.get("from")
            if isinstance(sender, dict) and isinstance(sender.get("id"), int):
                return int(sender["id"])  # type: ignore[arg-type]  # checked just above
    return None


@attrs.define
class MemoryPrivacyRepository(PrivacyRepository):
    """Forgetting over the memory store's dicts."""

    _state: PrivacyState

    async def forget(self, user_id: UserId, *, fingerprint: str, at: datetime) -> ForgottenUser:
        state = self._state
        user = state.users.get(user_id)
        if user is None:
            raise NotFoundError("user", str(user_id))
        if any(
            g.user_id == user_id and not g.state.is_terminal for g in state.generations.values()
        ):
            raise StaleWriteError("user", f"{user_id} has unfinished generations")
        anonymous = UserId(min((f.anonymous_id for f in state.forgotten), default=0) - 1)
        day = utc_day(at)
        used = state.free_runs.get((user_id, day), 0)
        record = ForgottenUser(
            anonymous_id=anonymous,
            fingerprint=fingerprint,
            forgotten_at=at,
            was_banned=user.is_banned,
            free_runs_day=day if used else None,
            free_runs_used=used,
        )
        state.forgotten.append(record)
        self._profile(user_id, anonymous)
        generations = self._generations(user_id, anonymous)
        self._ledger(user_id, anonymous)
        self._money(user_id, anonymous)
        self._traces(user_id, anonymous, generations)
        self._audit(user_id, anonymous)
        return record

    async def forgotten(self, fingerprint: str) -> list[ForgottenUser]:
        return [f for f in self._state.forgotten if f.fingerprint == fingerprint]

    async def lock_against_forgetting(self, user_id: UserId) -> bool:
        # One unit of work commits at a time here, so there is nothing to wait for.
        return user_id in self._state.users

    async def erase_update(self, bot_id: int, update_id: int) -> None:
        state = self._state
        update = state.inbox.get((bot_id, update_id))
        if update is not None:
            state.inbox[bot_id, update_id] = attrs.evolve(
                update, chat_id=None, payload={"update_id": update_id}
            )
        for call in [k for k in state.sent_messages if (k[0], k[1]) == (bot_id, update_id)]:
            del state.sent_messages[call]

    def _profile(self, user_id: UserId, anonymous: UserId) -> None:
        state = self._state
        del state.users[user_id]
        for other_id, other in list(state.users.items()):
            if other.referrer_id == user_id:
                state.users[other_id] = attrs.evolve(other, referrer_id=anonymous)
        for favorite_id in [f.id for f in state.favorites.values() if f.user_id == user_id]:
            del state.favorites[favorite_id]
        for chat in [k for k in state.conversations if user_id in {k[1], k[2]}]:
            del state.conversations[chat]
        state.blocked.pop(user_id, None)
        for counter in [k for k in state.free_runs if k[0] == user_id]:
            del state.free_runs[counter]

    def _generations(self, user_id: UserId, anonymous: UserId) -> set[GenerationId]:
        state = self._state
        mine = {g.id for g in state.generations.values() if g.user_id == user_id}
        for generation_id in mine:
            generation = state.generations[generation_id]
            state.generations[generation_id] = attrs.evolve(
                generation,
                user_id=anonymous,
                input={},
                result_urls=(),
                result_object=None,
                delivered_refs=(),
                version=generation.version + 1,
            )
        return mine

    def _ledger(self, user_id: UserId, anonymous: UserId) -> None:
        state = self._state
        rewritten: dict[IdempotencyKey, LedgerTransaction] = {}
        serial = 0
        for stored in state.ledger.values():
            kept = stored
            rewrite = ledger_rewrite(
                stored.user_id,
                stored.key,
                stored.reference,
                user_id=user_id,
                anonymous_id=anonymous,
                serial=serial,
            )
            if rewrite is not None:
                kept = attrs.evolve(
                    stored, user_id=rewrite.user_id, key=rewrite.key, reference=rewrite.reference
                )
                serial += 1
            rewritten[kept.key] = kept
        state.ledger.clear()
        state.ledger.update(rewritten)
        if user_id in state.balances:
            state.balances[anonymous] = state.balances.pop(user_id)

    def _money(self, user_id: UserId, anonymous: UserId) -> None:
        state = self._state
        for charge_id, payment in list(state.payments.items()):
            if payment.user_id == user_id:
                state.payments[charge_id] = attrs.evolve(payment, user_id=anonymous)
        for order_id, order in list(state.orders.items()):
            if order.user_id == user_id:
                state.orders[order_id] = attrs.evolve(order, user_id=anonymous)
        for code, redeemer in list(state.redemptions):
            if redeemer == user_id:
                state.redemptions.discard((code, redeemer))
                state.redemptions.add((code, anonymous))
        rewards = state.referral_rewards
        if user_id in rewards:
            rewards[anonymous] = rewards.pop(user_id)
        for invited, (referrer, stars, charge_id) in list(rewards.items()):
            if referrer == user_id:
                rewards[invited] = (anonymous, stars, charge_id)

    def _traces(self, user_id: UserId, anonymous: UserId, generations: set[GenerationId]) -> None:
        state = self._state
        state.events[:] = [
            attrs.evolve(
                event, user_id=anonymous if event.user_id == user_id else event.user_id, payload={}
            )
            if event.user_id == user_id or event.generation_id in generations
            else event
            for event in state.events
        ]
        for broadcast_id, recipient in [k for k in state.deliveries if k[1] == user_id]:
            delivery = state.deliveries.pop((broadcast_id, recipient))
            state.deliveries[broadcast_id, anonymous] = delivery
        settled = state.inbox_done.keys() | state.inbox_parked.keys()
        handled = [
            key
            for key, update in state.inbox.items()
            if key in settled
            and (update.chat_id == user_id or update_sender(update.payload) == user_id)
        ]
        for key in handled:
            state.inbox.pop(key, None)
            state.inbox_done.pop(key, None)
            state.inbox_claims.pop(key, None)
            state.inbox_parked.pop(key, None)
        gone = set(handled)
        for call in [k for k in state.sent_messages if (k[0], k[1]) in gone]:
            del state.sent_messages[call]

    def _audit(self, user_id: UserId, anonymous: UserId) -> None:
        audit = self._state.audit
        for at, entry in enumerate(audit):
            rewritten = anonymised_entry(entry, user_id, anonymous)
            if rewritten is not None:
                audit[at] = rewritten
