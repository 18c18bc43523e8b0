"""`podium plugin new NAME --kind ...`: a pip-installable plugin skeleton that imports only `podium.plugin`,
declares its settings, registers through the `podium.plugins` entry point, and passes its own tests."""
from __future__ import annotations

import re
from pathlib import Path
from string import Template

KINDS = ("channel", "conferencing", "lms", "venue")
NAME = re.compile(r"[a-z][a-z0-9_]{1,39}")

PYPROJECT = '''[build-system]
requires = ["setuptools>=68"]
build-backend = "setuptools.build_meta"

[project]
name = "podium-$dist"
version = "0.1.0"
description = "$title for Podium"
requires-python = ">=3.11"
dependencies = ["podium", "httpx"]

[project.optional-dependencies]
test = ["pytest>=8", "pytest-asyncio>=0.24"]

# How Podium finds the plugin once the distribution is installed.
[project.entry-points."podium.plugins"]
$name = "podium_$name"

[tool.setuptools.packages.find]
where = ["src"]

[tool.pytest.ini_options]
asyncio_mode = "auto"
asyncio_default_fixture_loop_scope = "function"
'''

README = '''# podium-$dist

$title for [Podium](https://github.com/podium-tms/podium), written against `podium.plugin`, the only
Podium module a plugin imports. Made by `podium plugin new $name --kind $kind`.

    pip install -e '.[test]'      # into the environment Podium runs in
    podium plugins                # lists `$name`, its settings and whether it is configured
    python -m pytest              # its own tests

Settings (environment variables; the plugin stays off until one is set):

$settings_doc

Replace the parts marked TODO with calls to your system; keep the tests passing.
'''

INIT = '''"""$title: the hook implementations Podium calls (`podium.plugin` is the only Podium import)."""
from __future__ import annotations

from podium.plugin import hookimpl

from .config import Settings
from .provider import $cls

__version__ = "0.1.0"


@hookimpl
def podium_settings():
    return Settings


@hookimpl
def $hook(context):
    if not context.is_configured():          # no PODIUM_${NAME}_* variable set: stay off
        return []
    return [$cls(context.load_settings(Settings))]
'''

CONFIG = {
    "channel": '''"""PODIUM_${NAME}_* settings."""
from __future__ import annotations

from dataclasses import dataclass

from podium.plugin import secret


@dataclass(frozen=True)
class Settings:
    url: str                        # where messages are POSTed
    api_key: str = secret()
    timeout_seconds: float = 10.0

    def __post_init__(self) -> None:
        if not self.url.startswith(("http://", "https://")):
            raise ValueError("PODIUM_${NAME}_URL must be an http(s) URL")
''',
    "conferencing": '''"""PODIUM_${NAME}_* settings."""
from __future__ import annotations

from dataclasses import dataclass

from podium.plugin import secret


@dataclass(frozen=True)
class Settings:
    base_url: str                   # meetings are rooms under this address
    api_key: str | None = secret(None)
    late_after_minutes: int = 10
    left_early_minutes: int = 10
    present_min_percent: int = 50

    def __post_init__(self) -> None:
        if not self.base_url.startswith(("http://", "https://")):
            raise ValueError("PODIUM_${NAME}_BASE_URL must be an http(s) URL")
''',
    "lms": '''"""PODIUM_${NAME}_* settings."""
from __future__ import annotations

from dataclasses import dataclass

from podium.plugin import secret


@dataclass(frozen=True)
class Settings:
    url: str                        # the LMS's API root
    token: str = secret()
    timeout_seconds: float = 20.0

    def __post_init__(self) -> None:
        if not self.url.startswith(("http://", "https://")):
            raise ValueError("PODIUM_${NAME}_URL must be an http(s) URL")
''',
    "venue": '''"""PODIUM_${NAME}_* settings."""
from __future__ import annotations

from dataclasses import dataclass

from podium.plugin import secret


@dataclass(frozen=True)
class Settings:
    url: str                        # the room system's API root
    token: str | None = secret(None)
    timeout_seconds: float = 20.0

    def __post_init__(self) -> None:
        if not self.url.startswith(("http://", "https://")):
            raise ValueError("PODIUM_${NAME}_URL must be an http(s) URL")
''',
}

