"""Privacy: a user's data export, and what forgetting a user ("delete my data") does.

Forgetting erases personal data and keeps what accounting law requires, under an anonymous id
instead of the Telegram id. Anonymous ids are negative (Telegram user ids are positive),
allocated by storage and never reused. Record by record:

    record                         on forgetting
    profile (users)                deleted: a returning person is registered as a new user
    generations                    kept (the ledger and the margin report refer to them) under
                                   the anonymous id; input (prompts, uploaded files' links),
                                   results and delivery references erased
    favorites, conversations       deleted
    events                         kept under the anonymous id, payloads erased
    update inbox, sent journal     the user's handled updates and what was sent for them deleted
    ledger                         kept: the user's transactions move to the anonymous id,
                                   their keys and references stop naming the user, and so does
                                   the one transaction of someone else's that names them (the
                                   inviter's ``referral:<id>`` reward); amounts, kinds and times
                                   never change, so every balance still equals its entries
    balances                       moved to the anonymous id (the Stars left are forfeited)
    payments, orders               kept under the anonymous id (charge ids, amounts, dates)
    promo redemptions, referral    kept under the anonymous id (codes stay used up; inviters
    rewards, others' inviter          keep their counts)
    free-run counters              deleted; today's count is kept on the forgetting record
    audit trail                    operators' entries naming the user (a grant, a ban, an
                                   export; the ``user=<id>`` of a refund's detail) name the
                                   anonymous id instead; who did it, when and why stay

The forgetting record keeps the anonymous id, the time, whether the user was banned, today's
free runs, and a fingerprint of the Telegram id (:func:`fingerprint`, a one-way hash). A
returning person with that fingerprint is a new user, except that the welcome grant is not
given again, an invitation link does not count, a ban stays, promo codes redeemed before stay
redeemed and today's free runs stay used: deleting one's data is not a way to collect gifts
twice. The fingerprint is pseudonymous, not anonymous (Telegram ids can be enumerated); it is
kept only to stop that abuse.
"""

import hashlib
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import attrs

from kiebot_core.domain.audit import AuditAction, AuditEntry
from kiebot_core.domain.favorites import Favorite
from kiebot_core.domain.generation import Generation, GenerationState
from kiebot_core.domain.ids import IdempotencyKey, UserId
from kiebot_core.domain.ledger import USER_ACCOUNTS, Balance, LedgerKind, LedgerTransaction
from kiebot_core.domain.payments import Payment
from kiebot_core.domain.promotions import referral_reference
from kiebot_core.domain.users import User

EXPORT_FORMAT = "kiebot.user-data"
EXPORT_VERSION = 1

FINGERPRINT_PREFIX = "kiebot-forgotten-user:"
"""What :func:`fingerprint` hashes before the id. Storage computes the same hash in SQL (the
append-only triggers of migration 0012 check that a rewrite concerns the user being forgotten),
so it never changes."""

REFERRAL_REWARD_LABEL = "referral reward"
"""How an export shows an inviter's reward, instead of its key naming the invited user."""

USER_TARGETS = frozenset(
    {AuditAction.GRANT, AuditAction.BAN, AuditAction.UNBAN, AuditAction.USER_EXPORT}
)
"""The audit actions whose target is a user id."""
USER_DETAILS = frozenset({AuditAction.GENERATION_REFUND, AuditAction.PAYMENT_REFUND})
"""The audit actions whose detail starts with ``user=<id>`` (the user the refund went to)."""
USER_DETAIL_PREFIX = "user="


def fingerprint(user_id: UserId) -> str:
    """The one-way fingerprint a forgetting record keeps of the Telegram id ``user_id``."""
    return fingerprint_of(str(user_id))


def fingerprint_of(user_id_text: str) -> str:
    """:func:`fingerprint` of a user id written in decimal (as keys and audit entries hold it)."""
    return hashlib.sha256(f"{FINGERPRINT_PREFIX}{user_id_text}".encode()).hexdigest()


