"""Blended programs: templates, and a program instantiated for a course and a cohort.

A template is an ordered list of stages (SELF_PACED, LIVE, ASSESSMENT). With one LIVE stage and
several sessions, the sessions are parallel sections and the cohort is split across them: the
first is filled, then the next, and whoever is left waits on the last. A `repeat` LIVE stage
instead puts every learner in every session (recurring workshops).
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from .. import limits
from ..audit import Actor, record_change
from ..errors import DomainError, ErrorCode
from ..events import emit
from ..ids import to_global_id
from ..instants import utc_now
from ..models import (
    Course, Enrollment, EnrollmentStatus, Person, Program, ProgramLearner, ProgramStage, ProgramStatus,
    ProgramTemplate, STAFF_ROLES, SeriesOccurrence, Session, SessionSeries, SessionStatus, StageKind,
)
from ..program_templates import BUILTIN_TEMPLATES
from ..settings import Settings
from . import enrollment as enrolment_service
from .program_calendar import DEFAULT_WINDOW_DAYS, days_from
from .program_delivery import queue_cancellation, queue_lms_enrolment, queue_program
from .records import get_or_404, snapshot
from .capacity import count_enrolments, seats_free
from .locks import lock_session

KEY_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]{0,39}$")
MAX_STAGES = 30
MAX_OFFSET_DAYS = 3650
MAX_COHORT = limits.COHORT


@dataclass(frozen=True)
class StageTemplate:
    key: str
    kind: StageKind
    title: str
    offset_days: int
    required: bool = True
    window_days: int | None = None
    repeat: bool = False

    def as_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"key": self.key, "kind": self.kind.value, "title": self.title,
                                "offset_days": self.offset_days, "required": self.required}
        if self.window_days is not None:
            data["window_days"] = self.window_days
        if self.repeat:
            data["repeat"] = True
        return data


@dataclass(frozen=True)
class Template:
    key: str
    name: str
    stages: tuple[StageTemplate, ...]
    builtin: bool


# --- templates ---------------------------------------------------------------------------

def _require_key(value: Any, field: str) -> str:
    if not isinstance(value, str) or not KEY_PATTERN.match(value):
        raise DomainError(ErrorCode.INVALID, f"{field} must be 1-40 lowercase letters, digits or dashes, "
                          "starting with a letter or digit.", field)
    return value


def _require_days(value: Any, field: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise DomainError(ErrorCode.INVALID, f"{field} must be a whole number between {low} and {high}.", field)
    return value


def parse_stages(raw: list[Any], field: str = "stages") -> tuple[StageTemplate, ...]:
    """Check a template's stages: unique keys, in time order, with live sessions a program can hang on."""
    if not isinstance(raw, list) or not 1 <= len(raw) <= MAX_STAGES:
        raise DomainError(ErrorCode.INVALID, f"A template has between 1 and {MAX_STAGES} stages.", field)
    stages: list[StageTemplate] = []
    for index, item in enumerate(raw):
        at = f"{field}.{index}"
        if isinstance(item, StageTemplate):
            item = item.as_json()
        if not isinstance(item, dict):
            raise DomainError(ErrorCode.INVALID, "A stage is an object.", at)
        try:
            kind = StageKind(item.get("kind"))
        except ValueError:
            raise DomainError(ErrorCode.INVALID, "kind is SELF_PACED, LIVE or ASSESSMENT.", f"{at}.kind") from None
        window = item.get("window_days")
        stage = StageTemplate(
            key=_require_key(item.get("key"), f"{at}.key"), kind=kind, title=limits.text(item.get("title"), f"{at}.title"),
            offset_days=_require_days(item.get("offset_days"), f"{at}.offsetDays", -MAX_OFFSET_DAYS, MAX_OFFSET_DAYS),
            required=bool(item.get("required", True)),
            window_days=None if window is None else _require_days(window, f"{at}.windowDays", 1, MAX_OFFSET_DAYS),
            repeat=bool(item.get("repeat", False)))
        if stage.repeat and kind is not StageKind.LIVE:
            raise DomainError(ErrorCode.INVALID, "Only a LIVE stage repeats.", f"{at}.repeat")
        if stage.key in {s.key for s in stages}:
            raise DomainError(ErrorCode.INVALID, f"Stage key {stage.key!r} is used twice.", f"{at}.key")
        if stages and stage.offset_days < stages[-1].offset_days:
            raise DomainError(ErrorCode.INVALID, "Stages are listed in time order: offsetDays never decreases.",
                              f"{at}.offsetDays")
        stages.append(stage)
    live = [s for s in stages if s.kind is StageKind.LIVE]
    if not live:
        raise DomainError(ErrorCode.INVALID, "A blended program needs at least one LIVE stage.", field)
    if any(s.repeat for s in live) and len(live) > 1:
        raise DomainError(ErrorCode.INVALID, "A repeating LIVE stage must be the template's only LIVE stage.", field)
    return tuple(stages)


