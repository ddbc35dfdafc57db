"""Telegram Stars payments: packages, orders (invoice payloads), payments and their rules.

A user tops up by buying a *package* (an amount of Stars and a bonus percentage set by the
operator). Each purchase starts as an *order* whose short payload goes into the invoice; the
order stays payable for ``ORDER_VALIDITY`` and every payment of it is its own charge, credited
exactly once per ``telegram_payment_charge_id``. A purchase can be refunded by its user while
the available balance still covers everything it credited (bonus included), for
``REFUND_WINDOW``.
"""

import enum
import re
from collections.abc import Sequence
from datetime import datetime, timedelta

import attrs

from kiebot_core.domain.ids import OrderId, PaymentChargeId, UserId
from kiebot_core.domain.ledger import Balance
from kiebot_core.domain.outcomes import Rejected
from kiebot_core.domain.reasons import ReasonCode

CURRENCY = "XTR"
"""Telegram Stars: the only currency for digital goods inside Telegram."""
ORDER_VALIDITY = timedelta(hours=24)
"""How long an order (an invoice) stays payable."""
REFUND_WINDOW = timedelta(days=30)
"""How long a user can refund an unspent purchase."""
DEFAULT_STAR_PACKAGES = "50,100:5,250:10,500:15,1000:20"
"""``KIEBOT_STAR_PACKAGES`` by default: ``amount[:bonus %]`` separated by commas."""
MAX_PACKAGE_STARS = 10_000
"""The largest single Stars invoice kiebot offers."""
_PAYLOAD = re.compile(r"^(ord_[0-9a-z]{1,40})\.t([0-9]{1,6})$")


class PaymentState(enum.StrEnum):
    """Where a payment is: processing → processed | refunded | failed."""

    PROCESSING = "processing"
    PROCESSED = "processed"
    REFUNDED = "refunded"
    FAILED = "failed"


@attrs.frozen(kw_only=True)
class Payment:
    """One successful Stars payment (one ``telegram_payment_charge_id``)."""

    charge_id: PaymentChargeId
    user_id: UserId
    order_id: str
    stars: int
    """What the user paid."""
    credited: int
    """What the balance received (``stars`` plus any bonus)."""
    state: PaymentState
    created_at: datetime


@attrs.frozen
class StarPackage:
    """A top-up the operator offers: ``stars`` paid, ``bonus_percent`` more credited."""

    stars: int
    bonus_percent: int = 0

    @property
    def bonus(self) -> int:
        """The bonus Stars (rounded down)."""
        return self.stars * self.bonus_percent // 100

    @property
    def credited(self) -> int:
        """What the balance receives: the Stars paid plus the bonus."""
        return self.stars + self.bonus

    @property
    def label(self) -> str:
        """A short label for buttons and the invoice's price line (``100 ⭐ +5%``)."""
        if self.bonus_percent:
            return f"{self.stars} ⭐ +{self.bonus_percent}%"
        return f"{self.stars} ⭐"


def parse_star_packages(raw: str) -> tuple[StarPackage, ...]:
    """The packages of ``KIEBOT_STAR_PACKAGES`` (``"50,100:5,250:10"``), smallest first.

    Args:
        raw: Comma-separated ``amount`` or ``amount:bonus%`` items.

    Returns:
        The packages, sorted by amount.

    Raises:
        ValueError: An item is malformed, an amount is outside 1..10000, a bonus is outside
            0..100, an amount repeats, or there is no package at all.
    """
    packages: list[StarPackage] = []
    for item in raw.split(","):
        text = item.strip()
        if not text:
            continue
        match = re.fullmatch(r"(\d+)\s*(?::\s*(\d+)\s*%?)?", text)
        if match is None:
            raise ValueError(f"expected amount or amount:bonus%, got {text!r}")
        stars, bonus = int(match.group(1)), int(match.group(2) or 0)
        if not 1 <= stars <= MAX_PACKAGE_STARS:
            raise ValueError(f"amount {stars} is outside 1..{MAX_PACKAGE_STARS}")
        if not 0 <= bonus <= 100:
            raise ValueError(f"bonus {bonus}% is outside 0..100")
        if any(package.stars == stars for package in packages):
            raise ValueError(f"amount {stars} is listed twice")
        packages.append(StarPackage(stars, bonus))
    if not packages:
        raise ValueError("no package given")
    return tuple(sorted(packages, key=lambda package: package.stars))


