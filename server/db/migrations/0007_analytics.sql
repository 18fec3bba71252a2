-- Manager analytics and precision marketing.
--
-- Reports never read tickets, lines or JSON directly: they read insert-only fact tables written when a
-- ticket becomes paid (and, negated, when a refund is made). The facts are written by deferred
-- constraint triggers, so they are in place at commit whatever code path paid the ticket, and a refund
-- or a late checkout row in the same transaction is seen. Insert-only facts never contend for a hot
-- summary row, so checkouts do not queue behind each other for the sake of reports.

-- One row per paid ticket (refund_id NULL), and one per refund of it (negative figures).
CREATE TABLE sales_ticket_fact (
    ticket_id uuid NOT NULL,
    refund_id uuid,
    store_id uuid NOT NULL REFERENCES store(id),
    format_id uuid NOT NULL REFERENCES business_format(id),
    counter_id uuid NOT NULL REFERENCES counter(id),
    member_id uuid,
    checkout_id uuid,
    day date NOT NULL,                   -- the ticket's business day; a refund's local date
    hour smallint NOT NULL CHECK (hour BETWEEN 0 AND 23),   -- local hour of payment or refund
    tickets smallint NOT NULL,           -- 1 for the sale, 0 for a refund
    visits smallint NOT NULL,            -- 1 for the first ticket of its checkout: one customer transaction
    amount bigint NOT NULL,              -- fen, signed
    cost bigint NOT NULL,                -- fen at the product cost when paid, signed
    promo_amount bigint NOT NULL,        -- the part sold at promotion prices, signed
    UNIQUE NULLS NOT DISTINCT (ticket_id, refund_id)
);
CREATE INDEX sales_ticket_fact_store_day ON sales_ticket_fact (store_id, day);
CREATE INDEX sales_ticket_fact_member_day ON sales_ticket_fact (member_id, day) INCLUDE (store_id)
    WHERE member_id IS NOT NULL;
CREATE INDEX sales_ticket_fact_checkout ON sales_ticket_fact (checkout_id);
CREATE INDEX sales_ticket_fact_refund ON sales_ticket_fact (refund_id) WHERE refund_id IS NOT NULL;

-- One row per paid ticket line, and one per refunded line.
CREATE TABLE sales_line_fact (
    ticket_id uuid NOT NULL,
    line_no integer NOT NULL,
    refund_id uuid,
    store_id uuid NOT NULL REFERENCES store(id),
    format_id uuid NOT NULL REFERENCES business_format(id),
    counter_id uuid NOT NULL REFERENCES counter(id),
    member_id uuid,
    day date NOT NULL,
    category text NOT NULL,
    brand text NOT NULL,
    promo boolean NOT NULL,
    qty integer NOT NULL,
    amount bigint NOT NULL,
    cost bigint NOT NULL,
    category_first smallint NOT NULL,    -- 1 on the first line of its category in the ticket: counts tickets
    brand_first smallint NOT NULL,       -- likewise for brands
    UNIQUE NULLS NOT DISTINCT (ticket_id, line_no, refund_id)
);
CREATE INDEX sales_line_fact_store_day ON sales_line_fact (store_id, day);
CREATE INDEX sales_line_fact_refund ON sales_line_fact (refund_id) WHERE refund_id IS NOT NULL;
CREATE INDEX sales_line_fact_member ON sales_line_fact (member_id, day) INCLUDE (category, brand, store_id)
    WHERE member_id IS NOT NULL;

-- One row per tender of a settled checkout, and one per refund to a tender.
CREATE TABLE sales_tender_fact (
    tender_id uuid NOT NULL,
    refund_id uuid,
    checkout_id uuid NOT NULL,
    store_id uuid NOT NULL REFERENCES store(id),
    day date NOT NULL,
    kind text NOT NULL,
    payments smallint NOT NULL,          -- 1 for the payment, 0 for a refund
    amount bigint NOT NULL,
    UNIQUE NULLS NOT DISTINCT (tender_id, refund_id)
);
CREATE INDEX sales_tender_fact_store_day ON sales_tender_fact (store_id, day);

