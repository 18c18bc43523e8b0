"""The conferencing provider the core calls: Podium's meetings expressed as Zoom meetings."""
from __future__ import annotations

import logging
from datetime import datetime, timezone

from podium.plugin import (
    AttendanceRules, MeetingGone, MeetingInfo, MeetingSpec, NoParticipantsReport, ParticipantSegment, Registrant,
)

from .client import ZoomAmbiguous, ZoomClient, ZoomError, ZoomUnavailable

log = logging.getLogger("podium.plugins.zoom")

SCHEDULED_MEETING = 2
AUTO_APPROVE_REGISTRANTS = 0
NO_SUCH_MEETING = 3001     # also what the report endpoint answers for a meeting without a report


def session_marker(session_id: str) -> str:
    """Put first in the agenda, which Zoom's meeting list returns: how an unsure create finds its meeting."""
    return f"[podium:{session_id}]"


def _zoom_time(instant: datetime) -> str:
    return instant.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(timezone.utc)


def _meeting_fields(spec: MeetingSpec) -> dict:
    minutes = max(1, round((spec.ends_at - spec.starts_at).total_seconds() / 60))
    return {"topic": spec.title[:200], "type": SCHEDULED_MEETING, "start_time": _zoom_time(spec.starts_at),
            "duration": minutes, "timezone": spec.timezone,
            "agenda": f"{session_marker(spec.session_id)} {spec.title}"[:2000]}


class ZoomProvider:
    name = "zoom"

    def __init__(self, client: ZoomClient):
        self.client = client
        self.config = s = client.settings        # `podium plugins` shows it, secrets masked
        self.attendance_rules = AttendanceRules(late_after_minutes=s.late_after_minutes,
                                                left_early_minutes=s.left_early_minutes,
                                                present_min_percent=s.present_min_percent,
                                                report_delay_minutes=s.report_delay_minutes)

    async def aclose(self) -> None:
        """Called by the plugin manager at shutdown: close the HTTP connections."""
        await self.client.aclose()

    async def check(self) -> str:
        """`podium plugins --check`: the Server-to-Server OAuth app's credentials get a token."""
        return await self.client.check_token()

    async def create_meeting(self, spec: MeetingSpec) -> MeetingInfo:
        """Create, and after an unsure attempt look for the meeting it may have made before trying again."""
        body = {**_meeting_fields(spec), "settings": {"approval_type": AUTO_APPROVE_REGISTRANTS,
                                                      "registrants_email_notification": False}}
        attempts = self.client.settings.max_retries + 1
        for attempt in range(attempts):
            try:
                made = await self.client.create_meeting(body)
                return MeetingInfo(external_id=str(made["id"]), join_url=made["join_url"])
            except ZoomAmbiguous as exc:
                log.warning("zoom: unsure whether the meeting of %s was made (%s); looking for it", spec.session_id, exc)
                found = await self.find_meeting(spec)
                if found is not None:
                    return found
                if attempt + 1 == attempts:
                    raise
                await self.client.pause(attempt)
        raise ZoomUnavailable("unreachable")  # the loop returns or raises

    async def find_meeting(self, spec: MeetingSpec) -> MeetingInfo | None:
        marker = session_marker(spec.session_id)
        async for meeting in self.client.list_meetings():
            if (meeting.get("agenda") or "").startswith(marker):
                return MeetingInfo(external_id=str(meeting["id"]), join_url=meeting["join_url"])
        return None

    async def update_meeting(self, external_id: str, spec: MeetingSpec) -> None:
        try:
            await self.client.update_meeting(external_id, _meeting_fields(spec))
        except ZoomError as exc:
            if exc.status == 404:                  # deleted in Zoom: Podium makes a new one
                raise MeetingGone(str(exc)) from exc
            raise

    async def delete_meeting(self, external_id: str) -> None:
        await self.client.delete_meeting(external_id)

    async def add_registrant(self, external_id: str, email: str, name: str) -> Registrant:
        first, _, last = name.strip().partition(" ")
        made = await self.client.add_registrant(external_id, email, first or email, last)
        return Registrant(registrant_id=str(made["registrant_id"]), join_url=made["join_url"])

    async def remove_registrant(self, external_id: str, registrant_id: str, email: str) -> None:
        """Cancelled registrants' links stop working; a meeting Zoom no longer has needs nothing more."""
        await self.client.cancel_registrants(external_id, [{"id": registrant_id, "email": email}])

    async def participants(self, external_id: str) -> list[ParticipantSegment]:
        try:
            report = await self.client.participants_report(external_id)
        except ZoomError as exc:
            if exc.status == 404 and exc.code == NO_SUCH_MEETING:   # nobody joined, or not ended yet
                raise NoParticipantsReport(str(exc)) from exc
            raise
        segments = []
        for row in report:
            if not row.get("join_time") or not row.get("leave_time"):
                continue
            segments.append(ParticipantSegment(
                name=row.get("name") or None, email=(row.get("user_email") or "").strip().lower() or None,
                registrant_id=row.get("registrant_id") or None,
                joined_at=_parse_time(row["join_time"]), left_at=_parse_time(row["leave_time"]),
                participant_id=str(row.get("id") or row.get("user_id") or "") or None))
        return segments
