"""Attendance per part of a session, and the session's attendance derived from it. A manual record
always wins over one a plugin reports.

The rule (`session_attendance`): a learner attended a part when recorded PRESENT, LATE or LEFT_EARLY
there. They attended the session once they attended at least the course's `minimum_parts_attended`
parts (default: every part): the session's status is then PRESENT when every attended part was
PRESENT, otherwise LATE if any was LATE, otherwise LEFT_EARLY. Once so many parts are recorded missed
(ABSENT or EXCUSED) that the minimum can no longer be reached, it is EXCUSED when every missed part was
excused and ABSENT otherwise. Until one of those is known the session has no attendance status. With
one part the session's status is that part's.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from .. import limits
from ..audit import Actor, record_change
from ..errors import DomainError, ErrorCode
from ..events import emit
from ..ids import to_global_id
from ..instants import utc_now
from ..models import (
    Attendance, AttendanceStatus, Course, Enrollment, EnrollmentStatus, PartAttendance, Session, SessionPart,
)
from .lms_sync import request_attendance_push
from .locks import lock_session, session_ordering_key

MANUAL = "MANUAL"
IN_ADVANCE = (AttendanceStatus.ABSENT, AttendanceStatus.EXCUSED)
"""What may be known of a learner before a part starts: that they will not be there."""
ATTENDED = (AttendanceStatus.PRESENT, AttendanceStatus.LATE, AttendanceStatus.LEFT_EARLY)


@dataclass(frozen=True)
class AttendanceRecord:
    """`part`: the 1-based part it is about; None: every part of the session."""

    enrollment_id: int
    status: AttendanceStatus
    minutes_attended: int | None = None
    part: int | None = None


@dataclass(frozen=True)
class PartRecord:
    status: AttendanceStatus
    minutes_attended: int | None
    source: str


def check_started(part: Session | SessionPart, status: AttendanceStatus, field: str, now: datetime | None = None) -> None:
    """Records are true (rule 10): nobody was PRESENT, LATE or LEFT_EARLY at a part that has not started."""
    if AttendanceStatus(status) not in IN_ADVANCE and (now or utc_now()) < part.starts_at:
        raise DomainError(ErrorCode.SESSION_NOT_STARTED, f"It starts {part.starts_at.isoformat()}; "
                          "before then a learner can only be recorded ABSENT or EXCUSED.", field)


def session_attendance(records: list[PartRecord | None], minimum_parts: int | None) -> PartRecord | None:
    """The session's attendance from its parts' (one entry per part, None where nothing is recorded), by
    the rule in this module's docstring; None while it is not yet known."""
    total = len(records)
    required = total if minimum_parts is None else max(1, min(minimum_parts, total))
    attended = [r for r in records if r is not None and r.status in ATTENDED]
    missed = [r for r in records if r is not None and r.status in IN_ADVANCE]
    if len(attended) >= required:
        statuses = {r.status for r in attended}
        status = (AttendanceStatus.PRESENT if statuses == {AttendanceStatus.PRESENT}
                  else AttendanceStatus.LATE if AttendanceStatus.LATE in statuses else AttendanceStatus.LEFT_EARLY)
    elif len(missed) > total - required:
        status = (AttendanceStatus.EXCUSED if all(r.status is AttendanceStatus.EXCUSED for r in missed)
                  else AttendanceStatus.ABSENT)
    else:
        return None
    recorded = [r for r in records if r is not None]
    minutes = [r.minutes_attended for r in recorded if r.minutes_attended is not None]
    sources = {r.source for r in recorded}
    return PartRecord(status, sum(minutes) if minutes else None, sources.pop() if len(sources) == 1 else MANUAL)


