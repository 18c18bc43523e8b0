"""Live-session attendance pushed back to the LMS of a blended program, through the outbox.

Recording attendance asks inside its transaction; after commit the dispatcher performs the push with
the program's LMS connector, with retries and backoff, so a slow or failing LMS never fails the change.
Pushes for one learner and connector go out in commit order, so the last record wins.
"""
from __future__ import annotations

import uuid

from sqlalchemy import and_, select
from sqlalchemy.ext.asyncio import AsyncSession

from ..audit import Actor
from ..db import changing
from ..models import (
    Attendance, Enrollment, Person, Program, ProgramLearner, ProgramStage, Session, StageKind,
)
from ..outbox import QueuedMessage, call_plugin, plugin_call
from . import catalogue

PUSH_ATTENDANCE = "lms.push_attendance"


def _ordering_key(connector: str, person_id: int) -> str:
    return f"lms:{connector}:person:{person_id}"


async def request_attendance_push(db: AsyncSession, session_id: int, enrollment_ids: list[int]) -> int:
    """Push these enrolments' attendance to the LMS of every program whose live stage is this session.

    Only programs with an LMS connector and course, and only the program's own learners; returns how
    many pushes were asked for.
    """
    if not enrollment_ids:
        return 0
    rows = (await db.execute(
        select(Program.lms_connector, Program.lms_course_ref, ProgramStage.lms_activity_ref, Session.title,
               Enrollment.learner_id, Attendance.status)
        .join(ProgramStage, ProgramStage.program_id == Program.id)
        .join(Session, Session.id == ProgramStage.session_id)
        .join(Enrollment, Enrollment.session_id == Session.id)
        .join(Attendance, Attendance.enrollment_id == Enrollment.id)
        .join(ProgramLearner, and_(ProgramLearner.program_id == Program.id,
                                   ProgramLearner.learner_id == Enrollment.learner_id))
        .where(ProgramStage.session_id == session_id, ProgramStage.kind == StageKind.LIVE,
               Enrollment.id.in_(enrollment_ids), Program.lms_connector.is_not(None),
               Program.lms_course_ref.is_not(None))
        .order_by(Program.id, Enrollment.id))).all()
    for connector, course_ref, activity_ref, title, learner_id, status in rows:
        await call_plugin(db, provider=connector, topic=PUSH_ATTENDANCE, payload={
            "course_ref": course_ref, "person_id": learner_id, "session_title": title, "status": status.value,
            "activity_ref": activity_ref}, idempotency_key=f"{PUSH_ATTENDANCE}:{uuid.uuid4()}",
            ordering_key=_ordering_key(connector, learner_id))
    return len(rows)


async def _user_ref(dispatcher, connector, person_id: int) -> str:
    """The person's account in the LMS: remembered in `external_ids`, else found by email and remembered."""
    async with dispatcher.sessions() as db:
        email, external_ids = (await db.execute(select(Person.email, Person.external_ids)
                                                .where(Person.id == person_id))).one()
    known = (external_ids or {}).get(connector.name)
    if known:
        return str(known)
    found = await connector.find_user(email)
    if found is None:  # raised, so retried: the account may be created later (e.g. at first sign-in)
        raise LookupError(f"{connector.name} has no account with the email {email}")
    async with dispatcher.sessions() as db, changing(db):
        await catalogue.update_person(db, Actor.system(f"plugin:{connector.name}"), person_id,
                                      external_ids={connector.name: found})
    return found


@plugin_call(PUSH_ATTENDANCE)
async def perform_attendance_push(dispatcher, message: QueuedMessage) -> None:
    connector = dispatcher.plugins.provider("lms_connectors", message.target)
    payload = message.payload
    user_ref = await _user_ref(dispatcher, connector, payload["person_id"])
    details = {"activity_ref": payload["activity_ref"]} if payload.get("activity_ref") else None
    await connector.push_attendance(payload["course_ref"], user_ref, payload["session_title"], payload["status"],
                                    details)
