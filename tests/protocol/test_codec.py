import uuid

import msgspec
import pytest

from protocol import PROTOCOL_VERSION
from protocol.codec import DecodeFailure, Frames, encode
from protocol.errors import Codes
from protocol.ids import id_time_ms, new_id
from protocol.messages import Error, Hello, Message, Ping, Pong, Welcome
from protocol.money import Money

Known = Hello | Welcome | Ping | Pong | Error


def test_old_decoder_reads_a_newer_message_with_extra_fields() -> None:
    # A newer server adds a field (with a default, as the rules require) and a new message type.
    class WelcomeV2(Message, tag="welcome"):
        protocol_version: int
        device_id: uuid.UUID
        store_id: uuid.UUID
        position: int
        server_time_ms: int
        features: list[str] = msgspec.field(default_factory=list)

    newer = encode(
        WelcomeV2(
            protocol_version=2, device_id=new_id(), store_id=new_id(), position=7, server_time_ms=1, features=["escrow"]
        )
    )
    old = Frames[Known](Known).decode(newer)
    assert isinstance(old, Welcome)
    assert old.position == 7


def test_new_decoder_reads_an_older_message_missing_new_fields() -> None:
    class HelloV2(Message, tag="hello"):
        protocol_version: int
        device_token: str
        last_position: int = 0
        app_version: str = ""
        locale: str = "zh"

    older = encode(Hello(protocol_version=1, device_token="t"))
    newer = Frames[HelloV2](HelloV2).decode(older)
    assert newer.locale == "zh"
    assert newer.device_token == "t"


def test_unknown_message_type_is_named_in_a_clear_error() -> None:
    with pytest.raises(DecodeFailure) as info:
        Frames[Known](Known).decode(b'{"type": "teleport", "to": "mars"}')
    assert info.value.body.code == Codes.UNKNOWN_MESSAGE
    assert "teleport" in info.value.body.message
    assert "hello" in info.value.body.details["known"]


def test_wrong_type_names_the_field() -> None:
    with pytest.raises(DecodeFailure) as info:
        Frames[Known](Known).decode(b'{"type": "hello", "protocol_version": "one", "device_token": "t"}')
    assert info.value.body.code == Codes.VALIDATION
    assert info.value.body.details["field"] == "protocol_version"


def test_garbage_is_a_malformed_message() -> None:
    with pytest.raises(DecodeFailure) as info:
        Frames[Known](Known).decode(b"\x00not json")
    assert info.value.body.code == Codes.MALFORMED


def test_ids_are_time_ordered_uuid7() -> None:
    a, b = new_id(), new_id()
    assert a.version == 7
    assert id_time_ms(a) <= id_time_ms(b)
    assert len({new_id() for _ in range(1000)}) == 1000


def test_money_is_integer_fen_and_refuses_mixed_currency() -> None:
    assert (Money(1050) + Money(25)).amount == 1075
    assert Money(123456).format() == "¥1,234.56"
    assert Money(-5).format() == "-¥0.05"
    with pytest.raises(ValueError, match="cannot mix"):
        Money(1, "CNY") + Money(1, "USD")
    with pytest.raises(msgspec.ValidationError):
        msgspec.json.decode(b'{"amount": 1.5}', type=Money)


def test_hello_carries_the_protocol_version() -> None:
    frame = Frames[Known](Known).decode(encode(Hello(protocol_version=PROTOCOL_VERSION, device_token="x")))
    assert isinstance(frame, Hello)
    assert frame.protocol_version == PROTOCOL_VERSION
