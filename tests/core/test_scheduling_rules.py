"""Rules 1, 2 and 4 under concurrency: no double booking, room capacity, qualifications."""
from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from podium.core.db import changing
from podium.core.errors import DomainError, ErrorCode
from podium.core.models import AuditEntry, Booking, DeliveryMode, Session
from podium.core.services import scheduling
from podium.core.settings import Settings
from tests import builders as b
from tests.builders import ADMIN, soon


async def _try_schedule(sessions, **kw):
    try:
        s = await b.session(sessions, **kw)
        return s.id
    except DomainError as exc:
        return exc


async def _count(sessions, model) -> int:
    async with sessions() as db:
        return await db.scalar(select(func.count()).select_from(model))


@pytest.mark.parametrize("contended", ["instructor", "room", "equipment"])
async def test_50_concurrent_overlapping_schedules_one_wins(sessions, contended):
    course = await b.course(sessions)
    shared_instructor = await b.instructor(sessions)
    shared_room = await b.room(sessions, capacity=40)
    shared_kit = await b.equipment(sessions)
    start = soon()
    attempts = []
    for n in range(50):
        own_instructor = (await b.instructor(sessions)).id
        own_room = (await b.room(sessions, capacity=40)).id
        kw = {"course_id": course.id, "starts_at": start + timedelta(minutes=n), "mode": DeliveryMode.IN_PERSON,
              "instructor_ids": [shared_instructor.id if contended == "instructor" else own_instructor],
              "room_id": shared_room.id if contended == "room" else own_room,
              "equipment_ids": [shared_kit.id] if contended == "equipment" else []}
        attempts.append(kw)

    results = await asyncio.gather(*(_try_schedule(sessions, **kw) for kw in attempts))

    won = [r for r in results if isinstance(r, int)]
    lost = [r for r in results if isinstance(r, DomainError)]
    assert len(won) == 1 and len(lost) == 49
    name = {"instructor": shared_instructor, "room": shared_room, "equipment": shared_kit}[contended].name
    for error in lost:
        assert error.code is ErrorCode.RESOURCE_CONFLICT
        assert name in error.message
        assert {c.resource_name for c in error.conflicts} == {name}
    assert await _count(sessions, Session) == 1


async def test_buffers_count_and_cancelled_sessions_hold_nothing(sessions):
    course = await b.course(sessions)
    lead = await b.instructor(sessions)
    room = await b.room(sessions)
    start = soon()
    first = await b.session(sessions, course_id=course.id, instructor_ids=[lead.id], starts_at=start, minutes=60,
                            mode=DeliveryMode.IN_PERSON, room_id=room.id, teardown_minutes=30)
    other = await b.instructor(sessions)
    # Starts 15 minutes after the first ends: inside its 30-minute teardown.
    with pytest.raises(DomainError) as refused:
        await b.session(sessions, course_id=course.id, instructor_ids=[other.id], starts_at=start + timedelta(minutes=75),
                        mode=DeliveryMode.IN_PERSON, room_id=room.id)
    assert refused.value.code is ErrorCode.RESOURCE_CONFLICT
    # Setup buffers count too: the lead's next session, in another room, whose 20-minute setup reaches back
    # into the first one's teardown.
    with pytest.raises(DomainError) as refused:
        await b.session(sessions, course_id=course.id, instructor_ids=[lead.id], starts_at=start + timedelta(minutes=100),
                        mode=DeliveryMode.IN_PERSON, room_id=(await b.room(sessions)).id, setup_minutes=20)
    assert refused.value.code is ErrorCode.RESOURCE_CONFLICT
    assert lead.name in refused.value.message
    assert [c.resource_name for c in refused.value.conflicts] == [lead.name]
    async with sessions() as db, changing(db):
        await scheduling.cancel_session(db, ADMIN, first.id, "trainer ill")
    again = await b.session(sessions, course_id=course.id, instructor_ids=[lead.id], starts_at=start, minutes=60,
                            mode=DeliveryMode.IN_PERSON, room_id=room.id)
    assert again.id != first.id
    async with sessions() as db:
        active = (await db.scalars(select(Booking.session_id).where(Booking.active))).all()
    assert set(active) == {again.id}


