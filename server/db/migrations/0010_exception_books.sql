-- Where an exception's cash went in the till's books, kept on the exception itself (it was only in
-- the audit entries `exception.recorded` and `exception.resolved`, which stay as the record), and the
-- shift movements of that cash linked to their exception by a column instead of by their reference.

-- 1. The exception: the shift whose expected cash took the cash in when it was recorded, what the
-- resolution did with it, and the shift whose drawer gave it back.
ALTER TABLE store_exception
    ADD COLUMN held_in_shift_id uuid REFERENCES shift(id),
    ADD COLUMN cash_outcome text CHECK (cash_outcome IN ('given_back', 'kept')),
    ADD COLUMN given_back_in_shift_id uuid REFERENCES shift(id);

-- Exceptions recorded and resolved before this migration: from their audit entries (one of each per
-- exception, written in the same transaction as the exception and its resolution).
UPDATE store_exception e
SET held_in_shift_id = (a.details ->> 'held_in_shift_id')::uuid
FROM audit_log a
WHERE a.action = 'exception.recorded' AND a.object_type = 'exception' AND a.object_id = e.id::text
  AND a.store_id = e.store_id AND nullif(a.details ->> 'held_in_shift_id', '') IS NOT NULL;

UPDATE store_exception e
SET cash_outcome = nullif(a.details ->> 'cash_outcome', ''),
    given_back_in_shift_id = nullif(a.details ->> 'given_back_in_shift_id', '')::uuid
FROM audit_log a
WHERE a.action = 'exception.resolved' AND a.object_type = 'exception' AND a.object_id = e.id::text
  AND a.store_id = e.store_id AND e.status = 'resolved';

ALTER TABLE store_exception
    ADD CONSTRAINT store_exception_outcome_when_resolved CHECK (cash_outcome IS NULL OR status = 'resolved'),
    ADD CONSTRAINT store_exception_given_back_in_shift
        CHECK (given_back_in_shift_id IS NULL OR cash_outcome = 'given_back');

-- 2. The shift movements of an exception's cash stay cash pay-ins (held) and pay-outs (given back) in
-- the drawer's figures, referenced `exception:<id>` as before; `exception_id` says whose they are, so
-- the X and Z reports put them on their own lines.
ALTER TABLE shift_movement
    ADD COLUMN exception_id uuid REFERENCES store_exception(id),
    ADD CONSTRAINT shift_movement_exception_cash
        CHECK (exception_id IS NULL OR (kind IN ('pay_in', 'pay_out') AND tender = 'cash'));

-- The movements are append-only; linking the existing ones to their exception is the only change made
-- to them, inside this migration's transaction.
ALTER TABLE shift_movement DISABLE TRIGGER shift_movement_append_only;
UPDATE shift_movement m
SET exception_id = e.id
FROM store_exception e
WHERE m.reference = 'exception:' || e.id::text AND m.kind IN ('pay_in', 'pay_out') AND m.tender = 'cash';
ALTER TABLE shift_movement ENABLE TRIGGER shift_movement_append_only;
