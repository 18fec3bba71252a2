"""SQL of members and their cards."""

from __future__ import annotations

MEMBER_COLUMNS = """
m.id, m.name, m.phone, m.national_id_masked, m.birthday, m.home_store_id, m.consent_marketing, m.consent_sms,
m.tier_code, m.state, m.merged_into
"""

INSERT_MEMBER = """
INSERT INTO member (id, home_store_id, name, phone, national_id_hash, national_id_masked, birthday,
                    consent_marketing, consent_sms)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
ON CONFLICT DO NOTHING
RETURNING id
"""

LINK_STORE = "INSERT INTO member_store (member_id, store_id) VALUES ($1, $2) ON CONFLICT DO NOTHING"

INSERT_CARD = (
    "INSERT INTO member_card (number, member_id, kind) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING RETURNING number"
)

MEMBER_BY_ID = f"SELECT {MEMBER_COLUMNS} FROM member m WHERE m.id = $1"
MEMBER_FOR_UPDATE = f"SELECT {MEMBER_COLUMNS}, m.national_id_hash FROM member m WHERE m.id = $1 FOR UPDATE"

CARDS_OF = "SELECT number, kind, active FROM member_card WHERE member_id = $1 ORDER BY created_at, number"

BY_PHONE = "SELECT id FROM member WHERE phone = $1 AND state = 'active'"
BY_CARD = "SELECT member_id FROM member_card WHERE number = $1 AND active AND kind = $2"
BY_NATIONAL_ID = "SELECT id FROM member WHERE national_id_hash = $1 AND state = 'active' ORDER BY created_at LIMIT 1"

LIST_MEMBERS = f"""
SELECT {MEMBER_COLUMNS} FROM member m
JOIN member_store s ON s.member_id = m.id AND s.store_id = $1
WHERE m.state = 'active' AND ($2::uuid IS NULL OR m.id > $2)
ORDER BY m.id LIMIT $3
"""

UPDATE_MEMBER = """
UPDATE member SET name = $2, phone = $3, national_id_hash = $4, national_id_masked = $5, birthday = $6,
                  consent_marketing = $7, consent_sms = $8
WHERE id = $1
"""

MARK_MERGED = "UPDATE member SET state = 'merged', merged_into = $2 WHERE id = $1"
MOVE_CARDS = "UPDATE member_card SET member_id = $2 WHERE member_id = $1"
COPY_STORES = """
INSERT INTO member_store (member_id, store_id) SELECT $2, store_id FROM member_store WHERE member_id = $1
ON CONFLICT DO NOTHING
"""
MOVE_SPEND = "UPDATE member_spend SET member_id = $2 WHERE member_id = $1"
MOVE_EARNED = "UPDATE earned_purchase SET member_id = $2 WHERE member_id = $1"
# The advisory keys a checkout of a member holds until it commits (server.checkout.repository
# LOCK_CHECKOUT_KEYS), for both members in key order: a merge waits for their checkouts in flight.
LOCK_MEMBERS_CHECKOUTS = """
SELECT count(pg_advisory_xact_lock(k))
FROM (SELECT DISTINCT hashtextextended('ft-checkout-member:' || m::text, 0) AS k FROM unnest($1::uuid[]) AS m
      ORDER BY 1) s
"""
# What member reports read, keyed by member: sales facts, members' days (summed into the survivor's
# days) and service tasks (judged by the member's later purchases).
MOVE_SALES_HISTORY = (
    "UPDATE sales_ticket_fact SET member_id = $2 WHERE member_id = $1",
    "UPDATE sales_line_fact SET member_id = $2 WHERE member_id = $1",
    """
    WITH gone AS (DELETE FROM sales_member_day WHERE member_id = $1 RETURNING *)
    INSERT INTO sales_member_day AS d (member_id, store_id, day, tickets, visits, amount, cost, promo_amount)
    SELECT $2, store_id, day, tickets, visits, amount, cost, promo_amount FROM gone
    ON CONFLICT (member_id, store_id, day) DO UPDATE SET
        tickets = d.tickets + EXCLUDED.tickets, visits = d.visits + EXCLUDED.visits,
        amount = d.amount + EXCLUDED.amount, cost = d.cost + EXCLUDED.cost,
        promo_amount = d.promo_amount + EXCLUDED.promo_amount
    """,
    "UPDATE service_task SET member_id = $2 WHERE member_id = $1",
)
COPY_NATIONAL_ID = """
UPDATE member SET national_id_hash = $2, national_id_masked = $3 WHERE id = $1 AND national_id_hash IS NULL
"""

ACCOUNTS_TO_MOVE = """
SELECT id, kind, store_id, format_id, balance FROM ledger_account
WHERE member_id = $1 AND NOT held AND balance > 0 ORDER BY id
"""