BUILTINS: dict[str, Template] = {
    t["key"]: Template(key=t["key"], name=t["name"], stages=parse_stages(t["stages"]), builtin=True)
    for t in BUILTIN_TEMPLATES
}


def _from_row(row: ProgramTemplate) -> Template:
    return Template(key=row.key, name=row.name, stages=parse_stages(row.stages), builtin=row.builtin)


async def list_templates(db: AsyncSession) -> list[Template]:
    """The built-in templates first, then the organisation's own in the order they were made."""
    rows = (await db.scalars(select(ProgramTemplate).where(ProgramTemplate.builtin.is_(False))
                             .order_by(ProgramTemplate.id))).all()
    return [*BUILTINS.values(), *(_from_row(r) for r in rows)]


async def get_template(db: AsyncSession, key: str, field: str = "templateKey") -> Template:
    if key in BUILTINS:
        return BUILTINS[key]
    row = await db.scalar(select(ProgramTemplate).where(ProgramTemplate.key == key))
    if row is None:
        raise DomainError(ErrorCode.NOT_FOUND, f"No program template {key!r}.", field)
    return _from_row(row)


async def install_builtin_templates(db: AsyncSession) -> None:
    """Keep the built-in templates' rows in step with the code, so every program's template has a row."""
    rows = {r.key: r for r in (await db.scalars(select(ProgramTemplate).where(
        ProgramTemplate.key.in_(list(BUILTINS))))).all()}
    for template in BUILTINS.values():
        stages = [s.as_json() for s in template.stages]
        row = rows.get(template.key)
        if row is None:  # two first programs at once may both get here: the second insert yields
            insert = pg_insert if db.bind.dialect.name == "postgresql" else sqlite_insert
            await db.execute(insert(ProgramTemplate).values(key=template.key, name=template.name, stages=stages,
                                                            builtin=True).on_conflict_do_nothing(index_elements=["key"]))
        elif (row.name, row.stages, row.builtin) != (template.name, stages, True):
            row.name, row.stages, row.builtin = template.name, stages, True
    await db.flush()


async def create_program_template(db: AsyncSession, actor: Actor, *, key: str, name: str,
                                  stages: list[Any]) -> Template:
    """An organisation's own template; ADMINs and COORDINATORs only (the one check: the mutation leaves it here)."""
    if actor.role not in STAFF_ROLES:
        raise DomainError(ErrorCode.FORBIDDEN, "Only an admin or a coordinator adds program templates.")
    key = _require_key(key, "key")
    name = limits.text(name, "name")
    parsed = parse_stages(stages)
    await install_builtin_templates(db)
    if key in BUILTINS or await db.scalar(select(ProgramTemplate.id).where(ProgramTemplate.key == key)):
        raise DomainError(ErrorCode.DUPLICATE, f"Template key {key!r} is already taken.", "key")
    row = ProgramTemplate(key=key, name=name, stages=[s.as_json() for s in parsed], builtin=False)
    db.add(row)
    try:
        await db.flush()
    except IntegrityError:  # the same key added by a concurrent change since the check above (PostgreSQL)
        raise DomainError(ErrorCode.DUPLICATE, f"Template key {key!r} is already taken.", "key") from None
    record_change(db, actor, "program_template.create", "ProgramTemplate", row.id, None, snapshot(row))
    return _from_row(row)


