"""The Moodle connector's settings: PODIUM_MOODLE_<KEY> in the environment (or `.env`)."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from podium.core.settings import environment

PREFIX = "PODIUM_MOODLE_"
STUDENT_ROLE_ID = 5   # Moodle's built-in "student" role


def _whole(env: Mapping[str, str], key: str, default: int, low: int, high: int) -> int:
    raw = (env.get(key) or "").strip()
    if not raw:
        return default
    if not raw.isdigit() or not low <= int(raw) <= high:
        raise ValueError(f"{key} must be a whole number between {low} and {high}, not {raw!r}.")
    return int(raw)


@dataclass(frozen=True)
class MoodleConfig:
    url: str                                        # the site's root, e.g. https://lms.example.org
    token: str = field(repr=False)                  # secret: a web service token (Site administration > Server > Web services > Manage tokens)
    student_role_id: int = STUDENT_ROLE_ID          # the role learners are enrolled with
    timeout_seconds: int = 20

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> "MoodleConfig | None":
        """None when Moodle is not configured (no URL); a clear error when it is half configured."""
        env = environment() if env is None else env
        url = (env.get(PREFIX + "URL") or "").strip().rstrip("/")
        token = (env.get(PREFIX + "TOKEN") or "").strip()
        if not url:
            if token:
                raise ValueError(f"{PREFIX}TOKEN is set but {PREFIX}URL is not: give the Moodle site's address.")
            return None
        if urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).netloc:
            raise ValueError(f"{PREFIX}URL must be the site's http(s) address, e.g. https://lms.example.org.")
        if not token:
            raise ValueError(f"{PREFIX}URL is set but {PREFIX}TOKEN is not: create a web service token in Moodle.")
        return cls(url=url, token=token,
                   student_role_id=_whole(env, PREFIX + "STUDENT_ROLE_ID", STUDENT_ROLE_ID, 1, 10**9),
                   timeout_seconds=_whole(env, PREFIX + "TIMEOUT_SECONDS", 20, 1, 300))
