"""Ledger rules: pure double-entry transactions over integer Star balances.

Each user has three accounts: ``available`` (spendable), ``held`` (reserved for running
generations) and ``debt`` (Stars Telegram refunded after they were spent). System accounts
are the counterparties: ``telegram`` (Stars in and out), ``promotions`` (grants) and
``revenue`` (captured generations). Every transaction's entries sum to zero, and a user's
balances never go negative: a rule that would break that returns ``Rejected``.

    kind             entries (user side)                          key
    purchase         debt paid first, the rest to available       purchase:<charge id>
    grant            + available                                  grant:<reference>
    hold             available → held                             hold:<generation>
    capture          held → revenue, the unspent rest → available settle:<generation>
    release          held → available                             settle:<generation>
    refund           revenue → available                          refund:<generation>
    purchase_refund  available → telegram; any shortfall → debt   purchase_refund:<charge id>

Capture and release of one generation share the key ``settle:<generation>``, so storage that
enforces unique keys settles a hold exactly once, whatever the interleaving.
"""

import enum
from collections.abc import Iterable
from datetime import datetime

import attrs

from kiebot_core.domain.ids import IdempotencyKey, UserId
from kiebot_core.domain.outcomes import Rejected
from kiebot_core.domain.reasons import ReasonCode


class LedgerKind(enum.StrEnum):
    """What a ledger transaction records."""

    PURCHASE = "purchase"
    GRANT = "grant"
    HOLD = "hold"
    CAPTURE = "capture"
    RELEASE = "release"
    REFUND = "refund"
    PURCHASE_REFUND = "purchase_refund"


class AccountKind(enum.StrEnum):
    """A ledger account: the user's three, then the system's."""

    AVAILABLE = "available"
    HELD = "held"
    DEBT = "debt"
    TELEGRAM = "telegram"
    PROMOTIONS = "promotions"
    REVENUE = "revenue"


USER_ACCOUNTS = frozenset({AccountKind.AVAILABLE, AccountKind.HELD, AccountKind.DEBT})


@attrs.frozen
class Entry:
    """One side of a transaction: ``amount`` Stars into (positive) or out of an account.

    The debt account is a liability of the user: a shortfall of N Stars is an entry of -N.
    """

    account: AccountKind
    amount: int


@attrs.frozen(kw_only=True)
class LedgerTransaction:
    """A balanced set of entries for one user, unique by ``key``."""

    key: IdempotencyKey
    kind: LedgerKind
    user_id: UserId
    entries: tuple[Entry, ...]
    reference: str
    """The business id behind it: a generation, a payment charge, a grant's reason."""
    recorded_at: datetime | None = attrs.field(default=None, eq=False)
    """When storage recorded it (None until it is read back from storage)."""

    def __attrs_post_init__(self) -> None:
        if sum(entry.amount for entry in self.entries) != 0:
            raise ValueError(f"ledger transaction {self.key} does not balance")

    def amount_of(self, account: AccountKind) -> int:
        """The net amount this transaction moves into ``account``."""
        return sum(entry.amount for entry in self.entries if entry.account is account)


@attrs.frozen
class Balance:
    """A user's balances in Stars; all three are never negative."""

    available: int = 0
    held: int = 0
    debt: int = 0

    def apply(self, transaction: LedgerTransaction) -> "Balance":
        """The balance after ``transaction``; raises ValueError if it would go negative."""
        after = Balance(
            available=self.available + transaction.amount_of(AccountKind.AVAILABLE),
            held=self.held + transaction.amount_of(AccountKind.HELD),
            debt=self.debt - transaction.amount_of(AccountKind.DEBT),
        )
        if min(after.available, after.held, after.debt) < 0:
            raise ValueError(f"ledger transaction {transaction.key} overdraws {after}")
        return after

    @classmethod
    def of(cls, transactions: Iterable[LedgerTransaction]) -> "Balance":
        """The balance derived from a user's whole history."""
        balance = cls()
        for transaction in transactions:
            balance = balance.apply(transaction)
        return balance


def _key(kind: str, reference: str) -> IdempotencyKey:
    return IdempotencyKey(f"{kind}:{reference}")


def _positive(amount: int) -> Rejected | None:
    if amount <= 0:
        return Rejected(ReasonCode.INTERNAL_ERROR, detail=f"amount must be positive, got {amount}")
    return None


def _transaction(
    kind: LedgerKind, key: IdempotencyKey, user_id: UserId, reference: str, *entries: Entry
) -> LedgerTransaction:
    kept = tuple(entry for entry in entries if entry.amount != 0)
    return LedgerTransaction(
        key=key, kind=kind, user_id=user_id, entries=kept, reference=reference
    )


