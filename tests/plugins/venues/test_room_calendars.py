"""Rooms' busy times from their iCalendar feeds: recurring bookings expanded, counted as conflicts."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from podium.core.db import changing
from podium.core.errors import DomainError, ErrorCode
from podium.core.models import Booking, DeliveryMode, Resource
from podium.core.providers import BusyTime
from podium.core.services import scheduling, venue_sync
from podium.plugins.venues.client import VenueFeedError
from podium.plugins.venues.config import VenuesConfig
from podium.plugins.venues.provider import VenueFeedSource
from tests import builders as b
from tests.builders import ADMIN
from tests.plugins.venues.fake_venue_system import FEED_TOKEN, FakeVenueSystem, calendar, event, local

LONDON = ZoneInfo("Europe/London")
UTC = timezone.utc


def utc(wall: datetime) -> datetime:
    """London wall-clock time to UTC (each date its own offset, across summer time changes)."""
    return wall.replace(tzinfo=LONDON).astimezone(UTC)


def next_monday_at(hour: int) -> datetime:
    today = datetime.now(LONDON).date()
    monday = today + timedelta(days=7 - today.weekday())
    return datetime(monday.year, monday.month, monday.day, hour)


def source_for(fake: FakeVenueSystem) -> VenueFeedSource:
    return VenueFeedSource(VenuesConfig(feed=f"{fake.url}/api/v1/venues", feed_token=FEED_TOKEN))


async def _import_thames(sessions, fake: FakeVenueSystem) -> int:
    fake.venues = [{"id": "lon", "name": "London HQ", "timezone": "Europe/London", "rooms": [
        {"id": "lon-thames", "name": "Thames", "capacity": 24, "calendarUrl": fake.calendar_url("thames")}]}]
    source = source_for(fake)
    await venue_sync.import_venues(sessions, ADMIN, source.name, await source.venues())
    async with sessions() as db:
        return await db.scalar(select(Resource.id).where(Resource.external_id == "lon-thames"))


def weekly_standup(first: datetime, *extra: str) -> str:
    """Every Monday 10:00-12:00 London, six times, the second week cancelled (EXDATE)."""
    return event("weekly-ops@rooms.example", first, 120, "Ops weekly", "RRULE:FREQ=WEEKLY;COUNT=6",
                 f"EXDATE;TZID=Europe/London:{local(first + timedelta(weeks=1))}", *extra)


async def _schedule_in(sessions, room_id: int, starts_at: datetime, minutes: int = 120):
    course = await b.course(sessions)
    lead = await b.instructor(sessions)
    async with sessions() as db, changing(db):
        session = await scheduling.schedule_session(
            db, ADMIN, course_id=course.id, starts_at=starts_at, ends_at=starts_at + timedelta(minutes=minutes),
            timezone="Europe/London", delivery_mode=DeliveryMode.IN_PERSON, instructor_ids=[lead.id], room_id=room_id)
        return session.id


async def test_a_weekly_booking_in_the_rooms_calendar_refuses_an_overlapping_session(sessions, rooms_system):
    first = next_monday_at(10)
    rooms_system.calendars["thames"] = calendar(weekly_standup(first))
    room_id = await _import_thames(sessions, rooms_system)

    refresh = await venue_sync.refresh_room_calendars(sessions, ADMIN, source_for(rooms_system), horizon_days=180)
    assert (refresh.rooms_read, refresh.added, refresh.failed) == (1, 5, [])

    third = first + timedelta(weeks=2)
    with pytest.raises(DomainError) as refused:
        await _schedule_in(sessions, room_id, utc(third + timedelta(hours=1)))
    assert refused.value.code is ErrorCode.RESOURCE_CONFLICT
    [clash] = refused.value.conflicts
    assert (clash.resource_id, clash.resource_name, clash.session_id) == (room_id, "Thames", None)
    assert (clash.starts_at, clash.ends_at) == (utc(third), utc(third + timedelta(hours=2)))

    assert await _schedule_in(sessions, room_id, utc(first + timedelta(weeks=1)))       # the cancelled week is free
    assert await _schedule_in(sessions, room_id, utc(third + timedelta(hours=2)))       # right after the booking

    async with sessions() as db:
        shown = await scheduling.resource_bookings(db, room_id, utc(first), utc(first + timedelta(weeks=6)))
    external = [(x.starts_at, x.summary) for x in shown if x.session_id is None]
    assert external == [(utc(first + timedelta(weeks=w)), "Ops weekly") for w in (0, 2, 3, 4, 5)]
    assert len(shown) == 7


async def test_a_refresh_replaces_future_busy_times_and_a_broken_calendar_keeps_the_last_ones(sessions, rooms_system):
    first = next_monday_at(10)
    one_off = first + timedelta(days=2, hours=4)
    rooms_system.calendars["thames"] = calendar(weekly_standup(first), event("townhall@x", one_off, 60, "Town hall"))
    room_id = await _import_thames(sessions, rooms_system)
    source = source_for(rooms_system)
    await venue_sync.refresh_room_calendars(sessions, ADMIN, source, horizon_days=180)

    moved_week = first + timedelta(weeks=3)
    override = event("weekly-ops@rooms.example", moved_week + timedelta(hours=4), 60, "Ops weekly (moved)",
                     f"RECURRENCE-ID;TZID=Europe/London:{local(moved_week)}")
    rooms_system.calendars["thames"] = calendar(weekly_standup(first), override)       # town hall gone, week 4 moved
    again = await venue_sync.refresh_room_calendars(sessions, ADMIN, source, horizon_days=180)
    assert (again.added, again.moved, again.removed) == (0, 1, 1)

    unchanged = await venue_sync.refresh_room_calendars(sessions, ADMIN, source, horizon_days=180)
    assert (unchanged.added, unchanged.moved, unchanged.removed, unchanged.rooms_read) == (0, 0, 0, 1)

    del rooms_system.calendars["thames"]                                   # the calendar now answers 404
    broken = await venue_sync.refresh_room_calendars(sessions, ADMIN, source, horizon_days=180)
    assert broken.rooms_read == 0 and broken.failed[0][0] == room_id and "HTTP 404" in broken.failed[0][1]

    async with sessions() as db:
        rows = (await db.scalars(select(Booking).where(Booking.resource_id == room_id).order_by(Booking.starts_at))).all()
    assert [(r.starts_at, r.ends_at, r.summary, r.source) for r in rows] == [
        (utc(first), utc(first + timedelta(hours=2)), "Ops weekly", "venues"),
        (utc(first + timedelta(weeks=2)), utc(first + timedelta(weeks=2, hours=2)), "Ops weekly", "venues"),
        (utc(moved_week + timedelta(hours=4)), utc(moved_week + timedelta(hours=5)), "Ops weekly (moved)", "venues"),
        (utc(first + timedelta(weeks=4)), utc(first + timedelta(weeks=4, hours=2)), "Ops weekly", "venues"),
        (utc(first + timedelta(weeks=5)), utc(first + timedelta(weeks=5, hours=2)), "Ops weekly", "venues"),
    ]


async def test_past_busy_times_stay_and_only_future_ones_are_replaced(sessions, rooms_system):
    room_id = await _import_thames(sessions, rooms_system)
    now = datetime.now(UTC).replace(microsecond=0)
    past = BusyTime("past@x", now - timedelta(days=3), now - timedelta(days=3) + timedelta(hours=1), "Old")
    future = BusyTime("future@x", now + timedelta(days=3), now + timedelta(days=3, hours=1), "New")
    async with sessions() as db, changing(db):
        await venue_sync.replace_busy_times(db, ADMIN, room_id, "venues", [past, future], now - timedelta(days=7))
    async with sessions() as db, changing(db):
        change = await venue_sync.replace_busy_times(db, ADMIN, room_id, "venues", [], now)
    assert change.removed == 1
    async with sessions() as db:
        left = (await db.scalars(select(Booking.external_uid).where(Booking.resource_id == room_id))).all()
    assert left == ["past@x"]

    with pytest.raises(DomainError) as refused:
        async with sessions() as db, changing(db):
            await venue_sync.replace_busy_times(db, ADMIN, room_id, "venues",
                                                [BusyTime("naive", now.replace(tzinfo=None), now, None)], now)
    assert refused.value.code is ErrorCode.INVALID_TIME_RANGE


async def test_a_new_outside_booking_over_a_podium_session_is_reported(sessions, rooms_system):
    room_id = await _import_thames(sessions, rooms_system)
    first = next_monday_at(10)
    session_id = await _schedule_in(sessions, room_id, utc(first + timedelta(hours=1)))
    rooms_system.calendars["thames"] = calendar(event("clash@x", first, 120, "Board meeting"))
    refresh = await venue_sync.refresh_room_calendars(sessions, ADMIN, source_for(rooms_system), horizon_days=30)
    assert refresh.clashes == [(room_id, session_id)]


async def test_all_day_floating_free_and_cancelled_events_are_read_as_calendars_mean_them(rooms_system):
    day = next_monday_at(0).date() + timedelta(days=1)
    rooms_system.calendars["thames"] = calendar(
        "\n".join(["BEGIN:VEVENT", "UID:closed@x", f"DTSTART;VALUE=DATE:{day:%Y%m%d}",
                   f"DTEND;VALUE=DATE:{day + timedelta(days=1):%Y%m%d}", "SUMMARY:Closed for cleaning", "END:VEVENT"]),
        "\n".join(["BEGIN:VEVENT", "UID:floating@x", f"DTSTART:{day:%Y%m%d}T150000", "DURATION:PT30M",
                   "END:VEVENT"]),
        event("free@x", next_monday_at(9), 30, "Tentative hold", "TRANSP:TRANSPARENT"),
        event("cancelled@x", next_monday_at(11), 30, "Called off", "STATUS:CANCELLED"),
    )
    source = source_for(rooms_system)
    start = utc(next_monday_at(0))
    busy = await source.busy_times(rooms_system.calendar_url("thames"), start,
                                   start + timedelta(days=7), timezone="America/New_York")
    new_york = ZoneInfo("America/New_York")
    midnight = datetime(day.year, day.month, day.day, tzinfo=new_york)
    assert [(x.summary, x.starts_at, x.ends_at) for x in busy] == [
        ("Closed for cleaning", midnight.astimezone(UTC), (midnight + timedelta(days=1)).astimezone(UTC)),
        (None, (midnight + timedelta(hours=15)).astimezone(UTC), (midnight + timedelta(hours=15, minutes=30)).astimezone(UTC)),
    ]
    rooms_system.calendars["junk"] = "<html>not a calendar</html>"
    with pytest.raises(VenueFeedError, match="is not an iCalendar file"):
        await source.busy_times(rooms_system.calendar_url("junk"), start, start + timedelta(days=7))
    with pytest.raises(VenueFeedError, match="is not an http"):
        await source.busy_times("ftp://rooms.example/cal.ics", start, start + timedelta(days=7))
