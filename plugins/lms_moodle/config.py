"""The Moodle connector's settings: PODIUM_MOODLE_<KEY>, read with the kernel's typed plugin settings."""
from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from podium.plugin import secret

SETTINGS_NAME = "moodle"          # PODIUM_MOODLE_*, like the connector's name
STUDENT_ROLE_ID = 5               # Moodle's built-in "student" role


@dataclass(frozen=True)
class MoodleConfig:
    url: str                                  # the site's root, e.g. https://lms.example.org
    token: str = secret()                     # a web service token (Site administration > Server > Web services)
    student_role_id: int = STUDENT_ROLE_ID    # the role learners are enrolled with
    timeout_seconds: int = 20

    def __post_init__(self) -> None:
        object.__setattr__(self, "url", self.url.strip().rstrip("/"))
        parts = urlsplit(self.url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError("PODIUM_MOODLE_URL must be the site's http(s) address, e.g. https://lms.example.org")
        if not self.token.strip():
            raise ValueError("PODIUM_MOODLE_TOKEN must not be blank")
        if self.student_role_id < 1:
            raise ValueError("PODIUM_MOODLE_STUDENT_ROLE_ID must be a Moodle role id (1 or more)")
        if not 1 <= self.timeout_seconds <= 300:
            raise ValueError("PODIUM_MOODLE_TIMEOUT_SECONDS must be between 1 and 300")
