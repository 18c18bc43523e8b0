"""enroll, enrollInSeries, cancelEnrollment, decideEnrollment, recordAttendance. Who may is permissions.py's;
seats, the waitlist and approvals are the enrolment service's."""
from __future__ import annotations

import strawberry
from sqlalchemy import select
from strawberry.types import Info

from podium.core.errors import DomainError, ErrorCode
from podium.core.models import AttendanceStatus as CoreAttendanceStatus
from podium.core.models import Enrollment as EnrollmentRow
from podium.core.services import attendance, enrollment, series
from podium.core.services.enrol_batches import enroll_together

from ..changes import attempt, attempt_then_load
from ..errors import UserError, user_error
from ..permissions import check_attendance_of, check_enrolment_of, check_staff
from ..relay import decode_id
from .inputs import (
    CancelEnrollmentInput, DecideEnrollmentInput, EnrollInput, EnrollInSeriesInput, RecordAttendanceInput,
)
from .types import Enrollment, enrollment_from


@strawberry.type
class EnrollmentPayload:
    enrollment: Enrollment | None
    errors: list[UserError]


@strawberry.type
class EnrollInSeriesPayload:
    enrollments: list[Enrollment] = strawberry.field(description=(
        "One per occurrence still open for enrolment, in occurrence order; empty when refused."))
    errors: list[UserError]


@strawberry.type
class AttendancePayload:
    enrollments: list[Enrollment]
    errors: list[UserError]


async def _learner_of(db, enrollment_id: int) -> int:
    learner_id = await db.scalar(select(EnrollmentRow.learner_id).where(EnrollmentRow.id == enrollment_id))
    if learner_id is None:
        raise DomainError(ErrorCode.NOT_FOUND, "No enrollment with that id.", "enrollmentId")
    return learner_id


async def _payload(info: Info, work) -> EnrollmentPayload:
    changed, errors, _ = await attempt_then_load(info, work, "enrollments")
    return EnrollmentPayload(enrollment=changed, errors=errors)


@strawberry.type
class EnrollmentMutations:
    @strawberry.mutation(description="ENROLLED while seats are left, then WAITLISTED with the next position; "
                                     "PENDING_APPROVAL where the session requires approval.")
    async def enroll(self, info: Info, input: EnrollInput) -> EnrollmentPayload:
        context = info.context
        try:
            session_id = decode_id(input.session_id, "Session", "sessionId")
            learner_id = decode_id(input.learner_id, "Person", "learnerId")
            check_enrolment_of(context.caller, learner_id)
            # Written with the enrols into the same session arriving meanwhile; the committed row is
            # the answer as written: no second read after the change.
            row = await enroll_together(context.engine, context.open_db, context.changing, context.caller.actor(),
                                        session_id, learner_id)
        except DomainError as error:
            return EnrollmentPayload(enrollment=None, errors=[user_error(error)])
        return EnrollmentPayload(enrollment=enrollment_from(row), errors=[])

    @strawberry.mutation(description="Enrols a learner in every occurrence of a series still open for enrolment, "
                                     "each as enroll does (a seat, else the waitlist), all or none.")
    async def enroll_in_series(self, info: Info, input: EnrollInSeriesInput) -> EnrollInSeriesPayload:
        async def work(db, actor):
            series_id = decode_id(input.series_id, "Series", "seriesId")
            learner_id = decode_id(input.learner_id, "Person", "learnerId")
            check_enrolment_of(info.context.caller, learner_id)
            return await series.enroll_in_series(db, actor, series_id, learner_id)

        rows, errors, _ = await attempt(info, work)  # the rows as written: no second read after the change
        return EnrollInSeriesPayload(enrollments=[enrollment_from(row) for row in rows or []], errors=errors)

    @strawberry.mutation(description="A freed seat goes to the first waitlisted learner at once.")
    async def cancel_enrollment(self, info: Info, input: CancelEnrollmentInput) -> EnrollmentPayload:
        async def work(db, actor):
            enrollment_id = decode_id(input.enrollment_id, "Enrollment", "enrollmentId")
            check_enrolment_of(info.context.caller, await _learner_of(db, enrollment_id))
            return (await enrollment.cancel_enrollment(db, actor, enrollment_id)).id

        return await _payload(info, work)

    @strawberry.mutation(description="Approve (a seat, or the waitlist) or decline a PENDING_APPROVAL enrolment.")
    async def decide_enrollment(self, info: Info, input: DecideEnrollmentInput) -> EnrollmentPayload:
        async def work(db, actor):
            check_staff(info.context.caller)
            return (await enrollment.decide_enrollment(db, actor, decode_id(input.enrollment_id, "Enrollment",
                                                                             "enrollmentId"),
                                                       input.approve, input.reason)).id

        return await _payload(info, work)

    @strawberry.mutation
    async def record_attendance(self, info: Info, input: RecordAttendanceInput) -> AttendancePayload:
        async def work(db, actor):
            session_id = decode_id(input.session_id, "Session", "sessionId")
            await check_attendance_of(db, info.context.caller, session_id)
            records = [attendance.AttendanceRecord(
                enrollment_id=decode_id(r.enrollment_id, "Enrollment", f"records.{i}.enrollmentId"),
                status=CoreAttendanceStatus(r.status), minutes_attended=r.minutes_attended, part=r.part)
                for i, r in enumerate(input.records)]
            return [e.id for e in await attendance.record_attendance(db, actor, session_id, records)]

        pks, errors, _ = await attempt(info, work)
        found = await info.context.loaders.enrollments.load_many(pks or [])
        return AttendancePayload(enrollments=[e for e in found if e is not None], errors=errors)
