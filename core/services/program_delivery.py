"""What blended programs ask of the outside world, through the outbox (rule 7): the cohort's LMS
enrolment, a scheduled LMS sync, the instructor's readiness summary the day before a live session,
reminders to learners missing pre-work, and word of moved due dates.

Services queue the work in their transaction; the outbox dispatcher performs it later, with
retries. A notice carries the session's `sequence`: one queued before a reschedule is skipped,
and so is everything still queued for a program that has been cancelled (but the word that it was).
"""
from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ..audit import Actor
from ..db import changing
from ..instants import utc_now
from ..models import (
    Person, Program, ProgramLearner, ProgramStatus, Session, SessionStatus, StageKind,
)
from ..notifications import current_facts, plan_notification, session_instructors, session_with_course
from ..outbox import NOTIFICATION_KIND, Dispatcher, QueuedMessage, enqueue, enqueue_many, plugin_call
from ..settings import Settings
from .journeys import journeys, programs_in_progress, readiness, sync_program
from .periodic import Tick, periodic, seconds_of

log = logging.getLogger("podium.programs")

LMS_ENROL = "program.lms_enrol"
LMS_SYNC = "program.sync"
READINESS = "program.send_readiness"
PREWORK_REMINDER = "program.send_prework_reminders"
STAGES_MOVED = "program.tell_moved"
CANCELLED = "program.tell_cancelled"
WORKER = Actor.system("program-worker")


def _key(program_id: int) -> str:
    return f"program:{program_id}"


async def _call(db: AsyncSession, topic: str, target: str | None, key: str, payload: dict[str, Any],
                at: datetime | None = None) -> None:
    """No ordering key: a message due in days must not hold back one due now."""
    await enqueue(db, kind="plugin_call", topic=topic, target=target, idempotency_key=key, payload=payload,
                  deliver_after=at)


# --- queued by the services, in their transaction ---------------------------------------------

async def queue_program(db: AsyncSession, program: Program, learner_ids: list[int], sessions: list[Session],
                        settings: Settings) -> None:
    """A new program: enrol the cohort in the LMS course, plan each session's notices (the periodic job
    `lms_sync` syncs it while it is in progress)."""
    await queue_lms_enrolment(db, program, learner_ids)
    for session in sessions:
        await queue_session_notices(db, program.id, session, settings)


async def queue_lms_enrolment(db: AsyncSession, program: Program, learner_ids: list[int]) -> None:
    """Each learner's enrolment in the program's LMS course, if it has one."""
    if not program.lms_connector:
        return
    for learner_id in learner_ids:
        await _call(db, LMS_ENROL, program.lms_connector, f"{_key(program.id)}:lms-enrol:{learner_id}",
                    {"program_id": program.id, "learner_id": learner_id, "course_ref": program.lms_course_ref})


@periodic("lms_sync", setting="program_sync_hours", every=seconds_of("program_sync_hours", 3600),
          does="one LMS completion sync is queued per blended program in progress with an LMS connector")
async def queue_syncs(tick: Tick) -> str:
    """A sync per program still in progress, keyed by program and tick, queued with the tick's run row."""
    async with tick.sessions() as db, changing(db):
        in_progress = await programs_in_progress(db, tick.now)
        rows = (await db.execute(select(Program.id, Program.lms_connector).where(
            Program.id.in_(in_progress), Program.lms_connector.is_not(None)).order_by(Program.id))).all()
        for program_id, connector in rows:
            await _call(db, LMS_SYNC, connector, f"{_key(program_id)}:sync:{tick.due_at.isoformat()}",
                        {"program_id": program_id})
        summary = f"{len(rows)} program sync(s) queued"
        await tick.finish(db, summary)
    return summary


async def queue_session_notices(db: AsyncSession, program_id: int, session: Session, settings: Settings) -> None:
    """The readiness summary and the pre-work reminders of one live session, at its current times,
    as early as the running app's settings say (0 turns one off)."""
    now = utc_now()
    payload = {"program_id": program_id, "session_id": session.id, "sequence": session.sequence}
    for topic, lead in ((READINESS, timedelta(hours=settings.readiness_notice_hours)),
                        (PREWORK_REMINDER, timedelta(days=settings.prework_reminder_days))):
        if lead and session.starts_at > now:
            await _call(db, topic, None, f"{_key(program_id)}:{topic}:{session.id}:{session.sequence}", payload,
                        max(now, session.starts_at - lead))


