"""SQL for the applied-command table and per-device sync state."""

from __future__ import annotations

# The earlier command with this id, or else the command holding this device's sequence number.
FIND = """
SELECT command_id, device_id, device_seq, content_hash, content::text AS content, status, result::text AS result
FROM applied_command WHERE command_id = $1 OR (device_id = $2 AND device_seq = $3)
ORDER BY command_id = $1 DESC LIMIT 1
"""

# Store the outcome and raise the device's last applied sequence number, in one statement.
STORE = """
WITH cmd AS (
    INSERT INTO applied_command (command_id, device_id, store_id, device_seq, kind, content_hash, content, status,
                                 result)
    VALUES ($1, $2, $3, $4, $5, $6, $7::text::jsonb, $8, $9::text::jsonb)
)
INSERT INTO device_sync (device_id, last_applied_seq) VALUES ($2, $4)
ON CONFLICT (device_id) DO UPDATE
SET last_applied_seq = GREATEST(device_sync.last_applied_seq, EXCLUDED.last_applied_seq), updated_at = now()
RETURNING last_applied_seq
"""

LAST_SEQ = "SELECT coalesce((SELECT last_applied_seq FROM device_sync WHERE device_id = $1), 0)"

# The store's event-log lock (taken first in every writing transaction) and the device's state.
LOCK_STORE_AND_CHECK_DEVICE = """
WITH lock AS (
    INSERT INTO event_counter (store_id) VALUES ($1)
    ON CONFLICT (store_id) DO UPDATE SET last_position = event_counter.last_position
    RETURNING last_position
)
SELECT (SELECT state FROM device WHERE id = $2) FROM lock
"""

SAVE_ACK = """
INSERT INTO device_sync (device_id, acked_position) VALUES ($1, $2)
ON CONFLICT (device_id) DO UPDATE
SET acked_position = GREATEST(device_sync.acked_position, EXCLUDED.acked_position), updated_at = now()
"""
