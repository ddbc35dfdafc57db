"""Telegram Stars top-ups and refunds: orders, pre-checkout, payments, purchase refunds, terms.

The flow a shell drives:

1. ``accept_terms`` once per terms version, then ``create_order`` for a package; the shell
   sends an invoice whose payload is ``Order.payload``.
2. ``check_pre_checkout`` answers Telegram's pre-checkout query (approve only when it returns
   the order).
3. ``register_payment`` on ``successful_payment``: the payment row and the ledger credit are
   one transaction, exactly once per ``telegram_payment_charge_id``.
4. ``refund_purchase`` refunds a purchase the user may refund (``refundable_purchase`` says
   which) through Telegram and books it; ``record_purchase_refund`` books a refund Telegram
   forced (``refunded_payment``): the balance goes down by what the purchase credited, any
   shortfall is debt.

Operators: ``refund_charge`` refunds any charge at Telegram and books it the same way;
``reconcile_payments`` compares the store with Telegram's record of the bot's Stars.
"""

from contextlib import suppress

import attrs

from kiebot_core.domain.audit import Actor, AuditAction
from kiebot_core.domain.errors import StaleWriteError
from kiebot_core.domain.ids import OrderId, PaymentChargeId, UserId
from kiebot_core.domain.ledger import (
    Balance,
    LedgerTransaction,
    grant,
    purchase,
    purchase_refund,
)
from kiebot_core.domain.outcomes import Rejected
from kiebot_core.domain.payments import (
    Order,
    Payment,
    PaymentSettings,
    PaymentState,
    parse_payload,
    pre_checkout_problem,
    refund_problem,
)
from kiebot_core.domain.promotions import referral_reference
from kiebot_core.domain.reasons import ReasonCode
from kiebot_core.domain.reconciliation import Mismatch, reconcile
from kiebot_core.domain.users import User
from kiebot_core.ports.runtime import Clock, IdFactory
from kiebot_core.ports.stars import StarsAccount
from kiebot_core.ports.storage import UnitOfWork, UnitOfWorkFactory
from kiebot_core.use_cases.audit import audited, reason_problem

_ATTEMPTS = 5
"""Tries of a ledger write planned against a balance another transaction just changed."""


@attrs.frozen(kw_only=True)
class Payments:
    """The ports and settings the payment use cases need."""

    uow: UnitOfWorkFactory
    clock: Clock
    ids: IdFactory
    settings: PaymentSettings = attrs.Factory(PaymentSettings)


@attrs.frozen
class ReferralReward:
    """The Stars an inviter received because the user they invited first paid."""

    referrer_id: UserId
    stars: int


@attrs.frozen
class PaymentRegistered:
    """A payment registered (``is_new``) or found already registered, and the balance now.

    ``reward`` is the inviter's reward this payment paid out, if any.
    """

    payment: Payment
    balance: Balance
    is_new: bool
    reward: ReferralReward | None = None


@attrs.frozen
class PurchaseRefunded:
    """A purchase refund booked (``is_new``) or found already booked, and the balance now."""

    payment: Payment
    balance: Balance
    is_new: bool


@attrs.frozen
class ChargeRefunded:
    """An operator's refund: ``refunded_now`` is False when Telegram had refunded it before."""

    booked: PurchaseRefunded
    """The ledger's side (``booked.is_new`` is False when it was booked before)."""
    refunded_now: bool


@attrs.frozen
class Purchase:
    """One of the user's payments and why they cannot refund it themselves (None: they can)."""

    payment: Payment
    refusal: Rejected | None

    @property
    def refundable(self) -> bool:
        """True when the user can refund it now."""
        return self.refusal is None


async def accept_terms(payments: Payments, user_id: UserId, version: int) -> User | Rejected:
    """Record that the user accepted terms ``version``; only the current version is accepted.

    Returns the updated user; ``TERMS_CHANGED`` for another version.
    """
    if version != payments.settings.terms_version:
        return Rejected(
            ReasonCode.TERMS_CHANGED,
            detail=f"version {version}, current {payments.settings.terms_version}",
        )
    async with payments.uow() as uow:
        user = await uow.users.get(user_id)
        if user is None:
            return Rejected(ReasonCode.INTERNAL_ERROR, detail=f"unknown user {user_id}")
        if user.terms_version != version:
            user = attrs.evolve(user, terms_version=version)
            await uow.users.save(user)
            await uow.commit()
    return user


