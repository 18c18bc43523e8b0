"""`PODIUM_WEBHOOK_<KEY>` settings."""
from __future__ import annotations

from dataclasses import dataclass

from podium.plugin import secret


@dataclass(frozen=True)
class WebhookSettings:
    url: str
    secret: str = secret()
    timeout: float = 10.0

    def __post_init__(self) -> None:
        if not self.url.startswith(("http://", "https://")):
            raise ValueError("PODIUM_WEBHOOK_URL must be an http(s) URL")
        if len(self.secret) < 16:
            raise ValueError("PODIUM_WEBHOOK_SECRET must be at least 16 characters")
