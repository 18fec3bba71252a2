"""SQL for the applied-command table and per-device sync state."""

from __future__ import annotations

# The earlier command with this id, or else the command holding this device's sequence number.
FIND = """
SELECT command_id, device_id, device_seq, content_hash, content::text AS content, status, result::text AS result
FROM applied_command WHERE command_id = $1 OR (device_id = $2 AND device_seq = $3)
ORDER BY command_id = $1 DESC LIMIT 1
"""

# Store the outcome and raise the device's last applied sequence number, in one statement.
STORE = """
WITH cmd AS (
    INSERT INTO applied_command (command_id, device_id, store_id, device_seq, kind, content_hash, content, status,
                                 result)
    VALUES ($1, $2, $3, $4, $5, $6, $7::text::jsonb, $8, $9::text::jsonb)
)
INSERT INTO device_sync (device_id, last_applied_seq) VALUES ($2, $4)
ON CONFLICT (device_id) DO UPDATE
SET last_applied_seq = GREATEST(device_sync.last_applied_seq, EXCLUDED.last_applied_seq), updated_at = now()
RETURNING last_applied_seq
"""

LAST_SEQ = "SELECT coalesce((SELECT last_applied_seq FROM device_sync WHERE device_id = $1), 0)"

# The store's event-log lock (taken first in every writing transaction) and the device's state.
LOCK_STORE_AND_CHECK_DEVICE = """
WITH lock AS (
    INSERT INTO event_counter (store_id) VALUES ($1)
    ON CONFLICT (store_id) DO UPDATE SET last_position = event_counter.last_position
    RETURNING last_position
)
SELECT (SELECT state FROM device WHERE id = $2) FROM lock
"""

SAVE_ACK = """
INSERT INTO device_sync (device_id, acked_position) VALUES ($1, $2)
ON CONFLICT (device_id) DO UPDATE
SET acked_position = GREATEST(device_sync.acked_position, EXCLUDED.acked_position), updated_at = now()
"""

# --- the set-based path (``server.sync.batch``): what a chunk of plain uploads needs, read at once ---

# The lock above, and, for a chunk of more than a few commands ($3), the next statement
# (``CHUNK_CONTEXT``) planned for its actual arguments: a plan cached while the tables were small (a new
# store's first upload) would keep scanning whole tables for a chunk's ids. (A few commands, as a
# websocket Submit brings, keep the cached plan: planning would cost more than the lookups.) Returns
# the setting to put back (the foreign-key checks of the write rely on cached plans). The select list
# is evaluated in order: the old setting is read before it is changed.
LOCK_STORE_FOR_CHUNK = """
WITH lock AS (
    INSERT INTO event_counter (store_id) VALUES ($1)
    ON CONFLICT (store_id) DO UPDATE SET last_position = event_counter.last_position
    RETURNING last_position
)
SELECT (SELECT state FROM device WHERE id = $2) AS state, current_setting('plan_cache_mode') AS plans,
       set_config('plan_cache_mode', CASE WHEN $3 THEN 'force_custom_plan' ELSE current_setting('plan_cache_mode') END,
                  true) AS custom
FROM lock
"""

PLAN_FOR_ARGUMENTS = """
SELECT current_setting('plan_cache_mode') AS plans, set_config('plan_cache_mode', 'force_custom_plan', true)
"""

# Read with the store lock held, so nothing of the store changes until the chunk commits. The
# business day is the one the per-command insert would compute (now() is the transaction's start).
# Puts back the plan setting ($9) for the statements after it.
CHUNK_CONTEXT = """
SELECT set_config('plan_cache_mode', $9, true) AS plans, s.currency,
       (date((now() AT TIME ZONE s.timezone) - s.business_day_end::interval)
        + CASE WHEN s.business_day_end >= time '12:00' THEN 1 ELSE 0 END) AS business_day,
       (SELECT last_position FROM event_counter WHERE store_id = $1) AS last_position,
       (SELECT last_applied_seq FROM device_sync WHERE device_id = $2) AS last_seq,
       ARRAY(SELECT ROW(command_id, device_id, device_seq, content_hash, content::text, result::text)
             FROM applied_command WHERE command_id = ANY($3::uuid[])) AS commands,
       ARRAY(SELECT ROW(device_seq, command_id)
             FROM applied_command WHERE device_id = $2 AND device_seq = ANY($4::bigint[])) AS seqs,
       ARRAY(SELECT id FROM ticket WHERE id = ANY($5::uuid[])) AS tickets,
       ARRAY(SELECT number FROM ticket WHERE store_id = $1 AND number = ANY($6::text[])) AS numbers,
       ARRAY(SELECT ROW(id, store_id, sku, counter_id) FROM product WHERE id = ANY($7::uuid[])) AS products,
       ARRAY(SELECT ROW(id, store_id) FROM counter WHERE id = ANY($8::uuid[])) AS counters
FROM store s WHERE s.id = $1
"""

