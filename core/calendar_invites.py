"""Session invites as RFC 5545 `.ics` (iTIP METHOD REQUEST / CANCEL), so calendars follow every change.

The UID is stable per session and SEQUENCE is the session's `sequence`, which every reschedule and
cancellation raises: a calendar replaces the old copy instead of adding a second one.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from icalendar import Calendar, Event, vCalAddress, vText

from .instants import utc_now

PRODID = "-//Podium//Training sessions//EN"


def session_uid(session_id: int, organizer_email: str) -> str:
    domain = organizer_email.rpartition("@")[2] or "podium.invalid"
    return f"session-{session_id}@{domain}"


def session_invite(invite: dict[str, Any]) -> bytes:
    """The `.ics` for one attendee; `invite` is the plain data planned by core.notifications."""
    zone = ZoneInfo(invite["timezone"])
    starts_at = datetime.fromisoformat(invite["starts_at"]).astimezone(zone)
    ends_at = datetime.fromisoformat(invite["ends_at"]).astimezone(zone)
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("method", invite["method"])
    event = Event()
    event.add("uid", invite["uid"])
    event.add("sequence", invite["sequence"])
    event.add("dtstamp", utc_now())
    event.add("dtstart", starts_at)
    event.add("dtend", ends_at)
    event.add("summary", invite["summary"])
    event.add("status", "CANCELLED" if invite["method"] == "CANCEL" else "CONFIRMED")
    if invite.get("location"):
        event.add("location", invite["location"])
    if invite.get("description"):
        event.add("description", invite["description"])
    organizer = vCalAddress(f"mailto:{invite['organizer']}")
    organizer.params["cn"] = vText("Podium")
    event.add("organizer", organizer)
    attendee = vCalAddress(f"mailto:{invite['attendee']}")
    attendee.params["cn"] = vText(invite.get("attendee_name") or invite["attendee"])
    attendee.params["role"] = vText("REQ-PARTICIPANT")
    event.add("attendee", attendee)
    calendar.add_component(event)
    # Only the transitions around the session, so the VTIMEZONE stays short.
    calendar.add_missing_timezones(first_date=starts_at.date() - timedelta(days=366),
                                   last_date=ends_at.date() + timedelta(days=366))
    return calendar.to_ical()
