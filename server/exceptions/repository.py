"""SQL for the exception queue (asyncpg, no ORM). JSON columns go in as text and come back as text."""

from __future__ import annotations

from typing import Any

import asyncpg
import msgspec

from protocol.exceptions import MoneyMovement, StoreException

# One exception per refused checkout or command: a resend finds the first one (and the caller reads it).
INSERT = """
INSERT INTO store_exception (id, store_id, source_id, kind, checkout_id, command_id, ticket_ids, ticket_numbers,
                             device_id, staff_id, currency, taken, fix, fix_text, refusal_code, refusal_message,
                             request, settled_offline_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12::text::jsonb, $13::text::jsonb, $14::text::jsonb, $15,
        $16, $17::text::jsonb, to_timestamp($18::bigint / 1000.0))
ON CONFLICT (source_id) DO NOTHING
"""

_COLUMNS = """
SELECT e.id, e.number, e.store_id, e.kind, e.status, e.currency, e.taken::text AS taken, e.fix::text AS fix,
       e.fix_text::text AS fix_text, e.refusal_code, e.ticket_ids, e.ticket_numbers,
       (extract(epoch FROM e.created_at) * 1000)::bigint AS created_at_ms,
       e.checkout_id, e.command_id, e.device_id, coalesce(d.label, '') AS device_label,
       e.staff_id, coalesce(s.name, '') AS staff_name,
       (extract(epoch FROM e.settled_offline_at) * 1000)::bigint AS settled_offline_at_ms,
       e.resolved_by, coalesce(r.name, '') AS resolved_by_name,
       (extract(epoch FROM e.resolved_at) * 1000)::bigint AS resolved_at_ms,
       e.resolution_note, coalesce(e.request ->> 'offline_receipt_no', '') AS offline_receipt_no,
       e.held_in_shift_id, coalesce(e.cash_outcome, '') AS cash_outcome, e.given_back_in_shift_id
FROM store_exception e
LEFT JOIN device d ON d.id = e.device_id
LEFT JOIN staff s ON s.id = e.staff_id
LEFT JOIN staff r ON r.id = e.resolved_by
"""

BY_SOURCE = _COLUMNS + "WHERE e.source_id = $1"
BY_ID = _COLUMNS + "WHERE e.id = $1"

# ``$2`` NULL lists every status, ``$5`` NULL every kind. Newest first; the number breaks ties so pages
# never overlap.
PAGE = (
    _COLUMNS
    + """
WHERE e.store_id = $1 AND ($2::text IS NULL OR e.status = $2) AND ($5::text[] IS NULL OR e.kind = ANY($5))
ORDER BY e.created_at DESC, e.number DESC
LIMIT $3 OFFSET $4
"""
)
COUNT = """
SELECT count(*) FROM store_exception
WHERE store_id = $1 AND ($2::text IS NULL OR status = $2) AND ($3::text[] IS NULL OR kind = ANY($3))
"""
OPEN_COUNT = "SELECT count(*) FROM store_exception WHERE store_id = $1 AND status = 'open'"

LOCK = "SELECT store_id, status, number FROM store_exception WHERE id = $1 FOR UPDATE"

# Where the cash went in the till's books (the audit entries say the same, as the record).
HELD_IN = "UPDATE store_exception SET held_in_shift_id = $2 WHERE id = $1"

RESOLVE = """
UPDATE store_exception SET status = 'resolved', resolved_by = $2, resolved_at = now(), resolution_note = $3,
                           cash_outcome = nullif($4::text, ''), given_back_in_shift_id = $5
WHERE id = $1 AND status = 'open'
"""

TICKET_NUMBERS = "SELECT id, number FROM ticket WHERE id = ANY($1::uuid[]) AND store_id = $2"

# The till's shift whose drawer took the cash: open now, and already open when the money was taken.
DRAWER_SINCE = """
SELECT id FROM shift
WHERE till_id = $1 AND store_id = $2 AND status = 'open' AND opened_at <= to_timestamp($3::bigint / 1000.0)
"""
OPEN_SHIFT = "SELECT id FROM shift WHERE till_id = $1 AND store_id = $2 AND status = 'open'"

_movements = msgspec.json.Decoder(list[MoneyMovement])
_texts = msgspec.json.Decoder(dict[str, str])
_amounts = msgspec.json.Decoder(dict[str, int])


def to_json(value: Any) -> str:
    return msgspec.json.encode(value).decode()


def to_exception(r: asyncpg.Record) -> StoreException:
    return StoreException(
        id=r["id"],
        number=r["number"],
        store_id=r["store_id"],
        kind=r["kind"],
        status=r["status"],
        currency=r["currency"],
        taken=_amounts.decode(r["taken"]),
        fix=_movements.decode(r["fix"]),
        fix_text=_texts.decode(r["fix_text"]),
        refusal_code=r["refusal_code"],
        ticket_ids=list(r["ticket_ids"]),
        ticket_numbers=list(r["ticket_numbers"]),
        created_at_ms=r["created_at_ms"],
        checkout_id=r["checkout_id"],
        command_id=r["command_id"],
        device_id=r["device_id"],
        device_label=r["device_label"],
        staff_id=r["staff_id"],
        staff_name=r["staff_name"],
        settled_offline_at_ms=r["settled_offline_at_ms"],
        resolved_by=r["resolved_by"],
        resolved_by_name=r["resolved_by_name"],
        resolved_at_ms=r["resolved_at_ms"],
        resolution_note=r["resolution_note"],
        offline_receipt_no=r["offline_receipt_no"],
        held_in_shift_id=r["held_in_shift_id"],
        cash_outcome=r["cash_outcome"],
        given_back_in_shift_id=r["given_back_in_shift_id"],
    )
