"""Rule 11 for series: every occurrence checked by the same rule functions, all made or none, on the
session's local wall clock across daylight-saving changes; on both databases, under concurrency."""
from __future__ import annotations

import asyncio
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from podium.core.db import changing
from podium.core.errors import DomainError, ErrorCode
from podium.core.models import Booking, DeliveryMode, SeriesOccurrence, Session, SessionPart, SessionSeries
from podium.core.services import series
from tests import builders as b
from tests.builders import ADMIN

BERLIN, NEW_YORK = ZoneInfo("Europe/Berlin"), ZoneInfo("America/New_York")


def next_tuesday(hour: int, tz: ZoneInfo, weeks: int = 2) -> datetime:
    today = datetime.now(tz).date() + timedelta(weeks=weeks)
    day = today + timedelta(days=(1 - today.weekday()) % 7)
    return datetime(day.year, day.month, day.day, hour, tzinfo=tz)


async def make_series(sessions, recurrence, starts_at, minutes=90, tz="Europe/Berlin", **kw):
    async with sessions() as db, changing(db):
        return await series.schedule_series(
            db, ADMIN, recurrence=recurrence, starts_at=starts_at, ends_at=starts_at + timedelta(minutes=minutes),
            timezone=tz, **{"delivery_mode": DeliveryMode.VIRTUAL, **kw})


async def _count(sessions, model) -> int:
    async with sessions() as db:
        return await db.scalar(select(func.count()).select_from(model))


async def test_a_series_of_10_whose_7th_occurrence_clashes_creates_nothing(sessions):
    course, lead = await b.course(sessions), await b.instructor(sessions)
    first = next_tuesday(9, BERLIN)
    seventh = first + timedelta(weeks=6)  # the same wall clock; the booking below is in UTC terms of that day
    blocker = await b.session(sessions, course_id=course.id, instructor_ids=[lead.id],
                              starts_at=datetime(seventh.year, seventh.month, seventh.day, 9, 30,
                                                 tzinfo=BERLIN).astimezone(timezone.utc), minutes=30)
    before = (await _count(sessions, Session), await _count(sessions, Booking), await _count(sessions, SessionPart))
    with pytest.raises(DomainError) as refused:
        await make_series(sessions, "RRULE:FREQ=WEEKLY;BYDAY=TU;COUNT=10", first, course_id=course.id,
                          instructor_ids=[lead.id])
    assert refused.value.code is ErrorCode.RESOURCE_CONFLICT
    assert [(c.occurrence, c.session_id) for c in refused.value.conflicts] == [(7, blocker.id)]
    assert (await _count(sessions, Session), await _count(sessions, Booking),
            await _count(sessions, SessionPart)) == before
    assert await _count(sessions, SessionSeries) == 0 and await _count(sessions, SeriesOccurrence) == 0
    # A dry run of the same says the same, and one that fits lists what it would make, writing nothing.
    with pytest.raises(DomainError):
        await make_series(sessions, "RRULE:FREQ=WEEKLY;BYDAY=TU;COUNT=10", first, course_id=course.id,
                          instructor_ids=[lead.id], dry_run=True)
    made, found, written = await make_series(sessions, "RRULE:FREQ=WEEKLY;BYDAY=TU;COUNT=6", first,
                                             course_id=course.id, instructor_ids=[lead.id], dry_run=True)
    assert made is None and written == [] and [o.number for o in found] == [1, 2, 3, 4, 5, 6]
    assert await _count(sessions, Session) == before[0]
    # Leaving the 7th out, the ten-week series fits: nine sessions.
    made, found, written = await make_series(sessions, "RRULE:FREQ=WEEKLY;BYDAY=TU;COUNT=10", first,
                                             course_id=course.id, instructor_ids=[lead.id],
                                             except_dates=[seventh.date()])
    assert len(written) == 9 and made.occurrences == 9 and made.except_dates == [seventh.date().isoformat()]
    assert seventh.date() not in {s.starts_at.astimezone(BERLIN).date() for s in written}


