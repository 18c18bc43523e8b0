"""A third-party conferencing provider: Jitsi Meet rooms, written against `podium.plugin` only.

A Jitsi room needs no API call: its name is derived from the session, and its link is the server's URL
plus that name. Every call Podium makes is appended to a JSON-lines file, so an operator (and the tests)
can see which provider served which session.

Settings: PODIUM_JITSI_BASE_URL (the Jitsi server, e.g. https://meet.example.org; unset, the plugin
stays idle), PODIUM_JITSI_CALLS_PATH (the calls file; optional).
"""
from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass

from podium.plugin import (AttendanceRules, MeetingInfo, NoParticipantsReport, Registrant, hookimpl, is_configured,
                           load_plugin_settings)

__version__ = "0.3.0"


@dataclass(frozen=True)
class JitsiSettings:
    base_url: str
    calls_path: str = ""

    def __post_init__(self) -> None:
        if not self.base_url.startswith(("https://", "http://")):
            raise ValueError(f"PODIUM_JITSI_BASE_URL must be an http(s) URL, got {self.base_url!r}")


class JitsiMeet:
    name = "jitsi"
    attendance_rules = AttendanceRules()

    def __init__(self, config: JitsiSettings) -> None:
        self.config = config

    def _record(self, call: str, **fields) -> None:
        if not self.config.calls_path:
            return
        line = (json.dumps({"call": call, **fields}, sort_keys=True, default=str) + "\n").encode()
        fd = os.open(self.config.calls_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line)
        finally:
            os.close(fd)

    def _meeting(self, session_id: str) -> MeetingInfo:
        room = "podium-" + hashlib.sha256(session_id.encode()).hexdigest()[:16]
        return MeetingInfo(external_id=room, join_url=f"{self.config.base_url.rstrip('/')}/{room}")

    async def create_meeting(self, spec):
        meeting = self._meeting(spec.session_id)
        self._record("create", room=meeting.external_id, session=spec.session_id, starts_at=spec.starts_at)
        return meeting

    async def find_meeting(self, spec):
        # Every session's room exists as soon as someone opens its link: there is always one to find.
        meeting = self._meeting(spec.session_id)
        self._record("find", room=meeting.external_id, session=spec.session_id, starts_at=spec.starts_at)
        return meeting

    async def update_meeting(self, external_id, spec):
        self._record("update", room=external_id, session=spec.session_id, starts_at=spec.starts_at)

    async def delete_meeting(self, external_id):
        self._record("delete", room=external_id)

    async def add_registrant(self, external_id, email, name):
        return Registrant(registrant_id=email, join_url=f"{self.config.base_url.rstrip('/')}/{external_id}")

    async def remove_registrant(self, external_id, registrant_id, email):
        pass

    async def participants(self, external_id):
        raise NoParticipantsReport(external_id)


@hookimpl
def podium_conferencing_providers(settings):
    if not is_configured("jitsi", settings.env):
        return []
    return [JitsiMeet(load_plugin_settings(JitsiSettings, "jitsi", settings.env))]