-- Members' purchases per store and day: the ticket facts of members, rolled up. Member reports read
-- this (a third of the ticket facts' size). Keyed by member, so concurrent checkouts of different
-- customers never touch the same row.
CREATE TABLE sales_member_day (
    member_id uuid NOT NULL,
    store_id uuid NOT NULL REFERENCES store(id),
    day date NOT NULL,
    tickets integer NOT NULL,
    visits integer NOT NULL,
    amount bigint NOT NULL,
    cost bigint NOT NULL,
    promo_amount bigint NOT NULL,
    PRIMARY KEY (member_id, store_id, day)
);
CREATE INDEX sales_member_day_store_day ON sales_member_day (store_id, day);

-- Add the ticket facts of these tickets (or of this refund) to the members' days.
CREATE FUNCTION analytics_roll_up(p_tickets uuid[], p_refund uuid) RETURNS void LANGUAGE sql AS $$
    INSERT INTO sales_member_day AS d (member_id, store_id, day, tickets, visits, amount, cost, promo_amount)
    SELECT member_id, store_id, day, sum(tickets), sum(visits), sum(amount), sum(cost), sum(promo_amount)
    FROM (
        SELECT f.* FROM unnest(p_tickets) AS u(id)
        JOIN sales_ticket_fact f ON f.ticket_id = u.id AND f.refund_id IS NULL
        UNION ALL
        SELECT f.* FROM sales_ticket_fact f WHERE f.refund_id = p_refund
    ) f
    WHERE member_id IS NOT NULL
    GROUP BY member_id, store_id, day
    ON CONFLICT (member_id, store_id, day) DO UPDATE SET
        tickets = d.tickets + EXCLUDED.tickets, visits = d.visits + EXCLUDED.visits,
        amount = d.amount + EXCLUDED.amount, cost = d.cost + EXCLUDED.cost,
        promo_amount = d.promo_amount + EXCLUDED.promo_amount
$$;

-- Bulk loaders (the history generator) switch the triggers off for their session and call
-- analytics_backfill() once at the end.
CREATE FUNCTION analytics_bulk() RETURNS boolean LANGUAGE sql STABLE AS $$
    SELECT coalesce(current_setting('floorticket.analytics_bulk', true), '') = 'on'
$$;

-- Facts of the listed tickets that are paid and have none yet.
CREATE FUNCTION analytics_record_sales(p_tickets uuid[]) RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
    n integer;
    fresh uuid[];
BEGIN
    SELECT coalesce(array_agg(t.id), '{}') INTO fresh
    FROM unnest(p_tickets) AS u(id)
    JOIN ticket t ON t.id = u.id
    WHERE t.state IN ('paid', 'released')
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
               coalesce(t.member_id, c.member_id) AS member_id, t.business_day AS day, p.category,
               coalesce(nullif(p.brand, ''), ctr.brand) AS brand, l.promo, l.qty, l.line_total AS amount,
               l.qty::bigint * p.cost AS cost
        FROM unnest(fresh) AS n(ticket_id)
        JOIN ticket t ON t.id = n.ticket_id
        JOIN store s ON s.id = t.store_id
        JOIN counter ctr ON ctr.id = t.counter_id
        JOIN ticket_line l ON l.ticket_id = t.id
        JOIN product p ON p.id = l.product_id
        LEFT JOIN checkout c ON c.id = t.checkout_id
    ) x;

    INSERT INTO sales_ticket_fact (ticket_id, refund_id, store_id, format_id, counter_id, member_id, checkout_id, day,
                                   hour, tickets, visits, amount, cost, promo_amount)
    SELECT t.id, NULL, t.store_id, s.format_id, t.counter_id, coalesce(t.member_id, c.member_id), t.checkout_id,
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
    LEFT JOIN sales_line_fact l ON l.ticket_id = t.id AND l.refund_id IS NULL
    GROUP BY t.id, s.format_id, s.timezone, c.member_id, c.settled_at;
    GET DIAGNOSTICS n = ROW_COUNT;
    PERFORM analytics_roll_up(fresh, NULL);
    RETURN n;
END $$;

-- Facts of a settled checkout's tenders: that checkout, or (NULL) every settled one that has none yet.
CREATE FUNCTION analytics_record_tenders(p_checkout uuid) RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
    n integer;
BEGIN
    IF p_checkout IS NULL THEN
        INSERT INTO sales_tender_fact (tender_id, refund_id, checkout_id, store_id, day, kind, payments, amount)
        SELECT t.id, NULL, c.id, c.store_id, (c.settled_at AT TIME ZONE s.timezone)::date, t.kind, 1, t.applied
        FROM checkout c
        JOIN store s ON s.id = c.store_id
        JOIN tender t ON t.checkout_id = c.id
        WHERE c.state = 'settled'
        ON CONFLICT DO NOTHING;
    ELSE
        INSERT INTO sales_tender_fact (tender_id, refund_id, checkout_id, store_id, day, kind, payments, amount)
        SELECT t.id, NULL, c.id, c.store_id, (c.settled_at AT TIME ZONE s.timezone)::date, t.kind, 1, t.applied
        FROM checkout c
        JOIN store s ON s.id = c.store_id
        JOIN tender t ON t.checkout_id = c.id
        WHERE c.state = 'settled' AND c.id = p_checkout
        ON CONFLICT DO NOTHING;
    END IF;
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END $$;

