"""Split tenders, change, card outcomes and offline rules, all in exact fen."""

from __future__ import annotations

from cashier_app.presenters.basket import Basket
from cashier_app.presenters.tenders import Payment
from client_common.connection import ConnectionFeed, ConnectionState
from client_common.presenters.ports import Refused
from tests.cashier.fakes import (
    CONTEXT,
    T1,
    T2,
    T3,
    T4,
    FakeCheckouts,
    FakeCustomers,
    FakeReader,
    FakeTerminal,
    online,
)


class Till:
    def __init__(self, connection: ConnectionFeed | None = None) -> None:
        self.connection = connection or online()
        self.customers = FakeCustomers()
        self.basket = Basket(FakeReader(T1, T2, T3, T4), self.customers, self.connection)
        self.terminal = FakeTerminal()
        self.checkouts = FakeCheckouts()
        self.pay = Payment(self.basket, self.terminal, self.checkouts, self.connection, CONTEXT)

    def go_offline(self) -> None:
        self.connection.update(ConnectionState(link="offline"))


async def wang() -> Till:
    till = Till()
    assert await till.basket.scan("FT1:0001")  # T1 + T2 = ¥8,498.00
    return till


async def test_cash_over_the_total_gives_change() -> None:
    till = Till()
    await till.basket.scan("FT1:0003")  # ¥199.00
    assert till.pay.remaining_text == "Still to pay ¥199.00"
    assert till.pay.add_cash("200")
    assert till.pay.remaining == 0
    assert till.pay.change == 100
    assert till.pay.change_text == "Change ¥1.00"
    assert till.pay.remaining_text == "Paid in full"
    settled = await till.pay.settle()
    assert settled is not None
    assert settled.change == 100
    [request] = till.checkouts.settled
    assert [(t.kind, t.amount) for t in request.tenders] == [("cash", 20000)]
    assert request.total == 19900


async def test_split_stored_value_and_cash_the_remaining_amount_always_shown() -> None:
    till = await wang()
    pay = till.pay
    assert pay.add_balance("stored_value")  # empty: all the member can use, ¥1,000.00
    assert pay.remaining == 849800 - 100000
    assert pay.remaining_text == "Still to pay ¥7,498.00"
    assert pay.add_balance("ecoin", "20.5")
    assert pay.remaining == 849800 - 100000 - 2050
    assert pay.add_cash("7000")
    assert pay.remaining_text == "Still to pay ¥477.50"
    assert not pay.complete
    assert await pay.settle() is None
    assert pay.message == "¥477.50 is still to pay."
    assert pay.add_cash("500")  # a second cash amount joins the first: one cash tender
    assert [(t.kind, t.amount) for t in pay.tenders] == [("stored_value", 100000), ("ecoin", 2050), ("cash", 750000)]
    assert pay.change == 2250
    settled = await pay.settle()
    assert settled is not None
    assert settled.tendered - settled.change == settled.total == 849800
    assert till.checkouts.settled[0].member_id == T1.member_id


async def test_amounts_are_exact_to_the_fen() -> None:
    till = Till()
    await till.basket.scan("FT1:0003")
    assert till.pay.add_cash("0.01")
    assert till.pay.remaining == 19899
    assert not till.pay.add_cash("1.005")
    assert till.pay.message == "Enter the amount as yuan, e.g. 100 or 99.50."
    assert not till.pay.add_cash("-5")
    assert till.pay.add_cash("198.99")
    assert till.pay.remaining == 0
    assert till.pay.change == 0


async def test_only_cash_may_be_more_than_what_is_due() -> None:
    till = await wang()
    assert till.pay.add_cash("8000")
    assert not till.pay.add_balance("stored_value", "600")
    assert till.pay.message == "Stored value can pay at most ¥498.00; only cash may be more than what is due."
    assert not await till.pay.take_card("card", "4111111111111111", "500")
    assert till.terminal.charges == []


async def test_a_balance_cannot_pay_more_than_the_member_has() -> None:
    till = await wang()
    assert not till.pay.add_balance("ecoin", "60")
    assert till.pay.message == "The member has only ¥50.00 of E-coin."
    assert till.pay.add_balance("ecoin", "30")
    assert not till.pay.add_balance("ecoin", "30")
    assert till.pay.message == "The member has only ¥20.00 of E-coin."


async def test_points_pay_by_their_value() -> None:
    till = await wang()
    assert till.pay.add_balance("points")
    assert [(t.kind, t.amount) for t in till.pay.tenders] == [("points", 12340)]


async def test_member_tenders_need_a_member_with_a_balance() -> None:
    till = Till()
    await till.basket.scan("FT1:0003")
    assert till.pay.unavailable("stored_value") == "Needs a member: scan the member's code."
    assert not till.pay.add_balance("stored_value")
    till2 = Till()
    await till2.basket.scan("FT1:0004")  # Li has nothing
    assert till2.pay.unavailable("points") == "The member has no Points to spend."


