"""PINs and passwords hashed with Argon2id (argon2-cffi: maintained, constant-time verify)."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

# PINs are short, so the KDF cost is what protects them: keep the memory cost high.
_hasher = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)


def hash_secret(secret: str) -> str:
    return _hasher.hash(secret)


def check_secret(stored: str | None, given: str) -> bool:
    if not stored:
        # Spend the same time as a real check so a missing hash is not visible by timing.
        _hasher.hash(given)
        return False
    try:
        return _hasher.verify(stored, given)
    except (VerificationError, InvalidHashError):
        return False
