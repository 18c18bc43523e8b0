"""Attendance of a program's live session reaches Moodle through the outbox, by the real dispatcher."""
from __future__ import annotations

from sqlalchemy import func, select

from podium.core.db import changing
from podium.core.models import (
    AttendanceStatus, OutboxMessage, Person, Program, ProgramLearner, ProgramStage, StageKind,
)
from podium.core.services import enrollment, lms_sync
from podium.core.services.attendance import AttendanceRecord, record_attendance
from tests import builders as b
from tests.builders import ADMIN
from tests.dispatching import dispatching, eventually, outbox_rows, settings_from
from tests.plugins.lms_moodle.fake_moodle import TOKEN

OVERRIDE = "core_completion_override_activity_completion_status"


async def _program_around(sessions, session_id: int, course_id: int, learner_ids: list[int], activity_ref: str | None):
    """A blended program whose live stage is the session (rows as the programs service writes them)."""
    async with sessions() as db, changing(db):
        program = Program(title="Fire safety, flipped", template_key="flipped", course_id=course_id,
                          lms_course_ref="FIRE-101", lms_connector="moodle")
        db.add(program)
        await db.flush()
        db.add(ProgramStage(program_id=program.id, key="live", position=1, kind=StageKind.LIVE,
                            title="Fire safety workshop", offset_days=0, session_id=session_id,
                            lms_activity_ref=activity_ref))
        db.add_all(ProgramLearner(program_id=program.id, learner_id=learner_id) for learner_id in learner_ids)


async def _attend(sessions, session_id: int, statuses: dict[int, AttendanceStatus]) -> None:
    records = []
    for learner_id, status in statuses.items():
        async with sessions() as db, changing(db):
            records.append(AttendanceRecord((await enrollment.enroll(db, ADMIN, session_id, learner_id)).id, status))
    await b.time_passes(sessions, session_id, ended=False)
    async with sessions() as db, changing(db):
        await record_attendance(db, ADMIN, session_id, records)


async def _live_session(sessions):
    course, lead = await b.course(sessions, title="Fire safety workshop"), await b.instructor(sessions)
    return course, await b.session(sessions, course_id=course.id, instructor_ids=[lead.id])


def _settings(moodle):
    return settings_from({"PODIUM_PLUGINS": "lms_moodle", "PODIUM_MOODLE_URL": moodle.url,
                          "PODIUM_MOODLE_TOKEN": TOKEN})


async def test_attendance_of_a_programs_live_session_becomes_the_activitys_completion_in_moodle(sessions, moodle):
    ada, bo, walk_in = [await b.person(sessions, email=e) for e in ("ada@example.com", "bo@example.com", "w@x.org")]
    ada_ref, bo_ref = moodle.add_user("ada@example.com"), moodle.add_user("bo@example.com")
    moodle.add_user("w@x.org")
    live = moodle.add_activity(moodle.add_course("FIRE-101"), "Fire safety workshop", modname="label", tracking=1)
    course, session = await _live_session(sessions)
    await _program_around(sessions, session.id, course.id, [ada.id, bo.id], activity_ref=str(live))
    await _attend(sessions, session.id, {ada.id: AttendanceStatus.PRESENT, bo.id: AttendanceStatus.ABSENT,
                                         walk_in.id: AttendanceStatus.PRESENT})

    async with dispatching(sessions, _settings(moodle)):
        await eventually(lambda: (live, bo_ref) in moodle.states and (live, ada_ref) in moodle.states,
                         what="both learners' attendance in Moodle")

    assert moodle.states[(live, ada_ref)]["state"] == 1 and moodle.states[(live, bo_ref)]["state"] == 0
    assert len([r for r in moodle.requests if ("wsfunction", OVERRIDE) in r]) == 2   # the walk-in is not in it
    async with sessions() as db:
        refs = dict((await db.execute(select(Person.id, Person.external_ids)
                                      .where(Person.id.in_([ada.id, bo.id])))).all())
    assert refs == {ada.id: {"moodle": str(ada_ref)}, bo.id: {"moodle": str(bo_ref)}}   # found once, remembered


async def test_no_lms_on_the_program_means_nothing_is_pushed(sessions):
    ada = await b.person(sessions)
    course, session = await _live_session(sessions)
    async with sessions() as db, changing(db):
        program = Program(title="Classroom only", template_key="flipped", course_id=course.id)
        db.add(program)
        await db.flush()
        db.add(ProgramStage(program_id=program.id, key="live", position=1, kind=StageKind.LIVE, title="Live",
                            offset_days=0, session_id=session.id))
        db.add(ProgramLearner(program_id=program.id, learner_id=ada.id))
    await _attend(sessions, session.id, {ada.id: AttendanceStatus.PRESENT})
    async with sessions() as db:
        assert await db.scalar(select(func.count()).select_from(OutboxMessage)
                               .where(OutboxMessage.topic == lms_sync.PUSH_ATTENDANCE)) == 0


async def test_a_moodle_refusal_is_retried_with_its_reason_kept(sessions, moodle):
    cleo = await b.person(sessions, email="cleo@example.com")
    moodle.add_activity(moodle.add_course("FIRE-101"), "Fire safety workshop", tracking=1)
    course, session = await _live_session(sessions)
    await _program_around(sessions, session.id, course.id, [cleo.id], activity_ref=None)   # found by its name
    await _attend(sessions, session.id, {cleo.id: AttendanceStatus.LATE})

    async with dispatching(sessions, _settings(moodle)):
        [failing] = await eventually(lambda: _failed_pushes(sessions), what="a failed push")
    assert failing.last_error == "LookupError: moodle has no account with the email cleo@example.com"

    moodle.add_user("cleo@example.com")
    moodle.can_override_completion = False
    async with dispatching(sessions, _settings(moodle)) as dispatcher:
        async with sessions() as db, changing(db):
            row = await db.get(OutboxMessage, failing.id)
            row.deliver_after = row.created_at                # retry now rather than after the backoff
        dispatcher.wake()
        await eventually(lambda: _failed_with(sessions, failing.id, "nopermissions"), what="Moodle's refusal")
    [row] = await outbox_rows(sessions, id=failing.id)
    assert row.last_error == ("MoodleError: Moodle refused core_completion_override_activity_completion_status: "
                              "Sorry, but you do not currently have permissions to do that (Override activity "
                              "completion status). [nopermissions]")


async def _failed_pushes(sessions):
    return [r for r in await outbox_rows(sessions, topic=lms_sync.PUSH_ATTENDANCE) if r.last_error]


async def _failed_with(sessions, message_id: int, code: str) -> bool:
    [row] = await outbox_rows(sessions, id=message_id)
    return bool(row.last_error and code in row.last_error)
