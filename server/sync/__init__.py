"""Commands from devices, applied exactly once (ids and per-device sequence numbers kept forever)."""
