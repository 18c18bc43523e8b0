"""Rates, per-learner costs, prices and cost lines: staff only; the rules are core/services/costs.py's."""
from __future__ import annotations

import strawberry
from sqlalchemy import select
from strawberry.types import Info

from podium.core.models import Booking as BookingRow
from podium.core.models import CostCategory as CoreCostCategory
from podium.core.models import RateUnit as CoreRateUnit
from podium.core.models import Session as SessionRow
from podium.core.services import costs
from podium.core.services.costs import PerLearnerCost

from ..budgets.warnings import budget_warnings
from ..catalogue.types import Course, Resource
from ..changes import attempt_then_load
from ..errors import UserError, Warning
from ..permissions import check_staff
from ..relay import decode_id
from ..scheduling.types import Session
from .inputs import (
    AddSessionCostInput, RemoveSessionCostInput, SetCourseCostsInput, SetResourceCostRateInput, SetSessionPriceInput,
)
from .types import currency_of


WARNINGS = "BUDGET_EXCEEDED for each budget holding a session this change re-prices that is over after it."


@strawberry.type
class ResourceCostRatePayload:
    resource: Resource | None
    errors: list[UserError]
    warnings: list[Warning] = strawberry.field(description=WARNINGS)


@strawberry.type
class CourseCostsPayload:
    course: Course | None
    errors: list[UserError]
    warnings: list[Warning] = strawberry.field(description=WARNINGS)


@strawberry.type
class SessionCostPayload:
    session: Session | None = strawberry.field(description="The session, its costs as they now stand.")
    errors: list[UserError]
    warnings: list[Warning] = strawberry.field(description=WARNINGS)


@strawberry.type
class CostMutations:
    @strawberry.mutation(description="Set or clear what a resource costs while booked.")
    async def set_resource_cost_rate(self, info: Info, input: SetResourceCostRateInput) -> ResourceCostRatePayload:
        warnings: list[Warning] = []

        async def work(db, actor):
            check_staff(info.context.caller)
            resource = (await costs.set_cost_rate(
                db, actor, decode_id(input.resource_id, "Resource", "resourceId"), input.amount,
                CoreRateUnit(input.unit) if input.unit is not None else None, currency=currency_of(info))).id
            warnings.extend(await budget_warnings(info, db, select(BookingRow.session_id).where(
                BookingRow.resource_id == resource, BookingRow.active)))
            return resource

        resource, errors, _ = await attempt_then_load(info, work, "resources")
        return ResourceCostRatePayload(resource=resource, errors=errors, warnings=warnings if resource else [])

    @strawberry.mutation(description="Set a course's per-learner costs (materials, catering) and price per seat.")
    async def set_course_costs(self, info: Info, input: SetCourseCostsInput) -> CourseCostsPayload:
        async def work(db, actor):
            check_staff(info.context.caller)
            changes = {}
            if input.price is not strawberry.UNSET:
                changes["price"] = input.price
            if input.per_learner_costs is not strawberry.UNSET:
                changes["per_learner_costs"] = [
                    PerLearnerCost(CoreCostCategory(c.category), c.description, c.amount)
                    for c in input.per_learner_costs or []]
            course = (await costs.set_course_costs(db, actor, decode_id(input.course_id, "Course", "courseId"),
                                                   currency=currency_of(info), **changes)).id
            warnings.extend(await budget_warnings(info, db, select(SessionRow.id).where(SessionRow.course_id == course)))
            return course

        warnings: list[Warning] = []
        course, errors, _ = await attempt_then_load(info, work, "courses")
        return CourseCostsPayload(course=course, errors=errors, warnings=warnings if course else [])

    @strawberry.mutation(description="Set a session's own price per seat, or go back to its course's.")
    async def set_session_price(self, info: Info, input: SetSessionPriceInput) -> SessionCostPayload:
        async def work(db, actor):
            check_staff(info.context.caller)
            return (await costs.set_session_price(db, actor, decode_id(input.session_id, "Session", "sessionId"),
                                                  input.price, currency=currency_of(info))).id

        session, errors, _ = await attempt_then_load(info, work, "sessions")
        return SessionCostPayload(session=session, errors=errors, warnings=[])

    @strawberry.mutation(description="Add a cost line by hand to a session (travel, a venue fee, catering).")
    async def add_session_cost(self, info: Info, input: AddSessionCostInput) -> SessionCostPayload:
        async def work(db, actor):
            check_staff(info.context.caller)
            session = (await costs.add_session_cost(
                db, actor, decode_id(input.session_id, "Session", "sessionId"),
                category=CoreCostCategory(input.category), description=input.description, amount=input.amount,
                per_learner=input.per_learner, incurred=input.incurred, currency=currency_of(info))).session_id
            warnings.extend(await budget_warnings(info, db, [session]))
            return session

        warnings: list[Warning] = []
        session, errors, _ = await attempt_then_load(info, work, "sessions")
        return SessionCostPayload(session=session, errors=errors, warnings=warnings if session else [])

    @strawberry.mutation(description="Remove a cost line entered by hand.")
    async def remove_session_cost(self, info: Info, input: RemoveSessionCostInput) -> SessionCostPayload:
        async def work(db, actor):
            check_staff(info.context.caller)
            return await costs.remove_session_cost(db, actor, decode_id(input.cost_id, "SessionCost", "costId"))

        session, errors, _ = await attempt_then_load(info, work, "sessions")
        return SessionCostPayload(session=session, errors=errors, warnings=[])
