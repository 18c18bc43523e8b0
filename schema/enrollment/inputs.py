"""Inputs of the enrolment and attendance operations."""
from __future__ import annotations

import strawberry

from .types import AttendanceStatus


@strawberry.input
class EnrollInput:
    session_id: strawberry.ID
    learner_id: strawberry.ID


@strawberry.input
class EnrollInSeriesInput:
    series_id: strawberry.ID
    learner_id: strawberry.ID


@strawberry.input
class CancelEnrollmentInput:
    enrollment_id: strawberry.ID


@strawberry.input
class DecideEnrollmentInput:
    enrollment_id: strawberry.ID
    approve: bool
    reason: str | None = None


@strawberry.input
class AttendanceRecordInput:
    enrollment_id: strawberry.ID
    status: AttendanceStatus
    minutes_attended: int | None = None
    part: int | None = strawberry.field(default=None, description=(
        "The part (from 1) this record is about; null: every part of the session, so PRESENT, LATE or "
        "LEFT_EARLY then need its last part to have started."))


@strawberry.input
class RecordAttendanceInput:
    session_id: strawberry.ID
    records: list[AttendanceRecordInput]
