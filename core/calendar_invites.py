"""Sessions as RFC 5545 `.ics`: invites (iTIP METHOD REQUEST / CANCEL) and subscribable feeds, so
calendars follow every change.

The UID is stable per session and SEQUENCE is the session's `sequence`, which every reschedule and
cancellation raises: a calendar replaces the old copy instead of adding a second one. Invites and
feeds give a session the same UID, so a calendar that has both keeps one event.
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


def published_calendar(name: str, events: list[dict[str, Any]]) -> bytes:
    """A feed (no METHOD: published, not an invitation): one VEVENT per session in its own time zone,
    cancelled ones kept with STATUS:CANCELLED so subscribed calendars strike them out."""
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("x-wr-calname", name)
    calendar.add("refresh-interval", timedelta(hours=1), parameters={"VALUE": "DURATION"})
    calendar.add("x-published-ttl", "PT1H")
    stamp = utc_now()
    for item in events:
        zone = ZoneInfo(item["timezone"])
        event = Event()
        event.add("uid", item["uid"])
        event.add("sequence", item["sequence"])
        event.add("dtstamp", stamp)
        event.add("last-modified", item["updated_at"])
        event.add("dtstart", item["starts_at"].astimezone(zone))
        event.add("dtend", item["ends_at"].astimezone(zone))
        event.add("summary", item["summary"])
        event.add("status", item["status"])
        if item.get("location"):
            event.add("location", item["location"])
        if item.get("url"):
            event.add("url", item["url"])
        if item.get("description"):
            event.add("description", item["description"])
        calendar.add_component(event)
    if events:
        calendar.add_missing_timezones(first_date=min(e["starts_at"] for e in events).date() - timedelta(days=366),
                                       last_date=max(e["ends_at"] for e in events).date() + timedelta(days=366))
    return calendar.to_ical()
