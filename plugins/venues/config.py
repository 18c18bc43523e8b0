"""The venues plugin's settings: PODIUM_VENUES_<KEY>, read with the kernel's typed plugin settings."""
from __future__ import annotations

from dataclasses import dataclass

from podium.plugin import secret

SETTINGS_NAME = "venues"


@dataclass(frozen=True)
class VenuesConfig:
    feed: str | None = None                   # a JSON file path or an http(s) URL; unset: nothing to import
    feed_token: str | None = secret(None)     # sent as `Authorization: Bearer` to the feed
    refresh_minutes: int = 15                 # how often room calendars are re-read
    horizon_days: int = 180                   # how far ahead busy times are read
    timeout_seconds: int = 20

    def __post_init__(self) -> None:
        for name, low, high in (("refresh_minutes", 1, 24 * 60), ("horizon_days", 1, 3 * 366),
                                ("timeout_seconds", 1, 300)):
            if not low <= getattr(self, name) <= high:
                raise ValueError(f"PODIUM_VENUES_{name.upper()} must be between {low} and {high}")