def utc_day(at: datetime) -> date:
    """The UTC day of ``at`` (the free tier's day)."""
    return at.astimezone(UTC).date()


@attrs.frozen(kw_only=True)
class ForgottenUser:
    """The record of one forgetting: all that is left of who the anonymous id was."""

    anonymous_id: UserId
    """Negative, unique, never reused: it replaces the user id in the records kept."""
    fingerprint: str
    forgotten_at: datetime
    was_banned: bool = False
    free_runs_day: date | None = None
    """The UTC day of the forgetting when free runs were taken that day, else None."""
    free_runs_used: int = 0
    """The free runs taken on ``free_runs_day``."""


def anonymised(text: str, user_id: UserId, anonymous_id: UserId, serial: int) -> str:
    """``text`` (a key or reference of the user's own transaction) without ``user_id``.

    Keys and references are ``:``-separated, the user id last or followed by a digest derived
    from it (``operator:<id>:<digest>``). The last token equal to the user id becomes the
    anonymous id (so a promo code that reads like the id stays); anything after it is replaced
    by ``n<serial>``, which keeps keys unique. Text without the id is returned as is.
    """
    tokens = text.split(":")
    if str(user_id) not in tokens:
        return text
    at = len(tokens) - 1 - tokens[::-1].index(str(user_id))
    rest = [f"n{serial}"] if at + 1 < len(tokens) else []
    return ":".join([*tokens[:at], str(anonymous_id), *rest])


def referral_reward_key(invited: UserId) -> IdempotencyKey:
    """The key of the reward for inviting ``invited`` (``grant:referral:<id>``).

    Owned by the inviter, it is the one transaction of someone else's that names the user.
    """
    return IdempotencyKey(f"{LedgerKind.GRANT.value}:{referral_reference(invited)}")


def is_referral_reward(transaction: LedgerTransaction) -> bool:
    """True for an inviter's reward (its key and reference name the invited user)."""
    invited = transaction.reference.rpartition(":")[2]
    return (
        transaction.kind is LedgerKind.GRANT
        and invited.removeprefix("-").isdigit()
        and transaction.reference == referral_reference(UserId(int(invited)))
    )


@attrs.frozen(kw_only=True)
class LedgerRewrite:
    """What forgetting changes in one ledger transaction (never its amounts, kind or time)."""

    user_id: UserId
    key: IdempotencyKey
    reference: str


def ledger_rewrite(
    owner: UserId,
    key: str,
    reference: str,
    *,
    user_id: UserId,
    anonymous_id: UserId,
    serial: int,
) -> LedgerRewrite | None:
    """How forgetting ``user_id`` rewrites the transaction ``key`` of ``owner``; None: it stays.

    The user's own transactions move to ``anonymous_id`` and their key and reference stop
    naming the user (:func:`anonymised`, ``serial`` counting the user's transactions). Of
    other users' transactions only the reward for inviting the user changes, exactly, into the
    reward for inviting the anonymous id; every other key stays, even one that happens to
    contain the same digits.
    """
    if owner == user_id:
        return LedgerRewrite(
            user_id=anonymous_id,
            key=IdempotencyKey(anonymised(key, user_id, anonymous_id, serial)),
            reference=anonymised(reference, user_id, anonymous_id, serial),
        )
    if key == referral_reward_key(user_id):
        return LedgerRewrite(
            user_id=owner,
            key=referral_reward_key(anonymous_id),
            reference=referral_reference(anonymous_id),
        )
    return None


