"""Rule 6: every change leaves exactly one audit entry, in its own transaction; a refused one, none."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from podium.core.db import changing
from podium.core.errors import DomainError
from podium.core.models import (
    AttendanceStatus, AuditEntry, Course, DeliveryMode, OutboxMessage, ResourceKind, Role,
)
from podium.core.services import access, attendance, catalogue, enrollment, scheduling
from podium.core.settings import Settings
from tests import builders as b
from tests.builders import ADMIN, soon


async def _counts(sessions):
    async with sessions() as db:
        return (await db.scalar(select(func.count()).select_from(AuditEntry)),
                await db.scalar(select(func.count()).select_from(OutboxMessage)))


async def test_each_change_leaves_one_audit_entry_and_refusals_none(sessions):
    course = await b.course(sessions)
    lead = await b.instructor(sessions)
    room = await b.room(sessions, capacity=10)
    learner = await b.person(sessions)
    start = soon()
    s = await b.session(sessions, course_id=course.id, instructor_ids=[lead.id], room_id=room.id,
                        mode=DeliveryMode.IN_PERSON, capacity=10)
    gated = await b.session(sessions, course_id=course.id, instructor_ids=[lead.id], starts_at=start + timedelta(days=3),
                            requires_approval=True)
    ids: dict[str, int] = {}

    async def enrol(db):
        ids["enrollment"] = (await enrollment.enroll(db, ADMIN, s.id, learner.id)).id

    askers = {"approve": await b.person(sessions), "decline": await b.person(sessions)}

    async def ask(db, key):
        ids[key] = (await enrollment.enroll(db, ADMIN, gated.id, askers[key].id)).id

    changes = [
        ("course.create", lambda db: catalogue.create_course(db, ADMIN, code="AUD-1", title="Audited",
                                                             duration_minutes=60, default_capacity=5)),
        ("person.create", lambda db: catalogue.create_person(db, ADMIN, name="Audited", email="audit@example.com",
                                                             timezone="UTC")),
        ("resource.create", lambda db: catalogue.create_resource(db, ADMIN, kind=ResourceKind.EQUIPMENT,
                                                                 name="Audited kit", timezone="UTC")),
        ("venue.create", lambda db: catalogue.create_venue(db, ADMIN, name="Audited Hall", timezone="UTC")),
        ("session.schedule", lambda db: scheduling.schedule_session(
            db, ADMIN, course_id=course.id, starts_at=start + timedelta(days=5), ends_at=start + timedelta(days=5, hours=1),
            timezone="UTC", delivery_mode=DeliveryMode.VIRTUAL, instructor_ids=[lead.id])),
        ("token.issue", lambda db: access.issue_token(db, ADMIN, person_id=learner.id, role=Role.LEARNER)),
        ("enrollment.create", lambda db: ask(db, "approve")),
        ("enrollment.approve", lambda db: enrollment.decide_enrollment(db, ADMIN, ids["approve"], True)),
        ("enrollment.create", lambda db: ask(db, "decline")),
        ("enrollment.decline", lambda db: enrollment.decide_enrollment(db, ADMIN, ids["decline"], False, "full")),
        ("course.update", lambda db: catalogue.update_course(db, ADMIN, course.id, title="Renamed")),
        ("person.update", lambda db: catalogue.update_person(db, ADMIN, learner.id, name="Renamed Person")),
        ("resource.update", lambda db: catalogue.update_resource(db, ADMIN, room.id, capacity=11)),
        ("enrollment.create", enrol),
        ("session.capacity", lambda db: enrollment.change_capacity(db, ADMIN, s.id, 11)),
        ("session.reschedule", lambda db: scheduling.reschedule_session(db, ADMIN, s.id, start + timedelta(days=1),
                                                                        start + timedelta(days=1, hours=2),
                                                                        settings=Settings())),
        ("attendance.record", lambda db: attendance.record_attendance(
            db, ADMIN, s.id, [attendance.AttendanceRecord(ids["enrollment"], AttendanceStatus.PRESENT, 120)],
            now=start + timedelta(days=1, hours=2))),
        ("enrollment.cancel", lambda db: enrollment.cancel_enrollment(db, ADMIN, ids["enrollment"])),
        ("session.cancel", lambda db: scheduling.cancel_session(db, ADMIN, s.id, "room flooded")),
    ]
    for action, change in changes:
        audits, _ = await _counts(sessions)
        async with sessions() as db, changing(db):
            await change(db)
        async with sessions() as db:
            entries = (await db.scalars(select(AuditEntry).order_by(AuditEntry.id).offset(audits))).all()
        assert [e.action for e in entries] == [action]
        assert entries[0].actor == ADMIN.label

    refusals = [
        lambda db: catalogue.create_course(db, ADMIN, code=course.code, title="x", duration_minutes=60, default_capacity=5),
        lambda db: catalogue.create_person(db, ADMIN, name="Twin", email=learner.email, timezone="UTC"),
        lambda db: catalogue.create_resource(db, ADMIN, kind=ResourceKind.ROOM, name="No size", timezone="UTC"),
        lambda db: enrollment.enroll(db, ADMIN, s.id, learner.id),            # session is cancelled
        lambda db: scheduling.reschedule_session(db, ADMIN, s.id, start, start + timedelta(hours=1),
                                                 settings=Settings()),
        lambda db: catalogue.update_resource(db, ADMIN, room.id, capacity=0, name=""),
    ]
    for refusal in refusals:
        before = await _counts(sessions)
        with pytest.raises(DomainError):
            async with sessions() as db, changing(db):
                await refusal(db)
        assert await _counts(sessions) == before


async def test_a_change_and_its_outbox_event_commit_together(sessions):
    course = await b.course(sessions)
    lead = await b.instructor(sessions)
    s = await b.session(sessions, course_id=course.id, instructor_ids=[lead.id])
    async with sessions() as db:
        topics = (await db.scalars(select(OutboxMessage.topic).order_by(OutboxMessage.id))).all()
        entry = await db.scalar(select(AuditEntry).where(AuditEntry.action == "session.schedule"))
    assert topics == ["session.scheduled"]
    assert entry.target_id == s.id and entry.after["bookings"] == {str(lead.id): "LEAD_INSTRUCTOR"}


async def test_a_change_and_its_audit_entry_roll_back_together(sessions):
    """The entry is written in the change's own transaction: when that transaction fails after the
    service has done its work, neither the change nor its entry remains."""
    before = await _counts(sessions)
    with pytest.raises(RuntimeError):
        async with sessions() as db, changing(db):
            await catalogue.create_course(db, ADMIN, code="GONE-1", title="Never", duration_minutes=60,
                                          default_capacity=5)
            await db.flush()
            raise RuntimeError("the process fails before the commit")
    assert await _counts(sessions) == before
    async with sessions() as db:
        assert await db.scalar(select(func.count()).select_from(Course).where(Course.code == "GONE-1")) == 0
