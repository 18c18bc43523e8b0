"""A tiny in-memory LMS that speaks the `LmsConnector` Protocol, fed by the test.

It stands in for the outside system only; the tests of the real Moodle client use a fake Moodle server.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from podium.core.program_templates import BUILTIN_TEMPLATES
from podium.core.providers import CompletionReport


def by_key(template: str, **refs: str) -> dict[str, str]:
    """Each self-paced and assessment stage of a built-in template named by its key in the LMS (as a test LMS
    knows them), `refs` overriding some: what createProgram with an LMS needs."""
    stages = next(t["stages"] for t in BUILTIN_TEMPLATES if t["key"] == template)
    return {**{s["key"]: s["key"] for s in stages if s["kind"] != "LIVE"}, **refs}


@dataclass
class LmsDouble:
    name: str = "testlms"
    users: dict[str, str] = field(default_factory=dict)                    # email -> user ref
    done: dict[tuple[str, str], dict[str, datetime]] = field(default_factory=dict)  # (course, user) -> activities
    enrolled: set[tuple[str, str]] = field(default_factory=set)
    broken_for: set[str] = field(default_factory=set)                      # user refs whose reads fail
    lookups: int = 0

    def add_user(self, email: str) -> str:
        return self.users.setdefault(email, f"u{len(self.users) + 1}")

    def complete(self, course_ref: str, email: str, activity: str, at: datetime) -> None:
        self.done.setdefault((course_ref, self.add_user(email)), {})[activity] = at

    async def find_user(self, email: str) -> str | None:
        self.lookups += 1
        return self.users.get(email)

    async def enrol(self, course_ref: str, user_ref: str) -> None:
        self.enrolled.add((course_ref, user_ref))

    async def completion(self, course_ref: str, user_ref: str) -> CompletionReport:
        if user_ref in self.broken_for:
            raise ConnectionError("LMS answered 503")
        return CompletionReport(activities=dict(self.done.get((course_ref, user_ref), {})))

    async def push_attendance(self, course_ref, user_ref, session_title, status, details=None) -> None:
        return None
