"""createCourse, createPerson, createResource and their updates: staff only; the rules are the catalogue
service's."""
from __future__ import annotations

import strawberry
from strawberry.types import Info

from podium.core.models import ResourceKind as CoreResourceKind
from podium.core.services import catalogue, travel

from ..changes import attempt, attempt_then_load
from ..errors import UserError
from ..permissions import check_staff
from ..relay import decode_id
from .inputs import (
    CreateCourseInput, CreatePersonInput, CreateResourceInput, CreateVenueInput, SetTravelTimeInput, UpdateCourseInput,
    UpdatePersonInput, UpdateResourceInput, UpdateVenueInput, given,
)
from .dataloaders import travel_time_view
from .types import Course, Person, Resource, TravelTime, Venue


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
class VenuePayload:
    venue: Venue | None
    errors: list[UserError]


@strawberry.type
class TravelTimePayload:
    travel_time: TravelTime | None = strawberry.field(description="As set (minutes 0: removed); null when refused.")
    errors: list[UserError]


def _venue_id(global_id: str | None) -> int | None:
    return None if global_id is None else decode_id(global_id, "Venue", "venueId")


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
                certification_validity_days=input.certification_validity_days,
                default_conferencing=input.default_conferencing,
                minimum_parts_attended=input.minimum_parts_attended)).id

        course, errors, _ = await attempt_then_load(info, work, "courses")
        return CoursePayload(course=course, errors=errors)

    @strawberry.mutation
    async def create_person(self, info: Info, input: CreatePersonInput) -> PersonPayload:
        async def work(db, actor):
            check_staff(info.context.caller)
            return (await catalogue.create_person(db, actor, name=input.name, email=input.email,
                                                  timezone=input.timezone, phone=input.phone)).id

        person, errors, _ = await attempt_then_load(info, work, "people")
        return PersonPayload(person=person, errors=errors)

    @strawberry.mutation
    async def create_resource(self, info: Info, input: CreateResourceInput) -> ResourcePayload:
        async def work(db, actor):
            check_staff(info.context.caller)
            return (await catalogue.create_resource(
                db, actor, kind=CoreResourceKind(input.kind), name=input.name, timezone=input.timezone,
                capacity=input.capacity, email=input.email, calendar_url=input.calendar_url,
                venue_id=_venue_id(input.venue_id),
                qualifications=[(q.name, q.valid_until) for q in input.qualifications or []],
                weekly_hours=None if input.working_hours is None else [
                    (h.weekday, h.starts_at, h.ends_at) for h in input.working_hours])).id

        resource, errors, _ = await attempt_then_load(info, work, "resources")
        return ResourcePayload(resource=resource, errors=errors)

    @strawberry.mutation
    async def update_course(self, info: Info, input: UpdateCourseInput) -> CoursePayload:
        async def work(db, actor):
            check_staff(info.context.caller)
            return (await catalogue.update_course(
                db, actor, decode_id(input.course_id, "Course", "courseId"),
                **given(input, "title", "description", "duration_minutes", "default_capacity",
                        "required_qualifications", "certification_validity_days",
                        "minimum_parts_attended", "default_conferencing"))).id

        course, errors, _ = await attempt_then_load(info, work, "courses")
        return CoursePayload(course=course, errors=errors)

    @strawberry.mutation
    async def update_person(self, info: Info, input: UpdatePersonInput) -> PersonPayload:
        async def work(db, actor):
            check_staff(info.context.caller)
            return (await catalogue.update_person(db, actor, decode_id(input.person_id, "Person", "personId"),
                                                  **given(input, "name", "email", "timezone", "phone"))).id

        person, errors, _ = await attempt_then_load(info, work, "people")
        return PersonPayload(person=person, errors=errors)

    @strawberry.mutation
    async def update_resource(self, info: Info, input: UpdateResourceInput) -> ResourcePayload:
        async def work(db, actor):
            check_staff(info.context.caller)
            changes = given(input, "name", "timezone", "capacity", "email", "calendar_url", "qualifications",
                            "venue_id")
            if "qualifications" in changes:
                changes["qualifications"] = [(q.name, q.valid_until) for q in changes["qualifications"] or []]
            if "venue_id" in changes:
                changes["venue_id"] = _venue_id(changes["venue_id"])
            return (await catalogue.update_resource(db, actor, decode_id(input.resource_id, "Resource", "resourceId"),
                                                    **changes)).id

        resource, errors, _ = await attempt_then_load(info, work, "resources")
        return ResourcePayload(resource=resource, errors=errors)

    @strawberry.mutation(description="A venue, for rooms to be in; staff only.")
    async def create_venue(self, info: Info, input: CreateVenueInput) -> VenuePayload:
        async def work(db, actor):
            check_staff(info.context.caller)
            return (await catalogue.create_venue(db, actor, name=input.name, timezone=input.timezone,
                                                 address=input.address, city=input.city, country=input.country)).id

        venue, errors, _ = await attempt_then_load(info, work, "venues")
        return VenuePayload(venue=venue, errors=errors)

    @strawberry.mutation(description=(
        "Sets the minutes an instructor needs between two venues, the same both ways (0 removes it): sessions "
        "scheduled or moved from now on keep that gap between an instructor's in-person sessions at the two. "
        "Admins and coordinators; audited; event venue.travel_time_changed."))
    async def set_travel_time(self, info: Info, input: SetTravelTimeInput) -> TravelTimePayload:
        async def work(db, actor):
            check_staff(info.context.caller)
            return travel_time_view(await travel.set_travel_time(
                db, actor, decode_id(input.from_venue_id, "Venue", "fromVenueId"),
                decode_id(input.to_venue_id, "Venue", "toVenueId"), input.minutes))

        found, errors, _ = await attempt(info, work)
        return TravelTimePayload(travel_time=found, errors=errors)

    @strawberry.mutation(description="Change a venue's name, address, city, country or timezone (its rooms keep "
                                     "their own timezone); staff only.")
    async def update_venue(self, info: Info, input: UpdateVenueInput) -> VenuePayload:
        async def work(db, actor):
            check_staff(info.context.caller)
            return (await catalogue.update_venue(db, actor, decode_id(input.venue_id, "Venue", "venueId"),
                                                 **given(input, "name", "timezone", "address", "city", "country"))).id

        venue, errors, _ = await attempt_then_load(info, work, "venues")
        return VenuePayload(venue=venue, errors=errors)
