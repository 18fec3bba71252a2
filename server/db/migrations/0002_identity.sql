-- Identity: refresh-token families (reuse revokes the family), lookup indexes, and the catalog
-- version that lets devices load product deltas without ever missing a change.

ALTER TABLE refresh_token ADD COLUMN family uuid, ADD COLUMN revoked_at timestamptz;
UPDATE refresh_token SET family = gen_random_uuid() WHERE family IS NULL;
ALTER TABLE refresh_token ALTER COLUMN family SET NOT NULL;
CREATE INDEX refresh_token_family ON refresh_token (family);
CREATE INDEX refresh_token_staff ON refresh_token (staff_id) WHERE revoked_at IS NULL;
CREATE INDEX refresh_token_device ON refresh_token (device_id) WHERE device_id IS NOT NULL;

CREATE INDEX enrollment_code_device ON enrollment_code (device_id);
CREATE INDEX device_store ON device (store_id, created_at);
CREATE INDEX staff_store ON staff (store_id, code);

-- Catalog versions come from one sequence. A writer takes a per-store transaction lock before
-- drawing its version and holds it until commit, so within a store versions become visible in
-- order: a reader that has seen version v can never later meet a committed version below v.
-- (A plain sequence alone would let a slow transaction commit a lower version after a reader has
-- moved past it.) The trigger makes every writer follow the rule, whatever code path it takes.
CREATE SEQUENCE catalog_version AS bigint;
UPDATE product SET version = nextval('catalog_version');
ALTER TABLE product ALTER COLUMN version SET DEFAULT 0;

CREATE FUNCTION product_version_bump() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND NEW IS NOT DISTINCT FROM OLD THEN
        RETURN NEW;
    END IF;
    PERFORM pg_advisory_xact_lock(1178816579, hashtext(NEW.store_id::text));  -- 'FTCA'
    NEW.version := nextval('catalog_version');
    NEW.updated_at := clock_timestamp();
    RETURN NEW;
END $$;

CREATE TRIGGER product_version BEFORE INSERT OR UPDATE ON product
    FOR EACH ROW EXECUTE FUNCTION product_version_bump();

CREATE INDEX product_catalog ON product (store_id, version, id);
