"""SQL of earning rules, tiers, campaigns, settings and earned purchases."""

from __future__ import annotations

RULE_COLUMNS = "id, store_id, format_id, category, rate, promo_rate, active"

ACTIVE_RULES = f"""
SELECT {RULE_COLUMNS} FROM earning_rule
WHERE active AND (store_id IS NULL OR store_id = $1) AND (format_id IS NULL OR format_id = $2)
"""

RULES_FOR_STORE = f"""
SELECT {RULE_COLUMNS} FROM earning_rule
WHERE active AND (store_id IS NULL OR store_id = $1 OR $2)
ORDER BY store_id NULLS FIRST, format_id NULLS FIRST, category NULLS FIRST
"""

INSERT_RULE = f"""
INSERT INTO earning_rule (id, store_id, format_id, category, rate, promo_rate, updated_by)
VALUES ($1, $2, $3, $4, $5, $6, $7)
ON CONFLICT DO NOTHING
RETURNING {RULE_COLUMNS}
"""

RULE_BY_ID = f"SELECT {RULE_COLUMNS} FROM earning_rule WHERE id = $1"

UPDATE_RULE = f"""
UPDATE earning_rule SET rate = $2, promo_rate = $3, updated_by = $4, updated_at = now() WHERE id = $1 AND active
RETURNING {RULE_COLUMNS}
"""

RETIRE_RULE = f"""
UPDATE earning_rule SET active = false, updated_by = $2, updated_at = now() WHERE id = $1 AND active
RETURNING {RULE_COLUMNS}
"""

TIERS = "SELECT code, name, min_spend, multiplier FROM member_tier ORDER BY min_spend"

UPSERT_TIER = """
INSERT INTO member_tier (code, name, min_spend, multiplier) VALUES ($1, $2, $3, $4)
ON CONFLICT (code) DO UPDATE SET name = EXCLUDED.name, min_spend = EXCLUDED.min_spend,
    multiplier = EXCLUDED.multiplier, updated_at = now()
"""

DELETE_TIER = "DELETE FROM member_tier WHERE code = $1 RETURNING code"

TIER_MULTIPLIER = """
SELECT t.multiplier FROM member m JOIN member_tier t ON t.code = m.tier_code WHERE m.id = $1
"""

TRAILING_SPEND = "SELECT coalesce(sum(amount), 0) FROM member_spend WHERE member_id = $1 AND at > $2"

TIER_FOR_SPEND = "SELECT code FROM member_tier WHERE min_spend <= $1 ORDER BY min_spend DESC LIMIT 1"

SET_TIER = "UPDATE member SET tier_code = $2 WHERE id = $1 AND tier_code IS DISTINCT FROM $2 RETURNING id"

MEMBERS_WITH_TIER_OR_SPEND = """
SELECT id FROM member WHERE state = 'active'
  AND (tier_code IS NOT NULL OR id IN (SELECT member_id FROM member_spend WHERE at > $1))
"""

INSERT_SPEND = "INSERT INTO member_spend (movement_id, member_id, store_id, amount, at) VALUES ($1, $2, $3, $4, $5)"

CAMPAIGN_COLUMNS = """
id, name, store_ids, starts_at, ends_at, spend_threshold, bonus, repeat, valid_days, ecoin_store_ids,
ecoin_categories, active
"""

ACTIVE_CAMPAIGNS = f"""
SELECT {CAMPAIGN_COLUMNS} FROM loyalty_campaign
WHERE active AND starts_at <= $2 AND ends_at > $2 AND (store_ids IS NULL OR $1::uuid = ANY(store_ids))
ORDER BY starts_at, id
"""

CAMPAIGNS = f"SELECT {CAMPAIGN_COLUMNS} FROM loyalty_campaign WHERE active ORDER BY starts_at DESC, id"

INSERT_CAMPAIGN = """
INSERT INTO loyalty_campaign (id, name, store_ids, starts_at, ends_at, spend_threshold, bonus, repeat, valid_days,
                              ecoin_store_ids, ecoin_categories)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
"""

END_CAMPAIGN = "UPDATE loyalty_campaign SET active = false, updated_at = now() WHERE id = $1 AND active RETURNING id"

ATTACH_DAYS = "SELECT attach_days FROM loyalty_setting WHERE store_id = $1"

UPSERT_SETTINGS = """
INSERT INTO loyalty_setting (store_id, attach_days) VALUES ($1, $2)
ON CONFLICT (store_id) DO UPDATE SET attach_days = EXCLUDED.attach_days, updated_at = now()
"""

CLAIM_PURCHASE = """
INSERT INTO earned_purchase (store_id, reference, member_id, movement_id, amount, lines)
VALUES ($1, $2, $3, $4, $5, $6::text::jsonb)
ON CONFLICT DO NOTHING
RETURNING reference
"""

EARNED_FOR_UPDATE = """
SELECT member_id, movement_id, amount, lines::text AS lines FROM earned_purchase
WHERE store_id = $1 AND reference = $2 FOR UPDATE
"""

SET_EARNED_LINES = "UPDATE earned_purchase SET lines = $3::text::jsonb WHERE store_id = $1 AND reference = $2"

# The campaign e-coin a purchase earned: one bonus movement per campaign, each with its own lot.
BONUSES_OF_EARNING = """
SELECT id, campaign_id, (result ->> 'e_coin')::bigint AS e_coin FROM ledger_movement
WHERE store_id = $1 AND reference = $2 AND kind = 'bonus' AND request ->> 'earning' = $3::text
ORDER BY id
"""

POINTS_ACCOUNT_BALANCE = "SELECT balance FROM ledger_account WHERE id = $1 FOR UPDATE"

SCOPES = "SELECT kind, scope FROM account_scope ORDER BY kind"
SET_SCOPE = "UPDATE account_scope SET scope = $2 WHERE kind = $1"
ACCOUNTS_OF_KIND = "SELECT count(*) FROM ledger_account WHERE kind = $1 AND member_id IS NOT NULL"