def anonymised_entry(
    entry: AuditEntry, user_id: UserId, anonymous_id: UserId
) -> AuditEntry | None:
    """The audit ``entry`` naming ``anonymous_id`` instead of ``user_id``; None: it names not.

    A target that is the user (an action of ``USER_TARGETS``) and the ``user=<id>`` that
    starts a refund's detail (``USER_DETAILS``) change; who acted, what, when and why stay.
    """
    target = entry.target
    if entry.action in USER_TARGETS and target == str(user_id):
        target = str(anonymous_id)
    detail = entry.detail
    head, space, rest = detail.partition(" ")
    if entry.action in USER_DETAILS and head == f"{USER_DETAIL_PREFIX}{user_id}":
        detail = f"{USER_DETAIL_PREFIX}{anonymous_id}{space}{rest}"
    if (target, detail) == (entry.target, entry.detail):
        return None
    return attrs.evolve(entry, target=target, detail=detail)


def _when(at: datetime | None) -> str | None:
    return None if at is None else at.astimezone(UTC).isoformat()


def _credits(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _generation(generation: Generation) -> dict[str, Any]:
    return {
        "id": generation.id,
        "model": generation.model_id,
        "state": generation.state.value,
        "created_at": _when(generation.created_at),
        "updated_at": _when(generation.updated_at),
        "input": dict(generation.input),
        "price_stars": generation.stars,
        "charged_stars": generation.charged
        if generation.state is GenerationState.SUCCEEDED and generation.held > 0
        else 0,
        "is_free": generation.is_free,
        "credits": _credits(generation.credits),
        "reason": generation.reason.value if generation.reason is not None else None,
        "result_urls": list(generation.result_urls),
        "result": generation.result_object,
        "provider_task_id": generation.task_id,
    }


def _payment(payment: Payment) -> dict[str, Any]:
    return {
        "charge_id": payment.charge_id,
        "order_id": payment.order_id,
        "paid_stars": payment.stars,
        "credited_stars": payment.credited,
        "state": payment.state.value,
        "created_at": _when(payment.created_at),
    }


def _move(transaction: LedgerTransaction) -> dict[str, Any]:
    # An inviter's reward names the invited user: their id is theirs, not the inviter's.
    referral = is_referral_reward(transaction)
    return {
        "key": f"{LedgerKind.GRANT.value}:referral" if referral else transaction.key,
        "kind": transaction.kind.value,
        "reference": REFERRAL_REWARD_LABEL if referral else transaction.reference,
        "recorded_at": _when(transaction.recorded_at),
        "your_accounts": {
            account.value: transaction.amount_of(account)
            for account in sorted(USER_ACCOUNTS)
            if transaction.amount_of(account)
        },
        "entries": [
            {"account": entry.account.value, "amount": entry.amount}
            for entry in transaction.entries
        ],
    }


def _favorite(favorite: Favorite) -> dict[str, Any]:
    return {
        "id": favorite.id,
        "model": favorite.model_id,
        "title": favorite.title,
        "answers": dict(favorite.answers),
        "created_at": _when(favorite.created_at),
    }


def user_export(
    user: User,
    *,
    balance: Balance,
    generations: Sequence[Generation],
    payments: Sequence[Payment],
    ledger: Sequence[LedgerTransaction],
    favorites: Sequence[Favorite],
    exported_at: datetime,
) -> dict[str, Any]:
    """Everything stored about ``user`` as one JSON document (lists newest first)."""
    profile: Mapping[str, Any] = {
        "telegram_id": user.id,
        "language": user.language.value,
        "created_at": _when(user.created_at),
        "invited_by": user.referrer_id,
        "terms_version_accepted": user.terms_version,
        "is_banned": user.is_banned,
    }
    return {
        "format": EXPORT_FORMAT,
        "version": EXPORT_VERSION,
        "exported_at": _when(exported_at),
        "profile": dict(profile),
        "balance": {"available": balance.available, "held": balance.held, "debt": balance.debt},
        "generations": [_generation(generation) for generation in generations],
        "payments": [_payment(payment) for payment in payments],
        "ledger": [_move(transaction) for transaction in ledger],
        "favorites": [_favorite(favorite) for favorite in favorites],
    }
