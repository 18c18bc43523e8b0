"""`PODIUM_EMAIL_<KEY>` settings of the email channel."""
from __future__ import annotations

from dataclasses import dataclass

from podium.plugin import secret


@dataclass(frozen=True)
class EmailSettings:
    host: str
    from_address: str
    port: int = 587
    username: str | None = None
    password: str | None = secret(None)
    starttls: bool = True              # upgrade the connection with STARTTLS (required when true)
    tls: bool = False                  # implicit TLS from the first byte (port 465) instead
    timeout: float = 20.0
    validate_certs: bool = True
    ca_file: str | None = None         # a CA bundle for a server with a private certificate

    def __post_init__(self) -> None:
        if self.starttls and self.tls:
            raise ValueError("PODIUM_EMAIL_STARTTLS and PODIUM_EMAIL_TLS exclude each other")
        if bool(self.username) != bool(self.password):
            raise ValueError("PODIUM_EMAIL_USERNAME and PODIUM_EMAIL_PASSWORD go together")
        if "@" not in self.from_address:
            raise ValueError("PODIUM_EMAIL_FROM_ADDRESS must be an email address")
