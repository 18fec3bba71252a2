-- 1. Refunds change a ticket's state: `partly_refunded` (some units of its lines came back) and
-- `refunded` (all of them). Whether the goods were handed over is kept apart from the state, so a
-- ticket refunded after its goods were released still says so, and one partly refunded before the
-- release can still be released.

ALTER TABLE ticket DROP CONSTRAINT ticket_state_check;
ALTER TABLE ticket ADD CONSTRAINT ticket_state_check
    CHECK (state IN ('issued', 'paid', 'released', 'voided', 'expired', 'partly_refunded', 'refunded'));

ALTER TABLE ticket ADD COLUMN released_at timestamptz;
UPDATE ticket SET released_at = updated_at WHERE state = 'released';
ALTER TABLE ticket ADD CONSTRAINT ticket_released_after_payment
    CHECK (released_at IS NULL OR state IN ('released', 'partly_refunded', 'refunded'));

-- 2. Sales facts. They are written when a ticket is paid; a ticket loaded in bulk already refunded (or
-- refunded before its facts were backfilled) was paid too, so it counts as a sale and its refunds
-- as negative facts, exactly as before.
CREATE OR REPLACE FUNCTION analytics_sold_state(p_state text) RETURNS boolean LANGUAGE sql IMMUTABLE AS $$
    SELECT p_state IN ('paid', 'released', 'partly_refunded', 'refunded')
$$;

-- The member a fact belongs to: a merged record's survivor (following merges), else the id itself.
CREATE FUNCTION analytics_member(p_member uuid) RETURNS uuid LANGUAGE sql STABLE AS $$
    WITH RECURSIVE up(id, merged_into, depth) AS (
        SELECT id, merged_into, 0 FROM member WHERE id = p_member
        UNION ALL
        SELECT m.id, m.merged_into, up.depth + 1 FROM member m JOIN up ON m.id = up.merged_into WHERE up.depth < 20
    )
    SELECT coalesce((SELECT id FROM up WHERE merged_into IS NULL LIMIT 1), p_member)
$$;

CREATE OR REPLACE FUNCTION analytics_record_sales(p_tickets uuid[]) RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
    n integer;
    fresh uuid[];
BEGIN
    SELECT coalesce(array_agg(t.id), '{}') INTO fresh
    FROM unnest(p_tickets) AS u(id)
    JOIN ticket t ON t.id = u.id
    WHERE analytics_sold_state(t.state)
      AND NOT EXISTS (SELECT 1 FROM sales_ticket_fact f WHERE f.ticket_id = t.id AND f.refund_id IS NULL);
    IF cardinality(fresh) = 0 THEN
        RETURN 0;
    END IF;

    INSERT INTO sales_line_fact (ticket_id, line_no, refund_id, store_id, format_id, counter_id, member_id, day,
                                 category, brand, promo, qty, amount, cost, category_first, brand_first)
    SELECT ticket_id, line_no, NULL, store_id, format_id, counter_id, member_id, day, category, brand, promo, qty,
           amount, cost,
           (row_number() OVER (PARTITION BY ticket_id, category ORDER BY line_no) = 1)::int,
           (row_number() OVER (PARTITION BY ticket_id, brand ORDER BY line_no) = 1)::int
    FROM (
        SELECT l.ticket_id, l.line_no, t.store_id, s.format_id, t.counter_id,
               CASE WHEN mm.state = 'merged' THEN analytics_member(mm.id) ELSE coalesce(t.member_id, c.member_id) END
                   AS member_id,
               t.business_day AS day, p.category,
               coalesce(nullif(p.brand, ''), ctr.brand) AS brand, l.promo, l.qty, l.line_total AS amount,
               l.qty::bigint * p.cost AS cost
        FROM unnest(fresh) AS n(ticket_id)
        JOIN ticket t ON t.id = n.ticket_id
        JOIN store s ON s.id = t.store_id
        JOIN counter ctr ON ctr.id = t.counter_id
        JOIN ticket_line l ON l.ticket_id = t.id
        JOIN product p ON p.id = l.product_id
        LEFT JOIN checkout c ON c.id = t.checkout_id
        LEFT JOIN member mm ON mm.id = coalesce(t.member_id, c.member_id)
    ) x;

    INSERT INTO sales_ticket_fact (ticket_id, refund_id, store_id, format_id, counter_id, member_id, checkout_id, day,
                                   hour, tickets, visits, amount, cost, promo_amount)
    SELECT t.id, NULL, t.store_id, s.format_id, t.counter_id,
           CASE WHEN mm.state = 'merged' THEN analytics_member(mm.id) ELSE coalesce(t.member_id, c.member_id) END,
           t.checkout_id,
           t.business_day,
           extract(hour FROM coalesce(c.settled_at, t.updated_at) AT TIME ZONE s.timezone)::smallint,
           1,
           CASE
               WHEN t.checkout_id IS NULL THEN 1
               WHEN row_number() OVER (PARTITION BY t.checkout_id ORDER BY t.id) = 1
                    AND NOT EXISTS (SELECT 1 FROM sales_ticket_fact o WHERE o.checkout_id = t.checkout_id) THEN 1
               ELSE 0
           END,
           coalesce(sum(l.amount), 0), coalesce(sum(l.cost), 0), coalesce(sum(l.amount) FILTER (WHERE l.promo), 0)
    FROM unnest(fresh) AS n(ticket_id)
    JOIN ticket t ON t.id = n.ticket_id
    JOIN store s ON s.id = t.store_id
    LEFT JOIN checkout c ON c.id = t.checkout_id
    LEFT JOIN member mm ON mm.id = coalesce(t.member_id, c.member_id)
    LEFT JOIN sales_line_fact l ON l.ticket_id = t.id AND l.refund_id IS NULL
    GROUP BY t.id, s.format_id, s.timezone, c.member_id, c.settled_at, mm.id, mm.state;
    GET DIAGNOSTICS n = ROW_COUNT;
    PERFORM analytics_roll_up(fresh, NULL);
    RETURN n;
