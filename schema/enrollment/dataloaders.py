"""Batched loads of enrolments and their attendance."""
from __future__ import annotations

from sqlalchemy import select

from podium.core.models import Attendance as AttendanceRow
from podium.core.models import Enrollment as EnrollmentRow
from podium.core.models import PartAttendance as PartAttendanceRow
from podium.core.models import SessionPart as SessionPartRow

from .types import ENROLLMENT_COLUMNS, Attendance, Enrollment, PartAttendance, enrollment_from


def loaders(context) -> dict:
    async def enrollments(ids: list[int]) -> list[Enrollment | None]:
        async with context.reading() as db:
            rows = (await db.execute(select(*ENROLLMENT_COLUMNS).where(EnrollmentRow.id.in_(ids)))).all()
        found = {row.id: enrollment_from(row) for row in rows}
        return [found.get(i) for i in ids]

    async def attendance(ids: list[int]) -> list[Attendance | None]:
        async with context.reading() as db:
            rows = (await db.execute(select(AttendanceRow.enrollment_id, AttendanceRow.status,
                                            AttendanceRow.minutes_attended, AttendanceRow.source)
                                     .where(AttendanceRow.enrollment_id.in_(ids)))).all()
        found = {row.enrollment_id: Attendance(status=row.status, minutes_attended=row.minutes_attended,
                                              source=row.source) for row in rows}
        return [found.get(i) for i in ids]

    async def part_attendance(ids: list[int]) -> list[list[PartAttendance]]:
        async with context.reading() as db:
            rows = (await db.execute(select(PartAttendanceRow.enrollment_id, SessionPartRow.position,
                                            PartAttendanceRow.status, PartAttendanceRow.minutes_attended,
                                            PartAttendanceRow.source)
                                     .join(SessionPartRow, SessionPartRow.id == PartAttendanceRow.part_id)
                                     .where(PartAttendanceRow.enrollment_id.in_(ids))
                                     .order_by(PartAttendanceRow.enrollment_id, SessionPartRow.position))).all()
        found: dict[int, list[PartAttendance]] = {i: [] for i in ids}
        for row in rows:
            found[row.enrollment_id].append(PartAttendance(part=row.position, status=row.status,
                                                           minutes_attended=row.minutes_attended, source=row.source))
        return [found[i] for i in ids]

    return {"enrollments": enrollments, "attendance": attendance, "part_attendance": part_attendance}