async def queue_moved_stages(db: AsyncSession, program_id: int, session: Session, moved: list[dict]) -> None:
    """Learners hear of due dates that a rescheduled session moved."""
    await _call(db, STAGES_MOVED, None, f"{_key(program_id)}:moved:{session.id}:{session.sequence}",
                {"program_id": program_id, "session_id": session.id, "sequence": session.sequence,
                 "stages": moved})


async def queue_cancellation(db: AsyncSession, program_id: int, anchor_session_id: int,
                             enrollments_cancelled: bool) -> None:
    """Every learner of a cancelled program hears of it."""
    await _call(db, CANCELLED, None, f"{_key(program_id)}:cancelled",
                {"program_id": program_id, "session_id": anchor_session_id,
                 "enrollments_cancelled": enrollments_cancelled})


async def _active(db: AsyncSession, program_id: int) -> Program | None:
    """The program, unless it is gone or cancelled: then what was queued for it is dropped."""
    program = await db.get(Program, program_id, populate_existing=True)
    return program if program is not None and program.status is ProgramStatus.ACTIVE else None


# --- performed by the outbox dispatcher --------------------------------------------------------

@plugin_call(LMS_ENROL)
async def _enrol(dispatcher: Dispatcher, message: QueuedMessage) -> None:
    connector = dispatcher.plugins.provider("lms_connectors", message.target)
    payload = message.payload
    async with dispatcher.sessions() as db:
        person = await db.get(Person, payload["learner_id"])
        if person is None or await _active(db, payload["program_id"]) is None:
            return
        email, user_ref = person.email, (person.external_ids or {}).get(connector.name)
    if user_ref is None:
        user_ref = await connector.find_user(email)
        if user_ref is None:
            raise LookupError(f"{connector.name} has no user with the email {email}")
    await connector.enrol(payload["course_ref"], user_ref)
    async with dispatcher.sessions() as db, changing(db):
        person = await db.get(Person, payload["learner_id"], populate_existing=True)
        if person is not None and (person.external_ids or {}).get(connector.name) != user_ref:
            person.external_ids = {**(person.external_ids or {}), connector.name: user_ref}


async def _sync_now(dispatcher: Dispatcher, program_id: int) -> None:
    """Fresh LMS completion before telling anyone about it; a failing LMS only makes it staler."""
    async with dispatcher.sessions() as db:
        program = await _active(db, program_id)
        if program is None or not program.lms_connector:
            return
        try:
            await sync_program(db, WORKER, program_id, dispatcher.plugins.providers.get("lms_connectors", {}))
        except Exception as exc:
            log.warning("program %s: LMS sync before a notice failed: %s", program_id, exc)


@plugin_call(LMS_SYNC)
async def _scheduled_sync(dispatcher: Dispatcher, message: QueuedMessage) -> None:
    program_id = message.payload["program_id"]
    connector = dispatcher.plugins.provider("lms_connectors", message.target)
    async with dispatcher.sessions() as db:
        if await _active(db, program_id) is None:
            return
        await sync_program(db, WORKER, program_id, {connector.name: connector})


async def _notice(dispatcher: Dispatcher, db: AsyncSession,
                  payload: dict[str, Any]) -> tuple[Session, Program, dict[str, Any]] | None:
    """The session a notice is about, its program and the session's facts; None when the session was
    moved or cancelled since the notice was queued, or the program is gone or cancelled."""
    found = await session_with_course(db, payload["session_id"])
    program = await _active(db, payload["program_id"])
    if found is None or program is None:
        return None
    session, course = found
    if session.status is not SessionStatus.SCHEDULED or session.sequence != payload["sequence"]:
        return None
    return session, program, await current_facts(db, session, course, dispatcher.settings)


async def _program_learners(db: AsyncSession, program_id: int) -> list[Person]:
    return list((await db.scalars(select(Person).join(ProgramLearner, ProgramLearner.learner_id == Person.id)
                                  .where(ProgramLearner.program_id == program_id).order_by(Person.id))).all())


async def _send(dispatcher: Dispatcher, db: AsyncSession, planned: list[dict[str, Any]], message: QueuedMessage) -> None:
    await enqueue_many(db, [dict(kind=NOTIFICATION_KIND, topic=p["kind"], target=channel, payload=p,
                                 ordering_key=message.ordering_key,
                                 idempotency_key=f"{message.idempotency_key}:{channel}:{p['to']}")
                            for p in planned for channel in dispatcher.plugins.channels])


