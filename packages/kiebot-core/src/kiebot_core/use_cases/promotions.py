"""Promo codes, referrals and user registration (with the welcome grant and the inviter).

- ``register_user``: the first contact of a Telegram user stores them once, with the welcome
  grant and, when they came through an invitation link, their inviter.
- ``create_promo`` / ``list_promos`` for operators; ``redeem_promo`` for users: one grant per
  user and code, never more than the code's ``max_uses`` in all.
- ``referrals_of``: what a user's invitations brought. The inviter's reward is paid by
  ``kiebot_core.use_cases.payments.register_payment`` on the invited user's first payment.
"""

from datetime import datetime

import attrs

from kiebot_core.domain.audit import Actor, AuditAction
from kiebot_core.domain.errors import DuplicateError
from kiebot_core.domain.ids import UserId
from kiebot_core.domain.ledger import Balance, grant
from kiebot_core.domain.outcomes import Rejected
from kiebot_core.domain.privacy import fingerprint, utc_day
from kiebot_core.domain.promotions import (
    PromoCode,
    ReferralSummary,
    normalize_promo_code,
    promo_problem,
    promo_reference,
    referral_problem,
)
from kiebot_core.domain.reasons import ReasonCode
from kiebot_core.domain.texts import Language
from kiebot_core.domain.users import User
from kiebot_core.ports.runtime import Clock
from kiebot_core.ports.storage import UnitOfWork, UnitOfWorkFactory
from kiebot_core.use_cases.audit import audited, reason_problem


@attrs.frozen
class Registration:
    """The stored user; ``is_new`` on their first contact; why an invitation was refused."""

    user: User
    is_new: bool
    referral_refused: Rejected | None = None
    welcomed: int = 0
    """The welcome grant given now (0: none, also for a person whose data was deleted before)."""


def welcome_reference(user_id: UserId) -> str:
    """The ledger reference of a user's welcome grant (one per user)."""
    return f"welcome:{user_id}"


async def register_user(
    store: UnitOfWorkFactory,
    clock: Clock,
    user_id: UserId,
    language: Language,
    *,
    welcome_stars: int = 0,
    invited_by: UserId | None = None,
    username: str | None = None,
) -> Registration:
    """The stored user, added on first contact with the welcome grant and their inviter.

    ``invited_by`` counts only for a new user, and is refused (``REFERRAL_REFUSED``; the user
    is registered without an inviter) for an unknown inviter, oneself, or a cycle. Two first
    contacts racing register the user once. Every contact records the user's ``username``
    (Telegram's @username, None when they have none) and when they were seen
    (``User.seen``: at most one write a day otherwise).
    """
    now = clock.now()
    async with store() as uow:
        found = await uow.users.get(user_id)
        inviter = await uow.users.get(invited_by) if invited_by is not None else None
        # A person who deleted their data comes back as a new user, without a second welcome
        # grant, inviter or free day, and still banned (kiebot_core.domain.privacy).
        earlier = [] if found is not None else await uow.privacy.forgotten(fingerprint(user_id))
    if found is not None:
        seen = found.seen(now, username)
        if seen is not None:
            async with store() as uow:
                await uow.users.update_seen(
                    user_id, last_seen_at=seen.last_seen_at, username=seen.username
                )
                await uow.commit()
            found = seen
        return Registration(found, is_new=False)
    refused = None
    if invited_by is not None and not earlier:
        refused = referral_problem(user_id, inviter)
    user = User(
        id=user_id,
        language=language,
        created_at=now,
        referrer_id=invited_by
        if invited_by is not None and refused is None and not earlier
        else None,
        username=username or None,
        last_seen_at=now,
        is_banned=any(record.was_banned for record in earlier),
    )
    welcomed = 0 if earlier else welcome_stars
    try:
        async with store() as uow:
            await uow.users.add(user)
            planned = grant(user_id, welcomed, welcome_reference(user_id))
            if welcomed > 0 and not isinstance(planned, Rejected):
                await uow.ledger.append(planned)
            today = utc_day(now)
            used = sum(r.free_runs_used for r in earlier if r.free_runs_day == today)
            for _ in range(used):
                await uow.free_runs.take(user_id, today, daily=used)
            await uow.commit()
    except DuplicateError:
        async with store() as uow:
            found = await uow.users.get(user_id)
        if found is None:
            raise
        return Registration(found, is_new=False)
    return Registration(user, is_new=True, referral_refused=refused, welcomed=welcomed)


