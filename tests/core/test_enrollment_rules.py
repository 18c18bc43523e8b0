"""Rules 1 and 3 under concurrency: capacity and a first-come, first-served waitlist."""
from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import func, select

from podium.core.db import changing
from podium.core.errors import DomainError, ErrorCode
from podium.core.models import AuditEntry, DeliveryMode, Enrollment, EnrollmentStatus, OutboxMessage, Resource, Session
from podium.core.services import catalogue
from podium.core.services import enrollment as enrolment_service
from tests import builders as b
from tests.builders import ADMIN


async def _roster(sessions, session_id):
    async with sessions() as db:
        return (await db.scalars(select(Enrollment).where(Enrollment.session_id == session_id)
                                 .order_by(Enrollment.id))).all()


async def _enroll(sessions, session_id, learner_id):
    async with sessions() as db, changing(db):
        e = await enrolment_service.enroll(db, ADMIN, session_id, learner_id)
        return e.id, e.status, e.waitlist_position


async def test_200_concurrent_enrolments_then_50_cancellations(sessions):
    course = await b.course(sessions)
    lead = await b.instructor(sessions)
    s = await b.session(sessions, course_id=course.id, instructor_ids=[lead.id], capacity=20)
    learners = await b.people(sessions, 200)

    results = await asyncio.gather(*(_enroll(sessions, s.id, lid) for lid in learners))

    statuses = [r[1] for r in results]
    assert statuses.count(EnrollmentStatus.ENROLLED) == 20
    assert statuses.count(EnrollmentStatus.WAITLISTED) == 180
    assert sorted(r[2] for r in results if r[2] is not None) == list(range(1, 181))

    roster = await _roster(sessions, s.id)
    assert sum(e.status is EnrollmentStatus.ENROLLED for e in roster) == 20
    assert sorted(e.waitlist_position for e in roster if e.status is EnrollmentStatus.WAITLISTED) == \
        list(range(1, 181)), "as stored, the waitlist is 1..180 without gaps or twins"
    waitlist = sorted((e for e in roster if e.status is EnrollmentStatus.WAITLISTED), key=lambda e: e.waitlist_position)
    enrolled = [e.id for e in roster if e.status is EnrollmentStatus.ENROLLED]

    async def cancel(eid):
        async with sessions() as db, changing(db):
            await enrolment_service.cancel_enrollment(db, ADMIN, eid)

    await asyncio.gather(*(cancel(eid) for eid in enrolled))

    roster = {e.id: e for e in await _roster(sessions, s.id)}
    assert sorted(e.id for e in roster.values() if e.status is EnrollmentStatus.ENROLLED) == \
        sorted(e.id for e in waitlist[:20]), "the first 20 waiting are promoted"
    assert [roster[e.id].waitlist_position for e in waitlist[20:]] == list(range(1, 161)), "positions close up"


async def test_50_concurrent_cancellations_promote_50_in_order(sessions):
    course = await b.course(sessions)
    lead = await b.instructor(sessions)
    s = await b.session(sessions, course_id=course.id, instructor_ids=[lead.id], capacity=60)
    learners = await b.people(sessions, 120)
    for lid in learners:  # sequential, so the waitlist order is known
        await _enroll(sessions, s.id, lid)
    roster = await _roster(sessions, s.id)
    enrolled = [e.id for e in roster if e.status is EnrollmentStatus.ENROLLED]
    expected_promoted = learners[60:110]

    async def cancel(eid):
        async with sessions() as db, changing(db):
            await enrolment_service.cancel_enrollment(db, ADMIN, eid)

    await asyncio.gather(*(cancel(eid) for eid in enrolled[:50]))

    roster = await _roster(sessions, s.id)
    by_learner = {e.learner_id: e for e in roster}
    assert {e.id: e.status for e in roster if e.id in enrolled[:50]} == \
        {eid: EnrollmentStatus.CANCELLED for eid in enrolled[:50]}
    assert sum(e.status is EnrollmentStatus.ENROLLED for e in roster) == 60
    assert all(by_learner[lid].status is EnrollmentStatus.ENROLLED for lid in expected_promoted)
    async with sessions() as db:
        cancels = (await db.scalars(select(AuditEntry).where(AuditEntry.action == "enrollment.cancel")
                                    .order_by(AuditEntry.id))).all()
    assert [eid for entry in cancels for eid in entry.after["promoted"]] == \
        [by_learner[lid].id for lid in expected_promoted], "promoted one by one in waitlist order"
    assert {e.learner_id: e.waitlist_position for e in roster if e.status is EnrollmentStatus.WAITLISTED} == \
        dict(zip(learners[110:], range(1, 11))), "the rest close up to 1..10, in their order"


