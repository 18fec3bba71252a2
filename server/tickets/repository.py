"""SQL for tickets and their lines (asyncpg, no ORM); returns protocol Structs."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

import asyncpg

from protocol.tickets import Ticket, TicketLine

TICKET_COLUMNS = """
t.id, t.store_id, t.counter_id, t.device_id, t.staff_id, t.number, t.total, t.currency, t.member_id,
t.state, t.issued_at_ms, t.business_day, t.checkout_id, t.issue_command_id, t.released_at IS NOT NULL AS released
"""

GET = f"SELECT {TICKET_COLUMNS} FROM ticket t WHERE t.id = $1"
GET_FOR_UPDATE = GET + " FOR UPDATE"
GET_MANY = f"SELECT {TICKET_COLUMNS} FROM ticket t WHERE t.id = ANY($1::uuid[])"
GET_MANY_FOR_UPDATE = f"SELECT {TICKET_COLUMNS} FROM ticket t WHERE t.id = ANY($1::uuid[]) ORDER BY t.id FOR UPDATE"

LINES = """
SELECT ticket_id, line_no, product_id, sku, name, qty, list_price, unit_price, promo, line_discount, line_total
FROM ticket_line WHERE ticket_id = ANY($1::uuid[]) ORDER BY ticket_id, line_no
"""

# Everything issuing a ticket checks, in one round trip.
ISSUE_CONTEXT = """
SELECT s.currency, c.store_id AS counter_store_id,
       EXISTS (SELECT 1 FROM ticket WHERE store_id = $1 AND number = $3) AS number_taken,
       EXISTS (SELECT 1 FROM ticket WHERE id = $4) AS ticket_exists,
       ARRAY(SELECT ROW(p.id, p.store_id, p.sku, p.counter_id) FROM product p WHERE p.id = ANY($5::uuid[]))
           AS products
FROM store s LEFT JOIN counter c ON c.id = $2 WHERE s.id = $1
"""
DEVICE = "SELECT store_id, kind, state, public_key FROM device WHERE id = $1"

# The ticket and its lines in one statement (the business day is the store's, by server time).
INSERT = """
WITH t AS (
    INSERT INTO ticket (id, store_id, counter_id, device_id, staff_id, number, total, currency, member_id,
                        issued_at_ms, business_day, issue_command_id, uploaded_by)
    SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10,
           (date((now() AT TIME ZONE s.timezone) - s.business_day_end::interval)
            + CASE WHEN s.business_day_end >= time '12:00' THEN 1 ELSE 0 END),
           $11, $12
    FROM store s WHERE s.id = $2
    RETURNING id, business_day
), l AS (
    INSERT INTO ticket_line (ticket_id, line_no, product_id, sku, name, qty, list_price, unit_price, promo,
                             line_discount, line_total)
    SELECT t.id, u.* FROM t, unnest($13::int[], $14::uuid[], $15::text[], $16::text[], $17::int[], $18::bigint[],
                                    $19::bigint[], $20::bool[], $21::bigint[], $22::bigint[]) AS u
)
SELECT business_day FROM t
"""

SET_STATE = "UPDATE ticket SET state = $2, updated_at = now() WHERE id = $1"
SET_RELEASED = "UPDATE ticket SET state = 'released', released_at = now(), updated_at = now() WHERE id = $1"
SET_VOIDED = "UPDATE ticket SET state = 'voided', void_reason = $2, updated_at = now() WHERE id = $1"
SET_MEMBER = "UPDATE ticket SET member_id = $2, updated_at = now() WHERE id = $1"
SET_PAID = "UPDATE ticket SET state = 'paid', checkout_id = $2, updated_at = now() WHERE id = ANY($1::uuid[])"

# A business day D ends at D + end when the end is in the afternoon or evening (e.g. 23:00), and at
# D + 1 day + end when it is in the small hours (e.g. 02:00, a late-night store).
DUE_STORES = """
SELECT DISTINCT t.store_id FROM ticket t JOIN store s ON s.id = t.store_id
WHERE t.state = 'issued'
  AND ((t.business_day + s.business_day_end
        + CASE WHEN s.business_day_end < time '12:00' THEN interval '1 day' ELSE interval '0' END)
       AT TIME ZONE s.timezone) <= $1
