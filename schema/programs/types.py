"""ProgramTemplate, Program, journeys, readiness and certifications. A Program's stages come with
it (one statement per page); journeys and readiness are computed per request by the core service."""
from __future__ import annotations

from datetime import datetime

import strawberry
from strawberry.types import Info

from podium.core.ids import to_global_id
from podium.core.models import EnrollmentStatus as CoreEnrollmentStatus
from podium.core.models import ProgramStatus as CoreProgramStatus
from podium.core.models import StageKind as CoreStageKind
from podium.core.models import StageStatus as CoreStageStatus

from ..catalogue.types import Course, Person
from ..enrollment.types import Enrollment, EnrollmentStatus
from ..relay import Connection, Node
from ..scheduling.types import Session

StageKind = strawberry.enum(CoreStageKind, name="StageKind")
StageStatus = strawberry.enum(CoreStageStatus, name="StageStatus")
ProgramStatus = strawberry.enum(CoreProgramStatus, name="ProgramStatus")


@strawberry.type
class StageTemplate:
    key: str
    kind: StageKind
    title: str
    offset_days: int = strawberry.field(
        description="Days from the anchor (first live) session's start; negative is before it.")
    required: bool
    window_days: int | None = strawberry.field(
        description="Days from opening to due; null: due when the next stage opens.")
    repeat: bool = strawberry.field(description="A LIVE stage that becomes one stage per live session.")


@strawberry.type
class ProgramTemplate:
    key: str
    name: str
    stages: list[StageTemplate]
    builtin: bool


def template_from(template) -> ProgramTemplate:
    """From a core `programs.Template`."""
    return ProgramTemplate(key=template.key, name=template.name, builtin=template.builtin, stages=[
        StageTemplate(key=s.key, kind=s.kind, title=s.title, offset_days=s.offset_days, required=s.required,
                      window_days=s.window_days, repeat=s.repeat) for s in template.stages])


@strawberry.type
class ProgramStage:
    key: str
    kind: StageKind
    title: str
    required: bool
    position: int = strawberry.field(description="Order in the program; parallel sections share one.")
    opens_at: datetime | None
    due_at: datetime | None
    lms_activity_ref: str | None
    session_pk: strawberry.Private[int | None]

    @strawberry.field
    async def session(self, info: Info) -> Session | None:
        return None if self.session_pk is None else await info.context.loaders.sessions.load(self.session_pk)


def stage_from(row) -> ProgramStage:
    """From a core ProgramStage row."""
    return ProgramStage(key=row.key, kind=row.kind, title=row.title, required=row.required, position=row.position,
                        opens_at=row.opens_at, due_at=row.due_at, lms_activity_ref=row.lms_activity_ref,
                        session_pk=row.session_id)


@strawberry.type
class JourneyStage:
    stage: ProgramStage
    status: StageStatus
    completed_at: datetime | None
    opens_at: datetime | None = strawberry.field(description="When the stage opens for this learner: in a program "
                                                             "of parallel sections, moved with their section.")
    due_at: datetime | None = strawberry.field(description="When the stage is due for this learner: in a program "
                                                           "of parallel sections, moved with their section.")


@strawberry.type
class LearnerJourney:
    pk: strawberry.Private[int]
    learner_pk: strawberry.Private[int]
    program_pk: strawberry.Private[int]
    stages: list[JourneyStage]
    completed: bool
    completed_at: datetime | None = strawberry.field(description="When the last required stage was completed.")

    @strawberry.field
    async def learner(self, info: Info) -> Person:
        return await info.context.loaders.people.load(self.learner_pk)

    @strawberry.field(description="The program this journey goes through.")
    async def program(self, info: Info) -> Program:
        return await info.context.loaders.programs.load(self.program_pk)


def journey_from(journey, membership_pk: int, program_pk: int) -> LearnerJourney:
    """From a core `journeys.Journey`, the learner's ProgramLearner id (the cursor) and the program's id."""
    return LearnerJourney(pk=membership_pk, learner_pk=journey.learner_id, program_pk=program_pk,
                          completed=journey.completed,
                          completed_at=journey.completed_at,
                          stages=[JourneyStage(stage=stage_from(s.stage), status=s.status, completed_at=s.completed_at,
                                               opens_at=s.opens_at, due_at=s.due_at)
                                  for s in journey.stages])


@strawberry.type
class LearnerJourneyConnection(Connection[LearnerJourney]):
    pass


