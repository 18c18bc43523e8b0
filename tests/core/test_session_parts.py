"""Rule 9: a session of several parts books its resources part by part; under concurrency, on both
databases, exactly one of many clashing multi-part sessions is written and nothing of the others."""
from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from podium.core.db import changing
from podium.core.errors import DomainError, ErrorCode
from podium.core.models import Booking, DeliveryMode, Session, SessionPart
from podium.core.services import scheduling
from podium.core.models import AttendanceStatus as A
from podium.core.services.attendance import PartRecord, session_attendance
from podium.core.settings import Settings
from tests import builders as b
from tests.builders import ADMIN, soon


def days(start, *offsets, hours=3, shift=timedelta(0)):
    """Parts of `hours` at 09:00 (plus `shift`) on each day offset from `start`."""
    return [(start + timedelta(days=d) + shift, start + timedelta(days=d, hours=hours) + shift) for d in offsets]


async def schedule_parts(sessions, parts, **kw):
    async with sessions() as db, changing(db):
        return await scheduling.schedule_session(
            db, ADMIN, starts_at=parts[0][0], ends_at=parts[-1][1], timezone="Europe/London",
            parts=parts, **{"delivery_mode": DeliveryMode.VIRTUAL, **kw})


async def _count(sessions, model) -> int:
    async with sessions() as db:
        return await db.scalar(select(func.count()).select_from(model))


async def test_50_concurrent_multi_part_sessions_sharing_an_instructor_one_wins(sessions):
    """Even attempts run on days 0, 2, 4, odd ones on days 1, 2, 3: each pair meets only on day 2, so a
    refused session's other days were free; none of their parts or bookings may remain."""
    course = await b.course(sessions)
    shared = await b.instructor(sessions)
    start = soon(days=10)
    attempts = []
    for n in range(50):
        own = await b.instructor(sessions)
        offsets = (0, 2, 4) if n % 2 == 0 else (1, 2, 3)
        attempts.append((days(start, *offsets, shift=timedelta(minutes=n)), [shared.id, own.id]))

    async def attempt(parts, instructor_ids):
        try:
            return (await schedule_parts(sessions, parts, course_id=course.id, instructor_ids=instructor_ids)).id
        except DomainError as exc:
            return exc

    results = await asyncio.gather(*(attempt(*a) for a in attempts))
    won = [r for r in results if isinstance(r, int)]
    lost = [r for r in results if isinstance(r, DomainError)]
    assert len(won) == 1 and len(lost) == 49
    for error in lost:
        assert error.code is ErrorCode.RESOURCE_CONFLICT and shared.name in error.message
        assert {c.resource_name for c in error.conflicts} == {shared.name}
    assert await _count(sessions, Session) == 1
    assert await _count(sessions, SessionPart) == 3
    async with sessions() as db:
        booked = (await db.execute(select(Booking.session_id, Booking.part_id, Booking.resource_id))).all()
    assert {row.session_id for row in booked} == {won[0]} and len(booked) == 3 * 2  # two instructors, three parts


async def test_parts_book_their_own_intervals_and_leave_the_nights_free(sessions):
    course = await b.course(sessions)
    lead, room = await b.instructor(sessions), await b.room(sessions)
    start = soon(days=10)
    three_days = days(start, 0, 1, 2, hours=8)  # 09:00-17:00 on three days
    session = await schedule_parts(sessions, three_days, course_id=course.id, instructor_ids=[lead.id],
                                   delivery_mode=DeliveryMode.IN_PERSON, room_id=room.id, setup_minutes=30,
                                   teardown_minutes=15)
    async with sessions() as db:
        rows = (await db.execute(select(Booking.resource_id, Booking.starts_at, Booking.ends_at, SessionPart.position)
                                 .join(SessionPart, SessionPart.id == Booking.part_id)
                                 .where(Booking.session_id == session.id)
                                 .order_by(SessionPart.position, Booking.resource_id))).all()
    assert [(r.position, r.resource_id, r.starts_at, r.ends_at) for r in rows] == [
        (n + 1, rid, s - timedelta(minutes=30), e + timedelta(minutes=15))
        for n, (s, e) in enumerate(three_days) for rid in sorted((lead.id, room.id))]
    # The same instructor teaches an evening session between day 1 and day 2; inside a part, refused.
    evening = start + timedelta(hours=10)
    await b.session(sessions, course_id=course.id, instructor_ids=[lead.id], starts_at=evening, minutes=90)
    with pytest.raises(DomainError) as refused:
        await b.session(sessions, course_id=course.id, instructor_ids=[lead.id],
                        starts_at=start + timedelta(days=1, hours=2))
    assert refused.value.code is ErrorCode.RESOURCE_CONFLICT


