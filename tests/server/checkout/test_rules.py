"""The money rules, exhaustively: sums always balance, nothing goes back twice, change only in cash."""

from __future__ import annotations

import itertools
import uuid

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from protocol.checkout import CheckoutCodes, TenderKind
from server.checkout.rules import (
    PaidTender,
    Tender,
    allocate_refund,
    line_refund_amount,
    needs_approval,
    needs_member,
    needs_token,
    refund_destination,
    settle_tenders,
    split_pro_rata,
)
from server.errors import AppError

KINDS: list[TenderKind] = ["cash", "card", "wallet", "stored_value", "ecoin", "points"]
NON_CASH: list[TenderKind] = ["card", "wallet", "stored_value", "ecoin", "points"]


def tender(kind: TenderKind, amount: int) -> Tender:
    return Tender(uuid.uuid4(), kind, amount)


def refused(code: str, fn: object, *args: object) -> AppError:
    with pytest.raises(AppError) as info:
        fn(*args)  # type: ignore[operator]
    assert info.value.code == code, info.value.message
    return info.value


# --- settling tenders ------------------------------------------------------------------------------


def test_cash_overpays_and_gives_change() -> None:
    [cash] = settle_tenders(8_850, [tender("cash", 10_000)])
    assert (cash.tendered, cash.applied, cash.change) == (10_000, 8_850, 1_150)


def test_split_card_stored_value_and_cash_with_change() -> None:
    settled = settle_tenders(100_000, [tender("card", 60_000), tender("stored_value", 30_000), tender("cash", 20_000)])
    assert [s.applied for s in settled] == [60_000, 30_000, 10_000]
    assert [s.change for s in settled] == [0, 0, 10_000]


def test_non_cash_must_match_exactly() -> None:
    assert settle_tenders(5_000, [tender("card", 5_000)])[0].applied == 5_000
    err = refused(CheckoutCodes.TENDER_OVERPAID, settle_tenders, 5_000, [tender("card", 5_001)])
    assert "only cash" in err.message
    refused(CheckoutCodes.TENDER_SHORT, settle_tenders, 5_000, [tender("wallet", 4_999)])


def test_shortfall_names_the_missing_amount() -> None:
    err = refused(CheckoutCodes.TENDER_SHORT, settle_tenders, 10_000, [tender("card", 3_000), tender("cash", 2_000)])
    assert err.details["short"] == 5_000
    assert "¥50.00 short" in err.message


@pytest.mark.parametrize("amount", [0, -1, -10_000])
@pytest.mark.parametrize("kind", KINDS)
def test_zero_and_negative_tenders_are_refused(kind: TenderKind, amount: int) -> None:
    refused(CheckoutCodes.TENDER_NOT_POSITIVE, settle_tenders, 1_000, [tender(kind, amount), tender("cash", 5_000)])


def test_only_one_change_giving_tender() -> None:
    refused(CheckoutCodes.TOO_MANY_CHANGE_TENDERS, settle_tenders, 1_000, [tender("cash", 500), tender("cash", 600)])


def test_cash_that_covers_nothing_is_refused() -> None:
    refused(CheckoutCodes.CASH_NOT_NEEDED, settle_tenders, 1_000, [tender("card", 1_000), tender("cash", 100)])


def test_duplicate_tender_ids_are_refused() -> None:
    t = tender("card", 500)
    refused(CheckoutCodes.DUPLICATE_TENDER, settle_tenders, 1_000, [t, t])


def test_zero_total_needs_no_tender_and_takes_none() -> None:
    assert settle_tenders(0, []) == []
    refused(CheckoutCodes.TENDER_OVERPAID, settle_tenders, 0, [tender("card", 1)])
    refused(CheckoutCodes.TENDER_SHORT, settle_tenders, 1, [])


def test_many_cards_split_the_total() -> None:
    settled = settle_tenders(30_000, [tender("card", 10_000) for _ in range(3)])
    assert sum(s.applied for s in settled) == 30_000


amounts = st.integers(min_value=1, max_value=10**9)


