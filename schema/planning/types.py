"""SchedulePlan and what it holds."""
from __future__ import annotations

import enum
from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry
from strawberry.types import Info

from ..catalogue.types import Course, Resource
from ..errors import ErrorCode
from ..scheduling.types import Session, SessionPart

if TYPE_CHECKING:
    from ..costs.types import Money


@strawberry.enum(description="How far the solver got: OPTIMAL (proven best), FEASIBLE (a timetable, maybe not "
                             "the best), INFEASIBLE (nothing can be placed: see unplaced), UNKNOWN (no timetable "
                             "within the time limit).")
class PlanStatus(enum.Enum):
    OPTIMAL = "OPTIMAL"
    FEASIBLE = "FEASIBLE"
    INFEASIBLE = "INFEASIBLE"
    UNKNOWN = "UNKNOWN"


@strawberry.enum
class PlanKind(enum.Enum):
    PROPOSAL = "PROPOSAL"
    REPLAN = "REPLAN"


@strawberry.type(description="A session a plan places (or, in a re-plan, changes).")
class PlannedSession:
    request: int = strawberry.field(description="Which request it is for: its position in the input, from 0 "
                                                "(re-plan: 0 for every session).")
    starts_at: datetime
    ends_at: datetime
    timezone: str
    parts: list[SessionPart]
    course_pk: strawberry.Private[int]
    instructor_pks: strawberry.Private[list[int]]
    room_pk: strawberry.Private[int | None]
    cost_minor: strawberry.Private[int]
    session_pk: strawberry.Private[int | None]

    @strawberry.field
    async def course(self, info: Info) -> Course:
        return await info.context.loaders.courses.load(self.course_pk)

    @strawberry.field
    async def instructors(self, info: Info) -> list[Resource]:
        return [r for r in await info.context.loaders.resources.load_many(self.instructor_pks) if r is not None]

    @strawberry.field
    async def room(self, info: Info) -> Resource | None:
        return None if self.room_pk is None else await info.context.loaders.resources.load(self.room_pk)

    @strawberry.field(description="What its instructors and room cost at their rates (planned, before any "
                                  "learner costs).")
    def cost(self, info: Info) -> Annotated["Money", strawberry.lazy("podium.schema.costs.types")]:
        from ..costs.types import money
        return money(info, self.cost_minor)

    @strawberry.field(description="Re-plan: the existing session this changes; null in a proposal.")
    async def session(self, info: Info) -> Session | None:
        return None if self.session_pk is None else await info.context.loaders.sessions.load(self.session_pk)


@strawberry.type(description="A session the plan could not place, and why, in words to act on.")
class UnplacedSession:
    request: int
    reason: str
    course_pk: strawberry.Private[int]
    session_pk: strawberry.Private[int | None]

    @strawberry.field
    async def course(self, info: Info) -> Course:
        return await info.context.loaders.courses.load(self.course_pk)

    @strawberry.field(description="Re-plan: the session that keeps its place (still on the absent resource).")
    async def session(self, info: Info) -> Session | None:
        return None if self.session_pk is None else await info.context.loaders.sessions.load(self.session_pk)


@strawberry.type(description="A timetable proposed by the solver (or a re-plan); it costs nothing until "
                             "applySchedulePlan, and expires after PODIUM_PLAN_TTL_HOURS.")
class SchedulePlan:
    id: strawberry.ID
    kind: PlanKind
    status: PlanStatus
    objective: float | None = strawberry.field(description="The objective's value (lower is better).")
    bound: float | None = strawberry.field(description="The best value any timetable could reach, as proven.")
    gap: float | None = strawberry.field(description="(objective - bound) / objective: 0 when proven optimal.")
    solve_seconds: float
    expires_at: datetime
    applied_at: datetime | None
    reason: str | None
    sessions: list[PlannedSession]
    unplaced: list[UnplacedSession]


@strawberry.type(description="A session of a plan that no longer fits: nothing was created.")
class PlanConflict:
    plan_session: int = strawberry.field(description="Its position in the plan's sessions, from 1.")
    code: ErrorCode
    message: str
    starts_at: datetime | None
    ends_at: datetime | None
    resource_pk: strawberry.Private[int | None]

    @strawberry.field(description="The resource already booked then, when that is why.")
    async def resource(self, info: Info) -> Resource | None:
        return None if self.resource_pk is None else await info.context.loaders.resources.load(self.resource_pk)
