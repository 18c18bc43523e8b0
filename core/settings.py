"""Settings from the environment (and a `.env` file), read once at start-up."""
from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///./podium.db"


def read_dotenv(path: Path = Path(".env")) -> dict[str, str]:
    """Parse KEY=VALUE lines; the real environment wins over the file."""
    if not path.is_file():
        return {}
    values: dict[str, str] = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        values[key.strip()] = value.strip().strip("'\"")
    return values


def environment() -> dict[str, str]:
    return {**read_dotenv(), **os.environ}


def _whole(env: Mapping[str, str], name: str, default: int) -> int:
    """A whole number of hours or days; anything else keeps the default."""
    value = (env.get(name) or "").strip()
    return int(value) if value.isdigit() else default


@dataclass(frozen=True)
class Settings:
    database_url: str = DEFAULT_DATABASE_URL
    admin_token: str | None = None
    plugins: tuple[str, ...] | None = None
    templates_dir: str | None = None
    reminder_hours: int = 24
    max_body_bytes: int = 1_000_000
    organizer_email: str = "noreply@podium.invalid"
    outbox_in_serve: bool = True
    outbox_max_attempts: int = 10
    outbox_backoff_seconds: float = 2.0
    outbox_backoff_max_seconds: float = 3600.0
    outbox_timeout_seconds: float = 30.0
    outbox_lease_seconds: float = 120.0
    outbox_concurrency: int = 16
    outbox_consumer_concurrency: int = 4
    outbox_poll_seconds: float = 1.0
    readiness_notice_hours: int = 24
    prework_reminder_days: int = 3
    program_sync_hours: int = 6
    # The environment these settings came from: plugins read `PODIUM_<PLUGIN>_<KEY>` from it.
    env: Mapping[str, str] = field(default_factory=dict, repr=False, compare=False, hash=False)

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> "Settings":
        env = environment() if env is None else env
        plugins = env.get("PODIUM_PLUGINS")
        return cls(
            database_url=env.get("PODIUM_DATABASE_URL") or DEFAULT_DATABASE_URL,
            admin_token=env.get("PODIUM_ADMIN_TOKEN") or None,
            plugins=tuple(p.strip() for p in plugins.split(",") if p.strip()) if plugins else None,
            templates_dir=env.get("PODIUM_TEMPLATES_DIR") or None,
            reminder_hours=int(env.get("PODIUM_REMINDER_HOURS") or 24),
            max_body_bytes=int(env.get("PODIUM_MAX_BODY_BYTES") or 1_000_000),
            organizer_email=env.get("PODIUM_ORGANIZER_EMAIL") or cls.organizer_email,
            outbox_in_serve=(env.get("PODIUM_OUTBOX_IN_SERVE") or "true").strip().lower() not in ("0", "false", "no", "off"),
            outbox_max_attempts=int(env.get("PODIUM_OUTBOX_MAX_ATTEMPTS") or 10),
            outbox_backoff_seconds=float(env.get("PODIUM_OUTBOX_BACKOFF_SECONDS") or 2.0),
            outbox_backoff_max_seconds=float(env.get("PODIUM_OUTBOX_BACKOFF_MAX_SECONDS") or 3600.0),
            outbox_timeout_seconds=float(env.get("PODIUM_OUTBOX_TIMEOUT_SECONDS") or 30.0),
            outbox_lease_seconds=float(env.get("PODIUM_OUTBOX_LEASE_SECONDS") or 120.0),
            outbox_concurrency=int(env.get("PODIUM_OUTBOX_CONCURRENCY") or 16),
            outbox_consumer_concurrency=int(env.get("PODIUM_OUTBOX_CONSUMER_CONCURRENCY") or 4),
            outbox_poll_seconds=float(env.get("PODIUM_OUTBOX_POLL_SECONDS") or 1.0),
            readiness_notice_hours=_whole(env, "PODIUM_READINESS_NOTICE_HOURS", cls.readiness_notice_hours),
            prework_reminder_days=_whole(env, "PODIUM_PREWORK_REMINDER_DAYS", cls.prework_reminder_days),
            program_sync_hours=_whole(env, "PODIUM_PROGRAM_SYNC_HOURS", cls.program_sync_hours),
            env=dict(env),
        )