async def create_order(payments: Payments, user_id: UserId, stars: int) -> Order | Rejected:
    """A new order for the package of ``stars`` Stars, payable for 24 h.

    Refused with ``TERMS_NOT_ACCEPTED`` until the user accepted the current terms,
    ``PAYMENT_INVALID`` for a package not on offer, ``BANNED`` for a banned user.
    """
    package = payments.settings.package(stars)
    if package is None:
        return Rejected(ReasonCode.PAYMENT_INVALID, detail=f"no package of {stars} stars")
    version = payments.settings.terms_version
    order = Order(
        id=OrderId(payments.ids.new("ord")),
        user_id=user_id,
        stars=package.stars,
        bonus=package.bonus,
        terms_version=version,
        created_at=payments.clock.now(),
    )
    async with payments.uow() as uow:
        user = await uow.users.get(user_id)
        if user is not None and user.is_banned:
            return Rejected(ReasonCode.BANNED)
        if user is None or user.terms_version != version:
            return Rejected(ReasonCode.TERMS_NOT_ACCEPTED, detail=f"terms version {version}")
        await uow.orders.add(order)
        await uow.commit()
    return order


async def check_pre_checkout(
    payments: Payments, user_id: UserId, payload: str, total: int, currency: str
) -> Order | Rejected:
    """The order a pre-checkout query may be approved for, or why it must be refused.

    See ``kiebot_core.domain.payments.pre_checkout_problem``: the order exists, is the user's,
    the amount and currency (``XTR``) match, it has not expired, and it carries the current
    terms version. Reads only; one short transaction.
    """
    parsed = parse_payload(payload)
    order = None
    if parsed is not None:
        async with payments.uow() as uow:
            order = await uow.orders.get(parsed[0])
    problem = pre_checkout_problem(
        order,
        user_id=user_id,
        payload=payload,
        total=total,
        currency=currency,
        terms_version=payments.settings.terms_version,
        now=payments.clock.now(),
    )
    if problem is not None:
        return problem
    if order is None:  # pre_checkout_problem refuses a missing order already
        return Rejected(ReasonCode.PAYMENT_INVALID, detail="no order")
    return order


async def register_payment(
    payments: Payments, charge_id: PaymentChargeId, user_id: UserId, payload: str, total: int
) -> PaymentRegistered:
    """Register a successful payment and credit the ledger, exactly once per charge id.

    The payment row and the ``purchase`` transaction (key ``purchase:<charge id>``) are written
    in one transaction. The same charge delivered again changes nothing (``is_new`` False).
    A payment of a known order of the user for its price credits the order's amount and bonus;
    anything else Telegram took is credited as paid, without bonus (it was approved at
    pre-checkout, so the money is the user's either way).
    """
    for _ in range(_ATTEMPTS - 1):
        with suppress(StaleWriteError):
            return await _register_once(payments, charge_id, user_id, payload, total)
    # The last try books the credit even if the balance keeps moving: a credit is never lost.
    return await _register_once(payments, charge_id, user_id, payload, total, strict=False)


async def _register_once(
    payments: Payments,
    charge_id: PaymentChargeId,
    user_id: UserId,
    payload: str,
    total: int,
    *,
    strict: bool = True,
) -> PaymentRegistered:
    async with payments.uow() as uow:
        existing = await uow.payments.get(charge_id)
        if existing is not None:
            return await _known(uow, existing)
        parsed = parse_payload(payload)
        order = await uow.orders.get(parsed[0]) if parsed is not None else None
        fits = order is not None and order.user_id == user_id and order.stars == total
        payment = Payment(
            charge_id=charge_id,
            user_id=user_id,
            order_id=order.id if order is not None else payload[:64],
            stars=total,
            credited=order.credited if fits and order is not None else total,
            state=PaymentState.PROCESSED,
            created_at=payments.clock.now(),
        )
        if not await uow.payments.add(payment):
            # Another delivery of the same charge registered it a moment ago.
            stored = await uow.payments.get(charge_id)
            if stored is None:
                raise StaleWriteError("payment", charge_id)
            return await _known(uow, stored)
        balance = await uow.ledger.balance(user_id)
        planned = purchase(balance, user_id, payment.credited, charge_id)
        reward = None
        if isinstance(planned, Rejected):
            payment = attrs.evolve(payment, state=PaymentState.FAILED)
            await uow.payments.save(payment)
        else:
            await _append_as_planned(uow, planned, balance, strict=strict)
            reward = await _reward_inviter(payments, uow, user_id, charge_id)
        balance = await uow.ledger.balance(user_id)
        await uow.commit()
    return PaymentRegistered(payment, balance, is_new=True, reward=reward)


