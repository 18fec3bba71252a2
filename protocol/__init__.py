"""The wire contract shared by the server, handhelds and tills.

Imports no framework and nothing of ours outside this package: it is plain msgspec Structs,
their codecs, and the sans-IO rules both sides agree on.
"""

PROTOCOL_VERSION = 1
"""Bumped when a message changes meaning; new optional fields do not bump it."""

MIN_PROTOCOL_VERSION = 1
"""The oldest client protocol version the server still talks to."""
