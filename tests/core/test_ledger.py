import pytest
from hypothesis import given
from hypothesis import strategies as st

from kiebot_core.domain import ledger
from kiebot_core.domain.ids import IdempotencyKey, UserId
from kiebot_core.domain.ledger import AccountKind, Balance, LedgerKind, LedgerTransaction
from kiebot_core.domain.outcomes import Rejected
from kiebot_core.domain.reasons import ReasonCode

USER = UserId(1)


def planned(result: LedgerTransaction | Rejected) -> LedgerTransaction:
    assert isinstance(result, LedgerTransaction), result
    return result


def test_a_hold_then_capture_charges_once_and_returns_the_rest():
    balance = Balance().apply(planned(ledger.purchase(Balance(), USER, 100, "ch_1")))
    hold = planned(ledger.hold(balance, USER, 30, "gen_1"))
    balance = balance.apply(hold)
    assert balance == Balance(available=70, held=30)
    capture = planned(ledger.capture(USER, 30, 25, "gen_1"))
    assert balance.apply(capture) == Balance(available=75, held=0)
    assert capture.amount_of(AccountKind.REVENUE) == 25


def test_capture_and_release_of_one_generation_share_one_key():
    capture = planned(ledger.capture(USER, 30, 30, "gen_1"))
    release = planned(ledger.release(USER, 30, "gen_1"))
    assert capture.key == release.key == "settle:gen_1"
    assert (capture.kind, release.kind) == (LedgerKind.CAPTURE, LedgerKind.RELEASE)


def test_a_hold_is_refused_when_the_balance_is_short_or_in_debt():
    short = ledger.hold(Balance(available=5), USER, 6, "gen_1")
    assert isinstance(short, Rejected)
    assert short.reason is ReasonCode.INSUFFICIENT_BALANCE
    in_debt = ledger.hold(Balance(available=50, debt=1), USER, 6, "gen_1")
    assert isinstance(in_debt, Rejected)
    assert in_debt.reason is ReasonCode.IN_DEBT


def test_a_refund_of_spent_stars_becomes_debt_and_a_top_up_pays_it_first():
    balance = Balance(available=10)
    refund = planned(ledger.purchase_refund(balance, USER, 50, "ch_1"))
    balance = balance.apply(refund)
    assert balance == Balance(available=0, debt=40)
    balance = balance.apply(planned(ledger.purchase(balance, USER, 100, "ch_2")))
    assert balance == Balance(available=60, debt=0)


def test_capturing_more_than_the_hold_is_refused():
    assert isinstance(ledger.capture(USER, 10, 11, "gen_1"), Rejected)


@pytest.mark.parametrize("amount", [0, -5])
def test_amounts_must_be_positive(amount):
    assert isinstance(ledger.grant(USER, amount, "promo"), Rejected)


def test_an_overdraft_cannot_be_applied():
    with pytest.raises(ValueError, match="overdraws"):
        Balance().apply(planned(ledger.release(USER, 5, "gen_9")))


def test_an_unbalanced_transaction_cannot_exist():
    with pytest.raises(ValueError, match="does not balance"):
        LedgerTransaction(
            key=IdempotencyKey("x"),
            kind=LedgerKind.GRANT,
            user_id=USER,
            entries=(ledger.Entry(AccountKind.AVAILABLE, 5),),
            reference="x",
        )


operations = st.lists(
    st.tuples(
        st.sampled_from(["purchase", "grant", "hold", "settle", "refund", "purchase_refund"]),
        st.integers(1, 200),
        st.booleans(),
    ),
    max_size=60,
)


@given(operations)
def test_stars_are_conserved_and_balances_never_go_negative(steps):
    balance = Balance()
    holds: dict[str, int] = {}
    total_in = 0
    revenue = 0
    for number, (kind, amount, capture_all) in enumerate(steps):
        ref = f"r{number}"
        match kind:
            case "purchase":
                result = ledger.purchase(balance, USER, amount, ref)
            case "grant":
                result = ledger.grant(USER, amount, ref)
            case "hold":
                result = ledger.hold(balance, USER, amount, ref)
            case "settle" if holds:
                gen, held = holds.popitem()
                result = (
                    ledger.capture(USER, held, held if capture_all else held // 2, gen)
                    if capture_all or held > 1
                    else ledger.release(USER, held, gen)
                )
            case "refund" if revenue >= amount:
                result = ledger.refund(USER, amount, ref)
            case "purchase_refund":
                result = ledger.purchase_refund(balance, USER, amount, ref)
            case _:
                continue
        if isinstance(result, Rejected):
            continue
        assert sum(entry.amount for entry in result.entries) == 0
        balance = balance.apply(result)
        if result.kind is LedgerKind.HOLD:
            holds[ref] = amount
        total_in -= result.amount_of(AccountKind.TELEGRAM) + result.amount_of(
            AccountKind.PROMOTIONS
        )
        revenue += result.amount_of(AccountKind.REVENUE)
        assert min(balance.available, balance.held, balance.debt) >= 0
        # What came in equals what the user has, minus what they owe, plus what was spent.
        assert total_in == balance.available + balance.held - balance.debt + revenue
    assert balance.held == sum(holds.values())