async def _append_as_planned(
    uow: UnitOfWork, planned: LedgerTransaction, balance: Balance, *, strict: bool
) -> None:
    """Append ``planned``, planned on ``balance``.

    With ``strict``, raise ``StaleWriteError`` when that balance changed meanwhile (another
    transaction committed between the read and the write), so the caller plans again: a
    purchase must pay the current debt, a purchase refund must take what is available now
    before booking debt.
    """
    await uow.ledger.append(planned)
    if strict and await uow.ledger.balance(planned.user_id) != balance.apply(planned):
        raise StaleWriteError("ledger", planned.key)


async def _reward_inviter(
    payments: Payments, uow: UnitOfWork, invited: UserId, charge_id: PaymentChargeId
) -> ReferralReward | None:
    """Reward the user who invited ``invited``, once, on their first payment ``charge_id``.

    That payment then cannot be refunded by its user (``refund_problem``). An inviter who
    deleted their data (their invitees' inviter is now an anonymous id, or a user no longer
    stored) earns nothing, and the payment stays refundable.
    """
    stars = payments.settings.referral_stars
    user = await uow.users.get(invited)
    if stars <= 0 or user is None or user.referrer_id is None:
        return None
    referrer = user.referrer_id
    if referrer <= 0 or await uow.users.get(referrer) is None:
        return None
    if not await uow.referrals.reward(invited, referrer, stars, payments.clock.now(), charge_id):
        return None
    planned = grant(referrer, stars, referral_reference(invited))
    if isinstance(planned, Rejected):
        return None
    await uow.ledger.append(planned)
    return ReferralReward(referrer, stars)


async def _known(uow: UnitOfWork, payment: Payment) -> PaymentRegistered:
    return PaymentRegistered(payment, await uow.ledger.balance(payment.user_id), is_new=False)


async def purchases(payments: Payments, user_id: UserId, *, limit: int = 10) -> list[Purchase]:
    """The user's latest payments, newest first, each with whether they can refund it."""
    now = payments.clock.now()
    async with payments.uow() as uow:
        found = await uow.payments.for_user(user_id, limit=limit)
        balance = await uow.ledger.balance(user_id)
        rewarded = {p.charge_id for p in found if await uow.referrals.rewarded_by(p.charge_id)}
    return [
        Purchase(
            payment,
            refund_problem(payment, balance, now, rewarded=payment.charge_id in rewarded),
        )
        for payment in found
    ]


async def refundable_purchase(
    payments: Payments, user_id: UserId, charge_id: PaymentChargeId
) -> Payment | Rejected:
    """The purchase the user may refund now, or ``REFUND_NOT_ALLOWED``. Changes nothing.

    Allowed for the user's own processed purchase, within 30 days, while the available balance
    covers all it credited (bonus included).
    """
    async with payments.uow() as uow:
        payment = await uow.payments.get(charge_id)
        if payment is None or payment.user_id != user_id:
            return Rejected(ReasonCode.REFUND_NOT_ALLOWED, detail=f"no purchase {charge_id}")
        balance = await uow.ledger.balance(user_id)
        rewarded = await uow.referrals.rewarded_by(charge_id)
    problem = refund_problem(payment, balance, payments.clock.now(), rewarded=rewarded)
    return payment if problem is None else problem


async def refund_purchase(
    payments: Payments, account: StarsAccount, user_id: UserId, charge_id: PaymentChargeId
) -> PurchaseRefunded | Rejected:
    """The user refunds their own purchase: checked, refunded at Telegram, then booked once.

    Refused (``REFUND_NOT_ALLOWED``, nothing sent) as ``refundable_purchase`` says. Telegram's
    ``CHARGE_ALREADY_REFUNDED`` counts as refunded. Raises ``StarsError`` when Telegram refuses
    or cannot be reached; nothing is booked then. Stars spent between the check and the booking
    become debt, never a negative balance.
    """
    allowed = await refundable_purchase(payments, user_id, charge_id)
    if isinstance(allowed, Rejected):
        return allowed
    await account.refund(user_id, charge_id)
    return await record_purchase_refund(payments, user_id, charge_id)


