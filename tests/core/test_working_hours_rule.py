"""Rule 8 in the core, on both databases: buffers count, the override is staff's alone, equipment is always
available by default, and time off added while sessions are being scheduled is never booked over; the
interval arithmetic on the local clock, across daylight-saving changes."""
from __future__ import annotations

import asyncio
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from podium.core import working_hours as wh
from podium.core.audit import Actor
from podium.core.db import changing
from podium.core.errors import DomainError, ErrorCode
from podium.core.models import AuditEntry, Booking, DeliveryMode, Role, Session
from podium.core.services import availability, scheduling
from tests import builders as b
from tests.builders import ADMIN

LONDON = ZoneInfo("Europe/London")
OFFICE = [(day, "09:00", "17:00") for day in ("MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY")]


def next_tuesday(days: int = 10) -> date:
    day = datetime.now(timezone.utc).date() + timedelta(days=days)
    return day + timedelta(days=(1 - day.weekday()) % 7)


def at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), LONDON)


async def refused(coroutine) -> DomainError:
    with pytest.raises(DomainError) as caught:
        await coroutine
    return caught.value


async def test_setup_and_teardown_buffers_must_fit_the_hours(sessions):
    course = await b.course(sessions)
    lead = await b.instructor(sessions, weekly_hours=OFFICE)
    day = next_tuesday()
    error = await refused(b.session(sessions, course_id=course.id, instructor_ids=[lead.id], starts_at=at(day, 9),
                                    minutes=60, setup_minutes=30))
    assert error.code is ErrorCode.OUTSIDE_AVAILABILITY
    assert f"{day.isoformat()} 08:30–09:00 Europe/London" in error.message
    made = await b.session(sessions, course_id=course.id, instructor_ids=[lead.id], starts_at=at(day, 9, 30),
                           minutes=60, setup_minutes=30)
    assert made.id


async def test_only_staff_may_override_even_in_the_core(sessions):
    course = await b.course(sessions)
    lead = await b.instructor(sessions, weekly_hours=OFFICE)
    night = at(next_tuesday(), 2)
    for role in (Role.LEARNER, Role.INSTRUCTOR):
        actor = Actor(label=f"someone-{role.value}", person_id=1, role=role)
        async with sessions() as db:
            with pytest.raises(DomainError) as caught:
                async with changing(db):
                    await scheduling.schedule_session(
                        db, actor, course_id=course.id, starts_at=night, ends_at=night + timedelta(hours=1),
                        timezone="Europe/London", delivery_mode=DeliveryMode.VIRTUAL, instructor_ids=[lead.id],
                        allow_outside_hours=True)
        assert caught.value.code is ErrorCode.FORBIDDEN and caught.value.field == "allowOutsideHours"
    async with sessions() as db:
        assert (await db.scalars(select(Session))).all() == []
    made = await b.session(sessions, course_id=course.id, instructor_ids=[lead.id], starts_at=night,
                           allow_outside_hours=True)
    async with sessions() as db:
        actions = (await db.scalars(select(AuditEntry.action).order_by(AuditEntry.id))).all()
    assert made.id and "availability.override" in actions


async def test_equipment_is_always_available_until_given_hours(sessions):
    course = await b.course(sessions)
    lead = await b.instructor(sessions)
    kit = await b.equipment(sessions)
    sunday_night = at(next_tuesday() - timedelta(days=2), 23)
    assert (await b.session(sessions, course_id=course.id, instructor_ids=[lead.id], starts_at=sunday_night,
                            equipment_ids=[kit.id])).id
    async with sessions() as db, changing(db):
        await availability.set_working_hours(db, ADMIN, kit.id, OFFICE)
    error = await refused(b.session(sessions, course_id=course.id, instructor_ids=[lead.id],
                                    starts_at=sunday_night + timedelta(days=7), equipment_ids=[kit.id]))
    assert error.code is ErrorCode.OUTSIDE_AVAILABILITY and kit.name in error.message


