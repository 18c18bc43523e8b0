"""Learner journeys through a blended program: stage status, readiness, LMS progress, certification.

One learner record across the self-paced and the live parts: a SELF_PACED or ASSESSMENT stage is
completed when the LMS reports its activity complete (pulled by `sync_program`); a LIVE stage when
the learner's attendance is PRESENT or LATE. LEFT_EARLY does not complete a live stage: the
learner missed part of it (a coordinator who judges otherwise records PRESENT).

In a program of parallel sections, a learner's self-paced and assessment dates follow their own
section's session (`learner_dates`); the stage rows hold the anchor section's.
"""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import and_, exists, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased, selectinload

from ..audit import Actor, record_change
from ..db import changing, end_reads
from ..errors import DomainError, ErrorCode
from ..events import emit
from ..ids import to_global_id
from ..instants import local_shift, utc_now, wall_clock_gap
from ..models import (
    AttendanceStatus, Certification, Course, Enrollment, EnrollmentStatus, Person, Program, ProgramLearner,
    ProgramStage, ProgramStatus, Session, StageKind, StageProgress, StageStatus,
)
from ..providers import CompletionReport, LmsConnector
from .records import get_or_404

log = logging.getLogger("podium.programs")

ATTENDED = (AttendanceStatus.PRESENT, AttendanceStatus.LATE)
LMS_CONCURRENCY = 8
_PLACEMENT_RANK = {EnrollmentStatus.ENROLLED: 0, EnrollmentStatus.PENDING_APPROVAL: 1,
                   EnrollmentStatus.WAITLISTED: 2, EnrollmentStatus.CANCELLED: 3}


@dataclass(frozen=True)
class JourneyStage:
    stage: ProgramStage
    status: StageStatus
    completed_at: datetime | None
    opens_at: datetime | None  # the learner's own dates: the stage's, moved with their section
    due_at: datetime | None


@dataclass(frozen=True)
class Journey:
    learner_id: int
    stages: tuple[JourneyStage, ...]

    @property
    def completed(self) -> bool:
        return all(s.status is StageStatus.COMPLETED for s in self.stages if s.stage.required)

    @property
    def completed_at(self) -> datetime | None:
        """When the last required stage was completed: the date a certification counts from."""
        if not self.completed:
            return None
        return max((s.completed_at for s in self.stages if s.stage.required and s.completed_at), default=None)


@dataclass(frozen=True)
class ReadinessEntry:
    learner_id: int
    name: str
    ready: bool
    missing_stages: tuple[str, ...]


def stage_status(opens_at: datetime | None, due_at: datetime | None, completed_at: datetime | None,
                 now: datetime) -> StageStatus:
    if completed_at is not None:
        return StageStatus.COMPLETED
    if opens_at is not None and now < opens_at:
        return StageStatus.NOT_STARTED
    if due_at is not None and now > due_at:
        return StageStatus.OVERDUE
    return StageStatus.IN_PROGRESS


# --- what a journey is computed from ---------------------------------------------------------

@dataclass
class _Facts:
    """Everything journeys are derived from, loaded in a fixed number of queries."""

    stages: list[ProgramStage]
    learner_ids: list[int]
    progress: dict[tuple[int, int], StageProgress]
    enrollments: dict[tuple[int, int], Enrollment]
    session_ends: dict[int, datetime]
    anchor: ProgramStage | None = None  # the first LIVE stage: the stage rows' dates count from its session
    anchor_tz: ZoneInfo | None = None  # the anchor session's timezone, loaded only for parallel sections


async def _load(db: AsyncSession, program_id: int, learner_ids: list[int] | None = None) -> _Facts:
    rows = (await db.execute(select(ProgramStage, Session.timezone, Session.ends_at)
                             .outerjoin(Session, Session.id == ProgramStage.session_id)
                             .where(ProgramStage.program_id == program_id)
                             .order_by(ProgramStage.position, ProgramStage.id)
                             .execution_options(populate_existing=True))).all()
    stages = [stage for stage, _, _ in rows]
    session_ends = {stage.session_id: ends_at for stage, _, ends_at in rows if stage.session_id is not None}
    if learner_ids is None:
        learner_ids = list((await db.scalars(select(ProgramLearner.learner_id).where(
            ProgramLearner.program_id == program_id).order_by(ProgramLearner.id))).all())
    stage_ids = [s.id for s in stages]
    session_ids = [s.session_id for s in stages if s.session_id is not None]
    progress = {(p.stage_id, p.learner_id): p for p in (await db.scalars(select(StageProgress).where(
        StageProgress.stage_id.in_(stage_ids), StageProgress.learner_id.in_(learner_ids))
        .execution_options(populate_existing=True))).all()}
    enrollments = {(e.session_id, e.learner_id): e for e in (await db.scalars(select(Enrollment).where(
        Enrollment.session_id.in_(session_ids), Enrollment.learner_id.in_(learner_ids))
        .options(selectinload(Enrollment.attendance)).execution_options(populate_existing=True))).all()}
    anchor, tz = next(((s, tz) for s, tz, _ in rows if s.kind is StageKind.LIVE), (None, None))
    sections = anchor is not None and sum(s.position == anchor.position for s in stages) > 1
    anchor_tz = ZoneInfo(tz) if sections else None
    return _Facts(stages, learner_ids, progress, enrollments, session_ends, anchor, anchor_tz)