@given(total=st.integers(min_value=0, max_value=10**10), data=st.data())
def test_any_accepted_tender_set_pays_exactly_the_total(total: int, data: st.DataObject) -> None:
    tenders = data.draw(
        st.lists(st.builds(tender, st.sampled_from(KINDS), st.integers(min_value=-5, max_value=10**10)), max_size=6)
    )
    try:
        settled = settle_tenders(total, tenders)
    except AppError:
        return
    assert sum(s.applied for s in settled) == total
    assert sum(s.tendered for s in settled) - sum(s.change for s in settled) == total
    for s in settled:
        assert s.applied > 0
        assert s.change >= 0
        assert s.tendered == s.applied + s.change
        if s.kind != "cash":
            assert s.change == 0
    assert sum(1 for s in settled if s.change > 0) <= 1


@given(parts=st.lists(st.tuples(st.sampled_from(NON_CASH), amounts), min_size=1, max_size=6), extra=amounts)
def test_exact_non_cash_split_is_accepted_and_cash_on_top_is_refused(
    parts: list[tuple[TenderKind, int]], extra: int
) -> None:
    total = sum(a for _, a in parts)
    tenders = [tender(k, a) for k, a in parts]
    assert [s.applied for s in settle_tenders(total, tenders)] == [a for _, a in parts]
    refused(CheckoutCodes.CASH_NOT_NEEDED, settle_tenders, total, [*tenders, tender("cash", extra)])


@given(non_cash=st.lists(amounts, max_size=4), cash_due=amounts, change=st.integers(min_value=0, max_value=10**8))
def test_cash_covers_the_rest_and_the_excess_is_change(non_cash: list[int], cash_due: int, change: int) -> None:
    total = sum(non_cash) + cash_due
    tenders = [tender("card", a) for a in non_cash] + [tender("cash", cash_due + change)]
    settled = settle_tenders(total, tenders)
    assert settled[-1].applied == cash_due
    assert settled[-1].change == change


# --- token and member requirements -----------------------------------------------------------------


def test_which_tenders_need_a_token_or_a_member() -> None:
    assert [k for k in KINDS if needs_token(k)] == ["card", "wallet"]
    assert [k for k in KINDS if needs_member(k)] == ["stored_value", "ecoin", "points"]
    assert refund_destination("cash") == "drawer"
    assert refund_destination("card") == refund_destination("wallet") == "provider"
    assert {refund_destination(k) for k in ("stored_value", "ecoin", "points")} == {"member"}


# --- pro-rata --------------------------------------------------------------------------------------


def test_split_pro_rata_rounds_by_largest_remainder() -> None:
    assert split_pro_rata(100, [1, 1, 1]) == [34, 33, 33]
    assert split_pro_rata(10, [0, 5, 5]) == [0, 5, 5]
    assert split_pro_rata(0, [3, 4]) == [0, 0]


@given(weights=st.lists(st.integers(min_value=0, max_value=10**9), min_size=1, max_size=8), data=st.data())
def test_split_pro_rata_balances_and_respects_weights(weights: list[int], data: st.DataObject) -> None:
    assume(sum(weights) > 0)
    amount = data.draw(st.integers(min_value=0, max_value=sum(weights)))
    shares = split_pro_rata(amount, weights)
    assert sum(shares) == amount
    for share, weight in zip(shares, weights, strict=True):
        assert 0 <= share <= weight
        # never more than one fen away from the exact proportion
        assert abs(share * sum(weights) - amount * weight) < sum(weights)


# --- refund allocation -----------------------------------------------------------------------------


def paid(kind: TenderKind, applied: int, refunded: int = 0) -> PaidTender:
    return PaidTender(uuid.uuid4(), kind, applied, refunded)


def test_refund_goes_back_to_each_tender_in_proportion() -> None:
    cash, card, pts = paid("cash", 20_000), paid("card", 60_000), paid("points", 20_000)
    shares = allocate_refund(10_000, [cash, card, pts])
    assert [(s.kind, s.amount, s.to) for s in shares] == [
        ("cash", 2_000, "drawer"),
        ("card", 6_000, "provider"),
        ("points", 2_000, "member"),
    ]