PROVIDER = {
    "channel": '''"""The channel Podium hands notifications to, after commit, with retries: raise to have one retried."""
from __future__ import annotations

import httpx

from podium.plugin import Notification

from .config import Settings


class $cls:
    name = "$name"
    kinds = {"session.reminder", "enrollment.confirmed"}    # only these notification kinds come here

    def __init__(self, settings: Settings, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.settings = settings
        self._transport = transport

    async def check(self) -> str:
        """`podium plugins --check`."""
        return f"messages go to {self.settings.url}"

    async def deliver(self, notification: Notification) -> None:
        if not notification.phone:          # TODO: or whatever address your system needs
            return
        async with httpx.AsyncClient(timeout=self.settings.timeout_seconds, transport=self._transport) as http:
            response = await http.post(self.settings.url, headers={
                "Authorization": f"Bearer {self.settings.api_key}",
                "Idempotency-Key": notification.idempotency_key}, json={
                "to": notification.phone, "kind": notification.kind, "text": notification.subject})
        response.raise_for_status()
''',
    "conferencing": '''"""The conferencing provider: each session's meeting is a room under PODIUM_${NAME}_BASE_URL.

TODO: create, move and end meetings through your system's API instead of naming rooms.
"""
from __future__ import annotations

import hashlib

from podium.plugin import (
    AttendanceRules, MeetingInfo, MeetingSpec, NoParticipantsReport, ParticipantSegment, Registrant,
)

from .config import Settings


class $cls:
    name = "$name"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.attendance_rules = AttendanceRules(late_after_minutes=settings.late_after_minutes,
                                                left_early_minutes=settings.left_early_minutes,
                                                present_min_percent=settings.present_min_percent)
        self.rooms: dict[str, MeetingSpec] = {}

    def _room(self, spec: MeetingSpec) -> str:
        """Stable per session: a retried create finds the same room."""
        return "podium-" + hashlib.sha256(spec.idempotency_key.encode()).hexdigest()[:16]

    def _info(self, room: str) -> MeetingInfo:
        return MeetingInfo(external_id=room, join_url=f"{self.settings.base_url.rstrip('/')}/{room}")

    async def create_meeting(self, spec: MeetingSpec) -> MeetingInfo:
        room = self._room(spec)
        self.rooms[room] = spec
        return self._info(room)

    async def find_meeting(self, spec: MeetingSpec) -> MeetingInfo | None:
        room = self._room(spec)
        return self._info(room) if room in self.rooms else None

    async def update_meeting(self, external_id: str, spec: MeetingSpec) -> None:
        self.rooms[external_id] = spec      # TODO: raise MeetingGone when your system no longer has it

    async def delete_meeting(self, external_id: str) -> None:
        self.rooms.pop(external_id, None)

    async def add_registrant(self, external_id: str, email: str, name: str) -> Registrant:
        return Registrant(registrant_id=email, join_url=self._info(external_id).join_url)

    async def remove_registrant(self, external_id: str, registrant_id: str, email: str) -> None:
        return None

    async def participants(self, external_id: str) -> list[ParticipantSegment]:
        raise NoParticipantsReport(f"{self.name} keeps no participants report")   # TODO
''',
    "lms": '''"""The LMS connector: users, enrolments and completion through a REST API (TODO: your LMS's endpoints)."""
from __future__ import annotations

from datetime import datetime
from typing import Any

import httpx

from podium.plugin import CompletionReport

from .config import Settings


class $cls:
    name = "$name"

    def __init__(self, settings: Settings, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.settings = settings
        self._transport = transport

    async def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        async with httpx.AsyncClient(base_url=self.settings.url, timeout=self.settings.timeout_seconds,
                                     transport=self._transport,
                                     headers={"Authorization": f"Bearer {self.settings.token}"}) as http:
            response = await http.request(method, path, **kwargs)
        response.raise_for_status()
        return response.json() if response.content else None

    async def check(self) -> str:
        """`podium plugins --check`."""
        return f"LMS at {self.settings.url}: {await self._call('GET', '/site')}"

    async def find_user(self, email: str) -> str | None:
        users = await self._call("GET", "/users", params={"email": email})
        return str(users[0]["id"]) if users else None

    async def enrol(self, course_ref: str, user_ref: str) -> None:
        await self._call("POST", f"/courses/{course_ref}/enrolments", json={"user": user_ref})

    async def activities(self, course_ref: str) -> dict[str, str]:
        """createProgram checks each stage's activity against these."""
        return {str(a["id"]): a["name"] for a in await self._call("GET", f"/courses/{course_ref}/activities")}

    async def completion(self, course_ref: str, user_ref: str) -> CompletionReport:
        rows = await self._call("GET", f"/courses/{course_ref}/users/{user_ref}/completion")
        return CompletionReport(activities={str(r["activity"]): datetime.fromisoformat(r["completed_at"])
                                            if r.get("completed_at") else None for r in rows})

    async def push_attendance(self, course_ref: str, user_ref: str, session_title: str, status: str,
                              details: dict[str, Any] | None = None) -> None:
        await self._call("POST", f"/courses/{course_ref}/users/{user_ref}/attendance",
                         json={"session": session_title, "status": status, **(details or {})})
''',
    "venue": '''"""The venue source: venues and rooms from a room system's API (TODO: your system's endpoints)."""
from __future__ import annotations

from datetime import datetime

import httpx

from podium.plugin import BusyTime, RoomRecord, VenueRecord

from .config import Settings


class $cls:
    name = "$name"

    def __init__(self, settings: Settings, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.settings = settings
        self._transport = transport

    async def _get(self, path: str, **params: str):
        headers = {"Authorization": f"Bearer {self.settings.token}"} if self.settings.token else {}
        async with httpx.AsyncClient(base_url=self.settings.url, timeout=self.settings.timeout_seconds,
                                     transport=self._transport, headers=headers) as http:
            response = await http.get(path, params=params)
        response.raise_for_status()
        return response.json()

    async def venues(self) -> list[VenueRecord]:
        return [VenueRecord(external_id=str(v["id"]), name=v["name"], timezone=v["timezone"],
                            address=v.get("address"),
                            rooms=tuple(RoomRecord(external_id=str(r["id"]), name=r["name"], capacity=int(r["capacity"]),
                                                   equipment=tuple(r.get("equipment", ())))
                                        for r in v.get("rooms", [])))
                for v in await self._get("/venues")]

    async def busy_times(self, calendar_url: str, starts_at: datetime, ends_at: datetime,
                         timezone: str = "UTC") -> list[BusyTime]:
        rows = await self._get("/busy", calendar=calendar_url, start=starts_at.isoformat(), end=ends_at.isoformat())
        return [BusyTime(uid=r["uid"], starts_at=datetime.fromisoformat(r["start"]),
                         ends_at=datetime.fromisoformat(r["end"]), summary=r.get("summary")) for r in rows]
''',
}