async def test_card_approved_then_cash_for_the_rest() -> None:
    till = await wang()
    assert await till.pay.take_card("card", "4111 1111 1111 1111", "8000")
    [(payment_id, kind, amount, number)] = till.terminal.charges
    assert (kind, amount, number) == ("card", 800000, "4111111111111111")
    assert till.pay.tenders[0].id == payment_id, "the card tender is the payment the provider charged"
    assert till.pay.message == "Card ¥8,000.00 approved **** 1111"
    assert till.pay.rows[0].label == "Card **** 1111"
    assert not till.pay.rows[0].removable
    till.pay.remove(payment_id)
    assert len(till.pay.tenders) == 1
    assert till.pay.add_cash()
    assert till.pay.change == 0
    assert await till.pay.settle() is not None


async def test_a_declined_card_says_why_and_adds_nothing() -> None:
    till = await wang()
    assert not await till.pay.take_card("card", "4000000000009995")
    assert till.pay.message == "Card declined: insufficient funds. Ask for another card or tender."
    assert till.pay.tenders == []
    assert till.pay.pending is None
    assert not await till.pay.take_card("wallet", "280000000000000069")
    assert till.pay.message == "Wallet declined: the card has expired. Ask for another card or tender."


async def test_a_lost_answer_is_asked_about_with_the_same_payment_id_never_charged_again() -> None:
    till = await wang()
    assert not await till.pay.take_card("card", "4000000000000119")
    assert till.pay.message == (
        "No answer about the Card payment of ¥8,498.00. Do not charge again: tap Check to ask what happened."
    )
    pending = till.pay.pending
    assert pending is not None
    # Another card while one payment is unresolved is refused: it could charge the customer twice.
    assert not await till.pay.take_card("card", "4111111111111111")
    assert till.pay.message == "Resolve the Card payment waiting for an answer first."
    assert not till.pay.complete
    assert await till.pay.check_pending()
    assert till.terminal.queries == [pending.payment_id]
    assert len(till.terminal.charges) == 1, "never a second charge"
    assert [t.id for t in till.pay.tenders] == [pending.payment_id]
    assert till.pay.complete


async def test_an_unknown_outcome_that_ends_declined() -> None:
    till = await wang()
    assert not await till.pay.take_card("card", "4000000000000267")
    assert till.pay.pending is not None
    assert not await till.pay.check_pending()
    assert till.pay.message == "Card declined: the bank refused it. Ask for another card or tender."
    assert till.pay.pending is None
    assert till.pay.tenders == []


async def test_a_payment_lost_before_the_provider_may_be_tried_again() -> None:
    till = await wang()
    assert not await till.pay.take_card("card", "4000000000000127")
    assert not await till.pay.check_pending()
    assert till.pay.message == "The Card payment did not go through; you may try again."
    assert till.pay.pending is None


async def test_card_needs_the_card_or_code() -> None:
    till = await wang()
    assert not await till.pay.take_card("card", "  ")
    assert till.pay.message == "Swipe the card or scan the customer's payment code."


NO_ALLOWANCE = (
    "Offline: balances are spent only within an allowance reserved online; none is held here for this member. "
    "Take cash."
)


async def test_offline_tenders_needing_the_server_are_disabled_with_the_reason() -> None:
    till = Till()
    till.go_offline()
    await till.basket.scan("FT1:0001")
    assert till.pay.unavailable("cash") == ""
    assert till.pay.unavailable("card") == "", "offline a card is taken on the standalone card terminal"
    assert till.pay.unavailable("wallet") == (
        "Offline: wallet payments need the server. Take cash or a card on the card terminal."
    )
    for kind in ("stored_value", "ecoin", "points"):
        assert till.pay.unavailable(kind) == NO_ALLOWANCE
    assert not till.pay.add_balance("stored_value")
    assert till.pay.message == NO_ALLOWANCE
    # A card number typed offline is not charged: the card field asks for the terminal's approval.
    assert till.pay.instrument_hint.startswith("Offline · card terminal")
    assert not await till.pay.take_card("card", "4111111111111111")
    assert till.pay.message.startswith("Type the approval code the card terminal printed")
    assert till.terminal.charges == []
    assert till.pay.tenders == []


async def test_offline_card_on_the_standalone_terminal_waits_in_the_outbox_with_its_approval() -> None:
    till = Till()
    till.go_offline()
    await till.basket.scan("FT1:0001")  # offline only the scanned ticket: 5,999.00
    assert await till.pay.take_card("card", "a1b2c3 4242", "5000"), till.pay.message
    assert till.pay.message == "Card on the terminal ¥5,000.00 (approval A1B2C3, **** 4242) recorded."
    assert [r.label for r in till.pay.rows] == ["Card **** 4242"]
    assert till.pay.rows[0].removable, "a mistyped approval can be taken off and keyed again"
    assert not till.pay.add_terminal_card("A1B2C3 4242", "1000"), "never more than what remains"
    assert till.pay.add_cash("1000")
    assert till.pay.change == 100
    settled = await till.pay.settle()
    assert settled is not None, till.pay.message
    assert settled.queued
    assert till.terminal.charges == [], "nothing went through the payment provider"
    [request] = till.checkouts.outbox
    card, cash = request.tenders
    assert (card.kind, card.amount, card.terminal_ref, card.masked) == ("card", 500_000, "A1B2C3", "**** 4242")
    assert card.token == "", "no card number, no token: only the approval code and the last four"
    assert (cash.kind, cash.amount) == ("cash", 100_000)


