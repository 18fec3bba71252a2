"""One basket per customer: any ticket QR or the member code brings every open ticket from every counter."""

from __future__ import annotations

from cashier_app.presenters.basket import Basket
from cashier_app.presenters.ports import BasketTicket, UnknownIssuer
from client_common.i18n import translator
from tests.cashier.fakes import T1, T2, T3, T4, WANG, FakeCustomers, FakeReader, offline, online


def basket(connection=None, customers=None) -> tuple[Basket, FakeCustomers]:
    customers = customers or FakeCustomers()
    return Basket(FakeReader(T1, T2, T3, T4), customers, connection or online()), customers


async def test_one_ticket_qr_brings_every_open_ticket_of_the_member_from_every_counter() -> None:
    b, _ = basket()
    assert await b.scan("FT1:0001\r\n")
    assert [t.number for t in b.tickets] == [T1.number, T2.number]
    assert {t.counter for t in b.tickets} == {"C-APL", "C-SNY"}
    assert b.total == 599900 + 249900
    assert b.total_text == "To pay ¥8,498.00"
    assert b.member is not None
    assert b.member.member_id == WANG
    assert b.member_text == "王* · gold"
    assert b.balances_text == "Stored value ¥1,000.00 · E-coin ¥50.00 · Points 12340 (¥123.40)"
    assert b.message == "Added 2 tickets · ¥8,498.00"


async def test_the_member_code_brings_the_same_basket() -> None:
    b, _ = basket()
    assert await b.scan("M0001")
    assert {t.id for t in b.tickets} == {T1.id, T2.id}


async def test_scanning_another_ticket_of_the_same_customer_adds_nothing_twice() -> None:
    b, _ = basket()
    await b.scan("FT1:0001")
    assert not await b.scan("FT1:0002")
    assert len(b.tickets) == 2
    assert b.message == f"Ticket {T1.number} is already in the basket."


async def test_a_ticket_without_member_comes_alone_and_a_member_code_joins_it() -> None:
    b, _ = basket()
    assert await b.scan(T3.number)
    assert [t.id for t in b.tickets] == [T3.id]
    assert b.member_text == "No member"
    assert await b.scan("M0001")
    assert b.total == T3.total + T1.total + T2.total


async def test_tickets_of_another_member_are_refused() -> None:
    b, _ = basket()
    await b.scan("M0001")
    assert not await b.scan("M0002")
    assert {t.id for t in b.tickets} == {T1.id, T2.id}
    assert b.message == "These tickets belong to another member; finish this customer first."


async def test_remove_one_ticket_keeps_the_rest_and_the_member() -> None:
    b, _ = basket()
    await b.scan("FT1:0002")
    b.remove(T2.id)
    assert [t.id for t in b.tickets] == [T1.id]
    assert b.total == T1.total
    assert b.member is not None
    assert b.message == f"Removed {T2.number}."
    b.remove(T1.id)
    assert b.member is None


async def test_a_forged_ticket_qr_is_refused_with_the_reason() -> None:
    b, customers = basket()
    assert not await b.scan("FT1:9999")
    assert b.tickets == []
    assert b.message.startswith("This ticket code cannot be used: The ticket's signature does not match")
    assert customers.calls == [], "a code that fails its signature is never sent to the server"


async def test_offline_a_ticket_qr_is_added_alone_from_its_code() -> None:
    b, customers = basket(offline())
    assert await b.scan("FT1:0001")
    assert [t.id for t in b.tickets] == [T1.id]
    assert b.tickets[0].qr == "FT1:0001"
    assert b.all_from_codes
    assert customers.calls == []
    assert b.member_text == "Member …a001 (balances need the server)"


async def test_offline_a_member_code_needs_the_server() -> None:
    b, customers = basket(offline())
    assert not await b.scan("M0001")
    assert b.message == "A member code or ticket number needs the server; scan the ticket QR instead."
    assert customers.calls == []


async def test_server_not_answering_falls_back_to_the_ticket_code() -> None:
    b, customers = basket()
    customers.reachable = False
    assert await b.scan("FT1:0001")
    assert [t.id for t in b.tickets] == [T1.id]
    assert b.message == "Server not reached: only this ticket was added, from its code."


async def test_a_ticket_the_server_has_not_received_is_paid_from_its_code() -> None:
    customers = FakeCustomers()
    customers.unknown.add(T3.id)
    b, _ = basket(customers=customers)
    assert await b.scan("FT1:0003")
    assert [t.qr for t in b.tickets] == ["FT1:0003"]


async def test_basket_text_follows_the_language() -> None:
    b, _ = basket()
    await b.scan("FT1:0001")
    translator.set_language("zh")
    assert b.total_text == "应付 ¥8,498.00"
    assert b.rows[0].title == f"{T1.number}  C-APL"
    assert b.rows[0].detail == "商品1 ×1"


async def test_a_code_from_a_handheld_this_till_has_no_key_for_yet_is_checked_by_the_server() -> None:
    class NewHandheld(FakeReader):
        def read(self, text: str) -> BasketTicket:
            raise UnknownIssuer("This ticket was issued by a device this station does not know.")

    customers = FakeCustomers()
    b = Basket(NewHandheld(), customers, online())
    assert await b.scan("FT1:0001")
    assert [t.id for t in b.tickets] == [T1.id, T2.id]
    assert customers.calls == ["FT1:0001"]
    offline_basket = Basket(NewHandheld(), FakeCustomers(), offline())
    assert not await offline_basket.scan("FT1:0001")
    assert offline_basket.message.startswith("This ticket code cannot be used: This ticket was issued by a device")