async def test_ten_concurrent_series_for_one_instructor_one_is_made(sessions):
    course, lead = await b.course(sessions), await b.instructor(sessions)
    first = next_tuesday(9, BERLIN)

    async def attempt(n):
        try:
            return await make_series(sessions, "RRULE:FREQ=WEEKLY;COUNT=8", first + timedelta(minutes=5 * n),
                                     course_id=course.id, instructor_ids=[lead.id])
        except DomainError as exc:
            return exc

    results = await asyncio.gather(*(attempt(n) for n in range(10)))
    assert sum(not isinstance(r, DomainError) for r in results) == 1
    assert all(r.code is ErrorCode.RESOURCE_CONFLICT for r in results if isinstance(r, DomainError))
    assert await _count(sessions, Session) == 8 and await _count(sessions, SessionSeries) == 1


@pytest.mark.parametrize("zone, hour", [(BERLIN, 9), (NEW_YORK, 18)])
async def test_a_weekly_series_keeps_its_local_time_across_both_2027_dst_changes(sessions, zone, hour):
    course, lead = await b.course(sessions), await b.instructor(sessions)
    first = datetime(2027, 3, 2, hour, tzinfo=zone)  # a Tuesday; to 9 November: both changes of 2027
    made, found, written = await make_series(sessions, "RRULE:FREQ=WEEKLY;BYDAY=TU;COUNT=37", first,
                                             tz=zone.key, course_id=course.id, instructor_ids=[lead.id])
    assert len(written) == 37
    local = [s.starts_at.astimezone(zone) for s in written]
    assert {(t.hour, t.minute, t.weekday()) for t in local} == {(hour, 0, 1)}
    assert [t.date() for t in local] == [date(2027, 3, 2) + timedelta(weeks=n) for n in range(37)]
    offsets = [t.utcoffset() for t in local]
    assert offsets[0] == offsets[-1] != offsets[10]  # summer time in between: the UTC hour moved, not the local
    utc_hours = {s.starts_at.astimezone(timezone.utc).hour for s in written}
    assert len(utc_hours) == 2


async def test_a_series_of_multi_part_sessions(sessions):
    """Each occurrence has the first's parts, on its own days (two days a fortnight apart, four times)."""
    course, lead = await b.course(sessions), await b.instructor(sessions)
    first = next_tuesday(9, BERLIN)
    parts = [(first, first + timedelta(hours=8)), (first + timedelta(days=1), first + timedelta(days=1, hours=8))]
    async with sessions() as db, changing(db):
        made, found, written = await series.schedule_series(
            db, ADMIN, recurrence="RRULE:FREQ=WEEKLY;INTERVAL=2;COUNT=4", starts_at=parts[0][0],
            ends_at=parts[1][1], parts=parts, timezone="Europe/Berlin", delivery_mode=DeliveryMode.VIRTUAL,
            course_id=course.id, instructor_ids=[lead.id])
    assert [len(o.parts) for o in found] == [2, 2, 2, 2]
    assert await _count(sessions, SessionPart) == 8 and await _count(sessions, Booking) == 8
    assert [o.parts[1][0].astimezone(BERLIN).hour for o in found] == [9] * 4