"""

DUE_IN_STORE = f"""
SELECT {TICKET_COLUMNS} FROM ticket t JOIN store s ON s.id = t.store_id
WHERE t.store_id = $1 AND t.state = 'issued'
  AND ((t.business_day + s.business_day_end
        + CASE WHEN s.business_day_end < time '12:00' THEN interval '1 day' ELSE interval '0' END)
       AT TIME ZONE s.timezone) <= $2
ORDER BY t.id LIMIT $3
FOR UPDATE OF t SKIP LOCKED
"""

SET_EXPIRED = "UPDATE ticket SET state = 'expired', updated_at = now() WHERE id = ANY($1::uuid[])"


def _line(r: asyncpg.Record) -> TicketLine:
    return TicketLine(
        line_no=r["line_no"],
        product_id=r["product_id"],
        sku=r["sku"],
        name=r["name"],
        qty=r["qty"],
        list_price=r["list_price"],
        unit_price=r["unit_price"],
        promo=r["promo"],
        line_discount=r["line_discount"],
        line_total=r["line_total"],
    )


def ticket_from(r: asyncpg.Record, lines: list[TicketLine]) -> Ticket:
    return Ticket(
        id=r["id"],
        store_id=r["store_id"],
        counter_id=r["counter_id"],
        device_id=r["device_id"],
        staff_id=r["staff_id"],
        number=r["number"],
        lines=lines,
        total=r["total"],
        currency=r["currency"],
        member_id=r["member_id"],
        state=r["state"],
        issued_at_ms=r["issued_at_ms"],
        business_day=r["business_day"].isoformat(),
        checkout_id=r["checkout_id"],
        released=r["released"],
    )


async def with_lines(conn: asyncpg.Connection, rows: Sequence[asyncpg.Record]) -> list[Ticket]:
    """Tickets for ``rows`` (ticket columns), each with its lines, in the order of ``rows``."""
    if not rows:
        return []
    by_ticket: dict[uuid.UUID, list[TicketLine]] = {r["id"]: [] for r in rows}
    for line in await conn.fetch(LINES, list(by_ticket)):
        by_ticket[line["ticket_id"]].append(_line(line))
    return [ticket_from(r, by_ticket[r["id"]]) for r in rows]


async def get(conn: asyncpg.Connection, ticket_id: uuid.UUID, *, for_update: bool = False) -> asyncpg.Record | None:
    return await conn.fetchrow(GET_FOR_UPDATE if for_update else GET, ticket_id)


async def insert(conn: asyncpg.Connection, ticket: Ticket, issue_command_id: uuid.UUID, uploaded_by: Any) -> str:
    """Insert a ticket and its lines; return its business day (ISO date)."""
    lines = ticket.lines
    day = await conn.fetchval(
        INSERT,
        ticket.id,
        ticket.store_id,
        ticket.counter_id,
        ticket.device_id,
        ticket.staff_id,
        ticket.number,
        ticket.total,
        ticket.currency,
        ticket.member_id,
        ticket.issued_at_ms,
        issue_command_id,
        uploaded_by,
        [ln.line_no for ln in lines],
        [ln.product_id for ln in lines],
        [ln.sku for ln in lines],
        [ln.name for ln in lines],
        [ln.qty for ln in lines],
        [ln.list_price for ln in lines],
        [ln.unit_price for ln in lines],
        [ln.promo for ln in lines],
        [ln.line_discount for ln in lines],
        [ln.line_total for ln in lines],
    )
    return str(day.isoformat())


def list_query(
    *, state: str | None, member_id: uuid.UUID | None, number: str | None, limit: int
) -> tuple[str, list[Any]]:
    """The staff list: tickets of one store, newest first, filtered."""
    where = ["t.store_id = $1"]
    args: list[Any] = []
    if state is not None:
        args.append(state)
        where.append(f"t.state = ${len(args) + 1}")
    if member_id is not None:
        args.append(member_id)
        where.append(f"t.member_id = ${len(args) + 1}")
    if number is not None:
        args.append(number.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%")
        where.append(f"t.number LIKE ${len(args) + 1}")
    args.append(limit)
    sql = (
        f"SELECT {TICKET_COLUMNS} FROM ticket t WHERE {' AND '.join(where)}"
        f" ORDER BY t.created_at DESC, t.id DESC LIMIT ${len(args) + 1}"
    )
    return sql, args


OPEN_FOR_MEMBER = f"""
SELECT {TICKET_COLUMNS} FROM ticket t
WHERE t.store_id = $1 AND t.member_id = $2 AND t.state = 'issued'
ORDER BY t.created_at, t.id
"""
