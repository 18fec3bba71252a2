"""Configuration from the environment, read once at start."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def _secret_from_file(path: Path) -> str:
    """A signing secret kept beside the embedded data so tokens survive a restart."""
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(48)
    path.write_text(value)
    path.chmod(0o600)
    return value


@dataclass(frozen=True)
class Settings:
    """Everything an operator can set; see docs/configuration.md."""

    database_url: str | None = None
    host: str = "127.0.0.1"
    port: int = 8000
    data_dir: Path = PROJECT_ROOT / ".data"
    secret_key: str = ""
    access_token_minutes: int = 15
    refresh_token_hours: int = 12
    lockout_attempts: int = 5
    lockout_minutes: int = 15
    enrollment_code_minutes: int = 60 * 24
    pool_min: int = 2
    pool_max: int = 10
    seed_demo: bool = True
    extra: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        e = dict(os.environ if env is None else env)
        data_dir = Path(e.get("FT_DATA_DIR", str(PROJECT_ROOT / ".data")))
        secret = e.get("FT_SECRET_KEY") or _secret_from_file(data_dir / "secret_key")
        return cls(
            database_url=e.get("DATABASE_URL") or None,
            host=e.get("FT_HOST", "127.0.0.1"),
            port=int(e.get("FT_PORT", "8000")),
            data_dir=data_dir,
            secret_key=secret,
            access_token_minutes=int(e.get("FT_ACCESS_TOKEN_MINUTES", "15")),
            refresh_token_hours=int(e.get("FT_REFRESH_TOKEN_HOURS", "12")),
            lockout_attempts=int(e.get("FT_LOCKOUT_ATTEMPTS", "5")),
            lockout_minutes=int(e.get("FT_LOCKOUT_MINUTES", "15")),
            pool_min=int(e.get("FT_POOL_MIN", "2")),
            pool_max=int(e.get("FT_POOL_MAX", "10")),
            seed_demo=e.get("FT_SEED_DEMO", "1") not in ("0", "false", "no"),
            extra={key[3:].lower(): value for key, value in e.items() if key.startswith("FT_WS_")},
        )