async def test_terminal_approval_must_be_a_code_and_four_digits() -> None:
    till = Till()
    till.go_offline()
    await till.basket.scan("FT1:0003")
    for bad in ("", "A1B2C3", "A1B2C3 424", "A1B2C3 42x2", "A1 4242", "A1B2C3 4242 9"):
        assert not till.pay.add_terminal_card(bad), bad
        assert till.pay.message.startswith("Type the approval code"), bad
    assert till.pay.add_terminal_card("000123/4242")


async def test_offline_cash_for_scanned_tickets_goes_to_the_outbox() -> None:
    till = Till()
    till.go_offline()
    await till.basket.scan("FT1:0001")
    await till.basket.scan("FT1:0003")
    assert till.pay.add_cash("6200")
    settled = await till.pay.settle()
    assert settled is not None
    assert settled.queued
    assert till.checkouts.settled == []
    [request] = till.checkouts.outbox
    assert [t.qr for t in request.tickets] == ["FT1:0001", "FT1:0003"]
    assert till.pay.message == "Offline: the checkout is kept and sent when the network is back."


async def test_offline_tickets_known_only_to_the_server_cannot_be_settled() -> None:
    till = Till()
    await till.basket.scan("M0001")  # from the server, not from codes
    till.go_offline()
    assert till.pay.unavailable("cash") == "Offline, only tickets scanned from their QR codes can be settled."
    assert not till.pay.add_cash("9000")


async def test_network_lost_while_settling_cash_keeps_the_checkout_id_and_queues_it() -> None:
    till = Till()
    till.go_offline()
    await till.basket.scan("FT1:0003")
    till.connection.update(ConnectionState(link="online"))
    till.checkouts.reachable = False
    assert till.pay.add_cash("200")
    settled = await till.pay.settle()
    assert settled is not None
    assert settled.queued
    assert till.checkouts.outbox[0].checkout_id == settled.checkout_id


async def test_network_lost_with_a_card_tender_keeps_the_same_checkout_id_for_the_retry() -> None:
    till = await wang()
    await till.pay.take_card("card", "4111111111111111")
    till.checkouts.reachable = False
    assert await till.pay.settle() is None
    assert till.pay.message.startswith("The server cannot be reached")
    first = till.pay.checkout_id
    till.checkouts.reachable = True
    settled = await till.pay.settle()
    assert settled is not None
    assert settled.checkout_id == first, "a retry after a lost answer is a replay, never a second checkout"


async def test_a_not_now_refusal_after_a_lost_answer_keeps_the_checkout_id_so_the_retry_is_a_replay() -> None:
    till = await wang()
    till.pay.add_cash()
    till.checkouts.reachable = False  # the answer is lost: the server may have settled it
    assert await till.pay.settle() is None
    first = till.pay.checkout_id
    assert first is not None
    till.checkouts.reachable = True
    till.checkouts.refuse = Refused("database_unavailable", "The database cannot be reached; try again shortly.")
    assert await till.pay.settle() is None
    assert till.pay.message == "The database cannot be reached; try again shortly."
    assert till.pay.checkout_id == first, "a new id would settle the customer's tickets a second time, or refuse"
    till.checkouts.refuse = None
    settled = await till.pay.settle()
    assert settled is not None
    assert settled.checkout_id == first
    assert [r.checkout_id for r in till.checkouts.settled] == [first]


async def test_a_refused_checkout_shows_the_servers_sentence_and_starts_a_new_id() -> None:
    till = await wang()
    till.pay.add_cash()
    till.checkouts.refuse = Refused("ticket_not_open", "Ticket SH01-C-APL-H1-000001 is already paid.")
    assert await till.pay.settle() is None
    assert till.pay.message == "Ticket SH01-C-APL-H1-000001 is already paid."
    assert till.pay.checkout_id is None


async def test_removing_a_ticket_changes_what_remains() -> None:
    till = await wang()
    till.pay.add_cash("9000")
    assert till.pay.change == 900000 - 849800
    till.basket.remove(T2.id)
    assert till.pay.remaining == 0
    assert till.pay.change == 900000 - 599900
    till.basket.remove(T1.id)
    assert till.pay.unavailable("cash") == "Scan a ticket first."


async def test_next_customer_starts_afresh() -> None:
    till = await wang()
    till.pay.add_cash("9000")
    await till.pay.settle()
    till.pay.next_customer()
    assert till.pay.tenders == []
    assert till.basket.tickets == []
    assert till.pay.checkout_id is None