async def test_second_enrolment_is_refused_and_writes_nothing(sessions):
    course = await b.course(sessions)
    lead = await b.instructor(sessions)
    s = await b.session(sessions, course_id=course.id, instructor_ids=[lead.id], capacity=2)
    learner = await b.person(sessions)
    await _enroll(sessions, s.id, learner.id)
    async with sessions() as db:
        audits_before = await db.scalar(select(func.count()).select_from(AuditEntry))
    try:
        await _enroll(sessions, s.id, learner.id)
        raise AssertionError("a second enrolment was accepted")
    except DomainError as exc:
        assert exc.code is ErrorCode.ALREADY_ENROLLED
    async with sessions() as db:
        assert await db.scalar(select(func.count()).select_from(AuditEntry)) == audits_before
        assert len(await _roster(sessions, s.id)) == 1


async def test_approval_then_decline(sessions):
    course = await b.course(sessions)
    lead = await b.instructor(sessions)
    s = await b.session(sessions, course_id=course.id, instructor_ids=[lead.id], capacity=1, requires_approval=True)
    a, c, d = (await b.person(sessions)).id, (await b.person(sessions)).id, (await b.person(sessions)).id
    ids = [(await _enroll(sessions, s.id, lid)) for lid in (a, c, d)]
    assert {status for _, status, _ in ids} == {EnrollmentStatus.PENDING_APPROVAL}
    async with sessions() as db, changing(db):
        first = await enrolment_service.decide_enrollment(db, ADMIN, ids[0][0], True)
        assert first.status is EnrollmentStatus.ENROLLED
    async with sessions() as db, changing(db):
        second = await enrolment_service.decide_enrollment(db, ADMIN, ids[1][0], True)
        assert (second.status, second.waitlist_position) == (EnrollmentStatus.WAITLISTED, 1)
    async with sessions() as db, changing(db):
        third = await enrolment_service.decide_enrollment(db, ADMIN, ids[2][0], False, "not this quarter")
        assert third.status is EnrollmentStatus.CANCELLED


async def test_more_capacity_promotes_from_waitlist(sessions):
    course = await b.course(sessions)
    lead = await b.instructor(sessions)
    s = await b.session(sessions, course_id=course.id, instructor_ids=[lead.id], capacity=1)
    for lid in await b.people(sessions, 4):
        await _enroll(sessions, s.id, lid)
    async with sessions() as db, changing(db):
        await enrolment_service.change_capacity(db, ADMIN, s.id, 3)
    roster = await _roster(sessions, s.id)
    assert [e.status for e in roster] == [EnrollmentStatus.ENROLLED] * 3 + [EnrollmentStatus.WAITLISTED]
    assert roster[3].waitlist_position == 1


async def _change_capacity(sessions, session_id, capacity):
    async with sessions() as db, changing(db):
        await enrolment_service.change_capacity(db, ADMIN, session_id, capacity)


async def _resize_room(sessions, room_id, capacity):
    async with sessions() as db, changing(db):
        await catalogue.update_resource(db, ADMIN, room_id, capacity=capacity)


