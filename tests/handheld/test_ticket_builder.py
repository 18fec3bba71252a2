from __future__ import annotations

import pytest

from handheld_app.presenters.ticket_builder import TicketBuilder
from tests.handheld.fakes import CONTEXT, MEMBER, PRODUCTS, STAFF, FakeAuth, FakeBook

IPHONE, AIRPODS, PURA, XM5, KETTLE = PRODUCTS
SALES = STAFF[("S001", "1111")]


@pytest.fixture
def book() -> FakeBook:
    return FakeBook()


@pytest.fixture
def auth() -> FakeAuth:
    return FakeAuth()


@pytest.fixture
def builder(book: FakeBook, auth: FakeAuth) -> TicketBuilder:
    b = TicketBuilder(book, auth, CONTEXT)
    b.staff = SALES
    return b


def test_totals_use_promotion_price_and_add_up_in_fen(builder: TicketBuilder) -> None:
    builder.add(IPHONE)
    builder.add(AIRPODS)  # promo 1699.00 instead of 1899.00
    builder.add(KETTLE, qty=3)  # promo 149.00
    assert builder.total == 599900 + 169900 + 3 * 14900
    assert builder.item_count == 5
    assert builder.total_text == "Total ¥8,145.00"
    assert [line.promo for line in builder.lines] == [False, True, True]


def test_scanning_the_same_product_again_adds_to_its_line(builder: TicketBuilder) -> None:
    builder.add(XM5)
    builder.add(XM5)
    assert len(builder.lines) == 1
    assert builder.lines[0].qty == 2
    assert builder.total == 2 * 249900


def test_change_quantity_and_zero_removes_the_line(builder: TicketBuilder) -> None:
    builder.add(IPHONE)
    builder.add(XM5)
    assert builder.set_qty(1, "4")
    assert builder.total == 599900 + 4 * 249900
    builder.step_qty(1, -1)
    assert builder.lines[1].qty == 3
    assert builder.set_qty(0, "0")
    assert [line.item for line in builder.lines] == [XM5]


@pytest.mark.parametrize("bad", ["-1", "1.5", "abc", "", "10001"])
def test_bad_quantity_is_refused_with_a_sentence_and_nothing_changes(builder: TicketBuilder, bad: str) -> None:
    builder.add(IPHONE)
    assert not builder.set_qty(0, bad)
    assert builder.lines[0].qty == 1
    assert "whole number" in builder.error


def test_remove_line(builder: TicketBuilder) -> None:
    builder.add(IPHONE)
    builder.add(PURA)
    builder.remove(0)
    assert builder.total == 499900


async def test_price_override_applies_only_after_a_supervisor_pin(builder: TicketBuilder, auth: FakeAuth) -> None:
    builder.add(IPHONE)
    assert builder.request_override(0, "5499.50")
    assert builder.total == 599900, "a requested price must not apply before approval"
    assert builder.pending_text == "Price ¥5,499.50 waits for a supervisor."

    assert not await builder.approve("V001", "0000")  # wrong PIN
    assert "PIN is wrong" in builder.error
    assert builder.total == 599900

    assert await builder.approve("v001", "4444")
    assert builder.total == 549950
    assert builder.pending is None
    line = builder.lines[0]
    assert line.override_by is not None
    assert line.override_by.role == "supervisor"
    assert not line.promo
    assert "price by 刘洋 Liu Yang" in builder.line_text(0)[0]


async def test_a_sales_persons_own_pin_does_not_approve_an_override(builder: TicketBuilder) -> None:
    builder.add(IPHONE)
    builder.request_override(0, "1")
    assert not await builder.approve("S001", "1111")
    assert "not a supervisor" in builder.error
    assert builder.total == 599900


async def test_override_offline_stays_pending_and_says_why(builder: TicketBuilder, auth: FakeAuth) -> None:
    builder.add(IPHONE)
    builder.request_override(0, "100")
    auth.offline = True
    assert not await builder.approve("V001", "4444")
    assert builder.pending is not None
    assert "cannot be reached" in builder.error


@pytest.mark.parametrize("bad", ["12.345", "abc", "1.2.3", "-5", ""])
def test_override_price_must_be_yuan_with_two_decimals(builder: TicketBuilder, bad: str) -> None:
    builder.add(IPHONE)
    assert not builder.request_override(0, bad)
    assert builder.pending is None


def test_rescanning_after_override_starts_a_new_line_at_catalog_price(builder: TicketBuilder) -> None:
    builder.add(IPHONE)
    builder.lines[0] = builder.lines[0].__class__(item=IPHONE, qty=1, unit_price=100, override_by=SALES)
    builder.add(IPHONE)
    assert [line.unit_price for line in builder.lines] == [100, 599900]


async def test_issue_saves_a_draft_whose_figures_the_server_accepts(builder: TicketBuilder, book: FakeBook) -> None:
    builder.add(AIRPODS, qty=2)
    builder.add(IPHONE)
    builder.request_override(1, "5000")
    assert await builder.approve("V001", "4444")
    builder.attach(MEMBER)
    ticket = builder.issue()
    assert ticket is not None
    draft = book.drafts[ticket.id]
    assert draft.number == "SH01-C-APL-H1-000001"
    assert draft.total == 2 * 169900 + 500000 == ticket.total
    assert all(line.line_total == line.expected_total() for line in draft.lines)
    assert [line.line_no for line in draft.lines] == [1, 2]
    assert draft.member_id == MEMBER.member_id
    assert draft.staff_id == SALES.staff_id
    assert draft.override_approved_by == STAFF[("V001", "4444")].staff_id
    assert (draft.store_id, draft.counter_id) == (CONTEXT.store_id, CONTEXT.counter_id)
    assert ticket.qr.startswith("FT1:")
    # The builder starts afresh for the next customer.
    assert builder.lines == []
    assert builder.member is None


def test_issue_needs_lines_and_a_signed_in_person(builder: TicketBuilder, book: FakeBook) -> None:
    assert builder.issue() is None
    assert builder.error == "Add at least one product first."
    builder.add(IPHONE)
    builder.staff = None
    assert builder.issue() is None
    assert book.drafts == {}


def test_each_issue_gets_a_new_id_and_number(builder: TicketBuilder, book: FakeBook) -> None:
    builder.add(IPHONE)
    a = builder.issue()
    builder.add(IPHONE)
    b = builder.issue()
    assert a is not None
    assert b is not None
    assert a.id != b.id
    assert a.number != b.number


def test_views_are_told_to_redraw(builder: TicketBuilder) -> None:
    calls: list[int] = []
    builder.observe(lambda: calls.append(1))
    builder.add(IPHONE)
    builder.set_qty(0, "2")
    builder.remove(0)
    assert len(calls) == 3
