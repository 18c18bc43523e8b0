"""createCourse, createPerson, createResource: staff only; the rules are the catalogue service's."""
from __future__ import annotations

import strawberry
from strawberry.types import Info

from podium.core.models import ResourceKind as CoreResourceKind
from podium.core.services import catalogue

from ..changes import attempt
from ..errors import UserError
from ..permissions import check_staff
from .inputs import CreateCourseInput, CreatePersonInput, CreateResourceInput
from .types import Course, Person, Resource


@strawberry.type
class CoursePayload:
    course: Course | None
    errors: list[UserError]


@strawberry.type
class PersonPayload:
    person: Person | None
    errors: list[UserError]


@strawberry.type
class ResourcePayload:
    resource: Resource | None
    errors: list[UserError]


@strawberry.type
class CatalogueMutations:
    @strawberry.mutation
    async def create_course(self, info: Info, input: CreateCourseInput) -> CoursePayload:
        async def work(db, actor):
            check_staff(info.context.caller)
            return (await catalogue.create_course(
                db, actor, code=input.code, title=input.title, description=input.description,
                duration_minutes=input.duration_minutes, default_capacity=input.default_capacity,
                required_qualifications=input.required_qualifications)).id

        pk, errors, _ = await attempt(info, work)
        return CoursePayload(course=pk and await info.context.loaders.courses.load(pk), errors=errors)

    @strawberry.mutation
    async def create_person(self, info: Info, input: CreatePersonInput) -> PersonPayload:
        async def work(db, actor):
            check_staff(info.context.caller)
            return (await catalogue.create_person(db, actor, name=input.name, email=input.email,
                                                  timezone=input.timezone)).id

        pk, errors, _ = await attempt(info, work)
        return PersonPayload(person=pk and await info.context.loaders.people.load(pk), errors=errors)

    @strawberry.mutation
    async def create_resource(self, info: Info, input: CreateResourceInput) -> ResourcePayload:
        async def work(db, actor):
            check_staff(info.context.caller)
            return (await catalogue.create_resource(
                db, actor, kind=CoreResourceKind(input.kind), name=input.name, timezone=input.timezone,
                capacity=input.capacity, email=input.email,
                qualifications=[(q.name, q.valid_until) for q in input.qualifications or []])).id

        pk, errors, _ = await attempt(info, work)
        return ResourcePayload(resource=pk and await info.context.loaders.resources.load(pk), errors=errors)