async def test_buffers_between_close_parts_are_shared_not_doubled(sessions):
    """A morning and an afternoon with an hour's lunch, 45 minutes of teardown and 30 of setup: the lunch
    is held once (teardown first), so the session never clashes with itself."""
    course = await b.course(sessions)
    lead = await b.instructor(sessions)
    start = soon(days=10)
    parts = [(start, start + timedelta(hours=3)), (start + timedelta(hours=4), start + timedelta(hours=7))]
    session = await schedule_parts(sessions, parts, course_id=course.id, instructor_ids=[lead.id],
                                   setup_minutes=30, teardown_minutes=45)
    async with sessions() as db:
        held = (await db.execute(select(Booking.starts_at, Booking.ends_at).where(Booking.session_id == session.id)
                                 .order_by(Booking.starts_at))).all()
    lunch_split = start + timedelta(hours=3, minutes=30)
    assert [tuple(h) for h in held] == [(start - timedelta(minutes=30), lunch_split),
                                        (lunch_split, start + timedelta(hours=7, minutes=45))]


@pytest.mark.parametrize("parts, code, field", [
    ([], ErrorCode.INVALID, "parts"),
    ([(0, 3), (2, 5)], ErrorCode.INVALID_TIME_RANGE, "parts.1.startsAt"),   # overlapping
    ([(24, 27), (0, 3)], ErrorCode.INVALID_TIME_RANGE, "parts.1.startsAt"),  # out of order
    ([(0, 3), (5, 4)], ErrorCode.INVALID_TIME_RANGE, "parts.1.endsAt"),      # ends before it starts
])
async def test_bad_parts_are_refused_and_nothing_is_written(sessions, parts, code, field):
    course = await b.course(sessions)
    lead = await b.instructor(sessions)
    start = soon(days=10)
    spans = [(start + timedelta(hours=s), start + timedelta(hours=e)) for s, e in parts]
    with pytest.raises(DomainError) as refused:
        async with sessions() as db, changing(db):
            await scheduling.schedule_session(
                db, ADMIN, course_id=course.id, starts_at=start, ends_at=start + timedelta(hours=27),
                timezone="Europe/London", delivery_mode=DeliveryMode.VIRTUAL, instructor_ids=[lead.id], parts=spans)
    assert (refused.value.code, refused.value.field) == (code, field)
    assert await _count(sessions, Session) == 0 and await _count(sessions, Booking) == 0


async def test_the_first_and_last_part_are_the_sessions_start_and_end(sessions):
    course = await b.course(sessions)
    lead = await b.instructor(sessions)
    start = soon(days=10)
    parts = days(start, 0, 1)
    for starts_at, ends_at, field in ((start - timedelta(hours=1), parts[-1][1], "startsAt"),
                                      (start, parts[-1][1] + timedelta(hours=1), "endsAt")):
        with pytest.raises(DomainError) as refused:
            async with sessions() as db, changing(db):
                await scheduling.schedule_session(
                    db, ADMIN, course_id=course.id, starts_at=starts_at, ends_at=ends_at, timezone="Europe/London",
                    delivery_mode=DeliveryMode.VIRTUAL, instructor_ids=[lead.id], parts=parts)
        assert (refused.value.code, refused.value.field) == (ErrorCode.INVALID_TIME_RANGE, field)


async def test_qualifications_are_checked_on_every_parts_date(sessions):
    start = soon(days=10)
    course = await b.course(sessions, required_qualifications=["First aid"])
    lapsing = await b.instructor(sessions, qualifications=[("First aid", start.date() + timedelta(days=1))])
    with pytest.raises(DomainError) as refused:
        await schedule_parts(sessions, days(start, 0, 1, 2), course_id=course.id, instructor_ids=[lapsing.id])
    assert refused.value.code is ErrorCode.QUALIFICATION_MISSING
    assert (await schedule_parts(sessions, days(start, 0, 1), course_id=course.id, instructor_ids=[lapsing.id])).id