def _stage_line(title: str, due_at: datetime | None, tz: str) -> dict[str, Any]:
    """A stage and the learner's own due date (from their journey: in sections, their section's)."""
    due = due_at.astimezone(ZoneInfo(tz)) if due_at else None
    return {"title": title, "due": f"{due:%A} {due.day} {due:%B %Y}, {due:%H:%M} ({tz})" if due else None}


@plugin_call(READINESS)
async def _readiness(dispatcher: Dispatcher, message: QueuedMessage) -> None:
    await _sync_now(dispatcher, message.payload["program_id"])
    async with dispatcher.sessions() as db, changing(db):
        notice = await _notice(dispatcher, db, message.payload)
        if notice is None:
            return
        session, program, facts = notice
        entries = await readiness(db, program.id, session.id)
        summary = {"program_title": program.title, "ready": [e.name for e in entries if e.ready],
                   "not_ready": [{"name": e.name, "missing": list(e.missing_stages)} for e in entries if not e.ready]}
        planned = [plan_notification("program.readiness", r.email, r.name, r.timezone, facts, dispatcher.settings,
                                     **summary)
                   for r in await session_instructors(db, session.id)]
        await _send(dispatcher, db, planned, message)


@plugin_call(PREWORK_REMINDER)
async def _prework_reminder(dispatcher: Dispatcher, message: QueuedMessage) -> None:
    await _sync_now(dispatcher, message.payload["program_id"])
    async with dispatcher.sessions() as db, changing(db):
        notice = await _notice(dispatcher, db, message.payload)
        if notice is None:
            return
        session, program, facts = notice
        behind = {e.learner_id: e for e in await readiness(db, program.id, session.id) if not e.ready}
        if not behind:
            return
        people = {p.id: p for p in (await db.scalars(select(Person).where(Person.id.in_(list(behind))))).all()}
        planned = []
        for journey in await journeys(db, program.id, list(behind)):
            person = people[journey.learner_id]
            missing = [_stage_line(s.stage.title, s.due_at, person.timezone) for s in journey.stages
                       if s.stage.title in behind[person.id].missing_stages and s.stage.kind is not StageKind.LIVE]
            planned.append(plan_notification("program.prework_reminder", person.email, person.name, person.timezone,
                                             facts, dispatcher.settings, program_title=program.title, missing=missing))
        await _send(dispatcher, db, planned, message)


@plugin_call(STAGES_MOVED)
async def _stages_moved(dispatcher: Dispatcher, message: QueuedMessage) -> None:
    """Tell the learners whose dates follow the moved session (in sections, only that section's) their
    own new due dates."""
    payload = message.payload
    async with dispatcher.sessions() as db, changing(db):
        notice = await _notice(dispatcher, db, payload)
        if notice is None:
            return
        session, program, facts = notice
        keys = {s["key"] for s in payload["stages"]}
        people = {p.id: p for p in await _program_learners(db, program.id)}
        planned = []
        for journey in await journeys(db, program.id, list(people)):
            if not any(s.stage.session_id == session.id for s in journey.stages):
                continue
            p = people[journey.learner_id]
            moved = [_stage_line(s.stage.title, s.due_at, p.timezone)
                     for s in journey.stages if s.stage.kind is not StageKind.LIVE and s.stage.key in keys]
            if moved:
                planned.append(plan_notification("program.rescheduled", p.email, p.name, p.timezone, facts,
                                                 dispatcher.settings, program_title=program.title, moved=moved))
        await _send(dispatcher, db, planned, message)


@plugin_call(CANCELLED)
async def _cancelled(dispatcher: Dispatcher, message: QueuedMessage) -> None:
    payload = message.payload
    async with dispatcher.sessions() as db, changing(db):
        program = await db.get(Program, payload["program_id"])
        found = await session_with_course(db, payload["session_id"])
        if program is None or found is None:
            return
        session, course = found
        facts = await current_facts(db, session, course, dispatcher.settings)
        planned = [plan_notification("program.cancelled", p.email, p.name, p.timezone, facts, dispatcher.settings,
                                     program_title=program.title, reason=program.cancel_reason,
                                     enrollments_cancelled=payload["enrollments_cancelled"])
                   for p in await _program_learners(db, program.id)]
        await _send(dispatcher, db, planned, message)
