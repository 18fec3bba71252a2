import stat
from pathlib import Path

import nacl.signing
import pytest

from client_common.device_keys import KEY_FILE, DeviceKeyError, DeviceKeys
from protocol.ids import new_id
from protocol.qr import sign_ticket, verify_ticket
from tests.protocol.test_qr import ticket


def test_enrollment_makes_a_private_key_file_that_survives_a_restart(tmp_path: Path) -> None:
    assert DeviceKeys.load(tmp_path) is None
    made = DeviceKeys.create(tmp_path / "data")
    mode = stat.S_IMODE((tmp_path / "data" / KEY_FILE).stat().st_mode)
    assert mode == 0o600
    again = DeviceKeys.load(tmp_path / "data")
    assert again is not None
    assert again.public_key == made.public_key
    nacl.signing.VerifyKey(made.public_key).verify(b"hello", again.sign(b"hello"))


def test_the_key_signs_ticket_qrs_the_server_can_verify(tmp_path: Path) -> None:
    keys = DeviceKeys.load_or_create(tmp_path)
    device = new_id()
    command = ticket(2)
    scanned = verify_ticket(sign_ticket(command, device, keys.seed), lambda d: keys.public_key if d == device else None)
    assert scanned.command.command_id == command.command_id


def test_an_existing_key_is_never_replaced_silently(tmp_path: Path) -> None:
    first = DeviceKeys.create(tmp_path)
    with pytest.raises(DeviceKeyError):
        DeviceKeys.create(tmp_path)
    assert DeviceKeys.load_or_create(tmp_path).public_key == first.public_key
    assert DeviceKeys.create(tmp_path, replace=True).public_key != first.public_key


def test_a_damaged_key_file_says_what_to_do(tmp_path: Path) -> None:
    (tmp_path / KEY_FILE).write_bytes(b"short")
    with pytest.raises(DeviceKeyError, match="enroll"):
        DeviceKeys.load(tmp_path)