# --- programs ----------------------------------------------------------------------------

@dataclass(frozen=True)
class Placement:
    """Where createProgram put a learner in a live session."""

    learner_id: int
    session_id: int
    enrollment_id: int
    status: EnrollmentStatus
    waitlist_position: int | None


@dataclass
class ProgramCreated:
    program: Program
    placements: list[Placement] = field(default_factory=list)

    @property
    def waitlisted(self) -> list[Placement]:
        return [p for p in self.placements if p.status is EnrollmentStatus.WAITLISTED]


@dataclass(frozen=True)
class _Draft:
    stage: StageTemplate
    key: str
    title: str
    session: Session | None
    offset_days: int


def _lay_out(template: Template, sessions: list[Session]) -> tuple[list[list[_Draft]], bool]:
    """The program's stages in order, grouped by position (parallel sections share one), and
    whether the cohort is split across sections rather than sent to every session."""
    live = [s for s in template.stages if s.kind is StageKind.LIVE]
    repeat = live[0].repeat
    if not repeat and len(live) > 1 and len(sessions) != len(live):
        raise DomainError(ErrorCode.INVALID, f"Template {template.key!r} has {len(live)} live stages; give one "
                          f"session for each, in order.", "liveSessionIds")
    sections = not repeat and len(live) == 1
    anchor = sessions[0]
    groups: list[list[_Draft]] = []
    live_index = 0
    for stage in template.stages:
        if stage.kind is not StageKind.LIVE:
            groups.append([_Draft(stage, stage.key, stage.title, None, stage.offset_days)])
        elif sections:
            many = len(sessions) > 1
            groups.append([_Draft(stage, f"{stage.key}-{n}" if many else stage.key, stage.title, s,
                                  _days_apart(anchor, s)) for n, s in enumerate(sessions, 1)])
        elif repeat:
            groups.extend([_Draft(stage, f"{stage.key}-{n}", _numbered(stage.title, n), s, _days_apart(anchor, s))]
                          for n, s in enumerate(sessions, 1))
        else:
            s = sessions[live_index]
            live_index += 1
            groups.append([_Draft(stage, stage.key, stage.title, s, _days_apart(anchor, s))])
    return groups, sections


def _numbered(title: str, n: int) -> str:
    """The title of the n-th session of a repeating stage, kept within limits.NAME."""
    suffix = f" {n}"
    return title[:limits.NAME - len(suffix)] + suffix


def _days_apart(anchor: Session, session: Session) -> int:
    tz = ZoneInfo(anchor.timezone)
    return (session.starts_at.astimezone(tz).date() - anchor.starts_at.astimezone(tz).date()).days


def _stage_rows(program_id: int, template: Template, groups: list[list[_Draft]],
                anchor: Session, activities: dict[str, str], by_key: bool) -> list[ProgramStage]:
    """`by_key`: without an LMS, a self-paced or assessment stage without an activity is known by its key."""
    offsets = [s.offset_days for s in template.stages]
    rows = []
    for position, group in enumerate(groups):
        for draft in group:
            stage = draft.stage
            if draft.session is not None:
                opens_at, due_at = draft.session.starts_at, draft.session.ends_at
            else:
                later = [o for o in offsets if o > stage.offset_days]
                due_days = (stage.offset_days + stage.window_days if stage.window_days
                            else later[0] if later else stage.offset_days + DEFAULT_WINDOW_DAYS)
                opens_at, due_at = days_from(anchor, stage.offset_days), days_from(anchor, due_days)
            rows.append(ProgramStage(
                program_id=program_id, key=draft.key, position=position, kind=stage.kind, title=draft.title,
                offset_days=draft.offset_days, required=stage.required, opens_at=opens_at, due_at=due_at,
                session_id=draft.session.id if draft.session else None,
                lms_activity_ref=activities.get(stage.key, stage.key if by_key and stage.kind is not StageKind.LIVE
                                                else None)))
    return rows


