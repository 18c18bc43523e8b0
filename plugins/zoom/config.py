"""The Zoom plugin's settings, read from PODIUM_ZOOM_<KEY>; secrets never appear in a repr or a log."""
from __future__ import annotations

from dataclasses import dataclass

from podium.plugin import secret


@dataclass(frozen=True)
class ZoomSettings:
    account_id: str
    client_id: str
    client_secret: str = secret()
    user_id: str = "me"                                  # the host whose meetings Podium makes (id or email)
    api_base: str = "https://api.zoom.us/v2"
    oauth_base: str = "https://zoom.us"
    webhook_secret_token: str | None = secret(None)
    webhook_tolerance_seconds: int = 300
    timeout_seconds: float = 10.0
    max_retries: int = 4
    backoff_seconds: float = 0.5
    late_after_minutes: int = 10
    left_early_minutes: int = 10
    present_min_percent: int = 50
    report_delay_minutes: int = 15                       # after the end, when the report is first asked for

    def __post_init__(self) -> None:
        for name in ("api_base", "oauth_base"):
            value = getattr(self, name)
            if not value.startswith(("http://", "https://")):
                raise ValueError(f"PODIUM_ZOOM_{name.upper()} must be an http(s) URL")
            object.__setattr__(self, name, value.rstrip("/"))
        for name in ("webhook_tolerance_seconds", "timeout_seconds", "max_retries", "backoff_seconds",
                     "late_after_minutes", "left_early_minutes", "present_min_percent", "report_delay_minutes"):
            if getattr(self, name) < 0:
                raise ValueError(f"PODIUM_ZOOM_{name.upper()} may not be negative")
        if self.present_min_percent > 100:
            raise ValueError("PODIUM_ZOOM_PRESENT_MIN_PERCENT is a percentage (0-100)")