# Everything a chunk of plain uploads writes, in one statement: the issued tickets and their lines,
# their events at the positions reserved for them, every command's outcome, the device's last applied
# sequence number and the store's event counter. The ticket rows and lines are read from the event
# payload (the ticket as issued, parsed once), so the log and the tables cannot disagree. Foreign keys
# are checked at the end of the statement, so lines may reference tickets inserted beside them.
# Returns the counter after the update: NULL when it was not where the positions were reserved from
# (the caller then gives up the whole transaction).
WRITE_CHUNK = """
WITH issued AS MATERIALIZED (
    SELECT u.position, u.payload::jsonb AS payload, u.at_ms, u.command_id
    FROM unnest($4::bigint[], $5::text[], $6::bigint[], $7::uuid[]) AS u(position, payload, at_ms, command_id)
), t AS (
    INSERT INTO ticket (id, store_id, counter_id, device_id, staff_id, number, total, currency, member_id,
                        issued_at_ms, business_day, issue_command_id)
    SELECT r.id, $1, r.counter_id, $2, r.staff_id, r.number, r.total, r.currency, r.member_id, r.issued_at_ms, $3,
           i.command_id
    FROM issued i, jsonb_to_record(i.payload) AS r(id uuid, counter_id uuid, staff_id uuid, number text,
                                                   total bigint, currency text, member_id uuid, issued_at_ms bigint)
), l AS (
    INSERT INTO ticket_line (ticket_id, line_no, product_id, sku, name, qty, list_price, unit_price, promo,
                             line_discount, line_total)
    SELECT (i.payload ->> 'id')::uuid, r.*
    FROM issued i, jsonb_to_recordset(i.payload -> 'lines')
         AS r(line_no int, product_id uuid, sku text, name text, qty int, list_price bigint, unit_price bigint,
              promo bool, line_discount bigint, line_total bigint)
), e AS (
    INSERT INTO event_log (store_id, position, kind, ticket_id, payload, at)
    SELECT $1, i.position, 'ticket_issued', (i.payload ->> 'id')::uuid, i.payload, to_timestamp(i.at_ms / 1000.0)
    FROM issued i
), c AS (
    INSERT INTO applied_command (command_id, device_id, store_id, device_seq, kind, content_hash, content, status,
                                 result)
    SELECT u.command_id, $2, $1, u.device_seq, u.kind, u.content_hash, u.content::jsonb, u.status, u.result::jsonb
    FROM unnest($8::uuid[], $9::bigint[], $10::text[], $11::bytea[], $12::text[], $13::text[], $14::text[])
         AS u(command_id, device_seq, kind, content_hash, content, status, result)
), d AS (
    INSERT INTO device_sync (device_id, last_applied_seq)
    SELECT $2, max(s) FROM unnest($9::bigint[]) AS s HAVING count(*) > 0
    ON CONFLICT (device_id) DO UPDATE
    SET last_applied_seq = GREATEST(device_sync.last_applied_seq, EXCLUDED.last_applied_seq), updated_at = now()
), k AS (
    UPDATE event_counter SET last_position = $16 WHERE store_id = $1 AND last_position = $15
    RETURNING last_position
)
SELECT (SELECT last_position FROM k) AS last_position,
       CASE WHEN $16 > $15 THEN pg_notify($17, $1::text || ':' || $16::text) END AS nudged
"""