def _placed_stages(facts: _Facts, learner_id: int) -> list[ProgramStage]:
    """The learner's own stages: of parallel sections (LIVE stages sharing a position), only theirs."""
    mine: list[ProgramStage] = []
    by_position: dict[int, list[ProgramStage]] = {}
    for stage in facts.stages:
        by_position.setdefault(stage.position, []).append(stage)
    for group in by_position.values():
        if len(group) == 1:
            mine.append(group[0])
            continue

        def rank(stage: ProgramStage) -> tuple[int, int]:
            enrollment = facts.enrollments.get((stage.session_id, learner_id))
            return (_PLACEMENT_RANK[enrollment.status] if enrollment else 9, group.index(stage))
        mine.append(min(group, key=rank))
    return mine


def learner_dates(facts: _Facts, stage: ProgramStage,
                  section: ProgramStage | None) -> tuple[datetime | None, datetime | None]:
    """A learner's own (opens_at, due_at) for a stage. In a program of parallel sections, `section` being
    the learner's, a self-paced or assessment stage moves as far as their section's session starts after
    the anchor's, on the anchor's wall clock; the anchor section's learners keep the stage's dates."""
    anchor = facts.anchor
    if stage.kind is StageKind.LIVE or section is None or anchor is None or facts.anchor_tz is None \
            or section.id == anchor.id:
        return stage.opens_at, stage.due_at
    gap = wall_clock_gap(anchor.opens_at, section.opens_at, facts.anchor_tz)
    return local_shift(stage.opens_at, facts.anchor_tz, gap), local_shift(stage.due_at, facts.anchor_tz, gap)


def _live_completed_at(facts: _Facts, stage: ProgramStage, learner_id: int, now: datetime) -> datetime | None:
    """The session's end, once it has ended (rule 10: a record made during the session completes nothing
    before then), so neither a stage nor a certification is ever dated before the training ended."""
    enrollment = facts.enrollments.get((stage.session_id, learner_id))
    attendance = enrollment.attendance if enrollment else None
    ended_at = facts.session_ends.get(stage.session_id)
    if attendance is None or attendance.status not in ATTENDED or ended_at is None or now < ended_at:
        return None
    return ended_at


def _journey(facts: _Facts, learner_id: int, now: datetime,
             lms: Mapping[int, datetime | None] | None = None) -> Journey:
    """`lms` maps stage id to what the LMS just reported; a completion once seen is kept."""
    items = []
    mine = _placed_stages(facts, learner_id)
    section = next((s for s in mine if facts.anchor and s.position == facts.anchor.position), None)
    for stage in mine:
        if stage.kind is StageKind.LIVE:
            completed_at = _live_completed_at(facts, stage, learner_id, now)
        else:
            known = facts.progress.get((stage.id, learner_id))
            completed_at = (known.completed_at if known else None) or (lms or {}).get(stage.id)
        opens_at, due_at = learner_dates(facts, stage, section)
        items.append(JourneyStage(stage, stage_status(opens_at, due_at, completed_at, now), completed_at,
                                  opens_at, due_at))
    return Journey(learner_id, tuple(items))


# --- reading -------------------------------------------------------------------------------

async def journeys(db: AsyncSession, program_id: int, learner_ids: list[int] | None = None,
                   now: datetime | None = None) -> list[Journey]:
    """The journeys of the given learners (default: the whole cohort), in that order."""
    await get_or_404(db, Program, program_id, "programId")
    facts = await _load(db, program_id, learner_ids)
    now = now or utc_now()
    return [_journey(facts, lid, now) for lid in facts.learner_ids]


async def readiness(db: AsyncSession, program_id: int, session_id: int,
                    now: datetime | None = None) -> list[ReadinessEntry]:
    """Before a live session: each learner seated in it, whether they finished every required stage
    before it, and the titles of those they have not. Waitlisted learners are not listed."""
    await get_or_404(db, Program, program_id, "programId")
    facts = await _load(db, program_id)
    if not any(s.session_id == session_id for s in facts.stages):
        raise DomainError(ErrorCode.NOT_FOUND, "That session is not a live session of this program.", "sessionId")
    now = now or utc_now()
    names = dict((await db.execute(select(Person.id, Person.name).where(Person.id.in_(facts.learner_ids)))).all())
    entries = []
    for learner_id in facts.learner_ids:
        enrollment = facts.enrollments.get((session_id, learner_id))
        journey = _journey(facts, learner_id, now)
        target = next((s.stage for s in journey.stages if s.stage.session_id == session_id), None)
        if target is None or enrollment is None or enrollment.status is not EnrollmentStatus.ENROLLED:
            continue
        missing = tuple(s.stage.title for s in journey.stages if s.stage.required
                        and s.stage.position < target.position and s.status is not StageStatus.COMPLETED)
        entries.append(ReadinessEntry(learner_id, names[learner_id], not missing, missing))
    return sorted(entries, key=lambda e: (e.name.lower(), e.learner_id))


