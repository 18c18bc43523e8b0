"""Blended programs through the core services: placement, journeys, readiness, certification."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import asyncio

import pytest
from sqlalchemy import func, select

from podium.core.audit import Actor
from podium.core.db import changing
from podium.core.errors import DomainError, ErrorCode
from podium.core.models import (
    AttendanceStatus, Certification, Enrollment, EnrollmentStatus, OutboxMessage, Person, Program, ProgramStage,
    ProgramTemplate, Role, StageStatus,
)
from podium.core.services import journeys, programs, scheduling
from podium.core.services.attendance import AttendanceRecord, record_attendance
from podium.core.settings import Settings
from tests import builders as b
from tests.builders import ADMIN
from tests.core.lms_double import LmsDouble, by_key

COURSE_REF = "course-42"
UTC = timezone.utc
LONDON = ZoneInfo("Europe/London")


async def _setup(sessions, *, capacities=(15, 15), cohort=30, validity=365, starts_at=None, tz="Europe/London",
                 template="sandwich"):
    course = await b.course(sessions, certification_validity_days=validity)
    starts_at = starts_at or b.soon(days=5)
    session_ids = []
    for n, capacity in enumerate(capacities):
        lead = await b.instructor(sessions)
        s = await b.session(sessions, course_id=course.id, instructor_ids=[lead.id], capacity=capacity,
                            starts_at=starts_at + timedelta(days=n), tz=tz)
        session_ids.append(s.id)
    learners = await b.people(sessions, cohort)
    lms = LmsDouble()
    async with sessions() as db, changing(db):
        created = await programs.create_program(db, ADMIN, template_key=template, course_id=course.id,
                                                live_session_ids=session_ids, learner_ids=learners,
                                                lms_course_ref=COURSE_REF, lms_connector=lms.name, settings=Settings(),
                                                stage_activities=by_key(template))
        program_id = created.program.id
        placements = created.placements
    return course, session_ids, learners, lms, program_id, placements


async def _emails(sessions, ids):
    async with sessions() as db:
        rows = dict((await db.execute(select(Person.id, Person.email).where(Person.id.in_(ids)))).all())
    return [rows[i] for i in ids]


async def _sync(sessions, program_id, lms, now=None):
    async with sessions() as db:
        return await journeys.sync_program(db, ADMIN, program_id, {lms.name: lms}, now)


async def _stages(sessions, program_id):
    async with sessions() as db:
        return {s.key: s for s in (await db.scalars(select(ProgramStage).where(ProgramStage.program_id == program_id)
                                                    .order_by(ProgramStage.position, ProgramStage.id))).all()}


async def test_built_in_templates_and_an_organisations_own(sessions):
    async with sessions() as db:
        keys = [t.key for t in await programs.list_templates(db)]
    assert keys == ["flipped", "sandwich", "ongoing-blend"]

    coordinator = Actor("coord", role=Role.COORDINATOR)
    stages = [{"key": "read", "kind": "SELF_PACED", "title": "Read the handbook", "offset_days": -3},
              {"key": "day", "kind": "LIVE", "title": "Workshop day", "offset_days": 0},
              {"key": "quiz", "kind": "ASSESSMENT", "title": "Quiz", "offset_days": 2, "required": False}]
    async with sessions() as db, changing(db):
        made = await programs.create_program_template(db, coordinator, key="handbook-first", name="Handbook first",
                                                      stages=stages)
    assert [s.key for s in made.stages] == ["read", "day", "quiz"] and not made.builtin

    async def refused(actor, **kw):
        with pytest.raises(DomainError) as caught:
            async with sessions() as db, changing(db):
                await programs.create_program_template(db, actor, **{"key": "x", "name": "X", "stages": stages, **kw})
        return caught.value

    assert (await refused(Actor("l", role=Role.LEARNER))).code is ErrorCode.FORBIDDEN
    assert (await refused(coordinator, key="sandwich")).code is ErrorCode.DUPLICATE
    assert (await refused(coordinator, key="handbook-first")).code is ErrorCode.DUPLICATE
    error = await refused(coordinator, stages=[stages[1], stages[0]])
    assert (error.code, error.field) == (ErrorCode.INVALID, "stages.1.offsetDays")
    error = await refused(coordinator, stages=[stages[0]])
    assert error.code is ErrorCode.INVALID and "LIVE" in error.message
    error = await refused(coordinator, stages=[{**stages[0], "kind": "READING"}, stages[1]])
    assert error.field == "stages.0.kind"

    async with sessions() as db:
        listed = await programs.list_templates(db)
        rows = (await db.scalars(select(ProgramTemplate.key).order_by(ProgramTemplate.key))).all()
    assert [t.key for t in listed] == ["flipped", "sandwich", "ongoing-blend", "handbook-first"]
    assert sorted(rows) == ["flipped", "handbook-first", "ongoing-blend", "sandwich"]


async def test_sandwich_for_30_over_two_sessions_readiness_then_certification(sessions):
    course, (first, second), learners, lms, program_id, placements = await _setup(sessions)

    assert sorted(p.learner_id for p in placements) == sorted(learners)
    assert {p.status for p in placements} == {EnrollmentStatus.ENROLLED}
    assert [p.session_id for p in placements] == [first] * 15 + [second] * 15, "fill the first, then the next"

    emails = await _emails(sessions, learners)
    for email in emails:
        lms.add_user(email)
    did_prework = set(learners[:10] + learners[15:25])   # 10 in each session
    for lid, email in zip(learners, emails):
        if lid in did_prework:
            lms.complete(COURSE_REF, email, "prework", b.soon(days=1))
    result = await _sync(sessions, program_id, lms)
    assert result.pull.not_found == [] and result.certified == []

    for session_id, seated in ((first, learners[:15]), (second, learners[15:])):
        async with sessions() as db:
            entries = await journeys.readiness(db, program_id, session_id)
        assert sorted(e.learner_id for e in entries) == sorted(seated)
        assert {e.learner_id for e in entries if e.ready} == did_prework & set(seated)
        assert {e.missing_stages for e in entries if not e.ready} == {("Pre-work",)}

    # attendance at the first session: 9 present, 1 left early, the rest absent or late
    async with sessions() as db:
        enrollments = {e.learner_id: e.id for e in (await db.scalars(
            select(Enrollment).where(Enrollment.session_id == first))).all()}
    statuses = {learners[i]: AttendanceStatus.PRESENT for i in range(8)}
    statuses[learners[8]] = AttendanceStatus.LATE
    statuses[learners[9]] = AttendanceStatus.ABSENT
    statuses[learners[10]] = AttendanceStatus.LEFT_EARLY
    finished, later = b.soon(days=45), b.soon(days=60)
    async with sessions() as db, changing(db):
        await record_attendance(db, ADMIN, first, [AttendanceRecord(enrollments[lid], status)
                                                   for lid, status in statuses.items()], now=later)
    for lid, email in zip(learners[:11], emails[:11]):
        for activity in ("reinforce-1", "reinforce-7", "reinforce-30", "assessment"):
            lms.complete(COURSE_REF, email, activity, finished)
    result = await _sync(sessions, program_id, lms, now=later)
    assert sorted(result.certified) == sorted(learners[:9]), "present and late complete; absent and left-early don't"

    async with sessions() as db:
        journeys_now = {j.learner_id: j for j in await journeys.journeys(db, program_id, now=later)}
        certs = await journeys.certifications(db, program_id=program_id)
    assert all(journeys_now[lid].completed for lid in learners[:9])
    absent = {s.stage.key: s.status for s in journeys_now[learners[9]].stages}
    assert absent["live-1"] is StageStatus.OVERDUE and absent["assessment"] is StageStatus.COMPLETED
    assert not journeys_now[learners[9]].completed and not journeys_now[learners[10]].completed
    assert [s.stage.key for s in journeys_now[learners[20]].stages] == [
        "prework", "live-2", "reinforce-1", "reinforce-7", "reinforce-30", "assessment"], "only their own section"
    assert {c.person_id for c in certs} == set(learners[:9])
    for cert in certs:
        assert cert.course_id == course.id
        assert cert.issued_at == finished, "the date the last required stage was completed"
        assert cert.expires_at == finished + timedelta(days=365)

    again = await _sync(sessions, program_id, lms, now=later)
    assert again.certified == [] and again.stages_changed == 0, "a second sync changes nothing"

    async with sessions() as db:
        soon_expiring = await journeys.expiring_certifications(db, 30, now=finished + timedelta(days=340))
        not_yet = await journeys.expiring_certifications(db, 30, now=finished + timedelta(days=300))
    assert {c.person_id for c in soon_expiring} == set(learners[:9]) and not_yet == []


async def test_cohort_of_40_into_two_sessions_of_15_waitlists_10_on_the_last(sessions):
    _, (first, second), learners, _, _, placements = await _setup(sessions, cohort=40)
    waitlisted = [p for p in placements if p.status is EnrollmentStatus.WAITLISTED]
    assert sum(p.status is EnrollmentStatus.ENROLLED for p in placements) == 30
    assert [p.learner_id for p in waitlisted] == learners[30:]
    assert {p.session_id for p in waitlisted} == {second}
    assert [p.waitlist_position for p in waitlisted] == list(range(1, 11))
    async with sessions() as db:
        counts = dict((await db.execute(select(Enrollment.session_id, func.count()).where(
            Enrollment.status == EnrollmentStatus.WAITLISTED).group_by(Enrollment.session_id))).all())
    assert counts == {second: 10}


async def test_stage_dates_follow_the_anchor_local_clock_and_its_rescheduling(sessions):
    # 09:00 in London on 1 April 2027, after the clocks went forward on 28 March
    anchor_start = datetime(2027, 4, 1, 8, 0, tzinfo=UTC)
    _, (first, second), learners, _, program_id, _ = await _setup(sessions, starts_at=anchor_start, cohort=4)
    stages = await _stages(sessions, program_id)
    assert stages["prework"].opens_at == datetime(2027, 3, 25, 9, 0, tzinfo=UTC), "09:00 GMT, a week before"
    assert stages["prework"].due_at == anchor_start
    assert stages["reinforce-1"].opens_at == datetime(2027, 4, 2, 8, 0, tzinfo=UTC)
    assert stages["reinforce-1"].due_at == stages["reinforce-7"].opens_at
    assert stages["assessment"].due_at == datetime(2027, 5, 15, 8, 0, tzinfo=UTC)
    assert stages["live-1"].session_id == first and stages["live-2"].session_id == second
    second_live = (stages["live-2"].opens_at, stages["live-2"].due_at)

    async with sessions() as db, changing(db):
        await scheduling.reschedule_session(db, ADMIN, first, anchor_start + timedelta(days=7),
                                            anchor_start + timedelta(days=7, minutes=120), settings=Settings())
    moved = await _stages(sessions, program_id)
    for key in ("prework", "reinforce-1", "reinforce-30", "assessment"):
        for when in ("opens_at", "due_at"):
            was, now = (getattr(s[key], when).astimezone(LONDON) for s in (stages, moved))
            assert now.replace(tzinfo=None) == was.replace(tzinfo=None) + timedelta(days=7), "a week on the local clock"
    assert moved["prework"].due_at == stages["prework"].due_at + timedelta(days=7)
    assert moved["prework"].opens_at == datetime(2027, 4, 1, 8, 0, tzinfo=UTC), "09:00 BST now"
    assert moved["live-1"].opens_at == anchor_start + timedelta(days=7)
    assert (moved["live-2"].opens_at, moved["live-2"].due_at) == second_live, "another section keeps its times"

    async with sessions() as db:
        told = (await db.scalars(select(OutboxMessage).where(OutboxMessage.topic == "program.rescheduled"))).all()
    assert len(told) == 1
    payload = told[0].payload["payload"]
    assert len(payload["learners"]) == 4
    assert {s["key"] for s in payload["stages"]} >= {"prework", "live-1"}


async def test_ongoing_blend_puts_everyone_in_every_workshop(sessions):
    _, session_ids, learners, lms, program_id, placements = await _setup(
        sessions, capacities=(10, 10, 10), cohort=3, template="ongoing-blend")
    assert sorted((p.session_id, p.learner_id) for p in placements) == sorted(
        (s, lid) for s in session_ids for lid in learners)
    stages = await _stages(sessions, program_id)
    assert list(stages) == ["orientation", "workshop-1", "workshop-2", "workshop-3", "library"]
    emails = await _emails(sessions, learners)
    for email in emails:
        lms.complete(COURSE_REF, email, "orientation", b.soon(days=1))
    await _sync(sessions, program_id, lms)
    await b.time_passes(sessions, session_ids[0])
    async with sessions() as db, changing(db):
        enrollment = await db.scalar(select(Enrollment).where(Enrollment.session_id == session_ids[0],
                                                               Enrollment.learner_id == learners[0]))
        await record_attendance(db, ADMIN, session_ids[0], [AttendanceRecord(enrollment.id, AttendanceStatus.PRESENT)])
    async with sessions() as db:
        entries = {e.learner_id: e for e in await journeys.readiness(db, program_id, session_ids[1])}
    assert entries[learners[0]].ready
    assert entries[learners[1]].missing_stages == ("Workshop 1",)


async def test_lms_trouble_is_reported_and_the_rest_recorded(sessions):
    _, _, learners, lms, program_id, _ = await _setup(sessions, capacities=(5,), cohort=3)
    emails = await _emails(sessions, learners)
    lms.complete(COURSE_REF, emails[0], "prework", b.soon(days=1))
    lms.complete(COURSE_REF, emails[1], "prework", b.soon(days=1))
    lms.broken_for.add(lms.users[emails[1]])
    result = await _sync(sessions, program_id, lms)
    assert result.pull.not_found == [learners[2]]
    assert list(result.pull.failed) == [learners[1]]
    async with sessions() as db:
        by_learner = {j.learner_id: j.stages[0].status for j in await journeys.journeys(db, program_id)}
        refs = (await db.get(Person, learners[0])).external_ids
    assert by_learner == {learners[0]: StageStatus.COMPLETED, learners[1]: StageStatus.IN_PROGRESS,
                          learners[2]: StageStatus.IN_PROGRESS}
    assert refs == {lms.name: lms.users[emails[0]]}, "the LMS user is remembered"
    lookups = lms.lookups
    await _sync(sessions, program_id, lms)
    assert lms.lookups == lookups + 1, "only the learner still unknown is looked up again"


async def test_stage_status_follows_the_clock(sessions):
    _, (first,), learners, _, program_id, _ = await _setup(sessions, capacities=(5,), cohort=1, template="flipped")
    stages = await _stages(sessions, program_id)

    async def statuses(now):
        async with sessions() as db:
            (journey,) = await journeys.journeys(db, program_id, now=now)
        return [s.status for s in journey.stages]

    prework, live = stages["prework"], stages["live"]
    assert await statuses(prework.opens_at - timedelta(hours=1)) == [StageStatus.NOT_STARTED] * 2
    assert await statuses(prework.opens_at + timedelta(hours=1)) == [StageStatus.IN_PROGRESS, StageStatus.NOT_STARTED]
    assert await statuses(live.opens_at + timedelta(minutes=5)) == [StageStatus.OVERDUE, StageStatus.IN_PROGRESS]
    assert await statuses(live.due_at + timedelta(minutes=5)) == [StageStatus.OVERDUE] * 2


async def test_refused_programs_write_nothing(sessions):
    course = await b.course(sessions)
    other = await b.course(sessions)
    lead = await b.instructor(sessions)
    s = await b.session(sessions, course_id=course.id, instructor_ids=[lead.id])
    foreign = await b.session(sessions, course_id=other.id, instructor_ids=[lead.id], starts_at=b.soon(days=20))
    learners = await b.people(sessions, 2)
    base = {"template_key": "flipped", "course_id": course.id, "live_session_ids": [s.id], "learner_ids": learners}
    cases = [
        ({"template_key": "nope"}, ErrorCode.NOT_FOUND, "templateKey"),
        ({"live_session_ids": [s.id, foreign.id]}, ErrorCode.INVALID, "liveSessionIds.1"),
        ({"live_session_ids": [999_999]}, ErrorCode.NOT_FOUND, "liveSessionIds.0"),
        ({"live_session_ids": []}, ErrorCode.INVALID, "liveSessionIds"),
        ({"learner_ids": [learners[0], learners[0]]}, ErrorCode.INVALID, "learnerIds"),
        ({"learner_ids": [learners[0], 999_999]}, ErrorCode.NOT_FOUND, "learnerIds.1"),
        ({"lms_course_ref": "c1"}, ErrorCode.INVALID, "lmsConnector"),
        ({"stage_activities": {"nope": "x"}}, ErrorCode.INVALID, "stageActivities"),
    ]
    for change, code, field in cases:
        with pytest.raises(DomainError) as caught:
            async with sessions() as db, changing(db):
                await programs.create_program(db, ADMIN, **{**base, **change}, settings=Settings())
        assert (caught.value.code, caught.value.field) == (code, field), change
    async with sessions() as db, changing(db):
        await scheduling.cancel_session(db, ADMIN, s.id)
    with pytest.raises(DomainError) as caught:
        async with sessions() as db, changing(db):
            await programs.create_program(db, ADMIN, **base, settings=Settings())
    assert caught.value.code is ErrorCode.SESSION_NOT_OPEN
    async with sessions() as db:
        assert await db.scalar(select(func.count()).select_from(Program)) == 0
        assert await db.scalar(select(func.count()).select_from(Enrollment)) == 0
        assert await db.scalar(select(func.count()).select_from(Certification)) == 0


async def test_two_cohorts_created_at_once_fill_both_sections_without_a_waitlist(sessions):
    course = await b.course(sessions)
    session_ids = []
    for n in range(2):
        lead = await b.instructor(sessions)
        session_ids.append((await b.session(sessions, course_id=course.id, instructor_ids=[lead.id], capacity=15,
                                            starts_at=b.soon(days=5 + n))).id)
    cohorts = [await b.people(sessions, 15), await b.people(sessions, 15)]

    async def create(cohort):
        async with sessions() as db, changing(db):
            made = await programs.create_program(db, ADMIN, template_key="flipped", course_id=course.id,
                                                 live_session_ids=session_ids, learner_ids=cohort, settings=Settings())
            return [p.status for p in made.placements]

    results = await asyncio.gather(*(create(c) for c in cohorts))
    assert [s for r in results for s in r].count(EnrollmentStatus.ENROLLED) == 30
    async with sessions() as db:
        counts = dict((await db.execute(select(Enrollment.session_id, func.count()).where(
            Enrollment.status == EnrollmentStatus.ENROLLED).group_by(Enrollment.session_id))).all())
    assert counts == {session_ids[0]: 15, session_ids[1]: 15}
