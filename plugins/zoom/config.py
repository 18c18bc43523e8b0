"""The Zoom plugin's settings, read from PODIUM_ZOOM_<KEY>; secrets never appear in a repr or a log."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

PREFIX = "PODIUM_ZOOM_"


class ZoomConfigError(ValueError):
    """A setting is missing or malformed; raised at start-up, never at the first meeting."""


@dataclass(frozen=True)
class ZoomSettings:
    account_id: str
    client_id: str
    client_secret: str = field(repr=False)
    user_id: str = "me"
    api_base: str = "https://api.zoom.us/v2"
    oauth_base: str = "https://zoom.us"
    webhook_secret_token: str | None = field(default=None, repr=False)
    webhook_tolerance_seconds: int = 300
    timeout_seconds: float = 10.0
    max_retries: int = 4
    backoff_seconds: float = 0.5
    late_after_minutes: int = 10
    left_early_minutes: int = 10
    present_min_percent: int = 50

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> "ZoomSettings":
        """Build from the PODIUM_ZOOM_* variables of the environment (or a .env file)."""
        def get(key: str) -> str | None:
            value = env.get(PREFIX + key)
            return value.strip() if isinstance(value, str) and value.strip() else None

        missing = [k for k in ("ACCOUNT_ID", "CLIENT_ID", "CLIENT_SECRET") if get(k) is None]
        if missing:
            raise ZoomConfigError("Zoom needs " + ", ".join(PREFIX + k for k in missing) + ".")

        def number(key: str, default, kind=int):
            raw = get(key)
            if raw is None:
                return default
            try:
                value = kind(raw)
            except ValueError:
                raise ZoomConfigError(f"{PREFIX}{key} must be a number, not {raw!r}.") from None
            if value < 0:
                raise ZoomConfigError(f"{PREFIX}{key} may not be negative.")
            return value

        settings = cls(
            account_id=get("ACCOUNT_ID"), client_id=get("CLIENT_ID"), client_secret=get("CLIENT_SECRET"),
            user_id=get("USER_ID") or "me",
            api_base=(get("API_BASE") or cls.api_base).rstrip("/"),
            oauth_base=(get("OAUTH_BASE") or cls.oauth_base).rstrip("/"),
            webhook_secret_token=get("WEBHOOK_SECRET_TOKEN"),
            webhook_tolerance_seconds=number("WEBHOOK_TOLERANCE_SECONDS", 300),
            timeout_seconds=number("TIMEOUT_SECONDS", 10.0, float),
            max_retries=number("MAX_RETRIES", 4),
            backoff_seconds=number("BACKOFF_SECONDS", 0.5, float),
            late_after_minutes=number("LATE_AFTER_MINUTES", 10),
            left_early_minutes=number("LEFT_EARLY_MINUTES", 10),
            present_min_percent=number("PRESENT_MIN_PERCENT", 50),
        )
        if settings.present_min_percent > 100:
            raise ZoomConfigError(f"{PREFIX}PRESENT_MIN_PERCENT is a percentage (0-100).")
        return settings
