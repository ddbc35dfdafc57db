from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import attrs
from hypothesis import given
from hypothesis import strategies as st

from kiebot_core.domain.ids import PaymentChargeId, UserId
from kiebot_core.domain.payments import Payment, PaymentState
from kiebot_core.domain.reconciliation import (
    MismatchKind,
    StarTransaction,
    StarTransactionKind,
    reconcile,
)

START = datetime(2026, 1, 1, tzinfo=UTC)


def payment(
    charge: str, *, user: int = 1, stars: int = 100, refunded: bool = False, minute: int = 0
) -> Payment:
    return Payment(
        charge_id=PaymentChargeId(charge),
        user_id=UserId(user),
        order_id="ord_1",
        stars=stars,
        credited=stars,
        state=PaymentState.REFUNDED if refunded else PaymentState.PROCESSED,
        created_at=START + timedelta(minutes=minute),
    )


def move(p: Payment, kind: StarTransactionKind, after: timedelta) -> StarTransaction:
    return StarTransaction(
        charge_id=p.charge_id,
        kind=kind,
        user_id=p.user_id,
        stars=p.stars,
        created_at=p.created_at + after,
    )


def record_of(payments: Sequence[Payment]) -> list[StarTransaction]:
    """What Telegram records for ``payments``: each paid a second before we stored it."""
    moves = [move(p, StarTransactionKind.PAYMENT, -timedelta(seconds=1)) for p in payments]
    moves += [
        move(p, StarTransactionKind.REFUND, timedelta(hours=1))
        for p in payments
        if p.state is PaymentState.REFUNDED
    ]
    return sorted(moves, key=lambda t: t.created_at)


def found(stored: Sequence[Payment], telegram: Sequence[StarTransaction]) -> list[tuple[str, str]]:
    return [(m.charge_id, m.kind.value) for m in reconcile(stored, telegram)]


def test_equal_records_have_no_mismatch():
    stored = [payment("stx_a"), payment("stx_b", refunded=True), payment("stx_c", user=2)]
    assert reconcile(stored, record_of(stored)) == []
    assert reconcile([], []) == []


def test_each_kind_of_difference_is_named_with_its_detail():
    ours = [
        payment("stx_unknown", minute=1),
        payment("stx_amount", stars=100, minute=2),
        payment("stx_user", user=7, minute=3),
        payment("stx_not_booked", minute=4),
        payment("stx_not_refunded", refunded=True, minute=5),
    ]
    theirs = [
        payment("stx_missing", stars=25, user=9, minute=0),
        payment("stx_amount", stars=50, minute=2),
        payment("stx_user", user=8, minute=3),
        payment("stx_not_booked", refunded=True, minute=4),
        payment("stx_not_refunded", minute=5),
    ]
    mismatches = reconcile(ours, record_of(theirs))
    assert [(m.charge_id, m.kind) for m in mismatches] == [
        ("stx_missing", MismatchKind.MISSING_IN_STORE),
        ("stx_unknown", MismatchKind.UNKNOWN_TO_TELEGRAM),
        ("stx_amount", MismatchKind.AMOUNT_DIFFERS),
        ("stx_user", MismatchKind.USER_DIFFERS),
        ("stx_not_booked", MismatchKind.REFUND_NOT_BOOKED),
        ("stx_not_refunded", MismatchKind.REFUND_NOT_AT_TELEGRAM),
    ]
    assert [m.detail for m in mismatches] == [
        "Telegram has a payment of 25 ⭐ by user 9; the store has none",
        "stored 100 ⭐ by user 1; Telegram has no such payment",
        "stored 100 ⭐, Telegram 50 ⭐",
        "stored user 7, Telegram user 8",
        "Telegram refunded it; stored as processed",
        "stored as refunded; Telegram has no refund",
    ]


def test_a_charge_only_one_side_has_is_reported_once():
    refunded = payment("stx_a", refunded=True, user=3, stars=10)
    assert found([], record_of([refunded])) == [("stx_a", "missing_in_store")]
    assert found([refunded], []) == [("stx_a", "unknown_to_telegram")]
    only_refund = [t for t in record_of([refunded]) if t.kind is StarTransactionKind.REFUND]
    assert found([], only_refund) == [("stx_a", "missing_in_store")]
    assert reconcile([], only_refund)[0].detail == "Telegram has a refund; the store has none"


def test_several_differences_of_one_charge_are_all_named():
    ours = [payment("stx_a", stars=10, user=1, refunded=True)]
    theirs = [payment("stx_a", stars=20, user=2)]
    assert found(ours, record_of(theirs)) == [
        ("stx_a", "amount_differs"),
        ("stx_a", "user_differs"),
        ("stx_a", "refund_not_at_telegram"),
    ]


charges = st.lists(
    st.tuples(st.integers(1, 3), st.integers(1, 500), st.booleans(), st.integers(0, 10_000)),
    max_size=20,
).map(
    lambda rows: [
        payment(f"stx_{i}", user=user, stars=stars, refunded=refunded, minute=minute)
        for i, (user, stars, refunded, minute) in enumerate(rows)
    ]
)


@given(charges)
def test_a_store_that_agrees_with_telegram_has_no_mismatch(stored):
    assert reconcile(stored, record_of(stored)) == []


def _differ(target: Payment, kind: MismatchKind) -> tuple[Payment | None, Payment | None]:
    """``target`` as we store it and as Telegram records it, differing by ``kind``."""
    refunded = attrs.evolve(target, state=PaymentState.REFUNDED)
    processed = attrs.evolve(target, state=PaymentState.PROCESSED)
    match kind:
        case MismatchKind.MISSING_IN_STORE:
            return None, target
        case MismatchKind.UNKNOWN_TO_TELEGRAM:
            return target, None
        case MismatchKind.AMOUNT_DIFFERS:
            return attrs.evolve(target, stars=target.stars + 1), target
        case MismatchKind.USER_DIFFERS:
            return attrs.evolve(target, user_id=UserId(target.user_id + 10)), target
        case MismatchKind.REFUND_NOT_BOOKED:
            return processed, refunded
        case MismatchKind.REFUND_NOT_AT_TELEGRAM:
            return refunded, processed


@given(charges.filter(bool), st.data())
def test_one_difference_is_reported_alone_and_exactly(stored, data):
    target = data.draw(st.sampled_from(stored))
    kind = data.draw(st.sampled_from(MismatchKind))
    ours, theirs = _differ(target, kind)
    others = [p for p in stored if p is not target]
    telegram = record_of([*others, *([theirs] if theirs else [])])
    assert found([*others, *([ours] if ours else [])], telegram) == [
        (target.charge_id, kind.value)
    ]


@given(charges, charges)
def test_mismatches_are_unique_and_oldest_charge_first(ours, theirs):
    mismatches = reconcile(ours, record_of(theirs))
    keys = [(m.charge_id, m.kind) for m in mismatches]
    assert len(keys) == len(set(keys))
    assert {m.charge_id for m in mismatches} <= {p.charge_id for p in [*ours, *theirs]}
    first_seen = {
        charge: min(
            [p.created_at for p in ours if p.charge_id == charge]
            + [t.created_at for t in record_of(theirs) if t.charge_id == charge]
        )
        for charge in {m.charge_id for m in mismatches}
    }
    order = [(first_seen[m.charge_id], m.charge_id) for m in mismatches]
    assert order == sorted(order)
