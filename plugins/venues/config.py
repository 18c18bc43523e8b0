"""The venues plugin's settings: PODIUM_VENUES_<KEY> in the environment (or `.env`)."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from podium.core.settings import environment

PREFIX = "PODIUM_VENUES_"


def read_int(env: Mapping[str, str], key: str, default: int, low: int, high: int) -> int:
    raw = (env.get(key) or "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"{key} must be a whole number, not {raw!r}.") from None
    if not low <= value <= high:
        raise ValueError(f"{key} must be between {low} and {high}, not {value}.")
    return value


@dataclass(frozen=True)
class VenuesConfig:
    feed: str | None = None                 # a JSON file path or an http(s) URL; unset: nothing to import
    feed_token: str | None = field(default=None, repr=False)   # secret: sent as `Authorization: Bearer`
    refresh_minutes: int = 15               # how often room calendars are re-read
    horizon_days: int = 180                 # how far ahead busy times are read
    timeout_seconds: int = 20

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> "VenuesConfig":
        env = environment() if env is None else env
        return cls(
            feed=(env.get(PREFIX + "FEED") or "").strip() or None,
            feed_token=(env.get(PREFIX + "FEED_TOKEN") or "").strip() or None,
            refresh_minutes=read_int(env, PREFIX + "REFRESH_MINUTES", 15, 1, 24 * 60),
            horizon_days=read_int(env, PREFIX + "HORIZON_DAYS", 180, 1, 3 * 366),
            timeout_seconds=read_int(env, PREFIX + "TIMEOUT_SECONDS", 20, 1, 300),
        )