TESTS = {
    "channel": '''from podium.plugin import Notification, NotificationChannel


def notification(phone="+442079460958", kind="session.reminder"):
    return Notification(kind=kind, to="ada@example.com", name="Ada", subject="Reminder: Fire safety",
                        text="...", html="<p>...</p>", idempotency_key="k-1", phone=phone)


async def test_delivers_to_the_phone_with_its_idempotency_key():
    seen = []

    def answer(request):
        seen.append(request)
        return httpx.Response(202)

    channel = $cls(Settings(url="https://sms.example.com/send", api_key="k"), httpx.MockTransport(answer))
    assert isinstance(channel, NotificationChannel)
    await channel.deliver(notification())
    await channel.deliver(notification(phone=None))       # no number: nothing sent
    assert len(seen) == 1 and json.loads(seen[0].content)["to"] == "+442079460958"
    assert seen[0].headers["Idempotency-Key"] == "k-1"
''',
    "conferencing": '''from datetime import datetime, timedelta, timezone

from podium.plugin import ConferencingProvider, MeetingSpec, NoParticipantsReport


async def test_a_session_gets_one_room_found_again_after_an_unsure_create():
    provider = $cls(Settings(base_url="https://meet.example.org"))
    assert isinstance(provider, ConferencingProvider)
    start = datetime(2030, 1, 7, 9, tzinfo=timezone.utc)
    spec = MeetingSpec(session_id="U2Vzc2lvbjox", title="Fire safety", starts_at=start,
                       ends_at=start + timedelta(hours=1), timezone="Europe/London", idempotency_key="podium-session-1")
    made = await provider.create_meeting(spec)
    assert made.join_url.startswith("https://meet.example.org/podium-")
    assert await provider.find_meeting(spec) == made
    await provider.delete_meeting(made.external_id)
    assert await provider.find_meeting(spec) is None
    with pytest.raises(NoParticipantsReport):
        await provider.participants(made.external_id)
''',
    "lms": '''from podium.plugin import LmsConnector


async def test_finds_enrols_and_reads_completion():
    calls = []

    def answer(request):
        calls.append((request.method, request.url.path))
        if request.url.path == "/api/users":
            return httpx.Response(200, json=[{"id": 7}])
        if request.url.path.endswith("/completion"):
            return httpx.Response(200, json=[{"activity": 42, "completed_at": "2030-01-01T10:00:00+00:00"},
                                             {"activity": 43}])
        return httpx.Response(200, json={})

    lms = $cls(Settings(url="https://lms.example.org/api", token="t"), httpx.MockTransport(answer))
    assert isinstance(lms, LmsConnector)
    assert await lms.find_user("ada@example.com") == "7"
    await lms.enrol("FIRE-101", "7")
    report = await lms.completion("FIRE-101", "7")
    assert report.activities["42"] is not None and report.activities["43"] is None
    assert ("POST", "/api/courses/FIRE-101/enrolments") in calls
''',
    "venue": '''from podium.plugin import VenueSource


async def test_lists_venues_with_their_rooms():
    def answer(request):
        return httpx.Response(200, json=[{"id": "lon", "name": "London HQ", "timezone": "Europe/London",
                                          "rooms": [{"id": "thames", "name": "Thames", "capacity": 24}]}])

    source = $cls(Settings(url="https://rooms.example.org"), httpx.MockTransport(answer))
    assert isinstance(source, VenueSource)
    [venue] = await source.venues()
    assert (venue.external_id, venue.rooms[0].name, venue.rooms[0].capacity) == ("lon", "Thames", 24)
''',
}

