-- Electronic sales tickets, the commands devices send about them (kept forever), and the per-store
-- durable event log whose positions increase without gaps in commit order.

CREATE TABLE ticket (
    id uuid PRIMARY KEY,                 -- made on the handheld
    store_id uuid NOT NULL REFERENCES store(id),
    counter_id uuid NOT NULL REFERENCES counter(id),
    device_id uuid NOT NULL REFERENCES device(id),   -- the issuing handheld
    staff_id uuid,
    number text NOT NULL,                -- store-counter-device-sequence
    total bigint NOT NULL CHECK (total >= 0),
    currency char(3) NOT NULL,
    member_id uuid,
    state text NOT NULL DEFAULT 'issued'
        CHECK (state IN ('issued', 'paid', 'released', 'voided', 'expired')),
    issued_at_ms bigint NOT NULL DEFAULT 0,
    business_day date NOT NULL,
    checkout_id uuid,
    void_reason text,
    issue_command_id uuid NOT NULL,      -- the command whose content the ticket was made from
    uploaded_by uuid REFERENCES device(id),  -- a till that uploaded it from the customer's QR
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (store_id, number)
);
CREATE INDEX ticket_store_state ON ticket (store_id, state, business_day);
CREATE INDEX ticket_store_member ON ticket (store_id, member_id) WHERE member_id IS NOT NULL;
CREATE INDEX ticket_checkout ON ticket (checkout_id) WHERE checkout_id IS NOT NULL;

CREATE TABLE ticket_line (
    ticket_id uuid NOT NULL REFERENCES ticket(id),
    line_no integer NOT NULL CHECK (line_no >= 1),
    product_id uuid NOT NULL REFERENCES product(id),
    sku text NOT NULL,
    name text NOT NULL,
    qty integer NOT NULL CHECK (qty >= 1),
    list_price bigint NOT NULL CHECK (list_price >= 0),
    unit_price bigint NOT NULL CHECK (unit_price >= 0),
    promo boolean NOT NULL DEFAULT false,
    line_discount bigint NOT NULL DEFAULT 0 CHECK (line_discount >= 0),
    line_total bigint NOT NULL CHECK (line_total >= 0),
    PRIMARY KEY (ticket_id, line_no)
);
CREATE INDEX ticket_line_product ON ticket_line (product_id);

-- Every command a device sent, applied or refused, kept forever: a replay answers the stored result.
CREATE TABLE applied_command (
    command_id uuid PRIMARY KEY,
    device_id uuid NOT NULL REFERENCES device(id),
    store_id uuid NOT NULL REFERENCES store(id),
    device_seq bigint NOT NULL,
    kind text NOT NULL,
    content_hash bytea NOT NULL,
    content jsonb NOT NULL,
    status text NOT NULL CHECK (status IN ('applied', 'replayed', 'rejected')),
    result jsonb NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (device_id, device_seq)
);

CREATE TRIGGER applied_command_append_only BEFORE UPDATE OR DELETE ON applied_command
    FOR EACH ROW EXECUTE FUNCTION refuse_change();

CREATE TABLE device_sync (
    device_id uuid PRIMARY KEY REFERENCES device(id),
    last_applied_seq bigint NOT NULL DEFAULT 0,
    acked_position bigint NOT NULL DEFAULT 0,
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- One row per store: updating it inside the writing transaction hands out the next position and holds
-- the row lock until commit, so positions are gap-free and become visible in position order.
CREATE TABLE event_counter (
    store_id uuid PRIMARY KEY REFERENCES store(id),
    last_position bigint NOT NULL DEFAULT 0
);

CREATE TABLE event_log (
    store_id uuid NOT NULL REFERENCES store(id),
    position bigint NOT NULL CHECK (position >= 1),
    kind text NOT NULL,
    ticket_id uuid NOT NULL,
    payload jsonb NOT NULL,              -- the ticket as it was after the change
    at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (store_id, position)
);
CREATE INDEX event_log_ticket ON event_log (ticket_id);

CREATE TRIGGER event_log_append_only BEFORE UPDATE OR DELETE ON event_log
    FOR EACH ROW EXECUTE FUNCTION refuse_change();
