"""Records are true: nobody attends a session that has not started, and no stage or certification is
completed before the live session has ended, whatever path the record takes."""
from __future__ import annotations

import asyncio
from datetime import timedelta

from tests import builders as b
from tests.server import graph as g
from tests.server import programs_world as w

TEMPLATE = """mutation($i: CreateProgramTemplateInput!) { createProgramTemplate(input: $i) { errors { code } } }"""
CREATE = """mutation($i: CreateProgramInput!) { createProgram(input: $i) {
  program { id } placements { enrollment { id } } errors { code field } } }"""
ATTEND = """mutation($i: RecordAttendanceInput!) { recordAttendance(input: $i) {
  enrollments { attendance { status } } errors { code field } } }"""
CERTIFIED = """query($p: ID!) { node(id: $p) { ... on Program { certifications { issuedAt }
  journeys { edges { node { completed stages { status completedAt } } } } } } }"""


async def _live_only_program(api, key: str = "live-only") -> tuple[str, str, str]:
    """A one-stage program (a live session tomorrow) for one learner: (program, session, enrollment)."""
    assert (await api.data(TEMPLATE, {"i": {"key": key, "name": "Live only", "stages": [
        {"key": "live", "kind": "LIVE", "title": "Workshop", "offsetDays": 0}]}}))["createProgramTemplate"]["errors"] == []
    course = await g.course(api, certificationValidityDays=365)
    session = await g.session(api, course, [await g.instructor(api)], starts_at=g.at(days=1))
    created = (await api.data(CREATE, {"i": {"templateKey": key, "courseId": course,
                                             "liveSessionIds": [session], "learnerIds": [await g.person(api)]}}))
    created = created["createProgram"]
    assert created["errors"] == []
    return created["program"]["id"], session, created["placements"][0]["enrollment"]["id"]


async def _attend(api, session: str, enrollment: str, status: str) -> dict:
    records = [{"enrollmentId": enrollment, "status": status}]
    return (await api.data(ATTEND, {"i": {"sessionId": session, "records": records}}))["recordAttendance"]


async def test_present_at_a_session_tomorrow_is_refused_and_no_certificate_appears(api):
    program, session, enrollment = await _live_only_program(api)
    for status in ("PRESENT", "LATE", "LEFT_EARLY"):
        assert (await _attend(api, session, enrollment, status)) == {"enrollments": [], "errors": [
            {"code": "SESSION_NOT_STARTED", "field": ["input", "records", "0", "status"]}]}
    assert (await api.data(w.SYNC, {"i": {"programId": program}}))["syncProgramProgress"]["certified"] == []
    seen = (await api.data(CERTIFIED, {"p": program}))["node"]
    assert seen["certifications"] == [] and seen["journeys"]["edges"][0]["node"]["completed"] is False
    # that a learner will not come may be known in advance
    for status in ("EXCUSED", "ABSENT"):
        assert (await _attend(api, session, enrollment, status))["errors"] == []


async def test_a_stage_completes_only_once_the_session_has_ended(api, app):
    program, session, enrollment = await _live_only_program(api)
    sessions = app.state.podium.sessions
    await g.time_passes(sessions, session, ended=False)
    assert (await _attend(api, session, enrollment, "PRESENT"))["errors"] == []
    assert (await api.data(w.SYNC, {"i": {"programId": program}}))["syncProgramProgress"]["certified"] == []
    assert (await api.data(CERTIFIED, {"p": program}))["node"]["certifications"] == [], "the session runs on"

    await g.time_passes(sessions, session)
    ended = (await api.data(w.SESSION_TIMES, {"id": session}))["node"]["endsAt"]
    assert len((await api.data(w.SYNC, {"i": {"programId": program}}))["syncProgramProgress"]["certified"]) == 1
    seen = (await api.data(CERTIFIED, {"p": program}))["node"]
    assert seen["certifications"] == [{"issuedAt": ended}], "dated from the session's end, not the record"
    assert seen["journeys"]["edges"][0]["node"]["stages"] == [{"status": "COMPLETED", "completedAt": ended}]


async def test_a_conferencing_report_before_the_session_starts_records_nothing(sessions):
    from podium.core.db import changing
    from podium.core.errors import DomainError, ErrorCode
    from podium.core.providers import AttendanceRules, ParticipantSegment
    from podium.core.services import enrollment as enrollment_service
    from podium.core.services.attendance_import import import_attendance

    course = await b.course(sessions)
    s = await b.session(sessions, course_id=course.id, instructor_ids=[(await b.instructor(sessions)).id],
                        starts_at=b.soon(days=1))
    learner = await b.person(sessions)
    async with sessions() as db, changing(db):
        await enrollment_service.enroll(db, b.ADMIN, s.id, learner.id)
    rehearsal = [ParticipantSegment(name="L", email=learner.email, registrant_id=None,
                                    joined_at=s.starts_at, left_at=s.ends_at)]
    try:
        async with sessions() as db, changing(db):
            await import_attendance(db, b.ADMIN, s.id, "ZOOM", rehearsal, AttendanceRules())
    except DomainError as error:
        assert error.code is ErrorCode.SESSION_NOT_STARTED
    else:
        raise AssertionError("a report before the session starts was recorded")


RESCHEDULE = """mutation($i: RescheduleSessionInput!) { rescheduleSession(input: $i) { errors { code field } } }"""


async def test_a_session_learners_attended_cannot_move_to_a_start_still_to_come(api, app):
    _, session, enrollment = await _live_only_program(api)
    started = await g.time_passes(app.state.podium.sessions, session, ended=False)
    assert (await _attend(api, session, enrollment, "PRESENT"))["errors"] == []
    later, earlier = g.at(days=3), started - timedelta(hours=1)
    moves = [{"sessionId": session, "startsAt": at.isoformat(), "endsAt": (at + timedelta(hours=1)).isoformat()}
             for at in (later, earlier)]
    assert (await api.data(RESCHEDULE, {"i": moves[0]}))["rescheduleSession"]["errors"] == [
        {"code": "INVALID_TIME_RANGE", "field": ["input", "startsAt"]}]
    assert (await api.data(RESCHEDULE, {"i": moves[1]}))["rescheduleSession"]["errors"] == [], "a correction"


async def test_attendance_and_a_move_into_the_future_at_once_never_leave_a_future_session_attended(api, app):
    """Whichever comes first wins; the other is refused: never PRESENT at a session that has not started."""
    for n in range(3):
        _, session, enrollment = await _live_only_program(api, f"live-only-{n}")
        await g.time_passes(app.state.podium.sessions, session, ended=False)
        at = g.at(days=2)
        move = {"sessionId": session, "startsAt": at.isoformat(), "endsAt": (at + timedelta(hours=1)).isoformat()}
        moved, attended = await asyncio.gather(api.data(RESCHEDULE, {"i": move}),
                                               _attend(api, session, enrollment, "PRESENT"))
        outcomes = (moved["rescheduleSession"]["errors"], attended["errors"])
        assert outcomes in (([], [{"code": "SESSION_NOT_STARTED", "field": ["input", "records", "0", "status"]}]),
                            ([{"code": "INVALID_TIME_RANGE", "field": ["input", "startsAt"]}], [])), outcomes

