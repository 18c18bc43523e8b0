"""Attendance per enrolment. A manual record always wins over one a plugin reports."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from ..audit import Actor, record_change
from ..errors import DomainError, ErrorCode
from ..events import emit
from ..ids import to_global_id
from ..models import Attendance, AttendanceStatus, Enrollment, EnrollmentStatus
from .lms_sync import request_attendance_push
from .locks import lock_session, session_ordering_key

MANUAL = "MANUAL"


@dataclass(frozen=True)
class AttendanceRecord:
    enrollment_id: int
    status: AttendanceStatus
    minutes_attended: int | None = None


async def record_attendance(db: AsyncSession, actor: Actor, session_id: int, records: list[AttendanceRecord],
                            source: str = MANUAL) -> list[Enrollment]:
    """Record attendance of enrolled learners; a plugin's record never overwrites a manual one."""
    session = await lock_session(db, session_id)
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
