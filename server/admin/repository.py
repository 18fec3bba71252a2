"""SQL for the admin pages' own reads: the store, today's figures and the devices' sync health."""

from __future__ import annotations

# The store's current business day and its window in absolute time. The day is computed exactly as
# tickets are filed (server/tickets/repository.py); the window ends at business_day_end of that day
# (of the next calendar day when the day ends before noon) and lasts 24 hours.
STORE_DAY = """
WITH s AS (
    SELECT id, code, name_zh, name_en, currency, timezone, business_day_end,
           date((now() AT TIME ZONE timezone) - business_day_end::interval)
             + CASE WHEN business_day_end >= time '12:00' THEN 1 ELSE 0 END AS day
    FROM store WHERE id = $1
), w AS (
    SELECT s.*, (s.day + s.business_day_end
                 + CASE WHEN s.business_day_end < time '12:00' THEN interval '1 day' ELSE interval '0' END)
                AS day_end_local
    FROM s
)
SELECT id, code, name_zh, name_en, currency, timezone, day,
       (day_end_local - interval '1 day') AT TIME ZONE timezone AS day_start,
       day_end_local AT TIME ZONE timezone AS day_end,
       now() AS now
FROM w
"""

COUNTERS = """
SELECT id, code, name_zh, name_en, brand, concession, active
FROM counter WHERE store_id = $1 ORDER BY code
"""

SALES = """
SELECT count(*) AS checkouts, coalesce(sum(total), 0)::bigint AS sales
FROM checkout
WHERE store_id = $1 AND state = 'settled' AND settled_at >= $2 AND settled_at < $3
"""

SALES_BY_HOUR = """
SELECT extract(hour FROM settled_at AT TIME ZONE $4)::int AS hour,
       count(*) AS checkouts, coalesce(sum(total), 0)::bigint AS sales
FROM checkout
WHERE store_id = $1 AND state = 'settled' AND settled_at >= $2 AND settled_at < $3
GROUP BY 1
"""

SALES_BY_COUNTER = """
SELECT ct.counter_id, count(*) AS tickets, coalesce(sum(ct.amount), 0)::bigint AS sales
FROM checkout_ticket ct
JOIN checkout c ON c.id = ct.checkout_id
WHERE c.store_id = $1 AND c.state = 'settled' AND c.settled_at >= $2 AND c.settled_at < $3
GROUP BY ct.counter_id
"""

REFUNDS = """
SELECT coalesce(sum(amount), 0)::bigint FROM refund WHERE store_id = $1 AND created_at >= $2 AND created_at < $3
"""

# Listing every state lets the (store_id, state, business_day) index serve the day's count.
TICKETS = """
SELECT (SELECT count(*) FROM ticket
        WHERE store_id = $1
          AND state IN ('issued', 'paid', 'released', 'voided', 'expired', 'partly_refunded', 'refunded')
          AND business_day = $2) AS issued_today,
       (SELECT count(*) FROM ticket WHERE store_id = $1 AND state = 'issued') AS open
"""

UNRESOLVED_PAYMENTS = """
SELECT count(*) FROM payment WHERE store_id = $1 AND status IN ('pending', 'unknown')
"""

DEVICES = """
SELECT d.id, d.label, d.kind, d.state, d.counter_id, d.last_seen_at,
       coalesce(ds.last_applied_seq, 0) AS last_applied_seq,
       ds.acked_position,
       coalesce(ac.applied, 0) AS applied,
       coalesce(ac.rejected, 0) AS rejected,
       coalesce(ac.rejected_24h, 0) AS rejected_24h,
       ac.last_command_at,
       coalesce(ec.last_position, 0) AS last_position
FROM device d
LEFT JOIN device_sync ds ON ds.device_id = d.id
LEFT JOIN LATERAL (
    SELECT count(*) FILTER (WHERE status <> 'rejected') AS applied,
           count(*) FILTER (WHERE status = 'rejected') AS rejected,
           count(*) FILTER (WHERE status = 'rejected' AND applied_at > now() - interval '24 hours') AS rejected_24h,
           max(applied_at) AS last_command_at
    FROM applied_command WHERE device_id = d.id
) ac ON true
LEFT JOIN event_counter ec ON ec.store_id = d.store_id
WHERE d.store_id = $1
ORDER BY d.kind, d.label, d.id
"""