-- Negative facts of a refund: its lines (cost pro-rated by quantity), its tickets and its tenders.
CREATE FUNCTION analytics_record_refund(p_refund uuid) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO sales_line_fact (ticket_id, line_no, refund_id, store_id, format_id, counter_id, member_id, day,
                                 category, brand, promo, qty, amount, cost, category_first, brand_first)
    SELECT f.ticket_id, f.line_no, r.id, f.store_id, f.format_id, f.counter_id, f.member_id,
           (r.created_at AT TIME ZONE s.timezone)::date, f.category, f.brand, f.promo, -rl.qty, -rl.amount,
           -round(f.cost::numeric * rl.qty / greatest(f.qty, 1))::bigint, 0, 0
    FROM refund r
    JOIN store s ON s.id = r.store_id
    JOIN refund_line rl ON rl.refund_id = r.id
    JOIN sales_line_fact f ON f.ticket_id = rl.ticket_id AND f.line_no = rl.line_no AND f.refund_id IS NULL
    WHERE r.id = p_refund
    ON CONFLICT DO NOTHING;

    INSERT INTO sales_ticket_fact (ticket_id, refund_id, store_id, format_id, counter_id, member_id, checkout_id, day,
                                   hour, tickets, visits, amount, cost, promo_amount)
    SELECT l.ticket_id, l.refund_id, l.store_id, l.format_id, l.counter_id, l.member_id, r.checkout_id, l.day,
           extract(hour FROM r.created_at AT TIME ZONE s.timezone)::smallint, 0, 0,
           sum(l.amount), sum(l.cost), coalesce(sum(l.amount) FILTER (WHERE l.promo), 0)
    FROM sales_line_fact l
    JOIN refund r ON r.id = l.refund_id
    JOIN store s ON s.id = r.store_id
    WHERE l.refund_id = p_refund
    GROUP BY l.ticket_id, l.refund_id, l.store_id, l.format_id, l.counter_id, l.member_id, r.checkout_id, l.day,
             r.created_at, s.timezone
    ON CONFLICT DO NOTHING;
    IF FOUND THEN
        PERFORM analytics_roll_up('{}', p_refund);
    END IF;

    INSERT INTO sales_tender_fact (tender_id, refund_id, checkout_id, store_id, day, kind, payments, amount)
    SELECT rt.tender_id, r.id, r.checkout_id, r.store_id, (r.created_at AT TIME ZONE s.timezone)::date, rt.kind, 0,
           -rt.amount
    FROM refund r
    JOIN store s ON s.id = r.store_id
    JOIN refund_tender rt ON rt.refund_id = r.id
    WHERE r.id = p_refund
    ON CONFLICT DO NOTHING;
END $$;

-- Everything paid, settled or refunded that has no facts yet (after a bulk load, or at install).
CREATE FUNCTION analytics_backfill() RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
    n integer;
    r record;
BEGIN
    n := analytics_record_sales(ARRAY(
        SELECT t.id FROM ticket t
        WHERE t.state IN ('paid', 'released')
          AND NOT EXISTS (SELECT 1 FROM sales_ticket_fact f WHERE f.ticket_id = t.id AND f.refund_id IS NULL)));
    PERFORM analytics_record_tenders(NULL);
    FOR r IN SELECT id FROM refund x
             WHERE NOT EXISTS (SELECT 1 FROM sales_ticket_fact f WHERE f.refund_id = x.id)
             ORDER BY created_at LOOP
        PERFORM analytics_record_refund(r.id);
    END LOOP;
    RETURN n;
END $$;

CREATE FUNCTION analytics_on_ticket() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NOT analytics_bulk() THEN
        PERFORM analytics_record_sales(ARRAY[NEW.id]);
    END IF;
    RETURN NULL;
END $$;

CREATE FUNCTION analytics_on_checkout() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NOT analytics_bulk() THEN
        PERFORM analytics_record_tenders(NEW.id);
    END IF;
    RETURN NULL;
END $$;

CREATE FUNCTION analytics_on_refund() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NOT analytics_bulk() THEN
        PERFORM analytics_record_refund(NEW.id);
    END IF;
    RETURN NULL;
