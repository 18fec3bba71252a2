-- Members (people, not cards), their double-entry ledger, and the loyalty rules managers edit.

CREATE TABLE member (
    id uuid PRIMARY KEY,
    home_store_id uuid NOT NULL REFERENCES store(id),
    name text NOT NULL,
    phone text NOT NULL,
    national_id_hash bytea,              -- keyed hash: lets us find a member by ID number without storing it
    national_id_masked text,             -- the only form ever shown
    birthday date,
    consent_marketing boolean NOT NULL DEFAULT false,
    consent_sms boolean NOT NULL DEFAULT false,
    tier_code text,
    state text NOT NULL DEFAULT 'active' CHECK (state IN ('active', 'merged')),
    merged_into uuid REFERENCES member(id),
    created_at timestamptz NOT NULL DEFAULT now(),
    CHECK ((state = 'merged') = (merged_into IS NOT NULL))
);
CREATE UNIQUE INDEX member_phone_active ON member (phone) WHERE state = 'active';
CREATE INDEX member_national_id ON member (national_id_hash) WHERE national_id_hash IS NOT NULL;
CREATE INDEX member_merged_into ON member (merged_into) WHERE merged_into IS NOT NULL;

-- The stores a member is known at: enrolled there, or presented a card/phone there.
CREATE TABLE member_store (
    member_id uuid NOT NULL REFERENCES member(id),
    store_id uuid NOT NULL REFERENCES store(id),
    since timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (member_id, store_id)
);
CREATE INDEX member_store_store ON member_store (store_id);

