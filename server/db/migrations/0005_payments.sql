-- Card and wallet payments through a provider, the simulated acquirer, and till shifts.

-- One row per payment id (made on the device before the first attempt). Only provider tokens and a
-- masked last four are kept, never a card number or a wallet code.
CREATE TABLE payment (
    id uuid PRIMARY KEY,
    store_id uuid NOT NULL REFERENCES store(id),
    tender text NOT NULL CHECK (tender IN ('card', 'wallet')),
    amount bigint NOT NULL CHECK (amount > 0),
    currency char(3) NOT NULL DEFAULT 'CNY',
    provider text NOT NULL,
    status text NOT NULL CHECK (status IN ('pending', 'approved', 'declined', 'unknown', 'failed')),
    decline_reason text,
    provider_ref text,
    token text,
    last4 char(4),
    refunded bigint NOT NULL DEFAULT 0 CHECK (refunded >= 0 AND refunded <= amount),
    attempts integer NOT NULL DEFAULT 0,
    reference text NOT NULL DEFAULT '',
    staff_id uuid REFERENCES staff(id),
    device_id uuid REFERENCES device(id),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    resolved_at timestamptz,
    next_check_at timestamptz
);
CREATE INDEX payment_unresolved ON payment (next_check_at) WHERE status IN ('pending', 'unknown');
CREATE INDEX payment_store_created ON payment (store_id, created_at);

-- Every call made to the provider, written before the call and completed after it.
CREATE TABLE payment_attempt (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    payment_id uuid NOT NULL REFERENCES payment(id),
    op text NOT NULL CHECK (op IN ('charge', 'query', 'refund')),
    started_at timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz,
    outcome text,
    detail jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX payment_attempt_payment ON payment_attempt (payment_id, id);

CREATE TABLE payment_refund (
    id uuid PRIMARY KEY,
    payment_id uuid NOT NULL REFERENCES payment(id),
    amount bigint NOT NULL CHECK (amount > 0),
    status text NOT NULL CHECK (status IN ('pending', 'approved', 'declined', 'unknown')),
    provider_ref text,
    reason text NOT NULL DEFAULT '',
    staff_id uuid REFERENCES staff(id),
    created_at timestamptz NOT NULL DEFAULT now(),
    resolved_at timestamptz
);

-- The simulated acquirer's own books: what it really charged, whatever its caller heard.
CREATE TABLE sim_acquirer_charge (
    idempotency_key text PRIMARY KEY,
    ref text NOT NULL UNIQUE,
    amount bigint NOT NULL,
    currency char(3) NOT NULL,
    status text NOT NULL CHECK (status IN ('processing', 'approved', 'declined')),
    final_status text NOT NULL CHECK (final_status IN ('approved', 'declined')),
    decline_reason text,
    token text NOT NULL,
    last4 char(4) NOT NULL,
    refunded bigint NOT NULL DEFAULT 0,
    settles_at timestamptz NOT NULL DEFAULT now(),
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE sim_acquirer_refund (
    idempotency_key text PRIMARY KEY,
    charge_key text NOT NULL REFERENCES sim_acquirer_charge(idempotency_key),
    amount bigint NOT NULL,
    ref text NOT NULL UNIQUE,
    created_at timestamptz NOT NULL DEFAULT now()
);

-- Every request the simulated acquirer received (charge, query, refund), for tests and support.
CREATE TABLE sim_acquirer_call (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    idempotency_key text NOT NULL,
    op text NOT NULL,
    at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX sim_acquirer_call_key ON sim_acquirer_call (idempotency_key);

-- Till shifts: one open shift per till; every tender and cash movement of the shift.
CREATE TABLE shift (
    id uuid PRIMARY KEY,
    store_id uuid NOT NULL REFERENCES store(id),
    till_id uuid NOT NULL REFERENCES device(id),
    cashier_id uuid NOT NULL REFERENCES staff(id),
    status text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'closed')),
    float_amount bigint NOT NULL CHECK (float_amount >= 0),
    opened_at timestamptz NOT NULL DEFAULT now(),
    closed_at timestamptz,
    closed_by uuid REFERENCES staff(id),
    z_report jsonb
);
CREATE UNIQUE INDEX shift_one_open_per_till ON shift (till_id) WHERE status = 'open';
CREATE INDEX shift_store_opened ON shift (store_id, opened_at);

CREATE TABLE shift_movement (
    id uuid PRIMARY KEY,
    shift_id uuid NOT NULL REFERENCES shift(id),
    kind text NOT NULL CHECK (kind IN ('float', 'sale', 'change', 'refund', 'top_up', 'pay_in', 'pay_out', 'drop')),
    tender text NOT NULL CHECK (tender IN ('cash', 'card', 'wallet', 'stored_value', 'ecoin', 'points')),
    amount bigint NOT NULL,              -- signed: into the drawer positive, out negative
    reference text NOT NULL DEFAULT '',
    note text NOT NULL DEFAULT '',
    staff_id uuid REFERENCES staff(id),
    at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX shift_movement_shift ON shift_movement (shift_id, tender);
CREATE UNIQUE INDEX shift_movement_reference ON shift_movement (shift_id, kind, tender, reference)
    WHERE reference <> '';

CREATE TRIGGER shift_movement_append_only BEFORE UPDATE OR DELETE ON shift_movement
    FOR EACH ROW EXECUTE FUNCTION refuse_change();