END $$;

CREATE OR REPLACE FUNCTION analytics_backfill() RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
    n integer;
    r record;
BEGIN
    n := analytics_record_sales(ARRAY(
        SELECT t.id FROM ticket t
        WHERE analytics_sold_state(t.state)
          AND NOT EXISTS (SELECT 1 FROM sales_ticket_fact f WHERE f.ticket_id = t.id AND f.refund_id IS NULL)));
    PERFORM analytics_record_tenders(NULL);
    FOR r IN SELECT id FROM refund x
             WHERE NOT EXISTS (SELECT 1 FROM sales_ticket_fact f WHERE f.refund_id = x.id)
             ORDER BY created_at LOOP
        PERFORM analytics_record_refund(r.id);
    END LOOP;
    RETURN n;
END $$;

-- A refund changes the state but is not a sale: its facts come from the refund row's own trigger.
DROP TRIGGER ticket_paid_facts ON ticket;
CREATE CONSTRAINT TRIGGER ticket_paid_facts AFTER INSERT OR UPDATE OF state ON ticket
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
    WHEN (NEW.state IN ('paid', 'released', 'partly_refunded', 'refunded'))
    EXECUTE FUNCTION analytics_on_ticket();

-- 3. Member merges move the absorbed record's sales history to the survivor (server/members, in the
-- merge's transaction). Members merged before this version: their history joins the survivor's now.
INSERT INTO sales_member_day AS d (member_id, store_id, day, tickets, visits, amount, cost, promo_amount)
SELECT analytics_member(x.member_id), x.store_id, x.day, sum(x.tickets), sum(x.visits), sum(x.amount), sum(x.cost),
       sum(x.promo_amount)
FROM sales_member_day x JOIN member m ON m.id = x.member_id AND m.state = 'merged'
GROUP BY 1, 2, 3
ON CONFLICT (member_id, store_id, day) DO UPDATE SET
    tickets = d.tickets + EXCLUDED.tickets, visits = d.visits + EXCLUDED.visits,
    amount = d.amount + EXCLUDED.amount, cost = d.cost + EXCLUDED.cost,
    promo_amount = d.promo_amount + EXCLUDED.promo_amount;
DELETE FROM sales_member_day x USING member m WHERE m.id = x.member_id AND m.state = 'merged';
UPDATE sales_ticket_fact f SET member_id = analytics_member(f.member_id)
FROM member m WHERE m.id = f.member_id AND m.state = 'merged';
UPDATE sales_line_fact f SET member_id = analytics_member(f.member_id)
FROM member m WHERE m.id = f.member_id AND m.state = 'merged';
UPDATE service_task t SET member_id = analytics_member(t.member_id)
FROM member m WHERE m.id = t.member_id AND m.state = 'merged';