-- Cards and codes (physical card number, app code): many per member, each unique in the chain.
CREATE TABLE member_card (
    number text PRIMARY KEY,
    member_id uuid NOT NULL REFERENCES member(id),
    kind text NOT NULL DEFAULT 'card' CHECK (kind IN ('card', 'code')),
    active boolean NOT NULL DEFAULT true,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX member_card_member ON member_card (member_id);

-- How each kind of balance is split: one chain-wide account, one per business format, or one per store.
CREATE TABLE account_scope (
    kind text PRIMARY KEY CHECK (kind IN ('points', 'e_coin', 'stored_value')),
    scope text NOT NULL CHECK (scope IN ('chain', 'format', 'store'))
);
INSERT INTO account_scope (kind, scope) VALUES ('points', 'format'), ('e_coin', 'chain'), ('stored_value', 'chain');

-- Member accounts (member_id set; never negative) and the system accounts they move against.
CREATE TABLE ledger_account (
    id uuid PRIMARY KEY,
    member_id uuid REFERENCES member(id),
    kind text NOT NULL CHECK (kind IN ('points', 'e_coin', 'stored_value')),
    held boolean NOT NULL DEFAULT false, -- the reserved part of a member's balance (open holds)
    store_id uuid REFERENCES store(id),
    format_id uuid REFERENCES business_format(id),
    system_code text,                    -- e.g. 'points_issued', 'top_up_cash', 'tender'; NULL for member accounts
    balance bigint NOT NULL DEFAULT 0,
    created_at timestamptz NOT NULL DEFAULT now(),
    CHECK ((member_id IS NULL) <> (system_code IS NULL)),
    CHECK (member_id IS NULL OR balance >= 0),
    UNIQUE NULLS NOT DISTINCT (member_id, kind, held, store_id, format_id, system_code)
);
CREATE INDEX ledger_account_member ON ledger_account (member_id);

-- One movement = one request with its own id; its entries sum to zero per kind.
CREATE TABLE ledger_movement (
    id uuid PRIMARY KEY,
    kind text NOT NULL,                  -- earn, reverse_earn, top_up, hold, capture, release, expire, merge, bonus, attach, refund_tender
    store_id uuid REFERENCES store(id),
    member_id uuid REFERENCES member(id),
    reason text NOT NULL DEFAULT '',
    reference text NOT NULL DEFAULT '',  -- ticket / checkout / receipt / hold / till+shift reference
    campaign_id uuid,
    request jsonb NOT NULL,              -- what was asked: a repeat must match it exactly
    result jsonb NOT NULL DEFAULT '{}',  -- what was answered: a repeat gets it back
    staff_id uuid,
    at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ledger_movement_reference ON ledger_movement (store_id, reference);

CREATE TABLE ledger_entry (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    movement_id uuid NOT NULL REFERENCES ledger_movement(id),
    account_id uuid NOT NULL REFERENCES ledger_account(id),
    amount bigint NOT NULL CHECK (amount <> 0),
    at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ledger_entry_account ON ledger_entry (account_id, id);
CREATE INDEX ledger_entry_movement ON ledger_entry (movement_id);

CREATE TRIGGER ledger_entry_append_only BEFORE UPDATE OR DELETE ON ledger_entry
    FOR EACH ROW EXECUTE FUNCTION refuse_change();
CREATE TRIGGER ledger_movement_no_delete BEFORE DELETE ON ledger_movement
    FOR EACH ROW EXECUTE FUNCTION refuse_change();

-- E-coin lots: what a campaign issued, until when, where it may be spent, and what is left.
CREATE TABLE ecoin_lot (
    id uuid PRIMARY KEY,
    account_id uuid NOT NULL REFERENCES ledger_account(id),
    movement_id uuid NOT NULL REFERENCES ledger_movement(id),
    campaign_id uuid,
    amount bigint NOT NULL CHECK (amount > 0),
    remaining bigint NOT NULL CHECK (remaining >= 0),
    expires_at timestamptz,
    store_ids uuid[],                    -- NULL: any store
    categories text[],                   -- NULL: any category
    expired_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ecoin_lot_account ON ecoin_lot (account_id) WHERE remaining > 0;
CREATE INDEX ecoin_lot_expiry ON ecoin_lot (expires_at) WHERE remaining > 0;

-- Holds: an amount reserved at checkout start (or granted to a till as an offline allowance).
CREATE TABLE ledger_hold (
    id uuid PRIMARY KEY,
    store_id uuid NOT NULL REFERENCES store(id),
    member_id uuid NOT NULL REFERENCES member(id),
    kind text NOT NULL,
    available_account_id uuid NOT NULL REFERENCES ledger_account(id),
    held_account_id uuid NOT NULL REFERENCES ledger_account(id),
    amount bigint NOT NULL CHECK (amount > 0),
    captured bigint NOT NULL DEFAULT 0 CHECK (captured >= 0),
    refunded bigint NOT NULL DEFAULT 0 CHECK (refunded >= 0),
    state text NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'captured', 'released')),
    expires_at timestamptz NOT NULL,
    device_id uuid REFERENCES device(id), -- set for an offline allowance granted to a till
    lots jsonb NOT NULL DEFAULT '[]',    -- e-coin: [[lot_id, amount], ...] taken from lots
    reference text NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL DEFAULT now(),
    closed_at timestamptz,
    CHECK (captured <= amount),
    CHECK (refunded <= captured)
);
CREATE INDEX ledger_hold_open ON ledger_hold (expires_at) WHERE state = 'open';
CREATE INDEX ledger_hold_member ON ledger_hold (member_id) WHERE state = 'open';

-- Earning, once per purchase: a checkout's reference or an attached receipt, never both.
CREATE TABLE earned_purchase (
    store_id uuid NOT NULL REFERENCES store(id),
    reference text NOT NULL,
    member_id uuid NOT NULL REFERENCES member(id),
    movement_id uuid NOT NULL REFERENCES ledger_movement(id),
    amount bigint NOT NULL,
    lines jsonb NOT NULL,                -- per line: line_no, sku, category, amount, promo, points
    at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (store_id, reference)
);

-- Spend counted for tiers (signed: refunds subtract).
CREATE TABLE member_spend (
    movement_id uuid PRIMARY KEY REFERENCES ledger_movement(id),
    member_id uuid NOT NULL REFERENCES member(id),
    store_id uuid NOT NULL REFERENCES store(id),
    amount bigint NOT NULL,
    at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX member_spend_member_at ON member_spend (member_id, at);

-- Earning rules: points per 100 yuan (rate 100 = 1 point per yuan); the most specific match wins.
CREATE TABLE earning_rule (
    id uuid PRIMARY KEY,
    store_id uuid REFERENCES store(id),
    format_id uuid REFERENCES business_format(id),
    category text,
    rate integer NOT NULL CHECK (rate >= 0),
    promo_rate integer NOT NULL CHECK (promo_rate >= 0),
    active boolean NOT NULL DEFAULT true,
    updated_by uuid,
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX earning_rule_scope ON earning_rule (store_id, format_id, category) NULLS NOT DISTINCT
    WHERE active;

-- Star levels by trailing 12-month spend; the multiplier applies to points (100 = x1).
CREATE TABLE member_tier (
    code text PRIMARY KEY,
    name text NOT NULL,
    min_spend bigint NOT NULL UNIQUE CHECK (min_spend >= 0),
    multiplier integer NOT NULL CHECK (multiplier >= 0),
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- Campaigns: spend X (within dates and stores) get Y e-coin, valid for some days.
CREATE TABLE loyalty_campaign (
    id uuid PRIMARY KEY,
    name text NOT NULL,
    store_ids uuid[],                    -- NULL: every store
    starts_at timestamptz NOT NULL,
    ends_at timestamptz NOT NULL,
    spend_threshold bigint NOT NULL CHECK (spend_threshold > 0),
    bonus bigint NOT NULL CHECK (bonus > 0),
    repeat boolean NOT NULL DEFAULT false,
    valid_days integer NOT NULL DEFAULT 90 CHECK (valid_days > 0),
    ecoin_store_ids uuid[],
    ecoin_categories text[],
    active boolean NOT NULL DEFAULT true,
    updated_at timestamptz NOT NULL DEFAULT now(),
    CHECK (ends_at > starts_at)
);

-- Per-store loyalty settings a manager edits.
CREATE TABLE loyalty_setting (
    store_id uuid PRIMARY KEY REFERENCES store(id),
    attach_days integer NOT NULL DEFAULT 7 CHECK (attach_days >= 0),
    updated_at timestamptz NOT NULL DEFAULT now()
);