async def test_time_off_added_meanwhile_is_never_booked_over(sessions):
    """Twenty schedules of one instructor race one addTimeOff that covers half of them: every session that
    overlaps the time off was booked before it was added (the audit log's order is the commit order)."""
    course = await b.course(sessions)
    lead = await b.instructor(sessions)
    day = next_tuesday()
    leave_from, leave_to = at(day, 10), at(day, 20)

    async def schedule(n: int):
        try:
            return (await b.session(sessions, course_id=course.id, instructor_ids=[lead.id],
                                    starts_at=at(day, 0) + timedelta(minutes=60 * n), minutes=60)).id
        except DomainError as error:
            return error

    async def leave():
        async with sessions() as db, changing(db):
            return (await availability.add_time_off(db, ADMIN, lead.id, leave_from, leave_to, "Sick")).id

    results = await asyncio.gather(*(schedule(n) for n in range(20)), leave())
    assert all(isinstance(r, int) or r.code is ErrorCode.OUTSIDE_AVAILABILITY for r in results[:-1])
    async with sessions() as db:
        audit = {(e.action, e.target_id): e.id for e in (await db.scalars(select(AuditEntry))).all()}
        bookings = (await db.scalars(select(Booking).where(Booking.resource_id == lead.id))).all()
    added = audit[("resource.time_off.add", lead.id)]
    for booking in bookings:
        if booking.starts_at < leave_to and booking.ends_at > leave_from:
            assert audit[("session.schedule", booking.session_id)] < added
    refusals = [r for r in results[:-1] if isinstance(r, DomainError)]
    assert all("on time off" in r.message for r in refusals)
    assert len(bookings) + len(refusals) == 20


# --- the arithmetic, without a database ----------------------------------------------------------

def utc(*args) -> datetime:
    return datetime(*args, tzinfo=timezone.utc)


def test_office_hours_keep_their_wall_clock_across_both_changes():
    """Europe/Berlin: CET (+1) until 28 March 2027, CEST (+2) until 31 October 2027."""
    spring = wh.open_intervals(wh.OFFICE_HOURS, {}, "Europe/Berlin", utc(2027, 3, 26), utc(2027, 3, 30))
    assert spring == [(utc(2027, 3, 26, 8), utc(2027, 3, 26, 16)), (utc(2027, 3, 29, 7), utc(2027, 3, 29, 15))]
    autumn = wh.open_intervals(wh.OFFICE_HOURS, {}, "Europe/Berlin", utc(2027, 10, 29), utc(2027, 11, 2))
    assert autumn == [(utc(2027, 10, 29, 7), utc(2027, 10, 29, 15)), (utc(2027, 11, 1, 8), utc(2027, 11, 1, 16))]


def test_ranges_past_midnight_join_and_exceptions_replace_a_day():
    weekly = ((0, 20 * 60, wh.DAY), (1, 0, 2 * 60))
    assert wh.open_intervals(weekly, {}, "UTC", utc(2027, 3, 1), utc(2027, 3, 3)) == [
        (utc(2027, 3, 1, 20), utc(2027, 3, 2, 2))]
    closed_monday = {date(2027, 3, 1): ()}
    assert wh.open_intervals(weekly, closed_monday, "UTC", utc(2027, 3, 1), utc(2027, 3, 3)) == [
        (utc(2027, 3, 2), utc(2027, 3, 2, 2))]


def test_subtract_and_gaps():
    hours = [(utc(2027, 1, 1, 9), utc(2027, 1, 1, 17))]
    away = [(utc(2027, 1, 1, 8), utc(2027, 1, 1, 10)), (utc(2027, 1, 1, 12), utc(2027, 1, 1, 13))]
    free = wh.subtract(hours, away)
    assert free == [(utc(2027, 1, 1, 10), utc(2027, 1, 1, 12)), (utc(2027, 1, 1, 13), utc(2027, 1, 1, 17))]
    assert wh.gaps(free, utc(2027, 1, 1, 11), utc(2027, 1, 1, 14)) == [(utc(2027, 1, 1, 12), utc(2027, 1, 1, 13))]
    assert wh.gaps(free, utc(2027, 1, 1, 13), utc(2027, 1, 1, 17)) == []


@pytest.mark.parametrize("ranges", [[("MONDAY", "17:00", "09:00")], [("MONDAY", "09:00", "09:00")],
                                    [("MONDAY", "24:30", "25:00")], [("MONDAY", "9:00", "17:00")],
                                    [("Mon", "09:00", "17:00")],
                                    [("MONDAY", "09:00", "12:00"), ("MONDAY", "11:00", "17:00")]])
def test_bad_weekly_hours_are_invalid(ranges):
    with pytest.raises(DomainError) as caught:
        wh.weekly_hours(ranges)
    assert caught.value.code is ErrorCode.INVALID
