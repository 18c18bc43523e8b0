"""`node(id:)`: any object by its global ID, or null when it names nothing this caller may see."""
from __future__ import annotations

import strawberry
from sqlalchemy import select
from strawberry.types import Info

from podium.core.ids import from_global_id
from podium.core.models import Enrollment as EnrollmentRow
from podium.core.models import Person as PersonRow
from podium.core.models import Program as ProgramRow

from .permissions import is_staff, visible_enrollments, visible_people, visible_programs
from .programs.queries import certification_node
from .relay import Node


async def _visible(info: Info, query) -> bool:
    async with info.context.reading() as db:
        return (await db.scalar(query.limit(1))) is not None


async def resolve_node(info: Info, global_id: str) -> Node | None:
    decoded = from_global_id(global_id)
    if decoded is None:
        return None
    type_name, pk = decoded
    context, loaders = info.context, info.context.loaders
    if type_name == "Course":
        return await loaders.courses.load(pk)
    if type_name == "Session":
        return await loaders.sessions.load(pk)
    if type_name == "Series":  # public as its sessions are
        return await loaders.series.load(pk)
    if type_name == "Venue":
        return await loaders.venues.load(pk)
    if type_name == "EvaluationForm":
        return await loaders.evaluation_forms.load(pk)
    if not context.caller.signed_in:
        return None
    if type_name == "Resource":
        return await loaders.resources.load(pk)
    if type_name == "Person":
        ok = await _visible(info, visible_people(context.caller, select(PersonRow.id).where(PersonRow.id == pk)))
        return await loaders.people.load(pk) if ok else None
    if type_name == "Enrollment":
        ok = await _visible(info, visible_enrollments(context.caller, select(EnrollmentRow.id)
                                                      .where(EnrollmentRow.id == pk)))
        return await loaders.enrollments.load(pk) if ok else None
    if type_name == "Program":
        ok = await _visible(info, visible_programs(context.caller, select(ProgramRow.id).where(ProgramRow.id == pk)))
        return await loaders.programs.load(pk) if ok else None
    if type_name == "Certification":
        return await certification_node(info, pk)
    if type_name == "Budget":
        return await loaders.budgets.load(pk) if is_staff(context.caller) else None
    return None


@strawberry.type
class NodeQueries:
    @strawberry.field
    async def node(self, info: Info, id: strawberry.ID) -> Node | None:
        return await resolve_node(info, id)