async def record_purchase_refund(
    payments: Payments,
    user_id: UserId,
    charge_id: PaymentChargeId,
    *,
    by: Actor | None = None,
    reason: str = "",
) -> PurchaseRefunded | Rejected:
    """Book a purchase Telegram refunded: once per charge id (``purchase_refund:<charge id>``).

    Everything the purchase credited leaves the available balance; what was already spent
    becomes the user's debt (never a negative balance). The payment is marked refunded. A
    refund booked before changes nothing (``is_new`` False). ``PAYMENT_INVALID`` when the charge
    is not a registered payment of ``user_id``. With ``by`` (an operator's refund), the booking
    writes ``by``'s audit entry, with ``reason``, in the same transaction.
    """
    for _ in range(_ATTEMPTS - 1):
        with suppress(StaleWriteError):
            return await _refund_once(payments, user_id, charge_id, by=by, reason=reason)
    return await _refund_once(payments, user_id, charge_id, by=by, reason=reason, strict=False)


async def _refund_once(
    payments: Payments,
    user_id: UserId,
    charge_id: PaymentChargeId,
    *,
    by: Actor | None,
    reason: str,
    strict: bool = True,
) -> PurchaseRefunded | Rejected:
    async with payments.uow() as uow:
        payment = await uow.payments.get(charge_id)
        if payment is None or payment.user_id != user_id:
            return Rejected(ReasonCode.PAYMENT_INVALID, detail=f"no payment {charge_id}")
        balance = await uow.ledger.balance(user_id)
        if payment.state is PaymentState.REFUNDED:
            return PurchaseRefunded(payment, balance, is_new=False)
        if payment.state is PaymentState.PROCESSED:
            planned = purchase_refund(balance, user_id, payment.credited, charge_id)
            if isinstance(planned, Rejected):
                return planned
            await _append_as_planned(uow, planned, balance, strict=strict)
        payment = attrs.evolve(payment, state=PaymentState.REFUNDED)
        await uow.payments.save(payment)
        if by is not None:
            await audited(
                uow,
                by,
                AuditAction.PAYMENT_REFUND,
                charge_id,
                at=payments.clock.now(),
                detail=f"user={user_id} stars={payment.stars}",
                reason=reason,
            )
        balance = await uow.ledger.balance(user_id)
        await uow.commit()
    return PurchaseRefunded(payment, balance, is_new=True)


async def refund_charge(
    payments: Payments,
    account: StarsAccount,
    charge_id: PaymentChargeId,
    *,
    by: Actor,
    reason: str = "",
) -> ChargeRefunded | Rejected:
    """Refund a charge as the operator: at Telegram, then in the ledger, each exactly once.

    Neither the refund window nor the unspent balance limits it: what was already spent becomes
    the user's debt (never a negative balance). Asking again is safe: Telegram's
    ``CHARGE_ALREADY_REFUNDED`` counts as refunded, and ``record_purchase_refund`` books at most
    once. ``PAYMENT_INVALID`` for a charge the store does not have; ``INVALID_INPUT`` for a
    ``reason`` over ``MAX_AUDIT_REASON`` characters. The booking writes ``by``'s audit entry in
    its transaction. Raises ``StarsError`` when Telegram refuses or cannot be reached; nothing
    is booked then.
    """
    if problem := reason_problem(reason, required=False):
        return problem
    async with payments.uow() as uow:
        payment = await uow.payments.get(charge_id)
    if payment is None:
        return Rejected(ReasonCode.PAYMENT_INVALID, detail=f"no payment {charge_id}")
    refunded_now = await account.refund(payment.user_id, charge_id)
    booked = await record_purchase_refund(
        payments, payment.user_id, charge_id, by=by, reason=reason
    )
    if isinstance(booked, Rejected):
        return booked
    return ChargeRefunded(booked, refunded_now=refunded_now)


async def reconcile_payments(payments: Payments, account: StarsAccount) -> list[Mismatch]:
    """Every difference between the stored payments and Telegram's record; changes nothing.

    See ``kiebot_core.domain.reconciliation.reconcile``. Raises ``StarsError`` when Telegram
    cannot be read.
    """
    # Telegram's pages first, the store in one read right after: only a payment made in
    # between can show as a passing mismatch (a rerun clears it).
    telegram = await account.transactions()
    async with payments.uow() as uow:
        stored = await uow.payments.recent()
    return reconcile(stored, telegram)