END $$;

-- Deferred to commit: the checkout row, its tenders and a refund's lines are written after the ticket
-- turns paid (or after the refund row) in the same transaction.
CREATE CONSTRAINT TRIGGER ticket_paid_facts AFTER INSERT OR UPDATE OF state ON ticket
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
    WHEN (NEW.state IN ('paid', 'released'))
    EXECUTE FUNCTION analytics_on_ticket();
CREATE CONSTRAINT TRIGGER checkout_tender_facts AFTER INSERT OR UPDATE OF state ON checkout
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
    WHEN (NEW.state = 'settled')
    EXECUTE FUNCTION analytics_on_checkout();
CREATE CONSTRAINT TRIGGER refund_facts AFTER INSERT ON refund
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
    EXECUTE FUNCTION analytics_on_refund();

SELECT analytics_backfill();

-- Thresholds of the customer states, per store (a store without a row uses the defaults).
CREATE TABLE analytics_setting (
    store_id uuid PRIMARY KEY REFERENCES store(id),
    lookback_days integer NOT NULL DEFAULT 365 CHECK (lookback_days > 0),
    repeat_min_transactions integer NOT NULL DEFAULT 2 CHECK (repeat_min_transactions >= 2),
    loyal_min_transactions integer NOT NULL DEFAULT 6,
    lapsing_days integer NOT NULL DEFAULT 90 CHECK (lapsing_days > 0),
    lost_days integer NOT NULL DEFAULT 180,
    updated_by uuid,
    updated_at timestamptz NOT NULL DEFAULT now(),
    CHECK (loyal_min_transactions > repeat_min_transactions),
    CHECK (lost_days > lapsing_days)
);

-- How much each business format weighs in member contribution (1.000 unless set).
CREATE TABLE format_weight (
    format_id uuid PRIMARY KEY REFERENCES business_format(id),
    weight numeric(6, 3) NOT NULL CHECK (weight >= 0),
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- The store's commission on a concession counter's sales, in basis points (1500 = 15%).
CREATE TABLE counter_commission (
    counter_id uuid PRIMARY KEY REFERENCES counter(id),
    rate_bp integer NOT NULL CHECK (rate_bp BETWEEN 0 AND 10000),
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- Saved member segments: a filter, evaluated when used.
CREATE TABLE segment (
    id uuid PRIMARY KEY,
    store_id uuid REFERENCES store(id),  -- NULL: chain-wide (admins)
    name text NOT NULL,
    filter jsonb NOT NULL,
    created_by uuid NOT NULL REFERENCES staff(id),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX segment_store ON segment (store_id);

-- A service campaign: a segment turned into tasks for staff.
CREATE TABLE service_campaign (
    id uuid PRIMARY KEY,
    store_id uuid NOT NULL REFERENCES store(id),
    segment_id uuid REFERENCES segment(id),
    name text NOT NULL,
    kind text NOT NULL CHECK (kind IN ('call', 'message', 'visit')),
    due_date date NOT NULL,
    filter jsonb NOT NULL,               -- the segment's filter as it was when the tasks were made
    skipped_without_consent integer NOT NULL DEFAULT 0,
    created_by uuid NOT NULL REFERENCES staff(id),
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX service_campaign_store ON service_campaign (store_id, created_at);

CREATE TABLE service_task (
    id uuid PRIMARY KEY,
    campaign_id uuid NOT NULL REFERENCES service_campaign(id),
    store_id uuid NOT NULL REFERENCES store(id),
    member_id uuid NOT NULL REFERENCES member(id),
    staff_id uuid NOT NULL REFERENCES staff(id),
    kind text NOT NULL CHECK (kind IN ('call', 'message', 'visit')),
    due_date date NOT NULL,
    state text NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'done', 'cancelled')),
    outcome text CHECK (outcome IN ('reached', 'no_answer', 'declined', 'interested', 'purchased', 'wrong_contact')),
    note text NOT NULL DEFAULT '',
    follow_up_of uuid REFERENCES service_task(id),
    done_at timestamptz,
    done_by uuid REFERENCES staff(id),
    created_at timestamptz NOT NULL DEFAULT now(),
    CHECK ((state = 'done') = (outcome IS NOT NULL))
);
CREATE INDEX service_task_staff ON service_task (staff_id, state, due_date);
CREATE INDEX service_task_campaign ON service_task (campaign_id);
CREATE UNIQUE INDEX service_task_one_follow_up ON service_task (follow_up_of) WHERE follow_up_of IS NOT NULL;
