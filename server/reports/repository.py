"""Report SQL. Every query reads the fact tables of migration 0007 (never tickets or JSON), filtered by
``store_id = ANY($1)`` and ``day BETWEEN $2 AND $3`` so the (store_id, day) indexes carry it. Member
reports read ``sales_member_day``, the members' ticket facts rolled up per store and day."""

from __future__ import annotations

# Reports group a year of facts by member: let the sorts and hashes stay in memory, and skip JIT
# compilation, which costs more than it saves on these queries. Session settings: the pool resets
# them when the connection goes back.
TUNE = "SET work_mem = '64MB'; SET jit = off"

STORES_IN_SCOPE = """
SELECT id FROM store
WHERE ($1::uuid IS NULL OR id = $1) AND ($2::uuid IS NULL OR format_id = $2)
ORDER BY code
"""

STORE_EXISTS = "SELECT format_id FROM store WHERE id = $1"

# Counter areas are shared out by each key's part of the counter's sales in the period. One pass over
# the lines also gives the period's ticket count (each ticket has exactly one sold line 1) and the
# floor area of the counters that sold.
_CATEGORY = """
WITH l AS (
    SELECT counter_id, {col} AS key, sum(amount) AS sales, sum(cost) AS cost, sum({first}) AS tickets,
           count(*) FILTER (WHERE line_no = 1 AND refund_id IS NULL) AS ticket_count
    FROM sales_line_fact
    WHERE store_id = ANY($1::uuid[]) AND day BETWEEN $2 AND $3
    GROUP BY counter_id, {col}
), c AS (
    SELECT counter_id, sum(sales) AS total FROM l GROUP BY counter_id
)
SELECT l.key, sum(l.sales)::bigint AS sales, sum(l.cost)::bigint AS cost, sum(l.tickets)::bigint AS tickets,
       coalesce(sum(k.floor_area_m2 * CASE WHEN c.total > 0 THEN greatest(l.sales, 0)::numeric / c.total
                                           ELSE 0 END), 0)::float8 AS area,
       (SELECT sum(ticket_count) FROM l)::bigint AS all_tickets,
       (SELECT sum(k2.floor_area_m2) FROM c JOIN counter k2 ON k2.id = c.counter_id)::float8 AS all_area
FROM l JOIN c USING (counter_id) JOIN counter k ON k.id = l.counter_id
GROUP BY l.key
ORDER BY sales DESC, l.key
"""
CATEGORY = _CATEGORY.format(col="category", first="category_first")
BRAND = _CATEGORY.format(col="brand", first="brand_first")

PROMOTION_CATEGORY = """
SELECT category, sum(amount)::bigint AS sales, coalesce(sum(amount) FILTER (WHERE promo), 0)::bigint AS promo
FROM sales_line_fact
WHERE store_id = ANY($1::uuid[]) AND day BETWEEN $2 AND $3
GROUP BY category
ORDER BY sales DESC, category
"""

PROMOTION_MEMBER = """
WITH m AS (
    SELECT member_id, sum(amount)::bigint AS sales, sum(promo_amount)::bigint AS promo, sum(visits)::bigint AS visits
    FROM sales_member_day
    WHERE store_id = ANY($1::uuid[]) AND day BETWEEN $2 AND $3
    GROUP BY member_id
    HAVING sum(amount) >= greatest($4::bigint, 1)
), page AS (
    SELECT member_id, sales, promo, visits, count(*) OVER () AS total,
           (sum(promo) OVER ())::bigint AS all_promo, (sum(sales) OVER ())::bigint AS all_sales
    FROM m
    ORDER BY promo::numeric / sales DESC, sales DESC, member_id
    LIMIT $5 OFFSET $6
)
SELECT p.*, mb.name, mb.phone FROM page p JOIN member mb ON mb.id = p.member_id
ORDER BY p.promo::numeric / p.sales DESC, p.sales DESC, p.member_id
"""

PROMOTION_MEMBER_TOTALS = """
SELECT count(*)::bigint AS total, coalesce(sum(sales), 0)::bigint AS sales, coalesce(sum(promo), 0)::bigint AS promo
FROM (
    SELECT sum(amount) AS sales, sum(promo_amount) AS promo
    FROM sales_member_day
    WHERE store_id = ANY($1::uuid[]) AND day BETWEEN $2 AND $3
    GROUP BY member_id
    HAVING sum(amount) >= greatest($4::bigint, 1)
) m
"""

