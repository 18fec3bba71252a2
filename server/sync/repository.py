"""SQL for the applied-command table and per-device sync state."""

from __future__ import annotations

# The earlier command with this id, or else the command holding this device's sequence number.
FIND = """
SELECT command_id, device_id, device_seq, content_hash, content::text AS content, status, result::text AS result
FROM applied_command WHERE command_id = $1 OR (device_id = $2 AND device_seq = $3)
ORDER BY command_id = $1 DESC LIMIT 1
"""

# Store the outcome (unless $10 is false: an outcome with an event is stored with it, last) and raise
# the device's last applied sequence number, in one statement.
STORE = """
WITH cmd AS (
    INSERT INTO applied_command (command_id, device_id, store_id, device_seq, kind, content_hash, content, status,
                                 result)
    SELECT $1, $2, $3, $4, $5, $6, $7::text::jsonb, $8, $9::text::jsonb WHERE $10
)
INSERT INTO device_sync (device_id, last_applied_seq) VALUES ($2, $4)
ON CONFLICT (device_id) DO UPDATE
SET last_applied_seq = GREATEST(device_sync.last_applied_seq, EXCLUDED.last_applied_seq), updated_at = now()
RETURNING last_applied_seq
"""

LAST_SEQ = "SELECT coalesce((SELECT last_applied_seq FROM device_sync WHERE device_id = $1), 0)"

SAVE_ACK = """
INSERT INTO device_sync (device_id, acked_position) VALUES ($1, $2)
ON CONFLICT (device_id) DO UPDATE
SET acked_position = GREATEST(device_sync.acked_position, EXCLUDED.acked_position), updated_at = now()
"""

# --- the locks of a chunk (steps 1 and 2 of the lock order in ``server.events``) ---------------------

# Step 1: the chunk's advisory keys, all at once in key order (a statement of its own: the rows read
# after it must be read after any wait here). The keys name the devices whose outcomes the chunk stores
# and buckets of the ids and numbers it may insert, so two transactions that could insert the same key
# never both get past this point. Also, for a chunk of more than a few commands ($2), the chunk's read
# (``CHUNK_CONTEXT``) is planned for its actual arguments: a plan cached while the tables were small (a
# new store's first upload) would keep scanning whole tables for a chunk's ids. (A few commands, as a
# websocket Submit brings, keep the cached plan: planning would cost more than the lookups.) Returns the
# setting to put back (the foreign-key checks of the write rely on cached plans); the select list is
# evaluated in order, so the old setting is read before it is changed.
LOCK_KEYS = """
SELECT count(pg_advisory_xact_lock(k)) AS keys, current_setting('plan_cache_mode') AS plans,
       set_config('plan_cache_mode', CASE WHEN $2 THEN 'force_custom_plan' ELSE current_setting('plan_cache_mode') END,
                  true) AS custom
FROM (SELECT DISTINCT hashtextextended(x, 0) AS k FROM unnest($1::text[]) AS x ORDER BY 1) s
"""

# Step 2 as a fragment of the next statement: the tickets the chunk names, FOR UPDATE in id order, then
# its devices FOR KEY SHARE (the parents of the outcomes written under the store's counter, so the
# foreign-key checks there find them locked already and never wait). Gives ``devices(id, state)``.
_LOCK_ROWS = """
locked AS MATERIALIZED (
    SELECT count(*) AS n FROM (SELECT 1 FROM ticket WHERE id = ANY($T::uuid[]) ORDER BY id FOR UPDATE) t
), devices AS MATERIALIZED (
    SELECT d.id, d.state FROM device d, locked WHERE d.id = ANY($D::uuid[]) AND locked.n >= 0
    ORDER BY d.id FOR KEY SHARE OF d
)"""

# Step 2 alone (the per-command path), with the uploading device's state.
LOCK_ROWS = (
    "WITH"
    + _LOCK_ROWS.replace("$T", "$2").replace("$D", "$3")
    + """
SELECT (SELECT state FROM devices WHERE id = $1) AS state
"""
)

PLAN_FOR_ARGUMENTS = """
SELECT current_setting('plan_cache_mode') AS plans, set_config('plan_cache_mode', 'force_custom_plan', true)
"""

# --- the set-based path (``server.sync.batch``): what a chunk of plain uploads needs, read at once ---