async def _redeemed_before(uow: UnitOfWork, code: str, user_id: UserId) -> bool:
    """True when the user, or the person they were before deleting their data, redeemed it."""
    if await uow.promos.is_redeemed(code, user_id):
        return True
    earlier = await uow.privacy.forgotten(fingerprint(user_id))
    return any([await uow.promos.is_redeemed(code, r.anonymous_id) for r in earlier])


async def create_promo(
    store: UnitOfWorkFactory,
    clock: Clock,
    code: str,
    stars: int,
    *,
    max_uses: int | None = None,
    expires_at: datetime | None = None,
    by: Actor,
    reason: str = "",
) -> PromoCode | Rejected:
    """A new promo code worth ``stars``; ``INVALID_INPUT`` naming the problem otherwise.

    Refused: a code that is not 3 to 32 of ``A-Z 0-9 _ -``, ``stars`` or ``max_uses`` below
    1, an expiry in the past, a code that exists, and a ``reason`` over ``MAX_AUDIT_REASON``
    characters. The code and ``by``'s audit entry are one transaction.
    """
    if problem := reason_problem(reason, required=False):
        return problem
    normalized = normalize_promo_code(code)
    now = clock.now()
    if normalized is None:
        return Rejected(ReasonCode.INVALID_INPUT, detail=f"{code!r}: use 3-32 of A-Z 0-9 _ -")
    if stars < 1 or (max_uses is not None and max_uses < 1):
        return Rejected(ReasonCode.INVALID_INPUT, detail="stars and max uses must be >= 1")
    if expires_at is not None and expires_at <= now:
        return Rejected(ReasonCode.INVALID_INPUT, detail=f"{expires_at} is in the past")
    promo = PromoCode(
        code=normalized, stars=stars, max_uses=max_uses, expires_at=expires_at, created_at=now
    )
    detail = f"stars={stars} max_uses={max_uses or 'unlimited'}"
    if expires_at is not None:
        detail += f" expires={expires_at.isoformat()}"
    async with store() as uow:
        if not await uow.promos.add(promo):
            return Rejected(ReasonCode.INVALID_INPUT, detail=f"{normalized} exists")
        await audited(
            uow, by, AuditAction.PROMO_CREATE, normalized, at=now, detail=detail, reason=reason
        )
        await uow.commit()
    return promo


async def list_promos(store: UnitOfWorkFactory) -> list[PromoCode]:
    """Every promo code, newest first, with its uses."""
    async with store() as uow:
        return await uow.promos.all()


@attrs.frozen
class Redeemed:
    """A promo code redeemed: the Stars granted and the balance now."""

    promo: PromoCode
    balance: Balance


async def redeem_promo(
    store: UnitOfWorkFactory, clock: Clock, user_id: UserId, text: str
) -> Redeemed | Rejected:
    """Redeem the code typed as ``text``: its Stars granted once to this user.

    Refused: ``PROMO_UNKNOWN``, ``PROMO_ALREADY_REDEEMED``, ``PROMO_EXPIRED``,
    ``PROMO_USED_UP`` (also when concurrent users took the last uses first), ``BANNED``.
    The redemption, the use count and the grant are one transaction.
    """
    code = normalize_promo_code(text)
    now = clock.now()
    async with store() as uow:
        user = await uow.users.get(user_id)
        if user is not None and user.is_banned:
            return Rejected(ReasonCode.BANNED)
        promo = await uow.promos.get(code) if code is not None else None
        already = promo is not None and await _redeemed_before(uow, promo.code, user_id)
        problem = promo_problem(promo, now, already_redeemed=already)
        if problem is not None or promo is None:
            return problem or Rejected(ReasonCode.PROMO_UNKNOWN)
        if not await uow.promos.redeem(promo.code, user_id, now):
            already = await uow.promos.is_redeemed(promo.code, user_id)
            reason = ReasonCode.PROMO_ALREADY_REDEEMED if already else ReasonCode.PROMO_USED_UP
            return Rejected(reason, detail=promo.code)
        planned = grant(user_id, promo.stars, promo_reference(promo.code, user_id))
        if isinstance(planned, Rejected):
            return planned
        await uow.ledger.append(planned)
        balance = await uow.ledger.balance(user_id)
        await uow.commit()
    return Redeemed(promo, balance)


async def referrals_of(store: UnitOfWorkFactory, user_id: UserId) -> ReferralSummary:
    """What ``user_id``'s invitations brought."""
    async with store() as uow:
        return await uow.referrals.summary(user_id)
