"""The durable, per-store event log: the truth devices resume from (NOTIFY only nudges readers)."""

from server.events.log import CHANNEL, append, event_frame, head, lock_store, read_after, read_frames_after

__all__ = ["CHANNEL", "append", "event_frame", "head", "lock_store", "read_after", "read_frames_after"]