async def test_reschedule_one_part_or_all(sessions):
    course = await b.course(sessions)
    lead, other = await b.instructor(sessions), await b.instructor(sessions)
    start = soon(days=10)
    session = await schedule_parts(sessions, days(start, 0, 1, 2), course_id=course.id, instructor_ids=[lead.id])
    blocker = await b.session(sessions, course_id=course.id, instructor_ids=[lead.id],
                              starts_at=start + timedelta(days=5))

    async def move(starts_at, ends_at, **kw):
        async with sessions() as db, changing(db):
            await scheduling.reschedule_session(db, ADMIN, session.id, starts_at, ends_at, settings=Settings(), **kw)
        async with sessions() as db:
            return [(p.starts_at, p.ends_at) for p in await scheduling.session_part_rows(db, session.id)]

    # Part 3 moves to day 5, where the instructor teaches already: refused, nothing moves.
    with pytest.raises(DomainError) as refused:
        await move(start + timedelta(days=5), start + timedelta(days=5, hours=3), part=3)
    assert refused.value.code is ErrorCode.RESOURCE_CONFLICT
    assert {c.session_id for c in refused.value.conflicts} == {blocker.id}
    # Part 2 moves an hour later the same day: only it, and only its bookings.
    moved = await move(start + timedelta(days=1, hours=1), start + timedelta(days=1, hours=4), part=2)
    assert moved == [days(start, 0)[0], days(start, 1, shift=timedelta(hours=1))[0], days(start, 2)[0]]
    # Moved past part 3's start: the parts would be out of order.
    with pytest.raises(DomainError) as refused:
        await move(start + timedelta(days=2, hours=1), start + timedelta(days=2, hours=2), part=2)
    assert refused.value.code is ErrorCode.INVALID_TIME_RANGE
    # The whole session a week later, on its local clock (endsAt must follow).
    week = timedelta(days=7)
    with pytest.raises(DomainError) as refused:
        await move(start + week, start + week + timedelta(hours=3))
    assert (refused.value.code, refused.value.field) == (ErrorCode.INVALID_TIME_RANGE, "endsAt")
    before = await move(start, start + timedelta(days=2, hours=3))  # where it is: nothing changes
    moved = await move(start + week, start + week + timedelta(days=2, hours=3))
    assert moved == [(s + week, e + week) for s, e in before]  # a week in July or January: no DST in between
    async with sessions() as db:
        held = (await db.execute(select(Booking.starts_at, Booking.ends_at).where(Booking.session_id == session.id)
                                 .order_by(Booking.starts_at))).all()
    assert [tuple(h) for h in held] == moved
    # Every part given at once.
    given = days(start, 20, 21, 22)
    assert await move(given[0][0], given[-1][1], parts=given) == given
    with pytest.raises(DomainError) as refused:
        await move(given[0][0], given[1][1], parts=given[:2])
    assert (refused.value.code, refused.value.field) == (ErrorCode.INVALID, "parts")


def test_the_session_attendance_rule():
    P, M = (lambda s: PartRecord(s, 60, "MANUAL")), None
    assert session_attendance([P(A.PRESENT)], None).status is A.PRESENT
    assert session_attendance([P(A.LATE)], None).status is A.LATE
    assert session_attendance([P(A.EXCUSED)], None).status is A.EXCUSED
    assert session_attendance([P(A.PRESENT), P(A.PRESENT), M], None) is None        # not yet known
    assert session_attendance([P(A.PRESENT), P(A.LATE), P(A.PRESENT)], None).status is A.LATE
    assert session_attendance([P(A.PRESENT), P(A.ABSENT), M], None).status is A.ABSENT  # can no longer reach 3
    assert session_attendance([P(A.PRESENT), P(A.ABSENT), M], 2) is None
    assert session_attendance([P(A.PRESENT), P(A.ABSENT), P(A.LEFT_EARLY)], 2).status is A.LEFT_EARLY
    assert session_attendance([P(A.EXCUSED), P(A.EXCUSED), M], 2).status is A.EXCUSED
    assert session_attendance([P(A.PRESENT), P(A.PRESENT), P(A.PRESENT)], None).minutes_attended == 180
    assert session_attendance([P(A.PRESENT), P(A.PRESENT)], 5).status is A.PRESENT  # capped at the part count
