"""Attendance from Zoom's participants report, end to end through the provider and the fake over a socket."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from sqlalchemy import select

from podium.core.audit import Actor
from podium.core.db import changing
from podium.core.models import (
    Attendance, AttendanceStatus, AuditEntry, Enrollment, MeetingStatus, OutboxMessage, Session, UnmatchedParticipant,
)
from podium.core.providers import NoParticipantsReport
from podium.core.services import scheduling
from podium.core.services import enrollment as enrollment_service
from podium.core.services.attendance import AttendanceRecord, record_attendance
from podium.core.services.meetings import import_meeting_attendance, sync_meeting
from tests import builders as b
from podium.plugins.zoom.client import ZoomClient
from podium.plugins.zoom.provider import ZoomProvider
from podium.core.settings import Settings
from tests.builders import ADMIN
from tests.plugins.zoom.conftest import settings_for

ZOOM = Actor.system("plugin:zoom")


def _at(start, minutes):
    return (start + timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%SZ")


async def _attendance(sessions, session_id):
    async with sessions() as db:
        rows = (await db.execute(select(Enrollment.learner_id, Attendance.status, Attendance.source,
                                        Attendance.minutes_attended)
                                 .join(Attendance, Attendance.enrollment_id == Enrollment.id)
                                 .where(Enrollment.session_id == session_id))).all()
        return {r.learner_id: (r.status, r.source, r.minutes_attended) for r in rows}


async def test_the_report_becomes_attendance_and_a_manual_correction_wins(sessions, fake_zoom, zoom_provider):
    assert (zoom_provider.attendance_rules.late_after_minutes, zoom_provider.attendance_rules.left_early_minutes,
            zoom_provider.attendance_rules.present_min_percent) == (10, 10, 50), "the defaults this test is about"
    course = await b.course(sessions)
    lead = await b.instructor(sessions, email="host@example.com")
    s = await b.session(sessions, course_id=course.id, instructor_ids=[lead.id], minutes=120)
    names = ["ada", "bob", "cara", "dan", "eve"]
    learners = {n: await b.person(sessions, name=f"{n.title()} Example", email=f"{n}@example.com") for n in names}
    enrollments = {}
    for n, person in learners.items():
        async with sessions() as db, changing(db):
            enrollments[n] = (await enrollment_service.enroll(db, ADMIN, s.id, person.id)).id

    await sync_meeting(sessions, zoom_provider, s.id, ZOOM)
    start = await b.time_passes(sessions, s.id)

    async with sessions() as db:
        session = await db.get(Session, s.id)
        registrants = dict((await db.execute(select(Enrollment.id, Enrollment.meeting_registrant_id)
                                             .where(Enrollment.session_id == s.id))).all())
    assert session.meeting_status is MeetingStatus.READY
    assert all(registrants.values()), "every enrolled learner is a registrant"
    reg = {n: registrants[enrollments[n]] for n in names}
    meeting = int(session.meeting_external_id)
    row = lambda name, email, registrant, joined, left: {  # noqa: E731 - one report row, as Zoom sends it
        "id": f"id-{name}", "user_id": "16778240", "name": name, "user_email": email, "registrant_id": registrant,
        "join_time": _at(start, joined), "leave_time": _at(start, left), "duration": (left - joined) * 60,
        "status": "in_meeting"}
    fake_zoom.max_page_size = 3
    fake_zoom.reports[meeting] = [
        row("Host", "host@example.com", "", -10, 121),
        row("Ada Example", "ada@example.com", reg["ada"], -2, 40),          # dropped ...
        row("Bob Example", "", reg["bob"], 25, 120),                        # late, no email shown
        row("Ada Example", "ada@example.com", reg["ada"], 45, 120),         # ... and rejoined
        row("Cara Example", "CARA@example.com", "", 0, 90),                 # joined without her link: email match
        row("Eve Example", "eve@example.com", reg["eve"], 0, 20),           # too short to count
        row("Mystery Guest", "guest@elsewhere.org", "", 5, 110),            # nobody we know
        row("Mystery Guest", "guest@elsewhere.org", "", 111, 115),
    ]

    result = await import_meeting_attendance(sessions, zoom_provider, s.id, ZOOM)

    assert (result.recorded, result.unmatched) == (5, 1)
    got = await _attendance(sessions, s.id)
    ids = {n: learners[n].id for n in names}
    assert got[ids["ada"]] == (AttendanceStatus.PRESENT, "ZOOM", 115), "two segments summed"
    assert got[ids["bob"]] == (AttendanceStatus.LATE, "ZOOM", 95)
    assert got[ids["cara"]] == (AttendanceStatus.LEFT_EARLY, "ZOOM", 90)
    assert got[ids["dan"]] == (AttendanceStatus.ABSENT, "ZOOM", 0)
    assert got[ids["eve"]] == (AttendanceStatus.ABSENT, "ZOOM", 20)
    async with sessions() as db:
        unmatched = (await db.scalars(select(UnmatchedParticipant).where(UnmatchedParticipant.session_id == s.id))).all()
    assert [(u.name, u.email, u.minutes_attended, u.source) for u in unmatched] == \
        [("Mystery Guest", "guest@elsewhere.org", 109, "ZOOM")], "the host is expected, the guest is listed"

    # A coordinator corrects Dan (he was excused); a later import does not overwrite it.
    async with sessions() as db, changing(db):
        await record_attendance(db, ADMIN, s.id, [AttendanceRecord(enrollments["dan"], AttendanceStatus.EXCUSED)])
    result = await import_meeting_attendance(sessions, zoom_provider, s.id, ZOOM)

    got = await _attendance(sessions, s.id)
    assert got[ids["dan"]] == (AttendanceStatus.EXCUSED, "MANUAL", None)
    assert got[ids["ada"]] == (AttendanceStatus.PRESENT, "ZOOM", 115)
    async with sessions() as db:
        unmatched = (await db.scalars(select(UnmatchedParticipant).where(UnmatchedParticipant.session_id == s.id))).all()
        audit = (await db.execute(select(AuditEntry.actor, AuditEntry.after).where(
            AuditEntry.action == "attendance.record", AuditEntry.target_id == s.id).order_by(AuditEntry.id))).all()
    assert len(unmatched) == 1, "a re-import replaces the list rather than growing it"
    assert [a.actor for a in audit] == ["plugin:zoom", "test-admin", "plugin:zoom"]
    assert str(enrollments["dan"]) not in audit[2].after, "the manual record was left alone, and the audit shows it"


async def test_no_report_yet_changes_nothing(sessions, fake_zoom, zoom_provider):
    course = await b.course(sessions)
    lead = await b.instructor(sessions)
    s = await b.session(sessions, course_id=course.id, instructor_ids=[lead.id])
    await sync_meeting(sessions, zoom_provider, s.id, ZOOM)

    try:
        await import_meeting_attendance(sessions, zoom_provider, s.id, ZOOM)
    except Exception as exc:  # Zoom answers 3001 until the meeting has a report
        assert "3001" in str(exc)
    else:
        raise AssertionError("a missing report must not pass silently")
    assert await _attendance(sessions, s.id) == {}


async def test_no_report_after_the_end_means_nobody_came_and_a_manual_record_still_wins(sessions, fake_zoom,
                                                                                         zoom_provider):
    course = await b.course(sessions)
    lead = await b.instructor(sessions)
    s = await b.session(sessions, course_id=course.id, instructor_ids=[lead.id], minutes=60)
    learners = [await b.person(sessions, email=f"{n}@example.com") for n in ("fay", "gus", "hal")]
    enrolled = []
    for person in learners:
        async with sessions() as db, changing(db):
            enrolled.append((await enrollment_service.enroll(db, ADMIN, s.id, person.id)).id)
    await sync_meeting(sessions, zoom_provider, s.id, ZOOM)
    ended = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(minutes=16)   # the report was due at +15
    async with sessions() as db, changing(db):
        await scheduling.reschedule_session(db, ADMIN, s.id, ended - timedelta(minutes=60), ended, settings=Settings())
        await record_attendance(db, ADMIN, s.id, [AttendanceRecord(enrolled[0], AttendanceStatus.EXCUSED)])

    result = await import_meeting_attendance(sessions, zoom_provider, s.id, ZOOM)   # Zoom answers 404, code 3001

    assert result.recorded == 3
    got = await _attendance(sessions, s.id)
    assert got == {learners[0].id: (AttendanceStatus.EXCUSED, "MANUAL", None),
                   learners[1].id: (AttendanceStatus.ABSENT, "ZOOM", 0),
                   learners[2].id: (AttendanceStatus.ABSENT, "ZOOM", 0)}
    assert fake_zoom.calls("GET", "/v2/report/")


async def test_the_report_delay_is_a_setting(sessions, fake_zoom):
    provider = ZoomProvider(ZoomClient(settings_for(fake_zoom.url, report_delay_minutes=40)))
    try:
        course = await b.course(sessions)
        lead = await b.instructor(sessions)
        s = await b.session(sessions, course_id=course.id, instructor_ids=[lead.id])
        await sync_meeting(sessions, provider, s.id, ZOOM)
        # 20 minutes after the end there is no report yet and none is due: nothing is recorded, it is asked again
        async with sessions() as db, changing(db):
            ended = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(minutes=20)
            await scheduling.reschedule_session(db, ADMIN, s.id, ended - timedelta(hours=1), ended, settings=Settings())
        try:
            await import_meeting_attendance(sessions, provider, s.id, ZOOM)
        except NoParticipantsReport:
            pass
        else:
            raise AssertionError("a report not yet due may still come")
        async with sessions() as db:
            polls = (await db.scalars(select(OutboxMessage).where(OutboxMessage.topic == "meeting.attendance")
                                      .order_by(OutboxMessage.id))).all()
    finally:
        await provider.aclose()
    assert polls[0].deliver_after == s.ends_at + timedelta(minutes=40)
    assert provider.client._http.is_closed
    assert await _attendance(sessions, s.id) == {}


async def test_the_thresholds_are_settings(sessions, fake_zoom, zoom_provider):
    course = await b.course(sessions)
    lead = await b.instructor(sessions)
    s = await b.session(sessions, course_id=course.id, instructor_ids=[lead.id], minutes=120)
    learners = {n: await b.person(sessions, email=f"{n}@example.com") for n in ("bob", "cara", "dan")}
    for person in learners.values():
        async with sessions() as db, changing(db):
            await enrollment_service.enroll(db, ADMIN, s.id, person.id)
    await sync_meeting(sessions, zoom_provider, s.id, ZOOM)
    start = await b.time_passes(sessions, s.id)
    async with sessions() as db:
        meeting = int((await db.get(Session, s.id)).meeting_external_id)
    fake_zoom.reports[meeting] = [
        {"id": "", "name": n, "user_email": f"{n}@example.com", "registrant_id": "", "join_time": _at(start, a),
         "leave_time": _at(start, z), "duration": (z - a) * 60}
        for n, a, z in (("bob", 25, 120), ("cara", 0, 90), ("dan", 0, 66))]
    statuses = lambda got: {n: got[p.id][0] for n, p in learners.items()}  # noqa: E731

    await import_meeting_attendance(sessions, zoom_provider, s.id, ZOOM)
    assert statuses(await _attendance(sessions, s.id)) == {
        "bob": AttendanceStatus.LATE, "cara": AttendanceStatus.LEFT_EARLY, "dan": AttendanceStatus.LEFT_EARLY}

    strict = ZoomProvider(ZoomClient(settings_for(fake_zoom.url, late_after_minutes=30, left_early_minutes=40,
                                                  present_min_percent=60)))
    try:
        await import_meeting_attendance(sessions, strict, s.id, ZOOM)   # the same report, other settings
    finally:
        await strict.aclose()
    assert statuses(await _attendance(sessions, s.id)) == {
        "bob": AttendanceStatus.PRESENT,       # 25 minutes late is within 30
        "cara": AttendanceStatus.PRESENT,      # leaving 30 minutes early is within 40
        "dan": AttendanceStatus.ABSENT}        # 66 of 120 minutes is under 60 %


async def test_unmatched_dial_ins_with_the_same_name_are_told_apart_by_zoom_s_ids(sessions, fake_zoom, zoom_provider):
    course = await b.course(sessions)
    lead = await b.instructor(sessions)
    s = await b.session(sessions, course_id=course.id, instructor_ids=[lead.id], minutes=120)
    await sync_meeting(sessions, zoom_provider, s.id, ZOOM)
    start = await b.time_passes(sessions, s.id)
    async with sessions() as db:
        meeting = int((await db.get(Session, s.id)).meeting_external_id)
    row = lambda user_id, name, joined, left: {  # noqa: E731 - a dial-in: no email, no Zoom account, no registration
        "id": "", "user_id": user_id, "name": name, "user_email": "", "registrant_id": "",
        "join_time": _at(start, joined), "leave_time": _at(start, left), "duration": (left - joined) * 60}
    fake_zoom.reports[meeting] = [
        row("16778240", "Dial-in user", 0, 30),
        row("16779264", "Dial-in user", 0, 100),     # someone else on another phone line
        row("16778240", "Dial-in user", 40, 60),     # the first caller again
        row("", "Front desk", 0, 10),                # no id at all: only the name tells
        row("", "Front desk", 20, 30),
    ]

    result = await import_meeting_attendance(sessions, zoom_provider, s.id, ZOOM)

    async with sessions() as db:
        unmatched = (await db.scalars(select(UnmatchedParticipant).where(UnmatchedParticipant.session_id == s.id))).all()
    assert result.unmatched == 3
    assert sorted((u.name, u.minutes_attended) for u in unmatched) == \
        [("Dial-in user", 50), ("Dial-in user", 100), ("Front desk", 20)]