@pytest.mark.parametrize("recurrence, code", [
    ("RRULE:FREQ=WEEKLY;BYDAY=TU", ErrorCode.INVALID),              # never ends
    ("RRULE:FREQ=DAILY;COUNT=367", ErrorCode.INVALID),              # more than 366
    ("RRULE:FREQ=DAILY;UNTIL=20290101T000000Z", ErrorCode.INVALID),  # more than 366 by its end
    ("RRULE:FREQ=HOURLY;COUNT=3", ErrorCode.INVALID),               # not a training rhythm
    ("RRULE:FREQ=WEEKLY;COUNT=two", ErrorCode.INVALID),             # not RFC 5545
    ("RRULE:FREQ=DAILY;COUNT=3\nEXDATE:20270303T090000", ErrorCode.INVALID),  # one line only
    ("RRULE:FREQ=WEEKLY;COUNT=3;INTERVAL=0", ErrorCode.INVALID),    # would never move on
    ("RRULE:FREQ=DAILY;COUNT=3;BYHOUR=7", ErrorCode.INVALID),       # the time of day is startsAt's
    ("RRULE:FREQ=DAILY;COUNT=3;UNTIL=20991231", ErrorCode.INVALID),  # COUNT or UNTIL, not both
    ("RRULE:FREQ=DAILY;COUNT=1;BYMONTH=2;BYMONTHDAY=30", ErrorCode.INVALID),  # a date that never comes
    ("RRULE:FREQ=YEARLY;UNTIL=20991231", ErrorCode.INVALID_TIME_RANGE),       # past the scheduling horizon
    ("RRULE:FREQ=WEEKLY;COUNT=300", ErrorCode.INVALID_TIME_RANGE),            # its last ones past it
])
async def test_bad_rules_are_invalid_and_make_nothing(sessions, recurrence, code):
    course, lead = await b.course(sessions), await b.instructor(sessions)
    with pytest.raises(DomainError) as refused:
        await make_series(sessions, recurrence, next_tuesday(9, BERLIN), course_id=course.id, instructor_ids=[lead.id])
    assert (refused.value.code, refused.value.field) == (code, "recurrence")
    assert await _count(sessions, Session) == 0


