"""Sessions as RFC 5545 `.ics`: invites (iTIP METHOD REQUEST / CANCEL) and subscribable feeds, so
calendars follow every change.

The UID is stable per session part and SEQUENCE is the session's `sequence`, which every reschedule
and cancellation raises: a calendar replaces the old copy instead of adding a second one. Invites and
feeds give a part the same UID, so a calendar that has both keeps one event per part.
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


def part_uid(session_id: int, position: int, organizer_email: str) -> str:
    """A part's event: the first part keeps the session's UID (a one-part session's event is the session's,
    as before parts existed); the others get their own, stable because a session's parts never renumber."""
    uid = session_uid(session_id, organizer_email)
    return uid if position == 1 else uid.replace("@", f"-part-{position}@", 1)


def part_label(position: int, count: int) -> str | None:
    return f"part {position} of {count}" if count > 1 else None


def series_uid(series_id: int, organizer_email: str) -> str:
    domain = organizer_email.rpartition("@")[2] or "podium.invalid"
    return f"series-{series_id}@{domain}"


def add_relations(event: Event, item: dict[str, Any]) -> None:
    """What ties an event to others: a later part to its session's first (RELATED-TO, parent), an
    occurrence to its series (RELATED-TO;RELTYPE=SIBLING and X-PODIUM-SERIES with the series' RRULE)."""
    if item.get("parent_uid"):
        event.add("related-to", item["parent_uid"])
    series = item.get("series")
    if series:
        event.add("related-to", series["uid"], parameters={"RELTYPE": "SIBLING"})
        event.add("x-podium-series", series["uid"])
        event.add("x-podium-series-rule", series["rule"])
        event.add("x-podium-series-occurrence", f"{series['occurrence']}/{series['count']}")


def invite_parts(invite: dict[str, Any]) -> list[dict[str, Any]]:
    """The events of an invite: one per part (plans made before parts existed name only the session)."""
    return invite.get("parts") or [{"uid": invite["uid"], "starts_at": invite["starts_at"], "ends_at": invite["ends_at"]}]


def session_invite(invite: dict[str, Any]) -> bytes:
    """The `.ics` for one attendee, one VEVENT per part; `invite` is the plain data planned by core.notifications."""
    zone = ZoneInfo(invite["timezone"])
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("method", invite["method"])
    parts = invite_parts(invite)
    stamp = utc_now()
    for part in parts:
        event = Event()
        event.add("uid", part["uid"])
        event.add("sequence", invite["sequence"])
        event.add("dtstamp", stamp)
        event.add("dtstart", datetime.fromisoformat(part["starts_at"]).astimezone(zone))
        event.add("dtend", datetime.fromisoformat(part["ends_at"]).astimezone(zone))
        label = part_label(part.get("part", 1), len(parts))
        event.add("summary", f"{invite['summary']} ({label})" if label else invite["summary"])
        event.add("status", "CANCELLED" if invite["method"] == "CANCEL" else "CONFIRMED")
        if invite.get("location"):
            event.add("location", invite["location"])
        if invite.get("description"):
            event.add("description", invite["description"])
        add_relations(event, {"parent_uid": invite["uid"] if part["uid"] != invite["uid"] else None,
                              "series": invite.get("series")})
        organizer = vCalAddress(f"mailto:{invite['organizer']}")
        organizer.params["cn"] = vText("Podium")
        event.add("organizer", organizer)
        attendee = vCalAddress(f"mailto:{invite['attendee']}")
        attendee.params["cn"] = vText(invite.get("attendee_name") or invite["attendee"])
        attendee.params["role"] = vText("REQ-PARTICIPANT")
        event.add("attendee", attendee)
        calendar.add_component(event)
    # Only the transitions around the session, so the VTIMEZONE stays short.
    calendar.add_missing_timezones(
        first_date=datetime.fromisoformat(parts[0]["starts_at"]).date() - timedelta(days=366),
        last_date=datetime.fromisoformat(parts[-1]["ends_at"]).date() + timedelta(days=366))
    return calendar.to_ical()


def published_calendar(name: str, events: list[dict[str, Any]]) -> bytes:
    """A feed (no METHOD: published, not an invitation): one VEVENT per session part in its own time zone,
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
        add_relations(event, item)
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