def _check_lms_activities(template: Template, activities: dict[str, str], known: Mapping[str, str] | None,
                          course_ref: str | None) -> None:
    """Every required self-paced or assessment stage names its LMS activity, and every named activity is
    one the LMS course has (when known): refused, naming each stage, rather than never seeing completion."""
    missing = [s.key for s in template.stages if s.required and s.kind is not StageKind.LIVE and s.key not in activities]
    absent = [key for key, ref in activities.items() if known is not None and ref not in known]
    if not missing and not absent:
        return
    problems = [f"stage {key!r} names no LMS activity" for key in missing]
    problems += [f"stage {key!r}: LMS course {course_ref!r} has no activity {activities[key]!r}" for key in absent]
    raise DomainError(ErrorCode.INVALID, "; ".join(problems) + " (give each in stageActivities, as the activity's "
                      "id in the LMS course).", f"stageActivities.{(missing + absent)[0]}")


def _stage_activities(given: dict[str, str] | None) -> dict[str, str]:
    """Each stage's LMS activity: at most limits.LIST of them, each a reference."""
    given = dict(given or {})
    limits.items(list(given), "stageActivities")
    return {key: limits.text(ref, f"stageActivities.{index}.lmsActivityRef", limits.REF)
            for index, (key, ref) in enumerate(given.items())}


async def _load_sessions(db: AsyncSession, ids: list[int], course_id: int) -> list[Session]:
    """The program's live sessions, row-locked in id order (the one lock order) before the program
    writes a row that references them: on PostgreSQL a stage's foreign key takes a KEY SHARE lock
    on its session, and two programs holding that lock on a shared session would deadlock when each
    then locks it FOR UPDATE to place its cohort."""
    if not ids:
        raise DomainError(ErrorCode.INVALID, "A program needs at least one live session.", "liveSessionIds")
    if len(set(ids)) != len(ids):
        raise DomainError(ErrorCode.INVALID, "A session is listed twice.", "liveSessionIds")
    found = {s.id: s for s in (await db.scalars(select(Session).where(Session.id.in_(ids)).order_by(Session.id)
                                                .with_for_update()
                                                .execution_options(populate_existing=True))).all()}
    for index, sid in enumerate(ids):
        session = found.get(sid)
        if session is None:
            raise DomainError(ErrorCode.NOT_FOUND, "No session with that id.", f"liveSessionIds.{index}")
        if session.course_id != course_id:
            raise DomainError(ErrorCode.INVALID, f"Session {session.title!r} is not a session of this course.",
                              f"liveSessionIds.{index}")
        if session.status is not SessionStatus.SCHEDULED:
            raise DomainError(ErrorCode.SESSION_NOT_OPEN, f"Session {session.title!r} is "
                              f"{session.status.value.lower()}.", f"liveSessionIds.{index}")
        if not enrolment_service.is_open_for_enrolment(session, utc_now()):
            raise DomainError(ErrorCode.SESSION_NOT_OPEN, f"Enrolment for session {session.title!r} has closed.",
                              f"liveSessionIds.{index}")
    return sorted(found.values(), key=lambda s: (s.starts_at, s.id))


async def _series_sessions(db: AsyncSession, template: Template, series_id: int, course_id: int,
                           session_ids: list[int]) -> list[int]:
    """A series' occurrences still open for enrolment, in order: the live sessions of a template whose LIVE
    stage repeats (recurring workshops)."""
    if session_ids:
        raise DomainError(ErrorCode.INVALID, "Give liveSessionIds or liveSeriesId, not both.", "liveSeriesId")
    if not any(s.repeat for s in template.stages):
        raise DomainError(ErrorCode.INVALID, f"Template {template.key!r} has no repeating LIVE stage: give its "
                          "sessions as liveSessionIds.", "liveSeriesId")
    series = await get_or_404(db, SessionSeries, series_id, "liveSeriesId")
    now = utc_now()
    rows = (await db.execute(select(Session.id, Session.course_id).join(
        SeriesOccurrence, SeriesOccurrence.session_id == Session.id).where(
        SeriesOccurrence.series_id == series.id, enrolment_service.open_for_enrolment_sql(now))
        .order_by(SeriesOccurrence.number))).all()
    if not rows:
        raise DomainError(ErrorCode.SESSION_NOT_OPEN, "No occurrence of the series is still open for enrolment.",
                          "liveSeriesId")
    if rows[0].course_id != course_id:
        raise DomainError(ErrorCode.INVALID, "The series is not of this course.", "liveSeriesId")
    return [row.id for row in rows]


