-- The exception queue: conflicts the server refused after a device had already acted on them offline
-- (cash taken for a ticket voided or paid elsewhere meanwhile, a void of a ticket the customer paid),
-- kept with the money movements that fix them until a supervisor or manager resolves them.

CREATE TABLE store_exception (
    id uuid PRIMARY KEY,
    number bigint GENERATED ALWAYS AS IDENTITY UNIQUE,  -- short, for people: "exception 42"
    store_id uuid NOT NULL REFERENCES store(id),
    -- the refused checkout's id or command's id: one exception per refused thing, however often resent
    source_id uuid NOT NULL UNIQUE,
    kind text NOT NULL,
    status text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'resolved')),
    checkout_id uuid,                    -- never written as a checkout: the checkout was refused
    command_id uuid,
    ticket_ids uuid[] NOT NULL DEFAULT '{}',
    ticket_numbers text[] NOT NULL DEFAULT '{}',
    device_id uuid REFERENCES device(id),
    staff_id uuid REFERENCES staff(id),
    currency char(3) NOT NULL DEFAULT 'CNY',
    taken jsonb NOT NULL DEFAULT '{}',   -- fen per tender kind the device kept
    fix jsonb NOT NULL DEFAULT '[]',     -- [{action, amount, tender}]
    fix_text jsonb NOT NULL DEFAULT '{}', -- {en, zh}
    refusal_code text NOT NULL,
    refusal_message text NOT NULL DEFAULT '',
    request jsonb,                       -- the refused request as sent
    settled_offline_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    resolved_by uuid REFERENCES staff(id),
    resolved_at timestamptz,
    resolution_note text NOT NULL DEFAULT '',
    CHECK (checkout_id IS NOT NULL OR command_id IS NOT NULL),
    CHECK ((status = 'resolved') = (resolved_at IS NOT NULL AND resolved_by IS NOT NULL))
);
CREATE INDEX store_exception_queue ON store_exception (store_id, status, created_at DESC);