TEST_HEAD = '''"""The plugin's own tests: its provider against a stand-in of the outside system, its settings, and
Podium finding it through its entry point (the distribution must be installed: pip install -e '.[test]')."""
from __future__ import annotations

import json

import httpx
import pytest

from podium.plugin import PluginSettingsError, load_plugin_settings, start_plugins
from podium_$name.config import Settings
from podium_$name.provider import $cls


'''

TEST_TAIL = '''

def test_settings_are_checked_and_secrets_never_shown():
    with pytest.raises(PluginSettingsError, match="PODIUM_${NAME}_"):
        load_plugin_settings(Settings, "$name", {"PODIUM_${NAME}_$first_upper": "not-a-url"})


async def test_podium_finds_it_and_it_stays_off_until_configured():
    idle = await start_plugins({"PODIUM_PLUGINS": "$name"})
    assert idle.loaded["$name"].source == "entry point"
    assert idle.providers["$kind_key"] == {}
    on = await start_plugins({"PODIUM_PLUGINS": "$name", **$configured})
    assert list(on.providers["$kind_key"]) == ["$name"]
    await on.stop()
'''

SPEC = {
    "channel": dict(hook="podium_notification_channels", kind_key="channels", suffix="Channel", title="A notification channel",
                    configured={"URL": "https://sms.example.com/send", "API_KEY": "k"}),
    "conferencing": dict(hook="podium_conferencing_providers", kind_key="conferencing", suffix="Provider",
                         title="A conferencing provider", configured={"BASE_URL": "https://meet.example.org"}),
    "lms": dict(hook="podium_lms_connectors", kind_key="lms_connectors", suffix="Connector", title="An LMS connector",
                configured={"URL": "https://lms.example.org/api", "TOKEN": "t"}),
    "venue": dict(hook="podium_venue_sources", kind_key="venue_sources", suffix="Source", title="A venue source",
                  configured={"URL": "https://rooms.example.org"}),
}


def write_plugin(name: str, kind: str, where: Path) -> Path:
    """The skeleton in `where/podium-<name>/`; refuses a bad name or kind, or a folder that exists."""
    if not NAME.fullmatch(name):
        raise ValueError(f"a plugin name is 2 to 40 lower-case letters, digits or _, starting with a letter: {name!r}")
    if kind not in KINDS:
        raise ValueError(f"--kind is one of {', '.join(KINDS)}, not {kind!r}")
    root = where / f"podium-{name.replace('_', '-')}"
    if root.exists():
        raise FileExistsError(f"{root} exists already")
    spec = SPEC[kind]
    upper = name.upper()
    cls = "".join(part.title() for part in name.split("_")) + spec["suffix"]
    configured = {f"PODIUM_{upper}_{k}": v for k, v in spec["configured"].items()}
    first = next(iter(spec["configured"]))
    values = dict(name=name, NAME=upper, dist=name.replace("_", "-"), kind=kind, title=spec["title"], cls=cls,
                  hook=spec["hook"], kind_key=spec["kind_key"], configured=repr(configured), first_upper=first,
                  settings_doc="\n".join(f"- `PODIUM_{upper}_{k}`" for k in spec["configured"]))
    files = {
        "pyproject.toml": PYPROJECT, "README.md": README,
        f"src/podium_{name}/__init__.py": INIT, f"src/podium_{name}/config.py": CONFIG[kind],
        f"src/podium_{name}/provider.py": PROVIDER[kind],
        f"tests/test_{name}.py": TEST_HEAD + TESTS[kind] + TEST_TAIL,
    }
    for path, text in files.items():
        target = root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(Template(text).substitute(values))
    return root