async def certifications(db: AsyncSession, *, person_id: int | None = None, course_id: int | None = None,
                         program_id: int | None = None) -> list[Certification]:
    query = select(Certification)
    if person_id is not None:
        query = query.where(Certification.person_id == person_id)
    if course_id is not None:
        query = query.where(Certification.course_id == course_id)
    if program_id is not None:
        query = query.where(Certification.program_id == program_id)
    return list((await db.scalars(query.order_by(Certification.issued_at, Certification.id))).all())


def expiring_filter(within_days: int, now: datetime | None = None) -> list:
    """Who needs recertifying: certifications expiring in the next `within_days` days that no later
    certification of the same person for the same course outlasts."""
    if not 0 <= within_days <= 3650:
        raise DomainError(ErrorCode.INVALID, "withinDays must be between 0 and 3650.", "withinDays")
    now = now or utc_now()
    return [Certification.expires_at >= now, Certification.expires_at <= now + timedelta(days=within_days),
            not_superseded()]


def not_superseded():
    """No later certification of the same person for the same course outlasts this one (as SQL)."""
    later = aliased(Certification)
    return ~exists().where(later.person_id == Certification.person_id,
                           later.course_id == Certification.course_id, later.id != Certification.id,
                           or_(later.expires_at.is_(None), later.expires_at > Certification.expires_at))


async def expiring_certifications(db: AsyncSession, within_days: int, now: datetime | None = None, *,
                                  after: tuple[datetime, int] | None = None,
                                  limit: int | None = None) -> list[Certification]:
    """The certifications of `expiring_filter`, soonest first; `after` (expiry, id) pages by keyset."""
    query = select(Certification).where(*expiring_filter(within_days, now))
    if after is not None:
        query = query.where(or_(Certification.expires_at > after[0],
                                and_(Certification.expires_at == after[0], Certification.id > after[1])))
    query = query.order_by(Certification.expires_at, Certification.id)
    if limit is not None:
        query = query.limit(limit)
    return list((await db.scalars(query)).all())


# --- LMS progress ----------------------------------------------------------------------------

@dataclass
class LmsPull:
    """What the LMS said about each learner, gathered outside any write transaction."""

    connector: str | None
    reports: dict[int, CompletionReport] = field(default_factory=dict)
    found_user_refs: dict[int, str] = field(default_factory=dict)
    not_found: list[int] = field(default_factory=list)
    failed: dict[int, str] = field(default_factory=dict)


@dataclass
class ProgressRecorded:
    program_id: int
    stages_changed: int = 0
    completed: list[int] = field(default_factory=list)
    certified: list[int] = field(default_factory=list)
    pull: LmsPull | None = None


async def pull_completion(db: AsyncSession, program_id: int, connector: LmsConnector | None) -> LmsPull:
    """Ask the LMS for every learner's completion; a learner the LMS fails on is noted, not fatal."""
    program = await get_or_404(db, Program, program_id, "programId")
    if program.lms_course_ref is None or connector is None:
        return LmsPull(connector=None)
    if connector.name != program.lms_connector:
        raise DomainError(ErrorCode.INVALID, f"This program reads progress from {program.lms_connector!r}, "
                          f"not {connector.name!r}.", "lmsConnector")
    course_ref = program.lms_course_ref
    learners = [(p.id, p.email, (p.external_ids or {}).get(connector.name)) for p in (await db.scalars(
        select(Person).join(ProgramLearner, ProgramLearner.learner_id == Person.id)
        .where(ProgramLearner.program_id == program_id).order_by(Person.id))).all()]
    await end_reads(db)  # only reads happened: hold no transaction open while the LMS answers
    pull = LmsPull(connector=connector.name)
    gate = asyncio.Semaphore(LMS_CONCURRENCY)

    async def one(learner_id: int, email: str, user_ref: str | None) -> None:
        async with gate:
            try:
                if user_ref is None:
                    user_ref = await connector.find_user(email)
                    if user_ref is None:
                        pull.not_found.append(learner_id)
                        return
                    pull.found_user_refs[learner_id] = user_ref
                pull.reports[learner_id] = await connector.completion(course_ref, user_ref)
            except Exception as exc:  # an outside system's failure is reported, never raised
                log.warning("LMS %s failed for learner %s: %s", connector.name, learner_id, exc)
                pull.failed[learner_id] = f"{type(exc).__name__}: {exc}"[:300]

    await asyncio.gather(*(one(*learner) for learner in learners))
    pull.not_found.sort()
    return pull