async def record_attendance(db: AsyncSession, actor: Actor, session_id: int, records: list[AttendanceRecord],
                            source: str = MANUAL, now: datetime | None = None) -> list[Enrollment]:
    """Record attendance of enrolled learners, per part (or of every part); a plugin's record never
    overwrites a manual one. Each learner's session attendance is then derived again."""
    records = limits.items(records, "records", limits.COHORT)
    session = await lock_session(db, session_id)
    now = now or utc_now()
    ids = list(dict.fromkeys(r.enrollment_id for r in records))
    keys = [(r.enrollment_id, r.part) for r in records]
    if len(set(keys)) != len(keys):
        raise DomainError(ErrorCode.INVALID, "An enrolment is listed twice for the same part.", "records")
    parts = list((await db.scalars(select(SessionPart).where(SessionPart.session_id == session.id)
                                   .order_by(SessionPart.position))).all())
    enrollments = {e.id: e for e in (await db.scalars(
        select(Enrollment).where(Enrollment.id.in_(ids)).options(selectinload(Enrollment.attendance))
        .execution_options(populate_existing=True))).all()}
    for index, record in enumerate(records):
        enrollment = enrollments.get(record.enrollment_id)
        if enrollment is None or enrollment.session_id != session.id:
            raise DomainError(ErrorCode.NOT_FOUND, "No enrolment with that id in this session.",
                              f"records.{index}.enrollmentId")
        if enrollment.status is not EnrollmentStatus.ENROLLED:
            raise DomainError(ErrorCode.INVALID, f"Only enrolled learners attend; this one is "
                              f"{enrollment.status.value.lower()}.", f"records.{index}.enrollmentId")
        if record.minutes_attended is not None and not 0 <= record.minutes_attended <= 7 * 24 * 60:
            raise DomainError(ErrorCode.INVALID, "minutesAttended is out of range.", f"records.{index}.minutesAttended")
        if record.part is not None and not 1 <= record.part <= len(parts):
            raise DomainError(ErrorCode.NOT_FOUND, f"The session has no part {record.part}; it has {len(parts)}.",
                              f"records.{index}.part")
        for part in _targets(parts, record):
            check_started(part, record.status, f"records.{index}.status", now)

    existing = {(row.enrollment_id, row.part_id): row for row in (await db.scalars(
        select(PartAttendance).where(PartAttendance.enrollment_id.in_(ids))
        .execution_options(populate_existing=True))).all()}
    before = {str(e.id): _shown(PartRecord(e.attendance.status, e.attendance.minutes_attended, e.attendance.source)
                                if e.attendance else None, parts, existing, e.id) for e in enrollments.values()}
    touched: list[int] = []
    for record in records:
        for part in _targets(parts, record):
            current = existing.get((record.enrollment_id, part.id))
            if current is not None and current.source == MANUAL and source != MANUAL:
                continue
            if current is None:
                current = existing[(record.enrollment_id, part.id)] = PartAttendance(
                    enrollment_id=record.enrollment_id, part_id=part.id, status=record.status)
                db.add(current)
            current.status, current.minutes_attended = AttendanceStatus(record.status), record.minutes_attended
            current.source = source
            touched.append(record.enrollment_id)
    minimum = await db.scalar(select(Course.minimum_parts_attended).where(Course.id == session.course_id))
    after = {}
    for enrollment_id in dict.fromkeys(touched):
        derived = await _derive(db, enrollments[enrollment_id], parts, existing, minimum)
        after[str(enrollment_id)] = _shown(derived, parts, existing, enrollment_id)
    await db.flush()
    before = {key: before[key] for key in after}
    await request_attendance_push(db, session.id, [int(key) for key in after])
    record_change(db, actor, "attendance.record", "Session", session.id, before, after)
    emit(db, "attendance.recorded", {
        "session": to_global_id("Session", session.id), "source": source,
        "records": [{"enrollment": to_global_id("Enrollment", int(k)), **v} for k, v in after.items()],
    }, session_ordering_key(session.id))
    return [enrollments[i] for i in ids]


def _targets(parts: list[SessionPart], record: AttendanceRecord) -> list[SessionPart]:
    return parts if record.part is None else [parts[record.part - 1]]


def _shown(attendance: PartRecord | None, parts: list[SessionPart], existing: dict, enrollment_id: int) -> dict | None:
    """A learner's attendance as the audit log and events show it: the session's, and each part's."""
    by_part = {str(p.position): existing[(enrollment_id, p.id)].status.value for p in parts
               if (enrollment_id, p.id) in existing}
    if attendance is None and not by_part:
        return None
    return {"status": attendance.status.value if attendance else None,
            "minutes": attendance.minutes_attended if attendance else None,
            "source": attendance.source if attendance else None, "parts": by_part}


async def _derive(db: AsyncSession, enrollment: Enrollment, parts: list[SessionPart], existing: dict,
                  minimum: int | None) -> PartRecord | None:
    """Write the session attendance the rule derives from the parts' (or remove it while unknown)."""
    rows = [existing.get((enrollment.id, p.id)) for p in parts]
    derived = session_attendance([PartRecord(r.status, r.minutes_attended, r.source) if r else None for r in rows],
                                 minimum)
    current = enrollment.attendance
    if derived is None:
        if current is not None:
            await db.delete(current)
        return None
    if current is None:
        current = Attendance(enrollment_id=enrollment.id, status=derived.status)
        db.add(current)
        enrollment.attendance = current
    current.status, current.minutes_attended, current.source = derived.status, derived.minutes_attended, derived.source
    return derived
