"""Free Stars and free runs: the daily free tier, promo codes and referral rewards.

- **Free tier**: ``FreeTier.daily`` free runs per UTC day on the models the operator marks
  free. A run takes one from the day's counter in the transaction that starts it; a free run
  that fails or is cancelled gives it back.
- **Promo codes**: an operator creates ``CODE`` worth N Stars, optionally limited in uses and
  time; each user redeems a code once, for a ``grant`` keyed ``grant:promo:CODE:<user>``.
- **Referrals**: ``/start ref_<code>`` links a new user to the user who invited them; the
  inviter is rewarded once (``grant:referral:<invited user>``) when the invited user first pays.
"""

import re
from collections.abc import Iterable
from datetime import UTC, date, datetime

import attrs

from kiebot_core.domain.catalog import Category, ModelSpec
from kiebot_core.domain.ids import UserId
from kiebot_core.domain.outcomes import Rejected
from kiebot_core.domain.pricing import PriceSettings, starting_price
from kiebot_core.domain.reasons import ReasonCode
from kiebot_core.domain.users import User

PROMO_CODE = re.compile(r"^[A-Z0-9][A-Z0-9_-]{2,31}$")
"""A promo code once normalized: 3 to 32 of ``A-Z 0-9 _ -``, starting with a letter or digit."""
REFERRAL_PREFIX = "ref_"
_BASE36 = "0123456789abcdefghijklmnopqrstuvwxyz"


@attrs.frozen
class FreeTier:
    """The operator's free tier: ``daily`` free runs a day on ``models``."""

    daily: int = 0
    models: frozenset[str] = frozenset()

    def covers(self, model_id: str) -> bool:
        """True when runs of ``model_id`` may be free."""
        return self.daily > 0 and model_id in self.models

    def covers_run(self, model: ModelSpec, stars: int, prices: PriceSettings) -> bool:
        """True when a run of ``model`` priced ``stars`` may be free.

        Only a free model at its cheapest setup is: options that raise the price are paid.
        """
        cheapest = starting_price(model, prices)
        return self.covers(model.id) and cheapest is not None and stars <= cheapest


@attrs.frozen
class FreeAllowance:
    """A user's free runs today: ``left`` of ``daily``."""

    left: int
    daily: int


def free_day(at: datetime) -> date:
    """The free-tier day of a moment: its UTC date."""
    return at.astimezone(UTC).date()


def cheapest_image_model(models: Iterable[ModelSpec], prices: PriceSettings) -> str | None:
    """The enabled image model with the lowest starting price (ties: by id), or None."""
    priced = [
        (stars, model.id)
        for model in models
        if model.enabled and model.category is Category.IMAGE
        if (stars := starting_price(model, prices)) is not None
    ]
    return min(priced)[1] if priced else None


@attrs.frozen(kw_only=True)
class PromoCode:
    """A code worth ``stars``, redeemable once per user, ``max_uses`` times in all."""

    code: str
    stars: int
    max_uses: int | None = None
    """None: unlimited."""
    uses: int = 0
    expires_at: datetime | None = None
    created_at: datetime

    @property
    def uses_left(self) -> int | None:
        """How many more users can redeem it (None: unlimited)."""
        return None if self.max_uses is None else max(0, self.max_uses - self.uses)

    def is_expired(self, now: datetime) -> bool:
        """True from ``expires_at`` on."""
        return self.expires_at is not None and now >= self.expires_at


def normalize_promo_code(text: str) -> str | None:
    """The canonical (upper-case) code typed as ``text``, or None when it cannot be a code."""
    code = text.strip().upper()
    return code if PROMO_CODE.fullmatch(code) else None


def promo_problem(
    promo: PromoCode | None, now: datetime, *, already_redeemed: bool
) -> Rejected | None:
    """Why a user cannot redeem ``promo`` now, or None when they can try."""
    if promo is None:
        return Rejected(ReasonCode.PROMO_UNKNOWN)
    if already_redeemed:
        return Rejected(ReasonCode.PROMO_ALREADY_REDEEMED, detail=promo.code)
    if promo.is_expired(now):
        return Rejected(
            ReasonCode.PROMO_EXPIRED, detail=f"{promo.code} expired {promo.expires_at}"
        )
    if promo.uses_left == 0:
        return Rejected(ReasonCode.PROMO_USED_UP, detail=promo.code)
    return None


def promo_reference(code: str, user_id: UserId) -> str:
    """The ledger reference of a user's redemption of ``code``."""
    return f"promo:{code}:{user_id}"


def referral_code(user_id: UserId) -> str:
    """The ``/start`` argument that credits ``user_id`` with an invitation (``ref_<base36>``)."""
    number, digits = int(user_id), ""
    while True:
        number, digit = divmod(number, 36)
        digits = _BASE36[digit] + digits
        if number == 0:
            return REFERRAL_PREFIX + digits


def parse_referral_code(argument: str) -> UserId | None:
    """The inviting user of a ``/start`` argument, or None when it is not a referral code."""
    if not argument.startswith(REFERRAL_PREFIX):
        return None
    digits = argument.removeprefix(REFERRAL_PREFIX)
    if not 1 <= len(digits) <= 13 or any(c not in _BASE36 for c in digits):
        return None
    number = int(digits, 36)
    return UserId(number) if number > 0 else None


def referral_problem(user_id: UserId, referrer: User | None) -> Rejected | None:
    """Why ``referrer`` cannot be credited with inviting the new user ``user_id``, or None.

    Refused: an unknown inviter and inviting oneself. Cycles cannot form: only a user's first
    contact links them to an inviter, so an inviter (an existing user) was never invited by a
    newcomer.
    """
    if referrer is None:
        return Rejected(ReasonCode.REFERRAL_REFUSED, detail="unknown inviter")
    if user_id == referrer.id:
        return Rejected(ReasonCode.REFERRAL_REFUSED, detail=f"{referrer.id} invites {user_id}")
    return None


def referral_reference(invited: UserId) -> str:
    """The ledger reference of the reward for inviting ``invited`` (one per invited user)."""
    return f"referral:{invited}"


@attrs.frozen
class ReferralSummary:
    """What a user's invitations brought: users who joined, of them paid, Stars earned."""

    invited: int = 0
    rewarded: int = 0
    stars: int = 0