async def _check_learners(db: AsyncSession, ids: list[int]) -> None:
    if not 1 <= len(ids) <= MAX_COHORT:
        raise DomainError(ErrorCode.INVALID, f"A cohort has between 1 and {MAX_COHORT} learners.", "learnerIds")
    if len(set(ids)) != len(ids):
        raise DomainError(ErrorCode.INVALID, "A learner is listed twice.", "learnerIds")
    found = set((await db.scalars(select(Person.id).where(Person.id.in_(ids)))).all())
    for index, lid in enumerate(ids):
        if lid not in found:
            raise DomainError(ErrorCode.NOT_FOUND, "No person with that id.", f"learnerIds.{index}")


async def _place(db: AsyncSession, actor: Actor, sessions: list[Session], learner_ids: list[int],
                 split: bool) -> list[Placement]:
    """Enrol the cohort through the enrolment service, so capacity and the waitlist rules hold.

    Every section is locked first (in id order, the one lock order), so the seat counts that
    choose a section stay true until the cohort is placed."""
    for session in sorted(sessions, key=lambda s: s.id):
        await lock_session(db, session.id)
    existing = {(e.session_id, e.learner_id): e for e in (await db.scalars(select(Enrollment).where(
        Enrollment.session_id.in_([s.id for s in sessions]), Enrollment.learner_id.in_(learner_ids),
        Enrollment.status.in_(enrolment_service.ACTIVE)))).all()}
    placements = []
    for learner_id in learner_ids:
        if split:
            already = next((s for s in sessions if (s.id, learner_id) in existing), None)
            targets = [already or await _first_with_a_seat(db, sessions)]
        else:
            targets = sessions
        for session in targets:
            enrollment = existing.get((session.id, learner_id))
            if enrollment is None:
                enrollment = await enrolment_service.enroll(db, actor, session.id, learner_id)
            placements.append(Placement(learner_id, session.id, enrollment.id, enrollment.status,
                                        enrollment.waitlist_position))
    return placements


async def _first_with_a_seat(db: AsyncSession, sessions: list[Session]) -> Session:
    """Fill the first section, then the next; when all are full, the last one's waitlist. A learner
    awaiting approval holds no seat yet but will want one, so a section keeps room for them."""
    for session in sessions:
        if await seats_free(db, session) > await count_enrolments(db, session.id, EnrollmentStatus.PENDING_APPROVAL):
            return session
    return sessions[-1]