STRUCTURE_TENDERS = """
SELECT kind AS key, sum(amount)::bigint AS sales, sum(payments)::bigint AS count
FROM sales_tender_fact
WHERE store_id = ANY($1::uuid[]) AND day BETWEEN $2 AND $3
GROUP BY kind
ORDER BY sales DESC, kind
"""

# Hours (tickets counted) and member / non-member (transactions counted) in one pass.
STRUCTURE_TICKETS = """
SELECT hour, member_id IS NOT NULL AS member, sum(amount)::bigint AS sales, sum(tickets)::bigint AS tickets,
       sum(visits)::bigint AS visits
FROM sales_ticket_fact
WHERE store_id = ANY($1::uuid[]) AND day BETWEEN $2 AND $3
GROUP BY GROUPING SETS ((hour), (member_id IS NOT NULL))
"""

FORMAT_WEIGHTS = """
SELECT f.id, f.code, coalesce(w.weight, 1)::float8 AS weight
FROM business_format f LEFT JOIN format_weight w ON w.format_id = f.id
ORDER BY f.code
"""

# Per member and format; the page is chosen on the member's weighted gross profit.
CONTRIBUTION = """
WITH ms AS (
    SELECT member_id, store_id, sum(amount)::bigint AS spend, sum(visits)::bigint AS visits,
           sum(cost)::bigint AS cost, sum(promo_amount)::bigint AS promo
    FROM sales_member_day
    WHERE store_id = ANY($1::uuid[]) AND day BETWEEN $2 AND $3
    GROUP BY member_id, store_id
), mf AS (
    SELECT ms.member_id, s.format_id, sum(ms.spend)::bigint AS spend, sum(ms.visits)::bigint AS visits,
           sum(ms.cost)::bigint AS cost, sum(ms.promo)::bigint AS promo
    FROM ms JOIN store s ON s.id = ms.store_id
    GROUP BY ms.member_id, s.format_id
), w AS (
    SELECT mf.*, coalesce(fw.weight, 1)::float8 AS weight
    FROM mf LEFT JOIN format_weight fw ON fw.format_id = mf.format_id
), m AS (
    SELECT member_id, sum(weight * (spend - cost)) AS wgp, sum(spend)::bigint AS spend
    FROM w GROUP BY member_id
), page AS (
    SELECT member_id, wgp, spend, count(*) OVER () AS total FROM m
    ORDER BY wgp DESC, spend DESC, member_id
    LIMIT $4 OFFSET $5
)
SELECT p.member_id, p.total, p.wgp, w.format_id, f.code AS format_code, w.spend, w.visits, w.cost, w.promo,
       w.weight::float8 AS weight, mb.name, mb.phone
FROM page p
JOIN w ON w.member_id = p.member_id
JOIN business_format f ON f.id = w.format_id
JOIN member mb ON mb.id = p.member_id
ORDER BY p.wgp DESC, p.spend DESC, p.member_id, f.code
"""

# Buckets split the period into $4 equal runs of days. A bucket's index b is its x in the trend; the
# slope's sign for spend and transactions is the sign of sum((2b - (n - 1)) * y), so buckets without
# purchases (y = 0) need no rows. Sums in float8: exact at these magnitudes, and far faster than numeric.
_POTENTIAL_MEMBERS = """
WITH per AS MATERIALIZED (
    SELECT member_id, ((day - $2::date) * $4::int / ($3::date - $2::date + 1)) AS b,
           sum(amount)::bigint AS spend, sum(visits)::bigint AS visits
    FROM sales_member_day
    WHERE store_id = ANY($1::uuid[]) AND day BETWEEN $2 AND $3
    GROUP BY 1, 2
), m AS (
    SELECT member_id, sum(spend)::bigint AS spend, sum(visits)::bigint AS visits,
           sum(((2 * b - ($4::int - 1)) * spend)::float8) > 0 AS spend_rising,
           sum(((2 * b - ($4::int - 1)) * visits)::float8) > 0 AS frequency_rising,
           coalesce(regr_slope(CASE WHEN visits > 0 THEN spend::float8 / visits END, b::float8), 0) > 1e-9
               AS avg_rising
    FROM per
    GROUP BY member_id
    HAVING sum(visits) > 0
)
"""

