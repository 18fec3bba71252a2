"""The exception queue through the API: a till's offline checkout refused for a conflict is recorded once
with the refund to make, nothing of the checkout is written, and supervisors (or a cashier with a
supervisor's PIN) list and resolve it; another store's exceptions stay out of reach."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import asyncpg
import msgspec
import pytest
from litestar.testing import AsyncTestClient

from protocol.checkout import CheckoutRequest, TenderRequest
from protocol.exceptions import StoreException
from protocol.ids import new_id
from protocol.tickets import Ticket, VoidTicket
from server.exceptions.books import cash_of
from server.settings import Settings
from server.sync.service import apply_commands
from tests.auth_helpers import bearer, token_for
from tests.server.checkout.conftest import Shop, checkout, tender
from tests.stores import second_store


async def as_staff(conn: asyncpg.Connection, settings: Settings, code: str, shop: Shop | None = None) -> dict[str, str]:
    device_id = shop.till.device_id if shop is not None else None
    return bearer(await token_for(conn, code, settings.secret_key, device_id=device_id))


def offline(req: CheckoutRequest) -> CheckoutRequest:
    return msgspec.structs.replace(req, settled_offline_at_ms=int(time.time() * 1000) - 60_000)


def body(obj: Any) -> Any:
    return msgspec.to_builtins(obj)


async def void(conn: asyncpg.Connection, shop: Shop, ticket: Ticket) -> VoidTicket:
    seq = shop.seqs[shop.hh_apple.device_id]
    cmd = VoidTicket(command_id=new_id(), device_seq=next(seq), ticket_id=ticket.id, reason="customer left")
    (result,), _ = await apply_commands(conn, shop.hh_apple, [cmd])
    return cmd if result.status == "applied" else pytest.fail(str(result.error))


async def counts(conn: asyncpg.Connection, checkout_id: uuid.UUID, shop: Shop) -> dict[str, int]:
    """Everything a settled checkout would have written."""
    return {
        "checkout": await conn.fetchval("SELECT count(*) FROM checkout WHERE id = $1", checkout_id),
        "checkout_ticket": await conn.fetchval(
            "SELECT count(*) FROM checkout_ticket WHERE checkout_id = $1", checkout_id
        ),
        "tender": await conn.fetchval("SELECT count(*) FROM tender WHERE checkout_id = $1", checkout_id),
        "shift_movement": await conn.fetchval("SELECT count(*) FROM shift_movement WHERE shift_id = $1", shop.shift_id),
        "settled_audit": await conn.fetchval(
            "SELECT count(*) FROM audit_log WHERE action = 'checkout.settled' AND object_id = $1", str(checkout_id)
        ),
        "exceptions": await conn.fetchval("SELECT count(*) FROM store_exception"),
        "recorded_audit": await conn.fetchval("SELECT count(*) FROM audit_log WHERE action = 'exception.recorded'"),
    }


async def refused_with_exception(
    api: AsyncTestClient[Any], req: CheckoutRequest, headers: dict[str, str], code: str, status: int = 409
) -> StoreException:
    r = await api.post("/checkouts", json=body(req), headers=headers)
    assert r.status_code == status, r.text
    error = r.json()
    assert error["code"] == code
    assert "exception" in error["details"], error
    recorded = msgspec.convert(error["details"]["exception"], StoreException)
    assert f"exception {recorded.number}" in error["message"]
    return recorded


async def test_cash_taken_offline_for_a_ticket_voided_meanwhile_is_recorded_once_and_nothing_settles(
    api: AsyncTestClient[Any], conn: asyncpg.Connection, settings: Settings, shop: Shop
) -> None:
    ticket = await shop.issue(conn)
    headers = await as_staff(conn, settings, "C001", shop)
    # The till settled it offline with 100.00 more than due (change given), then the counter voided it.
    req = offline(checkout([ticket], tender("cash", ticket.total + 10_000)))
    await void(conn, shop, ticket)
    before = await counts(conn, req.id, shop)

    recorded = await refused_with_exception(api, req, headers, "ticket_not_open")
    assert recorded.kind == "ticket_voided"
    assert recorded.status == "open"
    assert recorded.checkout_id == req.id
    assert recorded.ticket_ids == [ticket.id]
    assert recorded.ticket_numbers == [ticket.number]
    assert recorded.device_id == shop.till.device_id
    assert recorded.staff_id == shop.cashier_id
    assert recorded.taken == {"cash": ticket.total}, "the change went back to the customer"
    assert [(m.action, m.amount, m.tender) for m in recorded.fix] == [("refund_cash", ticket.total, "cash")]
    assert recorded.settled_offline_at_ms == req.settled_offline_at_ms
    assert {"en", "zh"} <= recorded.fix_text.keys()
    assert f"{ticket.total // 100:,}.{ticket.total % 100:02d}" in recorded.fix_text["en"]

    # The till sends it again (a lost answer): the same exception, never a second one.
    again = await refused_with_exception(api, req, headers, "ticket_not_open")
    assert (again.id, again.number) == (recorded.id, recorded.number)
    after = await counts(conn, req.id, shop)
    assert {k: after[k] - before[k] for k in after} == {
        "checkout": 0,
        "checkout_ticket": 0,
        "tender": 0,
        "shift_movement": 0,
        "settled_audit": 0,
        "exceptions": 1,
        "recorded_audit": 1,
    }
    assert await conn.fetchval("SELECT state FROM ticket WHERE id = $1", ticket.id) == "voided"


async def test_a_ticket_paid_at_another_till_while_this_one_was_offline(
    api: AsyncTestClient[Any], conn: asyncpg.Connection, settings: Settings, shop: Shop
) -> None:
    ticket = await shop.issue(conn)
    headers = await as_staff(conn, settings, "C001", shop)
    online = checkout([ticket], tender("card", ticket.total))
    r = await api.post("/checkouts", json=body(online), headers=headers)
    assert r.status_code == 200, r.text
    late = offline(checkout([ticket], tender("cash", ticket.total)))
    recorded = await refused_with_exception(api, late, headers, "ticket_already_in_checkout")
    assert recorded.kind == "paid_elsewhere"
    assert recorded.to_refund == ticket.total
    assert await conn.fetchval("SELECT checkout_id FROM ticket WHERE id = $1", ticket.id) == online.id


async def test_a_changed_total_and_an_unknown_ticket_are_exceptions_too(
    api: AsyncTestClient[Any], conn: asyncpg.Connection, settings: Settings, shop: Shop
) -> None:
    headers = await as_staff(conn, settings, "C001", shop)
    ticket = await shop.issue(conn)
    # The QR showed 1.00 less than the server's ticket: the cash paid falls short of the total.
    dearer = msgspec.structs.replace(
        offline(checkout([ticket], tender("cash", ticket.total - 100))), expected_total=ticket.total - 100
    )
    changed = await refused_with_exception(api, dearer, headers, "tenders_short_of_total", 400)
    assert changed.kind == "total_changed"
    assert changed.to_refund == ticket.total - 100
    assert "still open" in changed.fix_text["en"]
    # The QR showed 1.00 more: the cash covers it, but the customer paid for another total.
    cheaper = msgspec.structs.replace(
        offline(checkout([ticket], tender("cash", ticket.total + 100))), expected_total=ticket.total + 100
    )
    changed = await refused_with_exception(api, cheaper, headers, "checkout_total_changed")
    assert changed.kind == "total_changed"
    assert changed.to_refund == ticket.total + 100
    assert await conn.fetchval("SELECT state FROM ticket WHERE id = $1", ticket.id) == "issued"

    ghost = CheckoutRequest(
        id=new_id(),
        ticket_ids=[new_id()],
        tenders=[tender("cash", 5_000)],
        expected_total=5_000,
        settled_offline_at_ms=1,
    )
    unknown = await refused_with_exception(api, ghost, headers, "not_found", 404)
    assert unknown.kind == "unknown_ticket"
    assert unknown.ticket_numbers == [""]


async def test_an_online_refusal_or_a_refusal_that_is_no_conflict_records_nothing(
    api: AsyncTestClient[Any], conn: asyncpg.Connection, settings: Settings, shop: Shop
) -> None:
    headers = await as_staff(conn, settings, "C001", shop)
    ticket = await shop.issue(conn)
    await void(conn, shop, ticket)
    online = checkout([ticket], tender("cash", ticket.total))
    r = await api.post("/checkouts", json=body(online), headers=headers)
    assert r.status_code == 409
    assert "exception" not in r.json()["details"]
    other = await shop.issue(conn)
    twice = offline(msgspec.structs.replace(checkout([other], tender("cash", other.total)), ticket_ids=[other.id] * 2))
    r = await api.post("/checkouts", json=body(twice), headers=headers)
    assert r.json()["code"] == "duplicate_ticket_in_checkout"
    assert "exception" not in r.json()["details"]
    assert await conn.fetchval("SELECT count(*) FROM store_exception") == 0


async def test_an_offline_checkout_that_settles_is_no_exception_and_its_replay_matches_with_or_without_the_mark(
    api: AsyncTestClient[Any], conn: asyncpg.Connection, settings: Settings, shop: Shop
) -> None:
    headers = await as_staff(conn, settings, "C001", shop)
    ticket = await shop.issue(conn)
    req = offline(checkout([ticket], tender("cash", ticket.total)))
    r = await api.post("/checkouts", json=body(req), headers=headers)
    assert r.status_code == 200, r.text
    for resend in (req, msgspec.structs.replace(req, settled_offline_at_ms=None)):
        r = await api.post("/checkouts", json=body(resend), headers=headers)
        assert r.status_code == 200, r.text
        assert r.json()["replayed"] is True
    assert await conn.fetchval("SELECT count(*) FROM store_exception") == 0


async def test_the_same_refused_checkout_replayed_twice_at_once_records_one_exception(
    api: AsyncTestClient[Any], conn: asyncpg.Connection, settings: Settings, shop: Shop
) -> None:
    headers = await as_staff(conn, settings, "C001", shop)
    ticket = await shop.issue(conn)
    await void(conn, shop, ticket)
    req = offline(checkout([ticket], tender("cash", ticket.total)))
    answers = await asyncio.gather(*(api.post("/checkouts", json=body(req), headers=headers) for _ in range(4)))
    ids = {a.json()["details"]["exception"]["id"] for a in answers}
    assert len(ids) == 1
    assert await conn.fetchval("SELECT count(*) FROM store_exception WHERE checkout_id = $1", req.id) == 1


async def recorded_exceptions(
    api: AsyncTestClient[Any], conn: asyncpg.Connection, settings: Settings, shop: Shop, n: int
) -> list[StoreException]:
    headers = await as_staff(conn, settings, "C001", shop)
    out = []
    for _ in range(n):
        ticket = await shop.issue(conn)
        await void(conn, shop, ticket)
        out.append(
            await refused_with_exception(
                api, offline(checkout([ticket], tender("cash", ticket.total))), headers, "ticket_not_open"
            )
        )
    return out


async def test_supervisors_and_managers_page_through_the_queue_and_resolve_once(
    api: AsyncTestClient[Any], conn: asyncpg.Connection, settings: Settings, shop: Shop
) -> None:
    first, second, third = await recorded_exceptions(api, conn, settings, shop, 3)
    supervisor = await as_staff(conn, settings, "V001")
    r = await api.get("/exceptions", params={"status": "open", "limit": 2}, headers=supervisor)
    assert r.status_code == 200, r.text
    page = r.json()
    assert page["total"] == 3
    assert [e["number"] for e in page["exceptions"]] == [third.number, second.number], "newest first"
    r = await api.get("/exceptions", params={"status": "open", "limit": 2, "offset": 2}, headers=supervisor)
    assert [e["number"] for e in r.json()["exceptions"]] == [first.number]

    r = await api.post(f"/exceptions/{first.id}/resolve", json={"note": "  "}, headers=supervisor)
    assert (r.status_code, r.json()["code"]) == (400, "exception_note_required")
    r = await api.post(f"/exceptions/{first.id}/resolve", json={"note": "refunded cash"}, headers=supervisor)
    assert r.status_code == 200, r.text
    done = msgspec.convert(r.json(), StoreException)
    liu = await conn.fetchval("SELECT id FROM staff WHERE code = 'V001'")
    assert (done.status, done.resolved_by, done.resolution_note) == ("resolved", liu, "refunded cash")
    assert done.resolved_by_name.startswith("刘洋")
    assert done.resolved_at_ms is not None

    manager = await as_staff(conn, settings, "M001")
    r = await api.post(f"/exceptions/{first.id}/resolve", json={"note": "again"}, headers=manager)
    assert (r.status_code, r.json()["code"]) == (409, "exception_already_resolved")
    assert "刘洋" in r.json()["message"]
    audit = await conn.fetch("SELECT staff_id, details FROM audit_log WHERE action = 'exception.resolved'")
    assert [a["staff_id"] for a in audit] == [liu]

    r = await api.get("/exceptions", params={"status": "resolved"}, headers=manager)
    assert [e["id"] for e in r.json()["exceptions"]] == [str(first.id)]
    r = await api.get("/exceptions", headers=manager)
    assert r.json()["total"] == 3
    r = await api.get(f"/exceptions/{second.id}", headers=manager)
    assert r.json()["status"] == "open"


async def test_two_supervisors_resolving_at_once_one_wins(
    api: AsyncTestClient[Any], conn: asyncpg.Connection, settings: Settings, shop: Shop
) -> None:
    (e,) = await recorded_exceptions(api, conn, settings, shop, 1)
    headers = [await as_staff(conn, settings, code) for code in ("V001", "M001", "V001")]
    answers = await asyncio.gather(
        *(api.post(f"/exceptions/{e.id}/resolve", json={"note": f"by {i}"}, headers=h) for i, h in enumerate(headers))
    )
    assert sorted(a.status_code for a in answers) == [200, 409, 409]
    assert await conn.fetchval("SELECT count(*) FROM audit_log WHERE action = 'exception.resolved'") == 1


async def test_a_cashier_at_the_till_needs_a_supervisors_pin_to_see_and_resolve(
    api: AsyncTestClient[Any], conn: asyncpg.Connection, settings: Settings, shop: Shop
) -> None:
    (e,) = await recorded_exceptions(api, conn, settings, shop, 1)
    cashier = await as_staff(conn, settings, "C001", shop)
    r = await api.get("/exceptions", headers=cashier)
    assert r.status_code == 403, "the plain list is for supervisors and managers"
    r = await api.post("/exceptions/queries", json={}, headers=cashier)
    assert (r.status_code, r.json()["code"]) == (403, "exception_approval_required")
    r = await api.post("/exceptions/queries", json={"approval": {"staff_code": "V001", "pin": "0000"}}, headers=cashier)
    assert (r.status_code, r.json()["code"]) == (403, "exception_approval_refused")
    assert await conn.fetchval("SELECT failed_attempts FROM staff WHERE code = 'V001'") == 1
    r = await api.post("/exceptions/queries", json={"approval": {"staff_code": "S001", "pin": "1111"}}, headers=cashier)
    assert (r.status_code, r.json()["code"]) == (403, "exception_approval_refused"), "sales staff cannot approve"
    approval = {"staff_code": "V001", "pin": "4444"}
    r = await api.post("/exceptions/queries", json={"approval": approval}, headers=cashier)
    assert r.status_code == 200, r.text
    assert [x["id"] for x in r.json()["exceptions"]] == [str(e.id)]
    assert await conn.fetchval("SELECT failed_attempts FROM staff WHERE code = 'V001'") == 0

    r = await api.post(f"/exceptions/{e.id}/resolve", json={"note": "refunded"}, headers=cashier)
    assert (r.status_code, r.json()["code"]) == (403, "exception_approval_required")
    assert await conn.fetchval("SELECT status FROM store_exception WHERE id = $1", e.id) == "open"
    r = await api.post(f"/exceptions/{e.id}/resolve", json={"note": "refunded", "approval": approval}, headers=cashier)
    assert r.status_code == 200, r.text
    row = await conn.fetchrow("SELECT staff_id, device_id, details FROM audit_log WHERE action = 'exception.resolved'")
    assert row["device_id"] == shop.till.device_id
    assert row["staff_id"] == shop.cashier_id
    assert await conn.fetchval("SELECT resolved_by FROM store_exception WHERE id = $1", e.id) == await conn.fetchval(
        "SELECT id FROM staff WHERE code = 'V001'"
    )
    refused = await conn.fetchval("SELECT count(*) FROM audit_log WHERE action = 'exception.queue_approval_refused'")
    assert refused == 2


async def test_sales_staff_and_cashiers_cannot_read_the_plain_list(
    api: AsyncTestClient[Any], conn: asyncpg.Connection, settings: Settings, shop: Shop
) -> None:
    for code in ("S001", "C001"):
        r = await api.get("/exceptions", headers=await as_staff(conn, settings, code))
        assert r.status_code == 403
    r = await api.post(
        f"/exceptions/{new_id()}/resolve", json={"note": "x"}, headers=await as_staff(conn, settings, "S001")
    )
    assert r.status_code == 403


async def other_store_exception(conn: asyncpg.Connection) -> uuid.UUID:
    other = await second_store(conn)
    exception_id = new_id()
    await conn.execute(
        "INSERT INTO store_exception (id, store_id, source_id, kind, checkout_id, refusal_code)"
        " VALUES ($1, $2, $3, 'paid_elsewhere', $3, 'ticket_already_in_checkout')",
        exception_id,
        other.store_id,
        new_id(),
    )
    return exception_id


async def test_another_stores_exceptions_answer_not_found(
    api: AsyncTestClient[Any], conn: asyncpg.Connection, settings: Settings, shop: Shop
) -> None:
    foreign = await other_store_exception(conn)
    for code in ("V001", "M001"):
        headers = await as_staff(conn, settings, code)
        r = await api.get(f"/exceptions/{foreign}", headers=headers)
        assert (r.status_code, r.json()["code"]) == (404, "not_found")
        r = await api.post(f"/exceptions/{foreign}/resolve", json={"note": "mine now"}, headers=headers)
        assert (r.status_code, r.json()["code"]) == (404, "not_found")
        r = await api.get("/exceptions", headers=headers)
        assert r.json()["total"] == 0
    assert await conn.fetchval("SELECT status FROM store_exception WHERE id = $1", foreign) == "open"


async def test_a_handheld_voiding_offline_a_ticket_paid_meanwhile_is_recorded_once_without_money(
    api: AsyncTestClient[Any], conn: asyncpg.Connection, settings: Settings, shop: Shop
) -> None:
    ticket = await shop.issue(conn)
    paying = checkout([ticket], tender("card", ticket.total))
    r = await api.post("/checkouts", json=body(paying), headers=await as_staff(conn, settings, "C001", shop))
    assert r.status_code == 200, r.text
    seq = shop.seqs[shop.hh_apple.device_id]
    cmd = VoidTicket(command_id=new_id(), device_seq=next(seq), ticket_id=ticket.id, made_at_ms=1_700_000_000_000)
    for _ in range(2):  # the handheld uploads its outbox again: the stored refusal, no second exception
        (result,), _ = await apply_commands(conn, shop.hh_apple, [cmd])
        assert result.status == "rejected"
        assert result.error is not None
        assert result.error.code == "ticket_wrong_state"
    r = await api.get("/exceptions", headers=await as_staff(conn, settings, "V001"))
    [e] = [msgspec.convert(x, StoreException) for x in r.json()["exceptions"]]
    assert e.kind == "void_after_payment"
    assert (e.command_id, e.checkout_id, e.device_id) == (cmd.command_id, paying.id, shop.hh_apple.device_id)
    assert e.fix == []
    assert e.taken == {}
    assert ticket.number in e.fix_text["en"]
    assert e.settled_offline_at_ms == 1_700_000_000_000
    assert await conn.fetchval("SELECT state FROM ticket WHERE id = $1", ticket.id) == "paid"


async def test_the_dashboard_counts_open_exceptions(
    api: AsyncTestClient[Any], conn: asyncpg.Connection, settings: Settings, shop: Shop
) -> None:
    first, _ = await recorded_exceptions(api, conn, settings, shop, 2)
    manager = await as_staff(conn, settings, "M001")
    assert (await api.get("/api/admin/dashboard", headers=manager)).json()["open_exceptions"] == 2
    await api.post(f"/exceptions/{first.id}/resolve", json={"note": "done"}, headers=manager)
    assert (await api.get("/api/admin/dashboard", headers=manager)).json()["open_exceptions"] == 1


async def test_a_card_taken_offline_on_the_standalone_terminal_is_given_back_there(
    api: AsyncTestClient[Any], conn: asyncpg.Connection, settings: Settings, shop: Shop
) -> None:
    ticket = await shop.issue(conn)
    headers = await as_staff(conn, settings, "C001", shop)
    card = TenderRequest(id=new_id(), kind="card", amount=ticket.total - 5_000, terminal_ref="A1B2C3", last4="4242")
    req = offline(checkout([ticket], card, tender("cash", 5_000)))
    await void(conn, shop, ticket)

    recorded = await refused_with_exception(api, req, headers, "ticket_not_open")
    assert [(m.action, m.amount, m.tender) for m in recorded.fix] == [
        ("refund_cash", 5_000, "cash"),
        ("refund_on_terminal", ticket.total - 5_000, "card"),
    ]
    assert recorded.to_refund == ticket.total
    assert "A1B2C3" in recorded.fix_text["en"]
    assert "A1B2C3" in recorded.fix_text["zh"]
    assert cash_of(recorded) == 5_000, "only the cash is in the drawer's books; the card goes back on the terminal"