@attrs.frozen
class PaymentSettings:
    """The operator's payment settings: the packages on offer and the current terms version."""

    packages: tuple[StarPackage, ...] = attrs.field(
        factory=lambda: parse_star_packages(DEFAULT_STAR_PACKAGES)
    )
    terms_version: int = 1
    referral_stars: int = 10
    """Stars an inviter gets when the user they invited first pays (0: no rewards)."""

    def package(self, stars: int) -> StarPackage | None:
        """The package of ``stars`` Stars, or None when none is on offer."""
        return next((p for p in self.packages if p.stars == stars), None)


def smallest_covering(packages: Sequence[StarPackage], stars: int) -> StarPackage | None:
    """The smallest package that credits at least ``stars``, or None."""
    return next((p for p in sorted(packages, key=lambda p: p.stars) if p.credited >= stars), None)


@attrs.frozen(kw_only=True)
class Order:
    """An invoice sent to a user: one package at one terms version, payable for 24 h."""

    id: OrderId
    user_id: UserId
    stars: int
    """The invoice's price in Stars."""
    bonus: int
    """The bonus Stars credited on top of ``stars`` for each payment."""
    terms_version: int
    created_at: datetime

    @property
    def credited(self) -> int:
        """What each payment of this order credits."""
        return self.stars + self.bonus

    @property
    def expires_at(self) -> datetime:
        """When the order stops being payable."""
        return self.created_at + ORDER_VALIDITY

    @property
    def payload(self) -> str:
        """The invoice payload: the order id and the terms version (``ord_….t3``)."""
        return f"{self.id}.t{self.terms_version}"


def parse_payload(payload: str) -> tuple[OrderId, int] | None:
    """The order id and terms version an invoice payload carries, or None if it is not ours."""
    match = _PAYLOAD.fullmatch(payload)
    if match is None:
        return None
    return OrderId(match.group(1)), int(match.group(2))


def pre_checkout_problem(
    order: Order | None,
    *,
    user_id: UserId,
    payload: str,
    total: int,
    currency: str,
    terms_version: int,
    now: datetime,
) -> Rejected | None:
    """Why a pre-checkout must be refused, or None when it may be approved.

    Approved only when the payload names an existing ``order`` of ``user_id``, the total and the
    currency are exactly the order's, the order has not expired, and it was made under the
    current ``terms_version``.
    """
    parsed = parse_payload(payload)
    if order is None or parsed is None or parsed[0] != order.id:
        return Rejected(ReasonCode.PAYMENT_INVALID, detail=f"unknown order {payload!r}")
    if order.user_id != user_id:
        return Rejected(ReasonCode.PAYMENT_INVALID, detail=f"order of user {order.user_id}")
    if currency != CURRENCY or total != order.stars:
        return Rejected(
            ReasonCode.PAYMENT_INVALID, detail=f"{total} {currency}, expected {order.stars}"
        )
    if now >= order.expires_at:
        return Rejected(ReasonCode.ORDER_EXPIRED, detail=f"expired at {order.expires_at}")
    if parsed[1] != order.terms_version or order.terms_version != terms_version:
        return Rejected(
            ReasonCode.TERMS_CHANGED,
            detail=f"order under terms {order.terms_version}, current {terms_version}",
        )
    return None


def refund_problem(
    payment: Payment, balance: Balance, now: datetime, *, rewarded: bool = False
) -> Rejected | None:
    """Why the user cannot refund ``payment`` themselves, or None when they can.

    A purchase is refundable while it is processed (not refunded yet), younger than
    ``REFUND_WINDOW``, the available balance covers all it credited, and it did not pay an
    inviter's reward (``rewarded``: refunding it would turn the reward into free Stars; support
    decides those).
    """
    if payment.state is not PaymentState.PROCESSED:
        return Rejected(ReasonCode.REFUND_NOT_ALLOWED, detail=f"payment is {payment.state}")
    if rewarded:
        return Rejected(ReasonCode.REFUND_REFERRAL_REWARDED, detail="paid a referral reward")
    if now - payment.created_at > REFUND_WINDOW:
        return Rejected(ReasonCode.REFUND_NOT_ALLOWED, detail="older than the refund window")
    if balance.available < payment.credited:
        return Rejected(
            ReasonCode.REFUND_NOT_ALLOWED,
            detail=f"available {balance.available} < credited {payment.credited}",
        )
    return None