async def test_an_until_in_utc_and_dates_the_rule_does_not_make(sessions):
    course, lead = await b.course(sessions), await b.instructor(sessions)
    first = next_tuesday(9, BERLIN)
    until = (first + timedelta(weeks=2, hours=1)).astimezone(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    _, found, written = await make_series(sessions, f"RRULE:FREQ=WEEKLY;UNTIL={until}", first,
                                          course_id=course.id, instructor_ids=[lead.id])
    assert len(written) == 3
    with pytest.raises(DomainError) as refused:
        await make_series(sessions, "RRULE:FREQ=WEEKLY;COUNT=3", first + timedelta(weeks=5), course_id=course.id,
                          instructor_ids=[lead.id], except_dates=[(first + timedelta(days=36)).date()])
    assert (refused.value.code, refused.value.field) == (ErrorCode.INVALID, "exceptDates")


async def test_occurrences_that_overlap_each_other_are_refused(sessions):
    course, lead = await b.course(sessions), await b.instructor(sessions)
    with pytest.raises(DomainError) as refused:
        await make_series(sessions, "RRULE:FREQ=DAILY;COUNT=3", next_tuesday(9, BERLIN), minutes=36 * 60,
                          course_id=course.id, instructor_ids=[lead.id])
    assert (refused.value.code, refused.value.field) == (ErrorCode.INVALID_TIME_RANGE, "recurrence")


async def test_cancel_series_from_an_occurrence_on(sessions):
    course, lead = await b.course(sessions), await b.instructor(sessions)
    first = next_tuesday(9, BERLIN)
    made, _, written = await make_series(sessions, "RRULE:FREQ=WEEKLY;COUNT=5", first, course_id=course.id,
                                         instructor_ids=[lead.id])
    async with sessions() as db, changing(db):
        _, cancelled = await series.cancel_series(db, ADMIN, made.id, written[2].starts_at, "Budget cut")
    assert [s.id for s in cancelled] == [s.id for s in written[2:]]
    async with sessions() as db:
        statuses = (await db.scalars(select(Session.status).order_by(Session.starts_at))).all()
    assert [s.value for s in statuses] == ["SCHEDULED"] * 2 + ["CANCELLED"] * 3


async def test_a_series_moving_while_sessions_take_its_new_slot_all_or_none_under_concurrency(sessions):
    """rescheduleSeries to 14:00 races nine sessions of the same instructor at 14:30 on the third occurrence's
    day (each clashing with the others and with the moved third): exactly one change is written, and the
    series is either wholly moved or wholly where it was."""
    from podium.core.services import scheduling
    from podium.core.settings import Settings

    course, lead = await b.course(sessions), await b.instructor(sessions)
    first = next_tuesday(9, BERLIN)
    made, _, written = await make_series(sessions, "RRULE:FREQ=WEEKLY;COUNT=4", first, minutes=60,
                                         course_id=course.id, instructor_ids=[lead.id])
    third = written[2].starts_at.astimezone(BERLIN)

    async def move():
        try:
            async with sessions() as db, changing(db):
                await series.reschedule_series(db, ADMIN, made.id, series.SeriesMove(start_time="14:00"),
                                               settings=Settings())
                return "series"
        except DomainError as exc:
            return exc

    async def take(n):
        starts_at = third.replace(hour=14, minute=30 + n)
        try:
            async with sessions() as db, changing(db):
                await scheduling.schedule_session(
                    db, ADMIN, course_id=course.id, starts_at=starts_at, ends_at=starts_at + timedelta(hours=1),
                    timezone="Europe/Berlin", delivery_mode=DeliveryMode.VIRTUAL, instructor_ids=[lead.id])
                return "session"
        except DomainError as exc:
            return exc

    results = await asyncio.gather(*(take(n) for n in range(4)), move(), *(take(n) for n in range(4, 9)))
    won = [r for r in results if isinstance(r, str)]
    assert len(won) == 1 and all(r.code is ErrorCode.RESOURCE_CONFLICT for r in results if isinstance(r, DomainError))
    async with sessions() as db:
        hours = {s.astimezone(BERLIN).hour for s in (await db.scalars(select(Session.starts_at).join(
            SeriesOccurrence, SeriesOccurrence.session_id == Session.id))).all()}
    assert hours == ({14} if won == ["series"] else {9})
    assert await _count(sessions, Session) == (4 if won == ["series"] else 5)


def test_the_stored_recurrence_of_moved_occurrences_ends_as_the_rule_was_made():
    """`describe` covers occurrences with the made rule's pattern from their start, keeping UNTIL (in UTC) for a
    rule made with UNTIL and the except dates it passes as EXDATEs; `truncated` ends a rule after its first n;
    expanding what they write gives the occurrences back."""
    tuesdays = [datetime(2027, 3, 16, 10, 30, tzinfo=BERLIN) + timedelta(weeks=w) for w in range(8)]
    starts = [t for t in tuesdays if t.date() != date(2027, 4, 20)]  # 16 March to 4 May, 20 April left out
    spans = [(n, s, s + timedelta(hours=1)) for n, s in enumerate(starts, 3)]
    made = "RRULE:FREQ=WEEKLY;UNTIL=20270601"
    [whole] = series.describe(made, "Europe/Berlin", spans, {date(2027, 4, 20)})
    assert (whole.first, whole.starts_at, whole.ends_at) == (3, starts[0], starts[0] + timedelta(hours=1))
    assert whole.rule == "RRULE:FREQ=WEEKLY;UNTIL=20270504T083000Z"  # 10:30 in Berlin in summer
    assert whole.except_dates == (date(2027, 4, 20),)
    _, again = series.occurrences(whole.rule, [(whole.starts_at, whole.ends_at)], "Europe/Berlin",
                                  list(whole.except_dates))
    assert [o.parts[0] for o in again] == [(s, e) for _, s, e in spans]

    cut = series.truncated(whole, 2, "Europe/Berlin")
    assert (cut.rule, cut.except_dates) == ("RRULE:FREQ=WEEKLY;UNTIL=20270323T093000Z", ())  # winter: 09:30 UTC
    assert series.truncated(whole, 6, "Europe/Berlin").except_dates == (date(2027, 4, 20),)

    # Counted rules stay counted; a start the pattern does not make is a rule of its own.
    wednesday = spans[1][1] + timedelta(days=1)
    moved = [spans[0], (4, wednesday, wednesday + timedelta(hours=1)), *spans[2:]]
    described = series.describe("RRULE:FREQ=WEEKLY;BYDAY=TU;COUNT=10", "Europe/Berlin", moved, {date(2027, 4, 20)})
    assert [(r.first, r.rule, r.except_dates) for r in described] == [
        (3, "RRULE:FREQ=WEEKLY;BYDAY=TU;COUNT=1", ()), (4, series.SINGLE, ()),
        (5, "RRULE:FREQ=WEEKLY;BYDAY=TU;COUNT=6", (date(2027, 4, 20),))]