async def record_progress(db: AsyncSession, actor: Actor, program_id: int, pull: LmsPull,
                          now: datetime | None = None) -> ProgressRecorded:
    """Write what the LMS and attendance say into each journey, and certify who has completed."""
    program = await db.scalar(select(Program).where(Program.id == program_id).with_for_update()
                              .execution_options(populate_existing=True))
    if program is None:
        raise DomainError(ErrorCode.NOT_FOUND, "No program with that id.", "programId")
    now = now or utc_now()
    course = await db.get(Course, program.course_id)
    if pull.found_user_refs:
        for person in (await db.scalars(select(Person).where(Person.id.in_(list(pull.found_user_refs))))).all():
            person.external_ids = {**(person.external_ids or {}), pull.connector: pull.found_user_refs[person.id]}
    facts = await _load(db, program.id)
    certified_before = set((await db.scalars(select(Certification.person_id).where(
        Certification.program_id == program.id))).all())
    result = ProgressRecorded(program.id, pull=pull)
    changes: list[dict] = []
    for learner_id in facts.learner_ids:
        report = pull.reports.get(learner_id)
        lms = {s.id: report.activities.get(s.lms_activity_ref) for s in facts.stages
               if report is not None and s.kind is not StageKind.LIVE and s.lms_activity_ref} if report else None
        journey = _journey(facts, learner_id, now, lms)
        for item in journey.stages:
            known = facts.progress.get((item.stage.id, learner_id))
            if known is None:
                db.add(StageProgress(stage_id=item.stage.id, learner_id=learner_id, status=item.status,
                                     completed_at=item.completed_at))
            elif (known.status, known.completed_at) != (item.status, item.completed_at):
                known.status, known.completed_at = item.status, item.completed_at
            else:
                continue
            result.stages_changed += 1
            changes.append({"learner": to_global_id("Person", learner_id), "stage": item.stage.key,
                            "status": item.status.value})
        if journey.completed:
            result.completed.append(learner_id)
            if learner_id not in certified_before:
                _certify(db, course, program.id, learner_id, journey.completed_at or now)
                result.certified.append(learner_id)
    await db.flush()
    if changes or result.certified or pull.found_user_refs:
        record_change(db, actor, "program.sync", "Program", program.id, None, {
            "stages": changes, "certified": result.certified, "lmsUserRefs": pull.found_user_refs,
            "notFound": pull.not_found, "failed": pull.failed})
        emit(db, "program.progressed", {"program": to_global_id("Program", program.id), "stages": changes,
                                         "certified": [to_global_id("Person", p) for p in result.certified]},
             f"program:{program.id}")
    return result


def _certify(db: AsyncSession, course: Course, program_id: int, learner_id: int, issued_at: datetime) -> None:
    validity = course.certification_validity_days
    expires_at = issued_at + timedelta(days=validity) if validity else None
    db.add(Certification(person_id=learner_id, course_id=course.id, program_id=program_id,
                         issued_at=issued_at, expires_at=expires_at))
    emit(db, "certification.issued", {
        "person": to_global_id("Person", learner_id), "course": to_global_id("Course", course.id),
        "program": to_global_id("Program", program_id), "issuedAt": issued_at.isoformat(),
        "expiresAt": expires_at.isoformat() if expires_at else None}, f"program:{program_id}")


async def sync_program(db: AsyncSession, actor: Actor, program_id: int,
                       connectors: Mapping[str, LmsConnector], now: datetime | None = None) -> ProgressRecorded:
    """Pull LMS completion, then record it in its own write transaction (opened here, not by the caller)."""
    program = await get_or_404(db, Program, program_id, "programId")
    connector = connectors.get(program.lms_connector) if program.lms_connector else None
    if program.lms_connector and connector is None:
        raise DomainError(ErrorCode.INVALID, f"The LMS connector {program.lms_connector!r} is not loaded.",
                          "programId")
    pull = await pull_completion(db, program_id, connector)
    async with changing(db):
        return await record_progress(db, actor, program_id, pull, now)


async def programs_in_progress(db: AsyncSession, now: datetime | None = None) -> list[int]:
    """Programs worth a scheduled sync: a stage still open or due within the last 30 days."""
    now = now or utc_now()
    return list((await db.scalars(select(Program.id).where(
        Program.status == ProgramStatus.ACTIVE, exists().where(and_(
            ProgramStage.program_id == Program.id, ProgramStage.due_at >= now - timedelta(days=30))))
        .order_by(Program.id))).all())
