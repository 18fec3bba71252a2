"""The durable, per-store event log: the truth devices resume from (NOTIFY only nudges readers)."""

from server.events.log import (
    CHANNEL,
    NewEvent,
    append,
    append_all,
    event_frame,
    head,
    lock_store,
    new_event,
    read_after,
    read_frames_after,
    run_deferred,
)

__all__ = [
    "CHANNEL",
    "NewEvent",
    "append",
    "append_all",
    "event_frame",
    "head",
    "lock_store",
    "new_event",
    "read_after",
    "read_frames_after",
    "run_deferred",
]
