"""createCourse, createPerson, createResource and their updates: staff only; the rules are the catalogue
service's."""
from __future__ import annotations

import strawberry
from strawberry.types import Info

from podium.core.models import ResourceKind as CoreResourceKind
from podium.core.services import catalogue

from ..changes import attempt_then_load
from ..errors import UserError
from ..permissions import check_staff
from ..relay import decode_id
from .inputs import (
    CreateCourseInput, CreatePersonInput, CreateResourceInput, UpdateCourseInput, UpdatePersonInput,
    UpdateResourceInput, given,
)
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
                required_qualifications=input.required_qualifications,
                certification_validity_days=input.certification_validity_days)).id

        course, errors, _ = await attempt_then_load(info, work, "courses")
        return CoursePayload(course=course, errors=errors)

    @strawberry.mutation
    async def create_person(self, info: Info, input: CreatePersonInput) -> PersonPayload:
        async def work(db, actor):
            check_staff(info.context.caller)
            return (await catalogue.create_person(db, actor, name=input.name, email=input.email,
                                                  timezone=input.timezone)).id

        person, errors, _ = await attempt_then_load(info, work, "people")
        return PersonPayload(person=person, errors=errors)

    @strawberry.mutation
    async def create_resource(self, info: Info, input: CreateResourceInput) -> ResourcePayload:
        async def work(db, actor):
            check_staff(info.context.caller)
            return (await catalogue.create_resource(
                db, actor, kind=CoreResourceKind(input.kind), name=input.name, timezone=input.timezone,
                capacity=input.capacity, email=input.email, calendar_url=input.calendar_url,
                qualifications=[(q.name, q.valid_until) for q in input.qualifications or []])).id

        resource, errors, _ = await attempt_then_load(info, work, "resources")
        return ResourcePayload(resource=resource, errors=errors)

    @strawberry.mutation
    async def update_course(self, info: Info, input: UpdateCourseInput) -> CoursePayload:
        async def work(db, actor):
            check_staff(info.context.caller)
            return (await catalogue.update_course(
                db, actor, decode_id(input.course_id, "Course", "courseId"),
                **given(input, "title", "description", "duration_minutes", "default_capacity",
                        "required_qualifications", "certification_validity_days"))).id

        course, errors, _ = await attempt_then_load(info, work, "courses")
        return CoursePayload(course=course, errors=errors)

    @strawberry.mutation
    async def update_person(self, info: Info, input: UpdatePersonInput) -> PersonPayload:
        async def work(db, actor):
            check_staff(info.context.caller)
            return (await catalogue.update_person(db, actor, decode_id(input.person_id, "Person", "personId"),
                                                  **given(input, "name", "email", "timezone"))).id

        person, errors, _ = await attempt_then_load(info, work, "people")
        return PersonPayload(person=person, errors=errors)

    @strawberry.mutation
    async def update_resource(self, info: Info, input: UpdateResourceInput) -> ResourcePayload:
        async def work(db, actor):
            check_staff(info.context.caller)
            changes = given(input, "name", "timezone", "capacity", "email", "calendar_url", "qualifications")
            if "qualifications" in changes:
                changes["qualifications"] = [(q.name, q.valid_until) for q in changes["qualifications"] or []]
            return (await catalogue.update_resource(db, actor, decode_id(input.resource_id, "Resource", "resourceId"),
                                                    **changes)).id

        resource, errors, _ = await attempt_then_load(info, work, "resources")
        return ResourcePayload(resource=resource, errors=errors)