# The per-bucket figures are gathered for the page's members only.
POTENTIAL = (
    _POTENTIAL_MEMBERS
    + """, s AS (
    SELECT *, spend_rising::int + frequency_rising::int + avg_rising::int AS rising FROM m
), page AS (
    SELECT *, count(*) OVER () AS total, count(*) FILTER (WHERE rising >= 2) OVER () AS flagged_total
    FROM s
    WHERE NOT $7::bool OR rising >= 2
    ORDER BY (rising >= 2) DESC, spend DESC, member_id
    LIMIT $5 OFFSET $6
), arr AS (
    SELECT per.member_id, array_agg(per.b) AS bs, array_agg(per.spend) AS spends, array_agg(per.visits) AS vs
    FROM per JOIN page USING (member_id)
    GROUP BY per.member_id
)
SELECT p.*, a.bs, a.spends, a.vs, mb.name, mb.phone
FROM page p JOIN arr a USING (member_id) JOIN member mb ON mb.id = p.member_id
ORDER BY (p.rising >= 2) DESC, p.spend DESC, p.member_id
"""
)

POTENTIAL_FLAGGED = (
    _POTENTIAL_MEMBERS
    + """
SELECT count(*)::bigint AS total,
       count(*) FILTER (WHERE spend_rising::int + frequency_rising::int + avg_rising::int >= 2)::bigint AS flagged
FROM m
"""
)

# Scores are quintiles by percent rank, in integers: 1 + 5 * (rank - 1) / (n - 1), at most 5.
RFM_SCORED = """
WITH m AS (
    SELECT member_id, max(day) FILTER (WHERE tickets > 0) AS last_day, sum(visits)::bigint AS frequency,
           sum(amount)::bigint AS monetary
    FROM sales_member_day
    WHERE store_id = ANY($1::uuid[]) AND day BETWEEN $2 AND $3
    GROUP BY member_id
    HAVING sum(visits) > 0
), s AS (
    SELECT m.*, ($3::date - last_day) AS recency_days,
           least(5, 1 + 5 * (rank() OVER (ORDER BY last_day) - 1) / greatest(count(*) OVER () - 1, 1))::int AS r,
           least(5, 1 + 5 * (rank() OVER (ORDER BY frequency) - 1) / greatest(count(*) OVER () - 1, 1))::int AS f,
           least(5, 1 + 5 * (rank() OVER (ORDER BY monetary) - 1) / greatest(count(*) OVER () - 1, 1))::int AS m
    FROM m
)
SELECT s.*,
       CASE
           WHEN r >= 4 AND f >= 4 AND m >= 4 THEN 'champions'
           WHEN r >= 3 AND f >= 3 THEN 'loyal'
           WHEN r >= 4 THEN 'promising'
           WHEN r = 3 THEN 'needs_attention'
           WHEN f >= 3 THEN 'at_risk'
           ELSE 'hibernating'
       END AS segment
FROM s
"""

RFM_PAGE = f"""
WITH x AS ({RFM_SCORED}), page AS (
    SELECT x.*, count(*) OVER () AS total FROM x
    WHERE cardinality($4::text[]) = 0 OR segment = ANY($4::text[])
    ORDER BY r + f + m DESC, monetary DESC, member_id
    LIMIT $5 OFFSET $6
)
SELECT p.*, mb.name, mb.phone FROM page p JOIN member mb ON mb.id = p.member_id
ORDER BY p.r + p.f + p.m DESC, p.monetary DESC, p.member_id
"""

RFM_SEGMENTS = f"""
WITH x AS ({RFM_SCORED})
SELECT segment, count(*)::bigint AS members, sum(monetary)::bigint AS monetary,
       avg(recency_days)::float8 AS recency, avg(frequency)::float8 AS frequency,
       round(avg(monetary))::bigint AS avg_monetary
FROM x GROUP BY segment
"""

SETTINGS = """
SELECT lookback_days, repeat_min_transactions, loyal_min_transactions, lapsing_days, lost_days
FROM analytics_setting WHERE store_id = $1
"""

UPSERT_SETTINGS = """
INSERT INTO analytics_setting (store_id, lookback_days, repeat_min_transactions, loyal_min_transactions,
                               lapsing_days, lost_days, updated_by)
VALUES ($1, $2, $3, $4, $5, $6, $7)
ON CONFLICT (store_id) DO UPDATE SET
    lookback_days = EXCLUDED.lookback_days, repeat_min_transactions = EXCLUDED.repeat_min_transactions,
    loyal_min_transactions = EXCLUDED.loyal_min_transactions, lapsing_days = EXCLUDED.lapsing_days,
    lost_days = EXCLUDED.lost_days, updated_by = EXCLUDED.updated_by, updated_at = now()
"""