async def _a_morning_and_an_afternoon(sessions):
    """One instructor teaching two sessions of a course, at `start` and four hours later."""
    course = await b.course(sessions)
    lead = await b.instructor(sessions)
    start = soon()
    morning = await b.session(sessions, course_id=course.id, instructor_ids=[lead.id], starts_at=start)
    afternoon = await b.session(sessions, course_id=course.id, instructor_ids=[lead.id],
                                starts_at=start + timedelta(hours=4))
    return course, lead, start, morning, afternoon


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)  # the exclusion constraint is PostgreSQL's
async def test_the_postgresql_backstop_names_the_clash(sessions, engine, monkeypatch):
    """When the check misses a clash, the exclusion constraint refuses it, with the same names and conflicts."""
    course, lead, start, morning, afternoon = await _a_morning_and_an_afternoon(sessions)
    check = scheduling.find_clashes_in

    async def check_blind_once(*args, **kw):
        checks.append(args)
        return [] if len(checks) == 1 else await check(*args, **kw)

    monkeypatch.setattr(scheduling, "find_clashes_in", check_blind_once)

    async def reschedule_afternoon():
        async with sessions() as db, changing(db):
            await scheduling.reschedule_session(db, ADMIN, afternoon.id, start + timedelta(minutes=30),
                                                start + timedelta(minutes=90), settings=Settings())

    for attempt in (lambda: b.session(sessions, course_id=course.id, instructor_ids=[lead.id],
                                      starts_at=start + timedelta(minutes=30)), reschedule_afternoon):
        checks = []
        with pytest.raises(DomainError) as refused:
            await attempt()
        assert len(checks) == 2, "the first check was blind; the constraint refused the booking"
        assert refused.value.code is ErrorCode.RESOURCE_CONFLICT
        assert lead.name in refused.value.message
        assert [(c.resource_name, c.session_id) for c in refused.value.conflicts] == [(lead.name, morning.id)]
    assert await _count(sessions, Session) == 2


async def test_reschedule_into_a_clash_changes_nothing(sessions):
    course, lead, start, morning, afternoon = await _a_morning_and_an_afternoon(sessions)
    audits = await _count(sessions, AuditEntry)
    with pytest.raises(DomainError) as refused:
        async with sessions() as db, changing(db):
            await scheduling.reschedule_session(db, ADMIN, afternoon.id, start + timedelta(hours=1),
                                                start + timedelta(hours=3), settings=Settings())
    assert refused.value.code is ErrorCode.RESOURCE_CONFLICT
    assert [c.session_id for c in refused.value.conflicts] == [morning.id]
    async with sessions() as db:
        s = await db.get(Session, afternoon.id)
        assert (s.starts_at, s.sequence) == (start + timedelta(hours=4), 0)
        booking = await db.scalar(select(Booking).where(Booking.session_id == afternoon.id))
        assert booking.starts_at == start + timedelta(hours=4)
    assert await _count(sessions, AuditEntry) == audits
    # Moving it clear of the morning works and bumps the calendar sequence.
    async with sessions() as db, changing(db):
        moved = await scheduling.reschedule_session(db, ADMIN, afternoon.id, start + timedelta(hours=5),
                                                    start + timedelta(hours=7), settings=Settings())
        assert moved.sequence == 1


async def test_qualification_missing_or_expired_on_the_session_date(sessions):
    course = await b.course(sessions, required_qualifications=["First Aid Instructor"])
    start = soon(days=20)
    unqualified = await b.instructor(sessions)
    expiring = await b.instructor(sessions, qualifications=[("First Aid Instructor", start.date() - timedelta(days=1))])
    valid = await b.instructor(sessions, qualifications=[("First Aid Instructor", start.date())])
    for who in (unqualified, expiring):
        with pytest.raises(DomainError) as refused:
            await b.session(sessions, course_id=course.id, instructor_ids=[who.id], starts_at=start)
        assert refused.value.code is ErrorCode.QUALIFICATION_MISSING
        assert refused.value.field == "instructorIds"
    assert (await b.session(sessions, course_id=course.id, instructor_ids=[valid.id], starts_at=start)).id
    # A co-facilitator needs the qualification as well.
    with pytest.raises(DomainError):
        await b.session(sessions, course_id=course.id, instructor_ids=[valid.id, unqualified.id],
                        starts_at=start + timedelta(days=1))


async def test_capacity_above_the_room_is_refused(sessions):
    course = await b.course(sessions)
    lead = await b.instructor(sessions)
    room = await b.room(sessions, capacity=12)
    for mode in (DeliveryMode.IN_PERSON, DeliveryMode.HYBRID):
        with pytest.raises(DomainError) as refused:
            await b.session(sessions, course_id=course.id, instructor_ids=[lead.id], mode=mode, room_id=room.id,
                            capacity=13)
        assert refused.value.code is ErrorCode.CAPACITY_EXCEEDS_ROOM
    assert await _count(sessions, Session) == 0
    ok = await b.session(sessions, course_id=course.id, instructor_ids=[lead.id], mode=DeliveryMode.IN_PERSON,
                         room_id=room.id, capacity=12)
    assert ok.capacity == 12