def test_refund_skips_tenders_already_given_back() -> None:
    card, sv = paid("card", 5_000, refunded=5_000), paid("stored_value", 5_000)
    shares = allocate_refund(3_000, [card, sv])
    assert [(s.tender_id, s.amount) for s in shares] == [(sv.id, 3_000)]


def test_refund_above_what_is_left_is_refused() -> None:
    err = refused(CheckoutCodes.REFUND_EXCEEDS_PAID, allocate_refund, 5_001, [paid("card", 5_000)])
    assert err.details == {"refundable": 5_000, "asked": 5_001}


tender_sets = st.lists(st.tuples(st.sampled_from(KINDS), amounts), min_size=1, max_size=6)


@given(tenders=tender_sets, data=st.data())
def test_refunds_in_any_steps_never_exceed_any_tender_and_end_exact(
    tenders: list[tuple[TenderKind, int]], data: st.DataObject
) -> None:
    state = [paid(k, a) for k, a in tenders]
    total = sum(a for _, a in tenders)
    cuts = data.draw(st.lists(st.integers(min_value=1, max_value=total), max_size=6, unique=True))
    bounds = [0, *sorted(c for c in cuts if c < total), total]
    for low, high in itertools.pairwise(bounds):
        step = high - low
        shares = allocate_refund(step, state)
        assert sum(s.amount for s in shares) == step
        given_back = {s.tender_id: s.amount for s in shares}
        assert len(given_back) == len(shares)  # one share per tender
        state = [PaidTender(t.id, t.kind, t.applied, t.refunded + given_back.get(t.id, 0)) for t in state]
        for t in state:
            assert 0 <= t.refunded <= t.applied
    assert all(t.refunded == t.applied for t in state)
    refused(CheckoutCodes.REFUND_EXCEEDS_PAID, allocate_refund, 1, state)


@given(tenders=tender_sets)
def test_a_full_refund_returns_exactly_what_each_tender_paid(tenders: list[tuple[TenderKind, int]]) -> None:
    state = [paid(k, a) for k, a in tenders]
    shares = allocate_refund(sum(a for _, a in tenders), state)
    assert {s.tender_id: s.amount for s in shares} == {t.id: t.applied for t in state}


# --- returned lines --------------------------------------------------------------------------------


def test_a_discounted_line_returned_unit_by_unit_gives_back_its_total() -> None:
    # 3 units at ¥10.00 with ¥1.00 line discount: ¥29.00 in all
    steps = [line_refund_amount(2_900, 3, before, 1) for before in range(3)]
    assert steps == [966, 967, 967]
    assert sum(steps) == 2_900


def test_returning_more_units_than_sold_is_refused() -> None:
    err = refused(CheckoutCodes.REFUND_QTY_EXCEEDS, line_refund_amount, 1_000, 2, 1, 2)
    assert "Only 1 of 2" in err.message


@given(
    line_total=st.integers(min_value=0, max_value=10**10),
    qty=st.integers(min_value=1, max_value=50),
    data=st.data(),
)
def test_any_return_steps_sum_to_the_line_total(line_total: int, qty: int, data: st.DataObject) -> None:
    returned, given_back = 0, 0
    while returned < qty:
        k = data.draw(st.integers(min_value=1, max_value=qty - returned))
        amount = line_refund_amount(line_total, qty, returned, k)
        assert amount >= 0
        # never off the exact pro-rata by a fen or more
        assert abs(amount * qty - line_total * k) < qty * 2
        given_back += amount
        returned += k
    assert given_back == line_total


# --- supervisor approval ---------------------------------------------------------------------------


def test_approval_above_the_limit_and_for_split_refunds() -> None:
    assert not needs_approval(50_000, 0, 50_000)
    assert needs_approval(50_001, 0, 50_000)
    # three small refunds on one checkout cannot dodge the limit
    assert not needs_approval(20_000, 20_000, 50_000)
    assert needs_approval(20_000, 40_000, 50_000)
    assert needs_approval(1, 0, -1)
    assert not needs_approval(1, 0, 10**12)
