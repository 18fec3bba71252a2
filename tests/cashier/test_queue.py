"""The live queue of open tickets, grouped by customer, fed by the store's ticket events."""

from __future__ import annotations

from msgspec.structs import replace

from cashier_app.presenters.queue import TicketQueue
from tests.cashier.fakes import LI, WANG, FakeEvents, wire_ticket


def test_tickets_of_one_member_from_several_counters_form_one_group_oldest_customer_first() -> None:
    events = FakeEvents()
    events.emit("ticket_issued", wire_ticket(1, WANG, 1000, 599900))
    queue = TicketQueue(events)  # catch-up: the events already held are applied
    events.emit("ticket_issued", wire_ticket(2, None, 2000, 19900))
    events.emit("ticket_issued", wire_ticket(3, WANG, 3000, 249900))
    events.emit("ticket_issued", wire_ticket(4, LI, 500, 10000))
    groups = queue.groups
    assert [g.member_id for g in groups] == [LI, WANG, None]
    wang = groups[1]
    assert [t.number for t in wang.tickets] == ["SH01-C-01-H1-000001", "SH01-C-03-H1-000003"]
    assert wang.total == 849800
    assert wang.total_text == "¥8,498.00"
    assert wang.title == "Member 王*"
    assert wang.detail == "2 tickets · SH01-C-01-H1-000001, SH01-C-03-H1-000003"
    assert wang.code == "SH01-C-01-H1-000001"
    assert groups[2].title == "No member"
    assert queue.summary == "3 customers · 4 tickets · ¥8,797.00"


def test_each_ticket_without_a_member_is_its_own_customer() -> None:
    events = FakeEvents()
    queue = TicketQueue(events)
    events.emit("ticket_issued", wire_ticket(1, None, 1000))
    events.emit("ticket_issued", wire_ticket(2, None, 2000))
    assert [len(g.tickets) for g in queue.groups] == [1, 1]


def test_paid_voided_and_expired_tickets_leave_the_queue_and_every_event_redraws() -> None:
    events = FakeEvents()
    queue = TicketQueue(events)
    redraws: list[int] = []
    queue.observe(lambda: redraws.append(queue.ticket_count))
    t1, t2, t3 = (wire_ticket(n, WANG, n * 1000) for n in (1, 2, 3))
    for t in (t1, t2, t3):
        events.emit("ticket_issued", t)
    events.emit("ticket_paid", replace(t1, state="paid"))
    events.emit("ticket_voided", replace(t2, state="voided"))
    assert redraws == [1, 2, 3, 2, 1]
    events.emit("ticket_expired", replace(t3, state="expired"))
    assert queue.groups == []
    assert queue.summary == "No open tickets in the store."


def test_attaching_a_member_regroups_the_ticket() -> None:
    events = FakeEvents()
    queue = TicketQueue(events)
    events.emit("ticket_issued", wire_ticket(1, WANG, 1000))
    t2 = wire_ticket(2, None, 2000)
    events.emit("ticket_issued", t2)
    assert len(queue.groups) == 2
    events.emit("member_attached", replace(t2, member_id=WANG))
    assert [len(g.tickets) for g in queue.groups] == [2]


def test_an_event_seen_twice_is_applied_once() -> None:
    events = FakeEvents()
    queue = TicketQueue(events)
    t1 = wire_ticket(1, WANG, 1000)
    issued = events.emit("ticket_issued", t1)
    events.emit("ticket_paid", replace(t1, state="paid"))
    queue.apply(issued)  # a replayed catch-up must not bring the paid ticket back
    assert queue.groups == []


def test_an_unknown_member_name_falls_back_to_the_end_of_the_id() -> None:
    events = FakeEvents()
    events.names.clear()
    queue = TicketQueue(events)
    events.emit("ticket_issued", wire_ticket(1, WANG, 1000))
    assert queue.groups[0].title == "Member a001"