async def create_program(db: AsyncSession, actor: Actor, *, template_key: str, course_id: int,
                         live_session_ids: list[int], learner_ids: list[int], title: str | None = None,
                         lms_course_ref: str | None = None, lms_connector: str | None = None,
                         stage_activities: dict[str, str] | None = None, settings: Settings,
                         lms_activities: Mapping[str, str] | None = None,
                         live_series_id: int | None = None) -> ProgramCreated:
    """Instantiate a template for a course and a cohort, and place the cohort in the live sessions.

    `settings` (the running app's) say when the LMS is synced and the sessions' notices go out.

    A stage's LMS activity is `stage_activities[stage key]`. With an LMS, every required self-paced or
    assessment stage must name one, and each named one must be in `lms_activities` (the LMS course's
    activities, ref -> name, when the connector can list them): completion is never silently unseen. A
    LIVE stage's activity is where attendance is pushed back (optional).

    `live_series_id`, for a template whose LIVE stage repeats (`ongoing-blend`), names a series instead of
    `live_session_ids`: its occurrences still open for enrolment are the live sessions.
    """
    title = limits.text(title, "title", required=False)
    lms_course_ref = limits.text(lms_course_ref, "lmsCourseRef", limits.REF, required=False)
    lms_connector = limits.text(lms_connector, "lmsConnector", limits.CODE, required=False)
    live_session_ids = limits.items(live_session_ids, "liveSessionIds")
    learner_ids = limits.items(learner_ids, "learnerIds", limits.COHORT)
    activities = _stage_activities(stage_activities)
    template = await get_template(db, template_key)
    course = await get_or_404(db, Course, course_id, "courseId")
    if (lms_course_ref is None) != (lms_connector is None):
        raise DomainError(ErrorCode.INVALID, "Give both the LMS course and the connector, or neither.",
                          "lmsCourseRef" if lms_course_ref is None else "lmsConnector")
    unknown = sorted(set(activities) - {s.key for s in template.stages})
    if unknown:
        raise DomainError(ErrorCode.INVALID, f"No stage {unknown[0]!r} in this template.", "stageActivities")
    if lms_connector is not None:
        _check_lms_activities(template, activities, lms_activities, lms_course_ref)
    if live_series_id is not None:
        live_session_ids = await _series_sessions(db, template, live_series_id, course.id, list(live_session_ids))
    sessions = await _load_sessions(db, list(live_session_ids), course.id)
    await _check_learners(db, list(learner_ids))
    groups, split = _lay_out(template, sessions)
    await install_builtin_templates(db)

    program = Program(title=title or f"{course.title} ({template.name.split(':')[0]})"[:limits.NAME],
                      template_key=template.key, course_id=course.id, lms_course_ref=lms_course_ref,
                      lms_connector=lms_connector)
    db.add(program)
    await db.flush()
    stages = _stage_rows(program.id, template, groups, sessions[0], activities, by_key=lms_connector is None)
    db.add_all(stages)
    db.add_all(ProgramLearner(program_id=program.id, learner_id=lid) for lid in learner_ids)
    await db.flush()
    placements = await _place(db, actor, sessions, list(learner_ids), split)
    after = {**snapshot(program), "stages": [s.key for s in stages], "learners": list(learner_ids),
             "placements": [{"learner": p.learner_id, "session": p.session_id, "status": p.status.value}
                            for p in placements]}
    record_change(db, actor, "program.create", "Program", program.id, None, after)
    emit(db, "program.created", {
        "program": to_global_id("Program", program.id), "template": template.key,
        "course": to_global_id("Course", course.id),
        "sessions": [to_global_id("Session", s.id) for s in sessions],
        "learners": [to_global_id("Person", lid) for lid in learner_ids],
        "lmsConnector": lms_connector, "lmsCourseRef": lms_course_ref,
    }, f"program:{program.id}")
    await queue_program(db, program, list(learner_ids), sessions, settings)
    return ProgramCreated(program, placements)


# --- changing a program ------------------------------------------------------------------

async def _lock_program(db: AsyncSession, program_id: int) -> Program:
    """The program row, locked (PostgreSQL) so two changes to one cohort queue up; it must be active."""
    program = await db.scalar(select(Program).where(Program.id == program_id).with_for_update()
                              .execution_options(populate_existing=True))
    if program is None:
        raise DomainError(ErrorCode.NOT_FOUND, "No program with that id.", "programId")
    if program.status is ProgramStatus.CANCELLED:
        raise DomainError(ErrorCode.INVALID, "This program is cancelled.", "programId")
    return program


async def _live_sessions(db: AsyncSession, program_id: int) -> tuple[list[Session], bool]:
    """The program's live sessions in start order, and whether they are parallel sections
    (one LIVE position shared by several sessions) rather than sessions everyone attends."""
    live = (await db.scalars(select(ProgramStage).where(ProgramStage.program_id == program_id,
                                                        ProgramStage.kind == StageKind.LIVE))).all()
    ids = sorted({s.session_id for s in live if s.session_id is not None})
    sessions = (await db.scalars(select(Session).where(Session.id.in_(ids))
                                 .execution_options(populate_existing=True))).all()
    return sorted(sessions, key=lambda s: (s.starts_at, s.id)), len({s.position for s in live}) == 1


