-- Consolidated checkout: N tickets of one store settled by M tenders, all or nothing; refunds and
-- returns back to the original tenders. Ticket, member, shift and payment ids are kept as plain
-- uuids: those features own their tables and are checked by the service in the same transaction.

CREATE TABLE checkout (
    id uuid PRIMARY KEY,                 -- made by the till before the first attempt
    store_id uuid NOT NULL REFERENCES store(id),
    mode text NOT NULL CHECK (mode IN ('till', 'one_stop')),
    -- 'conflict' keeps a settlement that lost to another one (e.g. paid offline at two tills)
    state text NOT NULL DEFAULT 'settled' CHECK (state IN ('settled', 'conflict')),
    device_id uuid REFERENCES device(id),
    staff_id uuid REFERENCES staff(id),
    shift_id uuid,
    member_id uuid,
    currency char(3) NOT NULL,
    total bigint NOT NULL CHECK (total >= 0),
    tendered bigint NOT NULL CHECK (tendered >= total),
    change bigint NOT NULL CHECK (change = tendered - total),
    refunded bigint NOT NULL DEFAULT 0 CHECK (refunded >= 0 AND refunded <= total),
    request jsonb NOT NULL,              -- as first sent: a retry with other content is refused
    result jsonb NOT NULL,               -- answered again on every replay
    settled_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (id, state)
);
CREATE INDEX checkout_store_settled ON checkout (store_id, settled_at);
CREATE INDEX checkout_member ON checkout (member_id, settled_at) WHERE member_id IS NOT NULL;

CREATE TABLE checkout_ticket (
    checkout_id uuid NOT NULL,
    state text NOT NULL,                 -- mirrors checkout.state through the foreign key below
    ticket_id uuid NOT NULL,
    seq smallint NOT NULL,
    store_id uuid NOT NULL REFERENCES store(id),
    counter_id uuid NOT NULL REFERENCES counter(id),
    number text NOT NULL,
    amount bigint NOT NULL CHECK (amount >= 0),
    PRIMARY KEY (checkout_id, ticket_id),
    FOREIGN KEY (checkout_id, state) REFERENCES checkout (id, state) ON UPDATE CASCADE
);
-- A ticket is paid by at most one settled checkout, whatever any code path does.
CREATE UNIQUE INDEX checkout_ticket_settled_once ON checkout_ticket (ticket_id) WHERE state = 'settled';

CREATE TABLE tender (
    id uuid PRIMARY KEY,                 -- made by the till; the payment id for card and wallet
    checkout_id uuid NOT NULL REFERENCES checkout(id),
    seq smallint NOT NULL,
    kind text NOT NULL CHECK (kind IN ('cash', 'card', 'wallet', 'stored_value', 'ecoin', 'points')),
    tendered bigint NOT NULL CHECK (tendered > 0),
    applied bigint NOT NULL CHECK (applied > 0 AND applied <= tendered),
    change bigint NOT NULL DEFAULT 0 CHECK (change = tendered - applied),
    refunded bigint NOT NULL DEFAULT 0 CHECK (refunded >= 0 AND refunded <= applied),
    payment_ref text,                    -- provider reference (card, wallet); never a card number
    masked text,                         -- e.g. '**** 4242'
    ledger_ref text,                     -- the member-ledger movement (points, e-coin, stored value)
    CHECK (kind = 'cash' OR change = 0),
    UNIQUE (checkout_id, seq)
);

CREATE TABLE refund (
    id uuid PRIMARY KEY,                 -- made by the till before the first attempt
    checkout_id uuid NOT NULL REFERENCES checkout(id),
    store_id uuid NOT NULL REFERENCES store(id),
    staff_id uuid REFERENCES staff(id),
    device_id uuid REFERENCES device(id),
    approved_by uuid REFERENCES staff(id),
    shift_id uuid,
    amount bigint NOT NULL CHECK (amount > 0),
    reason text NOT NULL DEFAULT '',
    request jsonb NOT NULL,
    result jsonb NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX refund_checkout ON refund (checkout_id);
CREATE INDEX refund_store_created ON refund (store_id, created_at);

CREATE TABLE refund_line (
    refund_id uuid NOT NULL REFERENCES refund(id),
    ticket_id uuid NOT NULL,
    line_no integer NOT NULL,
    counter_id uuid NOT NULL REFERENCES counter(id),
    qty integer NOT NULL CHECK (qty > 0),
    amount bigint NOT NULL CHECK (amount >= 0),
    PRIMARY KEY (refund_id, ticket_id, line_no)
);
CREATE INDEX refund_line_ticket ON refund_line (ticket_id, line_no);

CREATE TABLE refund_tender (
    refund_id uuid NOT NULL REFERENCES refund(id),
    tender_id uuid NOT NULL REFERENCES tender(id),
    kind text NOT NULL,
    amount bigint NOT NULL CHECK (amount > 0),
    refund_ref text,
    PRIMARY KEY (refund_id, tender_id)
);

-- Refunds are new entries, never edits.
CREATE TRIGGER refund_append_only BEFORE UPDATE OR DELETE ON refund
    FOR EACH ROW EXECUTE FUNCTION refuse_change();
CREATE TRIGGER refund_line_append_only BEFORE UPDATE OR DELETE ON refund_line
    FOR EACH ROW EXECUTE FUNCTION refuse_change();
CREATE TRIGGER refund_tender_append_only BEFORE UPDATE OR DELETE ON refund_tender
    FOR EACH ROW EXECUTE FUNCTION refuse_change();

-- A settled checkout and its tenders keep their figures; only the refunded running totals (and a
-- checkout's state, when a conflict is resolved) may change, and nothing is deleted.
CREATE FUNCTION checkout_keeps_figures() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION '% rows are never deleted', TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF (to_jsonb(NEW) - 'refunded' - 'state') IS DISTINCT FROM (to_jsonb(OLD) - 'refunded' - 'state') THEN
        RAISE EXCEPTION 'only refunded totals of % may change', TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER checkout_keeps_figures BEFORE UPDATE OR DELETE ON checkout
    FOR EACH ROW EXECUTE FUNCTION checkout_keeps_figures();
CREATE TRIGGER tender_keeps_figures BEFORE UPDATE OR DELETE ON tender
    FOR EACH ROW EXECUTE FUNCTION checkout_keeps_figures();
CREATE TRIGGER checkout_ticket_kept BEFORE DELETE ON checkout_ticket
    FOR EACH ROW EXECUTE FUNCTION refuse_change();