# Read after the chunk's keys are held, so none of the commands, tickets and numbers it checks can be
# written by another transaction until it commits; the first read of a chunk also takes step 2 ($10
# tickets, $11 devices; empty arrays on later reads). The business day is the one the per-command
# insert would compute (now() is the transaction's start). Puts back the plan setting ($9).
CHUNK_CONTEXT = (
    "WITH"
    + _LOCK_ROWS.replace("$T", "$10").replace("$D", "$11")
    + """
SELECT set_config('plan_cache_mode', $9, true) AS plans, (SELECT state FROM devices WHERE id = $2) AS state,
       s.currency,
       (date((now() AT TIME ZONE s.timezone) - s.business_day_end::interval)
        + CASE WHEN s.business_day_end >= time '12:00' THEN 1 ELSE 0 END) AS business_day,
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
)

# What a chunk of plain uploads writes before the store's counter, in one statement: the issued
# tickets and their lines, the outcomes of refused commands and the device's last applied sequence
# number. The ticket rows and lines are read from the ticket as issued (the event payload, parsed
# once), so the log and the tables cannot disagree. Foreign keys are checked at the end of the
# statement, so lines may reference tickets inserted beside them.
WRITE_CHUNK = """
WITH issued AS MATERIALIZED (
    SELECT u.payload::jsonb AS payload, u.command_id
    FROM unnest($4::text[], $5::uuid[]) AS u(payload, command_id)
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
), c AS (
    INSERT INTO applied_command (command_id, device_id, store_id, device_seq, kind, content_hash, content, status,
                                 result)
    SELECT u.command_id, $2, $1, u.device_seq, u.kind, u.content_hash, u.content::jsonb, u.status, u.result::jsonb
    FROM unnest($6::uuid[], $7::bigint[], $8::text[], $9::bytea[], $10::text[], $11::text[], $12::text[])
         AS u(command_id, device_seq, kind, content_hash, content, status, result)
)
INSERT INTO device_sync (device_id, last_applied_seq)
SELECT $2, max(s) FROM unnest($13::bigint[]) AS s HAVING count(*) > 0
ON CONFLICT (device_id) DO UPDATE
SET last_applied_seq = GREATEST(device_sync.last_applied_seq, EXCLUDED.last_applied_seq), updated_at = now()
"""

# Step 5, the last statement of a chunk's transaction: take the store's counter (creating it on the
# store's first event), append the events at the next positions and store the outcomes that carry
# them (``server.sync.pending``), with each one's position set. Nothing here can wait: the outcomes'
# ids and sequence numbers are covered by the chunk's keys and their devices are locked already.
# Returns the first position; the nudge carries the last.
WRITE_LAST = """
WITH k AS (
    INSERT INTO event_counter AS c (store_id, last_position) VALUES ($1, cardinality($2::text[]))
    ON CONFLICT (store_id) DO UPDATE SET last_position = c.last_position + EXCLUDED.last_position
    RETURNING last_position - cardinality($2::text[]) AS base
), e AS (
    INSERT INTO event_log (store_id, position, kind, ticket_id, payload, at)
    SELECT $1, k.base + u.n, u.kind, u.ticket_id, u.payload::jsonb, to_timestamp(u.at_ms / 1000.0)
    FROM k, unnest($2::text[], $3::uuid[], $4::text[], $5::bigint[]) WITH ORDINALITY AS u(kind, ticket_id, payload,
                                                                                         at_ms, n)
), c AS (
    INSERT INTO applied_command (command_id, device_id, store_id, device_seq, kind, content_hash, content, status,
                                 result)
    SELECT u.command_id, u.device_id, $1, u.device_seq, u.kind, u.content_hash, u.content::jsonb, u.status,
           jsonb_set(u.result::jsonb, '{position}', to_jsonb(k.base + u.event_no))
    FROM k, unnest($6::uuid[], $7::uuid[], $8::bigint[], $9::text[], $10::bytea[], $11::text[], $12::text[],
                   $13::text[], $14::bigint[])
         AS u(command_id, device_id, device_seq, kind, content_hash, content, status, result, event_no)
)
SELECT k.base + 1, pg_notify($15, $1::text || ':' || (k.base + cardinality($2::text[]))::text) FROM k
"""