def purchase(
    balance: Balance, user_id: UserId, amount: int, charge_id: str
) -> LedgerTransaction | Rejected:
    """Credit a Stars purchase (bonus included in ``amount``); any debt is paid off first."""
    if problem := _positive(amount):
        return problem
    to_debt = min(balance.debt, amount)
    return _transaction(
        LedgerKind.PURCHASE,
        _key("purchase", charge_id),
        user_id,
        charge_id,
        Entry(AccountKind.TELEGRAM, -amount),
        Entry(AccountKind.DEBT, to_debt),
        Entry(AccountKind.AVAILABLE, amount - to_debt),
    )


def grant(user_id: UserId, amount: int, reference: str) -> LedgerTransaction | Rejected:
    """Give Stars from the operator (welcome, promo code, referral, manual grant)."""
    if problem := _positive(amount):
        return problem
    return _transaction(
        LedgerKind.GRANT,
        _key("grant", reference),
        user_id,
        reference,
        Entry(AccountKind.PROMOTIONS, -amount),
        Entry(AccountKind.AVAILABLE, amount),
    )


def hold(
    balance: Balance, user_id: UserId, amount: int, generation_id: str
) -> LedgerTransaction | Rejected:
    """Reserve a generation's price: refused while in debt or when the balance is short."""
    if problem := _positive(amount):
        return problem
    if balance.debt > 0:
        return Rejected(ReasonCode.IN_DEBT, detail=f"debt of {balance.debt}")
    if balance.available < amount:
        return Rejected(
            ReasonCode.INSUFFICIENT_BALANCE, detail=f"needs {amount}, has {balance.available}"
        )
    return _transaction(
        LedgerKind.HOLD,
        hold_key(generation_id),
        user_id,
        generation_id,
        Entry(AccountKind.AVAILABLE, -amount),
        Entry(AccountKind.HELD, amount),
    )


def hold_key(generation_id: str) -> IdempotencyKey:
    """The key of a generation's hold."""
    return _key("hold", generation_id)


def settle_key(generation_id: str) -> IdempotencyKey:
    """The key under which a generation's hold is settled (captured or released)."""
    return _key("settle", generation_id)


def refund_key(generation_id: str) -> IdempotencyKey:
    """The key of the refund of a generation's captured amount."""
    return _key("refund", generation_id)


def capture(
    user_id: UserId, held: int, amount: int, generation_id: str
) -> LedgerTransaction | Rejected:
    """Charge ``amount`` (at most the ``held`` amount) on delivery; the rest is released."""
    if problem := _positive(held):
        return problem
    if not 0 <= amount <= held:
        return Rejected(
            ReasonCode.INTERNAL_ERROR, detail=f"capture {amount} outside the hold {held}"
        )
    return _transaction(
        LedgerKind.CAPTURE,
        settle_key(generation_id),
        user_id,
        generation_id,
        Entry(AccountKind.HELD, -held),
        Entry(AccountKind.REVENUE, amount),
        Entry(AccountKind.AVAILABLE, held - amount),
    )


def release(user_id: UserId, held: int, generation_id: str) -> LedgerTransaction | Rejected:
    """Return a generation's hold to the balance (any failure before delivery)."""
    if problem := _positive(held):
        return problem
    return _transaction(
        LedgerKind.RELEASE,
        settle_key(generation_id),
        user_id,
        generation_id,
        Entry(AccountKind.HELD, -held),
        Entry(AccountKind.AVAILABLE, held),
    )


def refund(user_id: UserId, amount: int, generation_id: str) -> LedgerTransaction | Rejected:
    """Give back a captured amount after a later judgement."""
    if problem := _positive(amount):
        return problem
    return _transaction(
        LedgerKind.REFUND,
        refund_key(generation_id),
        user_id,
        generation_id,
        Entry(AccountKind.REVENUE, -amount),
        Entry(AccountKind.AVAILABLE, amount),
    )


def purchase_refund(
    balance: Balance, user_id: UserId, amount: int, charge_id: str
) -> LedgerTransaction | Rejected:
    """Return a purchase's Stars through Telegram; what was already spent becomes debt."""
    if problem := _positive(amount):
        return problem
    from_available = min(balance.available, amount)
    return _transaction(
        LedgerKind.PURCHASE_REFUND,
        _key("purchase_refund", charge_id),
        user_id,
        charge_id,
        Entry(AccountKind.TELEGRAM, amount),
        Entry(AccountKind.AVAILABLE, -from_available),
        Entry(AccountKind.DEBT, -(amount - from_available)),
    )