@strawberry.type
class ReadinessEntry:
    learner_pk: strawberry.Private[int]
    ready: bool
    missing_stages: list[str] = strawberry.field(description="Titles of required stages before the session "
                                                             "that are not completed.")

    @strawberry.field
    async def learner(self, info: Info) -> Person:
        return await info.context.loaders.people.load(self.learner_pk)


@strawberry.type
class Certification(Node):
    id: strawberry.ID
    pk: strawberry.Private[int]
    person_pk: strawberry.Private[int]
    course_pk: strawberry.Private[int]
    program_pk: strawberry.Private[int | None]
    issued_at: datetime
    expires_at: datetime | None = strawberry.field(description="Null: the course's certification does not expire.")

    @strawberry.field
    async def person(self, info: Info) -> Person:
        return await info.context.loaders.people.load(self.person_pk)

    @strawberry.field
    async def course(self, info: Info) -> Course:
        return await info.context.loaders.courses.load(self.course_pk)

    @strawberry.field
    async def program(self, info: Info) -> Program | None:
        return None if self.program_pk is None else await info.context.loaders.programs.load(self.program_pk)


def certification_from(row) -> Certification:
    return Certification(id=to_global_id("Certification", row.id), pk=row.id, person_pk=row.person_id,
                         course_pk=row.course_id, program_pk=row.program_id, issued_at=row.issued_at,
                         expires_at=row.expires_at)


@strawberry.type
class CertificationConnection(Connection[Certification]):
    pass


@strawberry.type
class Program(Node):
    id: strawberry.ID
    pk: strawberry.Private[int]
    title: str
    template_key: strawberry.Private[str]
    course_pk: strawberry.Private[int]
    lms_course_ref: str | None
    lms_connector: str | None
    created_at: datetime
    status: ProgramStatus = strawberry.field(description="CANCELLED: no more reminders, summaries or LMS syncs.")
    cancelled_at: datetime | None
    cancel_reason: str | None
    stages: list[ProgramStage] = strawberry.field(description="In order; parallel live sections side by side.")

    @strawberry.field
    async def template(self, info: Info) -> ProgramTemplate:
        return await info.context.loaders.program_templates.load(self.template_key)

    @strawberry.field
    async def course(self, info: Info) -> Course:
        return await info.context.loaders.courses.load(self.course_pk)

    @strawberry.field(description="Each learner's stages and their status; a learner sees only their own.")
    async def journeys(self, info: Info, first: int | None = None, after: str | None = None) -> LearnerJourneyConnection:
        from .queries import journey_connection

        return await journey_connection(info, self.pk, first, after)

    @strawberry.field(description="Before a live session: which learners finished every required stage due before it.")
    async def readiness(self, info: Info, session_id: strawberry.ID) -> list[ReadinessEntry]:
        from .queries import program_readiness

        return await program_readiness(info, self.pk, session_id)

    @strawberry.field(description="Its live sessions (every section), ordered by startsAt, then id.")
    async def sessions(self, info: Info) -> list[Session]:
        pks = sorted({s.session_pk for s in self.stages if s.session_pk is not None})
        found = [s for s in await info.context.loaders.sessions.load_many(pks) if s is not None]
        return sorted(found, key=lambda s: (s.starts_at, s.pk))

    @strawberry.field(description="Certifications issued on completing this program.")
    async def certifications(self, info: Info) -> list[Certification]:
        from .queries import program_certifications

        return await program_certifications(info, self.pk)


@strawberry.type
class ProgramConnection(Connection[Program]):
    pass


@strawberry.type(description="Where createProgram put one learner in one live session.")
class Placement:
    learner_pk: strawberry.Private[int]
    session_pk: strawberry.Private[int]
    enrollment_pk: strawberry.Private[int]
    status: EnrollmentStatus
    waitlist_position: int | None

    @strawberry.field
    async def learner(self, info: Info) -> Person:
        return await info.context.loaders.people.load(self.learner_pk)

    @strawberry.field
    async def session(self, info: Info) -> Session:
        return await info.context.loaders.sessions.load(self.session_pk)

    @strawberry.field
    async def enrollment(self, info: Info) -> Enrollment:
        return await info.context.loaders.enrollments.load(self.enrollment_pk)


def placement_from(p) -> Placement:
    return Placement(learner_pk=p.learner_id, session_pk=p.session_id, enrollment_pk=p.enrollment_id,
                     status=CoreEnrollmentStatus(p.status), waitlist_position=p.waitlist_position)
