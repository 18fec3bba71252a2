"""The device's Ed25519 key pair, made on enrollment and kept in the app's data folder (mode 0600).

Only the 32-byte seed is stored; the public key is derived from it. The file is written to a
temporary name, flushed to disk and renamed, so a crash never leaves half a key behind.
"""

from __future__ import annotations

import os
from pathlib import Path

import nacl.signing

KEY_FILE = "device_key"


class DeviceKeyError(Exception):
    pass


class DeviceKeys:
    def __init__(self, seed: bytes) -> None:
        self._signing = nacl.signing.SigningKey(seed)

    @property
    def seed(self) -> bytes:
        """The private seed, for signing ticket QRs (``protocol.qr.sign_ticket``)."""
        return bytes(self._signing)

    @property
    def public_key(self) -> bytes:
        """32 bytes, sent to the server at enrollment."""
        return bytes(self._signing.verify_key)

    def sign(self, message: bytes) -> bytes:
        return bytes(self._signing.sign(message).signature)

    @classmethod
    def load(cls, data_dir: Path) -> DeviceKeys | None:
        """The stored key pair, or None before enrollment."""
        path = data_dir / KEY_FILE
        try:
            seed = path.read_bytes()
        except FileNotFoundError:
            return None
        if len(seed) != 32:
            raise DeviceKeyError(f"{path} is damaged; enroll this device again.")
        return cls(seed)

    @classmethod
    def create(cls, data_dir: Path, *, replace: bool = False) -> DeviceKeys:
        """Make a fresh key pair and store it (enrollment). Refuses to replace one unless asked."""
        path = data_dir / KEY_FILE
        if path.exists() and not replace:
            raise DeviceKeyError("This device already has a key; re-enrolling must replace it explicitly.")
        data_dir.mkdir(parents=True, exist_ok=True)
        keys = cls(bytes(nacl.signing.SigningKey.generate()))
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.fchmod(fd, 0o600)  # O_CREAT's mode is filtered by the umask; be explicit
            os.write(fd, keys.seed)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
        _fsync_dir(data_dir)
        return keys

    @classmethod
    def load_or_create(cls, data_dir: Path) -> DeviceKeys:
        return cls.load(data_dir) or cls.create(data_dir)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