async def test_session_capacity_follows_its_room(sessions):
    course = await b.course(sessions)
    lead = await b.instructor(sessions)
    room = await b.room(sessions, capacity=12)
    s = await b.session(sessions, course_id=course.id, instructor_ids=[lead.id], mode=DeliveryMode.IN_PERSON,
                        room_id=room.id, capacity=10)
    with pytest.raises(DomainError) as refused:
        await _change_capacity(sessions, s.id, 13)
    assert (refused.value.code, refused.value.field) == (ErrorCode.CAPACITY_EXCEEDS_ROOM, "capacity")
    with pytest.raises(DomainError) as refused:
        await _resize_room(sessions, room.id, 9)
    assert refused.value.code is ErrorCode.CAPACITY_EXCEEDS_ROOM
    await _change_capacity(sessions, s.id, 12)
    async with sessions() as db:
        assert (await db.get(Session, s.id)).capacity == 12
        assert (await db.get(Resource, room.id)).capacity == 12


async def test_raising_a_session_while_its_room_shrinks_one_wins(sessions):
    """Rule 1 under concurrency: the session never ends up bigger than its room."""
    course = await b.course(sessions)
    lead = await b.instructor(sessions)
    for day in range(20):
        room = await b.room(sessions, capacity=12)
        s = await b.session(sessions, course_id=course.id, instructor_ids=[lead.id], mode=DeliveryMode.IN_PERSON,
                            room_id=room.id, capacity=10, starts_at=b.soon(days=7 + day))
        outcomes = await asyncio.gather(_change_capacity(sessions, s.id, 12), _resize_room(sessions, room.id, 10),
                                        return_exceptions=True)
        refusals = [o for o in outcomes if o is not None]
        assert [r.code for r in refusals] == [ErrorCode.CAPACITY_EXCEEDS_ROOM], outcomes
        async with sessions() as db:
            session, room = await db.get(Session, s.id), await db.get(Resource, room.id)
            assert session.capacity <= room.capacity, f"round {day}: {session.capacity} seats in a room of {room.capacity}"


async def test_a_cancelled_learner_enrols_again_on_the_same_row_with_the_audit_and_event_of_it(sessions):
    course = await b.course(sessions)
    lead = await b.instructor(sessions)
    s = await b.session(sessions, course_id=course.id, instructor_ids=[lead.id], capacity=1)
    first, second = await b.people(sessions, 2)
    eid, status, _ = await _enroll(sessions, s.id, first)
    assert status is EnrollmentStatus.ENROLLED
    async with sessions() as db, changing(db):
        await enrolment_service.cancel_enrollment(db, ADMIN, eid)
    await _enroll(sessions, s.id, second)  # takes the freed seat
    again = await _enroll(sessions, s.id, first)
    assert again == (eid, EnrollmentStatus.WAITLISTED, 1)  # the same row, at the end of the waitlist
    roster = await _roster(sessions, s.id)
    assert [(e.learner_id, e.status, e.waitlist_position, e.reason) for e in roster] == [
        (first, EnrollmentStatus.WAITLISTED, 1, None), (second, EnrollmentStatus.ENROLLED, None, None)]
    async with sessions() as db:
        entry = (await db.scalars(select(AuditEntry).where(AuditEntry.target_id == eid,
                                                           AuditEntry.action == "enrollment.create")
                                  .order_by(AuditEntry.id.desc()))).first()
        events = (await db.scalars(select(OutboxMessage.payload).where(OutboxMessage.topic == "enrollment.changed")
                                   .order_by(OutboxMessage.id))).all()
    assert entry.before["status"] == "CANCELLED" and entry.after["status"] == "WAITLISTED"
    assert entry.after["waitlist_position"] == 1 and entry.after["id"] == eid
    assert entry.after["created_at"] == roster[0].created_at.isoformat()
    assert events[-1]["payload"]["after"] == {"status": "WAITLISTED", "waitlistPosition": 1}
    assert events[-1]["payload"]["reason"] == "enrolled"
