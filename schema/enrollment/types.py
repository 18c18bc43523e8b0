"""Enrollment and Attendance."""
from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry
from strawberry.types import Info

from podium.core.models import AttendanceStatus as CoreAttendanceStatus
from podium.core.models import Enrollment as EnrollmentRow
from podium.core.models import EnrollmentStatus as CoreEnrollmentStatus

from ..catalogue.types import Person
from ..permissions import sees_join_link_of
from ..relay import Connection, Node, global_id

if TYPE_CHECKING:
    from ..evaluations.types import AssessmentScore, EvaluationResponse
    from ..scheduling.types import Session

EnrollmentStatus = strawberry.enum(CoreEnrollmentStatus, name="EnrollmentStatus")
AttendanceStatus = strawberry.enum(CoreAttendanceStatus, name="AttendanceStatus")


@strawberry.type
class Attendance:
    status: AttendanceStatus
    minutes_attended: int | None
    source: str


@strawberry.type(description="A learner's attendance of one part of a session, as recorded.")
class PartAttendance:
    part: int = strawberry.field(description="The part's position in its session, from 1.")
    status: AttendanceStatus
    minutes_attended: int | None
    source: str


@strawberry.type
class Enrollment(Node):
    id: strawberry.ID
    pk: strawberry.Private[int]
    session_pk: strawberry.Private[int]
    learner_pk: strawberry.Private[int]
    status: EnrollmentStatus
    waitlist_position: int | None = strawberry.field(description="1-based, only while WAITLISTED.")
    created_at: datetime
    join_link: strawberry.Private[str | None]
    session_starts_at: strawberry.Private[datetime | None] = None  # the cursor of `Person.enrollments`

    @strawberry.field(description="The learner's own link to the session's online meeting; it identifies them for "
                                  "attendance. For staff and the learner while they hold the seat; null for anyone "
                                  "else.")
    def meeting_join_url(self, info: Info) -> str | None:
        return self.join_link if sees_join_link_of(info.context.caller, self.learner_pk, self.status) else None

    @strawberry.field
    async def session(self, info: Info) -> Annotated["Session", strawberry.lazy("podium.schema.scheduling.types")]:
        return await info.context.loaders.sessions.load(self.session_pk)

    @strawberry.field
    async def learner(self, info: Info) -> Person:
        return await info.context.loaders.people.load(self.learner_pk)

    @strawberry.field(description="The learner's evaluation of the session: null when they were not asked, or the "
                                  "caller is neither staff nor the learner (instructors see Session.evaluationSummary).")
    async def evaluation(self, info: Info
                         ) -> Annotated["EvaluationResponse", strawberry.lazy("podium.schema.evaluations.types")] | None:
        from ..evaluations.fields import enrollment_evaluation

        return await enrollment_evaluation(info, self.pk, self.learner_pk)

    @strawberry.field(description="The learner's PRE and POST knowledge scores (recordAssessmentScore).")
    async def assessment_scores(self, info: Info
                                ) -> list[Annotated["AssessmentScore", strawberry.lazy("podium.schema.evaluations.types")]]:
        from ..evaluations.fields import enrollment_assessment_scores

        return await enrollment_assessment_scores(info, self.pk)

    @strawberry.field(description="The learner's attendance of the whole session, derived from partAttendance by "
                                  "the course's minimumPartsAttended (docs/api.md, Multi-part sessions); for a "
                                  "one-part session, that part's record. Null until known.")
    async def attendance(self, info: Info) -> Attendance | None:
        return await info.context.loaders.attendance.load(self.pk)

    @strawberry.field(description="The learner's attendance of each part recorded so far, in part order.")
    async def part_attendance(self, info: Info) -> list[PartAttendance]:
        return await info.context.loaders.part_attendance.load(self.pk)


@strawberry.type
class EnrollmentConnection(Connection[Enrollment]):
    pass

ENROLLMENT_COLUMNS = (EnrollmentRow.id, EnrollmentRow.session_id, EnrollmentRow.learner_id, EnrollmentRow.status,
                      EnrollmentRow.waitlist_position, EnrollmentRow.created_at, EnrollmentRow.meeting_join_url)


def enrollment_from(v) -> Enrollment:
    """From a row with ENROLLMENT_COLUMNS."""
    return Enrollment(id=global_id("Enrollment", v.id), pk=v.id, session_pk=v.session_id, learner_pk=v.learner_id,
                      status=v.status, waitlist_position=v.waitlist_position, created_at=v.created_at,
                      join_link=v.meeting_join_url)
