"""Malformed frames, fuzzed: a decoder answers with an error body a person can act on, never a crash."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocol.codec import DecodeFailure, Frames
from protocol.errors import Codes
from protocol.messages import Error, Hello, Ping, Pong, Welcome
from protocol.tickets import Ack, CaughtUp, EventFrame, Results, Submit

Frame = Hello | Welcome | Error | Ping | Pong | Submit | Results | EventFrame | CaughtUp | Ack
FRAMES: Frames[Any] = Frames(Frame)
ALLOWED = {Codes.MALFORMED, Codes.VALIDATION, Codes.UNKNOWN_MESSAGE}
TAGS = ["hello", "welcome", "error", "ping", "pong", "submit", "results", "event", "caught_up", "ack", "nope"]

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=20,
)


def _decode_or_refuse(data: bytes) -> None:
    code, message = None, None
    try:
        FRAMES.decode(data)
    except DecodeFailure as failure:
        code, message = failure.body.code, failure.body.message
    if code is not None:
        assert code in ALLOWED
        assert message


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_random_bytes_are_refused_with_a_code(data: bytes) -> None:
    _decode_or_refuse(data)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(TAGS), st.dictionaries(st.text(max_size=16), json_values, max_size=6))
def test_frames_with_a_known_or_unknown_type_and_random_fields(tag: str, fields: dict[str, Any]) -> None:
    _decode_or_refuse(msgspec.json.encode({**fields, "type": tag}))


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=0, max_value=60), st.binary(min_size=1, max_size=8))
def test_a_valid_frame_cut_or_corrupted_is_refused_not_crashed(cut: int, junk: bytes) -> None:
    good = msgspec.json.encode(Hello(protocol_version=1, device_token="t" * 20, last_position=7))
    _decode_or_refuse(good[:cut] + junk)


def test_unknown_type_names_what_is_understood() -> None:
    with pytest.raises(DecodeFailure) as caught:
        FRAMES.decode(b'{"type": "teleport"}')
    assert caught.value.body.code == Codes.UNKNOWN_MESSAGE
    assert "hello" in caught.value.body.details["known"]
