"""Settings from the environment (and a `.env` file), read once at start-up."""
from __future__ import annotations

import os
from dataclasses import dataclass
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


@dataclass(frozen=True)
class Settings:
    database_url: str = DEFAULT_DATABASE_URL
    admin_token: str | None = None
    plugins: tuple[str, ...] | None = None
    templates_dir: str | None = None
    reminder_hours: int = 24
    max_body_bytes: int = 1_000_000

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
        )
