"""Attendance per enrolment. A manual record always wins over one a plugin reports."""
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
from ..models import Attendance, AttendanceStatus, Enrollment, EnrollmentStatus, Session
from .lms_sync import request_attendance_push
from .locks import lock_session, session_ordering_key

MANUAL = "MANUAL"
IN_ADVANCE = (AttendanceStatus.ABSENT, AttendanceStatus.EXCUSED)
"""What may be known of a learner before the session starts: that they will not be there."""


@dataclass(frozen=True)
class AttendanceRecord:
    enrollment_id: int
    status: AttendanceStatus
    minutes_attended: int | None = None


def check_started(session: Session, status: AttendanceStatus, field: str, now: datetime | None = None) -> None:
    """Records are true (rule 10): nobody was PRESENT, LATE or LEFT_EARLY at a session that has not started."""
    if AttendanceStatus(status) not in IN_ADVANCE and (now or utc_now()) < session.starts_at:
        raise DomainError(ErrorCode.SESSION_NOT_STARTED, f"The session starts {session.starts_at.isoformat()}; "
                          "before then a learner can only be recorded ABSENT or EXCUSED.", field)


async def record_attendance(db: AsyncSession, actor: Actor, session_id: int, records: list[AttendanceRecord],
                            source: str = MANUAL, now: datetime | None = None) -> list[Enrollment]:
    """Record attendance of enrolled learners; a plugin's record never overwrites a manual one."""
    records = limits.items(records, "records", limits.COHORT)
    session = await lock_session(db, session_id)
    now = now or utc_now()
    ids = [r.enrollment_id for r in records]
    if len(set(ids)) != len(ids):
        raise DomainError(ErrorCode.INVALID, "An enrolment is listed twice.", "records")
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
        check_started(session, record.status, f"records.{index}.status", now)
    before, after = {}, {}
    for record in records:
        enrollment = enrollments[record.enrollment_id]
        current = enrollment.attendance
        if current is not None and current.source == MANUAL and source != MANUAL:
            continue
        key = str(enrollment.id)
        before[key] = {"status": current.status.value, "minutes": current.minutes_attended,
                       "source": current.source} if current else None
        if current is None:
            current = Attendance(enrollment_id=enrollment.id, status=record.status)
            db.add(current)
            enrollment.attendance = current
        current.status, current.minutes_attended, current.source = AttendanceStatus(record.status), record.minutes_attended, source
        after[key] = {"status": current.status.value, "minutes": current.minutes_attended, "source": source}
    await db.flush()
    await request_attendance_push(db, session.id, [int(key) for key in after])
    record_change(db, actor, "attendance.record", "Session", session.id, before, after)
    emit(db, "attendance.recorded", {
        "session": to_global_id("Session", session.id), "source": source,
        "records": [{"enrollment": to_global_id("Enrollment", int(k)), **v} for k, v in after.items()],
    }, session_ordering_key(session.id))
    return [enrollments[i] for i in ids]
