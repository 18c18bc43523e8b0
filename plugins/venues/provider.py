"""The venue source the core calls: venues and rooms from a JSON feed, busy times from iCalendar feeds."""
from __future__ import annotations

import hashlib
import json
from datetime import date, datetime, time, timedelta, timezone as tz
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import icalendar
import recurring_ical_events

from podium.plugin import BusyTime, RoomRecord, VenueRecord

from .client import VenueFeedClient, VenueFeedError, where
from .config import VenuesConfig

UTC = tz.utc

MAX_UID = 400


class VenueFeedSource:
    """Venues from PODIUM_VENUES_FEED (a file or a URL); each room's busy times from its calendar URL."""

    name = "venues"

    def __init__(self, config: VenuesConfig, client: VenueFeedClient | None = None) -> None:
        self.config = config
        self.client = client or VenueFeedClient(token=config.feed_token, timeout=config.timeout_seconds)
        self.refresh_minutes = config.refresh_minutes      # read by the core's calendar refresh schedule
        self.horizon_days = config.horizon_days

    async def venues(self) -> list[VenueRecord]:
        if not self.config.feed:
            raise VenueFeedError("No venue feed is set: give PODIUM_VENUES_FEED a file path or a URL.")
        return await self.read_venues(self.config.feed)

    async def read_venues(self, location: str) -> list[VenueRecord]:
        """Venues from a JSON file or an http(s) JSON feed (every page)."""
        if location.startswith(("http://", "https://")):
            pages = await self.client.feed_pages(location)
        else:
            path = Path(location)
            if not path.is_file():
                raise VenueFeedError(f"There is no venue file at {location}.")
            try:
                pages = [json.loads(path.read_text(encoding="utf-8"))]
            except (json.JSONDecodeError, UnicodeDecodeError) as exc:
                raise VenueFeedError(f"{location} is not JSON: {exc}.") from None
        return parse_venues(pages)

    async def busy_times(self, calendar_url: str, starts_at: datetime, ends_at: datetime,
                         timezone: str = "UTC") -> list[BusyTime]:
        content = await self.client.calendar(calendar_url)
        return busy_times_from_calendar(content, starts_at, ends_at, timezone, where(calendar_url))


# --- the venue feed's shape --------------------------------------------------------------

def _text(item: dict[str, Any], key: str, path: str, required: bool = True) -> str | None:
    value = item.get(key)
    if value is None and not required:
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool) and key == "id":
        value = str(value)
    if not isinstance(value, str) or not value.strip():
        raise VenueFeedError(f"{path}.{key} must be a non-empty string.")
    return value.strip()


def _room(item: Any, path: str) -> RoomRecord:
    if not isinstance(item, dict):
        raise VenueFeedError(f"{path} must be an object.")
    capacity = item.get("capacity")
    if isinstance(capacity, bool) or not isinstance(capacity, int) or capacity < 1:
        raise VenueFeedError(f"{path}.capacity must be a whole number of at least 1.")
    equipment = item.get("equipment") or []
    if not isinstance(equipment, list) or not all(isinstance(e, str) and e.strip() for e in equipment):
        raise VenueFeedError(f"{path}.equipment must be a list of names.")
    return RoomRecord(external_id=_text(item, "id", path), name=_text(item, "name", path), capacity=capacity,
                      equipment=tuple(dict.fromkeys(e.strip() for e in equipment)),
                      calendar_url=_text(item, "calendarUrl", path, required=False))


def _venue(item: Any, path: str) -> VenueRecord:
    if not isinstance(item, dict):
        raise VenueFeedError(f"{path} must be an object.")
    rooms = item.get("rooms") or []
    if not isinstance(rooms, list):
        raise VenueFeedError(f"{path}.rooms must be a list.")
    return VenueRecord(external_id=_text(item, "id", path), name=_text(item, "name", path),
                       timezone=_text(item, "timezone", path), address=_text(item, "address", path, required=False),
                       rooms=tuple(_room(room, f"{path}.rooms[{i}]") for i, room in enumerate(rooms)))


def parse_venues(pages: list[Any]) -> list[VenueRecord]:
    """Check the feed's shape and name the first offending field, e.g. `venues[2].rooms[0].capacity`."""
    records: list[VenueRecord] = []
    for number, page in enumerate(pages, start=1):
        items = page.get("venues") if isinstance(page, dict) else page
        if not isinstance(items, list):
            raise VenueFeedError(f"Page {number} of the venue feed has no `venues` list.")
        offset = len(records)
        records += [_venue(item, f"venues[{offset + i}]") for i, item in enumerate(items)]
    venue_ids = [v.external_id for v in records]
    room_ids = [r.external_id for v in records for r in v.rooms]
    for kind, ids in (("venue", venue_ids), ("room", room_ids)):
        twice = sorted({i for i in ids if ids.count(i) > 1})
        if twice:
            raise VenueFeedError(f"The venue feed lists the {kind} id {twice[0]!r} more than once.")
    return records


# --- iCalendar busy times ----------------------------------------------------------------

def _instant(value: date | datetime, zone: ZoneInfo) -> datetime:
    """All-day dates and floating times are read in the room's timezone."""
    if not isinstance(value, datetime):
        value = datetime.combine(value, time(0))
    if value.tzinfo is None:
        value = value.replace(tzinfo=zone)
    return value.astimezone(UTC)


def _occurrence_uid(event: icalendar.Event) -> str:
    uid = str(event.get("UID") or "")
    recurrence = event.get("RECURRENCE-ID") or event.get("DTSTART")
    stamp = recurrence.dt.isoformat() if recurrence is not None else ""
    key = f"{uid}/{stamp}"
    return key if len(key) <= MAX_UID else hashlib.sha256(key.encode()).hexdigest()


def _is_free(event: icalendar.Event) -> bool:
    transparency = str(event.get("TRANSP") or "OPAQUE").upper()
    status = str(event.get("STATUS") or "").upper()
    return transparency == "TRANSPARENT" or status == "CANCELLED"


def busy_times_from_calendar(content: bytes, starts_at: datetime, ends_at: datetime, timezone: str = "UTC",
                             label: str = "the calendar") -> list[BusyTime]:
    """Occurrences overlapping [starts_at, ends_at), recurring series expanded, free and cancelled ones left out."""
    try:
        calendar = icalendar.Calendar.from_ical(content)
    except ValueError as exc:
        raise VenueFeedError(f"{label} is not an iCalendar file: {exc}.") from None
    zone = ZoneInfo(timezone)
    busy: dict[str, BusyTime] = {}
    try:
        occurrences = recurring_ical_events.of(calendar, skip_bad_series=True).between(starts_at, ends_at)
    except (ValueError, recurring_ical_events.InvalidCalendar) as exc:
        raise VenueFeedError(f"{label} could not be expanded: {exc}.") from None
    for event in occurrences:
        if _is_free(event) or event.get("DTSTART") is None:
            continue
        raw_start = event.decoded("DTSTART")
        if "DTEND" in event:
            raw_end = event.decoded("DTEND")
        elif "DURATION" in event:
            raw_end = raw_start + event.decoded("DURATION")
        else:
            raw_end = raw_start + timedelta(days=1) if not isinstance(raw_start, datetime) else raw_start
        start, end = _instant(raw_start, zone), _instant(raw_end, zone)
        if end <= start:
            continue
        summary = str(event.get("SUMMARY")) if event.get("SUMMARY") is not None else None
        uid = _occurrence_uid(event)
        busy[uid] = BusyTime(uid=uid, starts_at=start, ends_at=end, summary=summary)
    return sorted(busy.values(), key=lambda b: (b.starts_at, b.uid))
