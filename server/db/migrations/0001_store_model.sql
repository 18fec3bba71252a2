-- The store model: chain structure, catalog, staff, devices, identity and the audit log.

CREATE TABLE business_format (          -- 业态: department store, electronics, supermarket ...
    id uuid PRIMARY KEY,
    code text NOT NULL UNIQUE,
    name_zh text NOT NULL,
    name_en text NOT NULL,
    active boolean NOT NULL DEFAULT true,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE store (
    id uuid PRIMARY KEY,
    code text NOT NULL UNIQUE,
    name_zh text NOT NULL,
    name_en text NOT NULL,
    format_id uuid NOT NULL REFERENCES business_format(id),
    currency char(3) NOT NULL DEFAULT 'CNY',
    timezone text NOT NULL DEFAULT 'Asia/Shanghai',
    business_day_end time NOT NULL DEFAULT '23:00',
    active boolean NOT NULL DEFAULT true,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE counter (                  -- 专柜, often a brand's concession
    id uuid PRIMARY KEY,
    store_id uuid NOT NULL REFERENCES store(id),
    code text NOT NULL,
    name_zh text NOT NULL,
    name_en text NOT NULL,
    brand text NOT NULL DEFAULT '',
    concession boolean NOT NULL DEFAULT false,
    floor_area_m2 numeric(10, 2) NOT NULL DEFAULT 0 CHECK (floor_area_m2 >= 0),
    active boolean NOT NULL DEFAULT true,
    created_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (store_id, code)
);

CREATE TABLE product (
    id uuid PRIMARY KEY,
    store_id uuid NOT NULL REFERENCES store(id),
    sku text NOT NULL,
    barcode text,
    name_zh text NOT NULL,
    name_en text NOT NULL,
    category text NOT NULL,
    brand text NOT NULL DEFAULT '',
    counter_id uuid NOT NULL REFERENCES counter(id),
    list_price bigint NOT NULL CHECK (list_price >= 0),
    promo_price bigint CHECK (promo_price IS NULL OR promo_price >= 0),
    cost bigint NOT NULL DEFAULT 0 CHECK (cost >= 0),
    active boolean NOT NULL DEFAULT true,
    version bigint NOT NULL DEFAULT 1,
    updated_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (store_id, sku)
);
CREATE INDEX product_barcode ON product (store_id, barcode);
CREATE INDEX product_updated ON product (store_id, updated_at, id);

CREATE TABLE staff (
    id uuid PRIMARY KEY,
    store_id uuid NOT NULL REFERENCES store(id),
    code text NOT NULL UNIQUE,           -- what the person types at sign-in
    name text NOT NULL,
    role text NOT NULL CHECK (role IN ('sales', 'cashier', 'supervisor', 'manager', 'admin')),
    counter_id uuid REFERENCES counter(id),
    pin_hash text,
    password_hash text,
    failed_attempts integer NOT NULL DEFAULT 0,
    locked_until timestamptz,
    active boolean NOT NULL DEFAULT true,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE device (
    id uuid PRIMARY KEY,
    store_id uuid NOT NULL REFERENCES store(id),
    kind text NOT NULL CHECK (kind IN ('handheld', 'till')),
    label text NOT NULL,
    counter_id uuid REFERENCES counter(id),
    public_key bytea,                    -- Ed25519, set at enrollment
    token_hash bytea UNIQUE,             -- sha256 of the device token
    state text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'active', 'revoked')),
    last_seen_at timestamptz,
    enrolled_at timestamptz,
    revoked_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE enrollment_code (
    code_hash bytea PRIMARY KEY,
    device_id uuid NOT NULL REFERENCES device(id),
    expires_at timestamptz NOT NULL,
    used_at timestamptz,
    created_by uuid NOT NULL REFERENCES staff(id),
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE refresh_token (
    token_hash bytea PRIMARY KEY,
    staff_id uuid NOT NULL REFERENCES staff(id),
    device_id uuid REFERENCES device(id),
    expires_at timestamptz NOT NULL,
    used_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now()
);

-- Append-only: who did what, when, from which device. Updates and deletes are refused.
CREATE TABLE audit_log (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at timestamptz NOT NULL DEFAULT now(),
    store_id uuid,
    staff_id uuid,
    device_id uuid,
    action text NOT NULL,
    object_type text NOT NULL DEFAULT '',
    object_id text NOT NULL DEFAULT '',
    details jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_log_store_at ON audit_log (store_id, at);

CREATE FUNCTION refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only', TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege';
END $$;

CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION refuse_change();