# The member universe: known at one of the stores (or every active member when chain-wide), with each
# member's state as of a day. A template: marketing places it among its own parameters.
STATES_TEMPLATE = """
WITH u AS (
    SELECT m.id AS member_id FROM member m
    WHERE m.state = 'active' AND ({chain}::bool OR EXISTS (
        SELECT 1 FROM member_store ms WHERE ms.member_id = m.id AND ms.store_id = ANY({stores}::uuid[])))
), f AS (
    SELECT member_id, min(day) FILTER (WHERE tickets > 0) AS first_day, max(day) FILTER (WHERE tickets > 0) AS last_day,
           coalesce(sum(visits) FILTER (WHERE day > {as_of}::date - {lookback}::int), 0)::bigint AS transactions,
           coalesce(sum(amount) FILTER (WHERE day > {as_of}::date - {lookback}::int), 0)::bigint AS spend
    FROM sales_member_day
    WHERE store_id = ANY({stores}::uuid[]) AND day <= {as_of}::date
    GROUP BY member_id
)
SELECT u.member_id, f.first_day, f.last_day, coalesce(f.transactions, 0) AS transactions,
       coalesce(f.spend, 0) AS spend, {as_of}::date - f.last_day AS days_since_last,
       CASE
           WHEN f.last_day IS NULL THEN 'prospect'
           WHEN {as_of}::date - f.last_day > {lost}::int THEN 'lost'
           WHEN {as_of}::date - f.last_day > {lapsing}::int THEN 'lapsing'
           WHEN f.transactions >= {loyal}::int THEN 'loyal'
           WHEN f.transactions >= {repeat}::int OR f.first_day <= {as_of}::date - {lookback}::int THEN 'repeat'
           ELSE 'new'
       END AS state
FROM u LEFT JOIN f USING (member_id)
"""

# $1 stores, $2 as-of day, $3 lookback days, $4 chain-wide, $5 repeat min, $6 loyal min, $7 lapsing, $8 lost.
STATES = STATES_TEMPLATE.format(
    stores="$1", as_of="$2", lookback="$3", chain="$4", repeat="$5", loyal="$6", lapsing="$7", lost="$8"
)

STATES_SUMMARY = f"WITH s AS ({STATES}) SELECT state, count(*)::bigint AS members FROM s GROUP BY state"

# One evaluation of the states gives the page, the filtered total and the count of every state.
STATES_PAGE = f"""
WITH s AS MATERIALIZED ({STATES}), f AS (
    SELECT * FROM s WHERE cardinality($9::text[]) = 0 OR state = ANY($9::text[])
), page AS (
    SELECT * FROM f ORDER BY last_day DESC NULLS LAST, member_id LIMIT $10 OFFSET $11
)
SELECT p.*, mb.name, mb.phone, (SELECT count(*) FROM f) AS total,
       (SELECT json_object_agg(state, n) FROM (SELECT state, count(*) AS n FROM s GROUP BY state) c)::text AS summary
FROM page p JOIN member mb ON mb.id = p.member_id
ORDER BY p.last_day DESC NULLS LAST, p.member_id
"""

CONCESSIONS = """
WITH s AS (
    SELECT counter_id, sum(tickets)::bigint AS tickets,
           coalesce(sum(amount) FILTER (WHERE refund_id IS NULL), 0)::bigint AS gross,
           coalesce(-sum(amount) FILTER (WHERE refund_id IS NOT NULL), 0)::bigint AS refunds
    FROM sales_ticket_fact
    WHERE store_id = ANY($1::uuid[]) AND day BETWEEN $2 AND $3
    GROUP BY counter_id
)
SELECT k.id, k.store_id, k.code, k.name_en, k.name_zh, k.brand, coalesce(s.tickets, 0) AS tickets,
       coalesce(s.gross, 0) AS gross, coalesce(s.refunds, 0) AS refunds, coalesce(cc.rate_bp, 0) AS rate_bp
FROM counter k
JOIN store st ON st.id = k.store_id
LEFT JOIN s ON s.counter_id = k.id
LEFT JOIN counter_commission cc ON cc.counter_id = k.id
WHERE k.store_id = ANY($1::uuid[]) AND k.concession AND (k.active OR s.counter_id IS NOT NULL)
ORDER BY st.code, k.code
"""

COUNTER_STORE = "SELECT store_id FROM counter WHERE id = $1"

UPSERT_COMMISSION = """
INSERT INTO counter_commission (counter_id, rate_bp) VALUES ($1, $2)
ON CONFLICT (counter_id) DO UPDATE SET rate_bp = EXCLUDED.rate_bp, updated_at = now()
"""

FORMAT_EXISTS = "SELECT code FROM business_format WHERE id = $1"

UPSERT_WEIGHT = """
INSERT INTO format_weight (format_id, weight) VALUES ($1, $2)
ON CONFLICT (format_id) DO UPDATE SET weight = EXCLUDED.weight, updated_at = now()
"""