async def add_program_learners(db: AsyncSession, actor: Actor, program_id: int,
                               learner_ids: list[int]) -> ProgramCreated:
    """Join learners to a running program: placed like the first cohort (the first open section with
    a seat, else the last one's waitlist; or every open session), then enrolled in the LMS course."""
    learner_ids = limits.items(learner_ids, "learnerIds", limits.COHORT)
    program = await _lock_program(db, program_id)
    await _check_learners(db, list(learner_ids))
    members = set((await db.scalars(select(ProgramLearner.learner_id).where(
        ProgramLearner.program_id == program.id, ProgramLearner.learner_id.in_(learner_ids)))).all())
    for index, lid in enumerate(learner_ids):
        if lid in members:
            raise DomainError(ErrorCode.DUPLICATE, "This learner is already in the program.", f"learnerIds.{index}")
    sessions, split = await _live_sessions(db, program.id)
    now = utc_now()
    open_sessions = [s for s in sessions if enrolment_service.is_open_for_enrolment(s, now)]
    if not open_sessions:
        raise DomainError(ErrorCode.SESSION_NOT_OPEN, "None of the program's live sessions is open for enrolment.",
                          "programId")
    db.add_all(ProgramLearner(program_id=program.id, learner_id=lid) for lid in learner_ids)
    await db.flush()
    placements = await _place(db, actor, open_sessions, list(learner_ids), split)
    record_change(db, actor, "program.add_learners", "Program", program.id, None, {
        "learners": list(learner_ids),
        "placements": [{"learner": p.learner_id, "session": p.session_id, "status": p.status.value}
                       for p in placements]})
    emit(db, "program.learners_added", {
        "program": to_global_id("Program", program.id),
        "learners": [to_global_id("Person", lid) for lid in learner_ids],
        "placements": [{"learner": to_global_id("Person", p.learner_id), "session": to_global_id("Session", p.session_id),
                        "status": p.status.value} for p in placements],
    }, f"program:{program.id}")
    await queue_lms_enrolment(db, program, list(learner_ids))
    return ProgramCreated(program, placements)


@dataclass
class ProgramCancelled:
    program: Program
    cancelled_enrollments: list[int] = field(default_factory=list)


async def cancel_program(db: AsyncSession, actor: Actor, program_id: int, reason: str,
                         cancel_enrollments: bool = False) -> ProgramCancelled:
    """Stop a program: no more reminders, summaries or syncs; learners are told. Their live-session
    enrolments stand (the sessions may run anyway) unless `cancel_enrollments`, which frees the seats
    of sessions not yet started through the enrolment service (the waitlist moves up)."""
    reason = limits.text(reason, "reason", limits.NOTE, multiline=True)
    program = await _lock_program(db, program_id)
    before = snapshot(program)
    now = utc_now()
    program.status, program.cancelled_at, program.cancel_reason = ProgramStatus.CANCELLED, now, reason
    learner_ids = list((await db.scalars(select(ProgramLearner.learner_id).where(
        ProgramLearner.program_id == program.id).order_by(ProgramLearner.id))).all())
    sessions, _ = await _live_sessions(db, program.id)
    cancelled: list[int] = []
    if cancel_enrollments:
        upcoming = [s.id for s in sessions if s.status is SessionStatus.SCHEDULED and s.starts_at > now]
        for session_id in sorted(upcoming):
            await lock_session(db, session_id)
        enrollment_ids = (await db.scalars(select(Enrollment.id).where(
            Enrollment.session_id.in_(upcoming), Enrollment.learner_id.in_(learner_ids),
            Enrollment.status.in_(enrolment_service.ACTIVE)).order_by(Enrollment.id))).all()
        for enrollment_id in enrollment_ids:
            await enrolment_service.cancel_enrollment(db, actor, enrollment_id, f"Program cancelled: {reason}")
            cancelled.append(enrollment_id)
    await db.flush()
    record_change(db, actor, "program.cancel", "Program", program.id, before,
                  {**snapshot(program), "cancelledEnrollments": cancelled})
    emit(db, "program.cancelled", {
        "program": to_global_id("Program", program.id), "reason": reason,
        "learners": [to_global_id("Person", lid) for lid in learner_ids],
        "cancelledEnrollments": [to_global_id("Enrollment", e) for e in cancelled],
    }, f"program:{program.id}")
    if sessions:
        await queue_cancellation(db, program.id, sessions[0].id, bool(cancelled))
    return ProgramCancelled(program, cancelled)
