"""Course, Person, Resource. Plain fields are plain attributes (fast); only fields that reach
further into the database have resolvers."""
from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING, Annotated

import strawberry
from strawberry.types import Info

from podium.core.models import Course as CourseRow
from podium.core.models import Person as PersonRow
from podium.core.models import Resource as ResourceRow
from podium.core.models import Venue as VenueRow
from podium.core.models import ResourceKind as CoreResourceKind
from podium.core.models import Role as CoreRole

from ..permissions import is_staff, require_signed_in, require_staff, sees_staff_contacts
from ..relay import Connection, Node, global_id

if TYPE_CHECKING:
    from ..availability.types import HoursException, TimeOff, WorkingHours
    from ..costs.types import CostRate, Money, PerLearnerCost
    from ..enrollment.types import EnrollmentConnection, EnrollmentStatus
    from ..evaluations.types import EvaluationForm
    from ..programs.types import CertificationConnection, LearnerJourneyConnection
    from ..scheduling.inputs import SessionFilter
    from ..scheduling.types import Booking, SessionConnection

ResourceKind = strawberry.enum(CoreResourceKind, name="ResourceKind")
Role = strawberry.enum(CoreRole, name="Role")

SCHEDULING_TYPES = "podium.schema.scheduling.types"
SCHEDULING_INPUTS = "podium.schema.scheduling.inputs"
ENROLLMENT_TYPES = "podium.schema.enrollment.types"
PROGRAM_TYPES = "podium.schema.programs.types"
AVAILABILITY_TYPES = "podium.schema.availability.types"
COST_TYPES = "podium.schema.costs.types"


@strawberry.type
class Course(Node):
    id: strawberry.ID
    pk: strawberry.Private[int]
    code: str
    title: str
    description: str | None
    duration_minutes: int
    default_capacity: int
    required_qualifications: list[str]
    certification_validity_days: int | None = strawberry.field(
        description="How long a certification from this course's programs lasts; null: no expiry.")
    default_conferencing: str | None = strawberry.field(description=(
        "The conferencing provider its VIRTUAL and HYBRID sessions use when scheduleSession names none "
        "(a provider's name or `manual`); null: PODIUM_DEFAULT_CONFERENCING."))
    minimum_parts_attended: int | None = strawberry.field(description=(
        "How many parts of a multi-part session a learner attends to have attended the session (PRESENT, LATE "
        "or LEFT_EARLY at that many parts); null: every part. Capped at the session's number of parts."))

    @strawberry.field(description="This course's sessions, ordered by startsAt, then id.")
    async def sessions(self, info: Info,
                       filter: Annotated["SessionFilter", strawberry.lazy(SCHEDULING_INPUTS)] | None = None,
                       first: int | None = None, after: str | None = None,
                       ) -> Annotated["SessionConnection", strawberry.lazy(SCHEDULING_TYPES)]:
        from ..scheduling.queries import session_connection

        return await session_connection(info, filter, first, after, course_id=self.pk)

    @strawberry.field(description="The price per seat of its sessions (a session may have its own); null: none.")
    async def price(self, info: Info) -> Annotated["Money", strawberry.lazy(COST_TYPES)] | None:
        from ..costs.fields import course_price

        return await course_price(info, self.pk)

    @strawberry.field(description="Costs per learner of each of its sessions (materials, catering); staff only.")
    async def per_learner_costs(self, info: Info) -> list[Annotated["PerLearnerCost", strawberry.lazy(COST_TYPES)]]:
        from ..costs.fields import course_per_learner_costs

        return await course_per_learner_costs(info, self.pk)

    @strawberry.field(description="The evaluation form its attended learners are sent when a session is completed; "
                                  "null: none, no one is asked.")
    async def evaluation_form(self, info: Info
                              ) -> Annotated["EvaluationForm", strawberry.lazy("podium.schema.evaluations.types")] | None:
        from ..evaluations.fields import course_evaluation_form

        return await course_evaluation_form(info, self.pk)


COURSE_COLUMNS = tuple(c.label(f"course_{c.key}") for c in (
    CourseRow.id, CourseRow.code, CourseRow.title, CourseRow.description, CourseRow.duration_minutes,
    CourseRow.default_capacity, CourseRow.required_qualifications, CourseRow.certification_validity_days,
    CourseRow.default_conferencing, CourseRow.minimum_parts_attended))
"""Labelled `course_…`, so a session row joined with its course reads both by name."""


def course_from(v) -> Course:
    """From a row with COURSE_COLUMNS."""
    return Course(id=global_id("Course", v.course_id), pk=v.course_id, code=v.course_code, title=v.course_title,
                  description=v.course_description, duration_minutes=v.course_duration_minutes,
                  default_capacity=v.course_default_capacity,
                  required_qualifications=list(v.course_required_qualifications or []),
                  certification_validity_days=v.course_certification_validity_days,
                  default_conferencing=v.course_default_conferencing,
                  minimum_parts_attended=v.course_minimum_parts_attended)


@strawberry.type(description="Someone Podium knows: a learner, an instructor's person, staff. Through `me`, "
                              "the signed-in caller's own enrolments, journeys, certifications and teaching.")
class Person(Node):
    id: strawberry.ID
    pk: strawberry.Private[int]
    name: str
    email: str
    timezone: str
    phone: str | None = strawberry.field(description="E.164 (e.g. +442079460958), for SMS channels; null: none.")

    @strawberry.field(description="This person's enrolments, ordered by the session's startsAt, then id: what the "
                                  "caller may see of them (a learner only their own; an instructor those in "
                                  "sessions they teach; staff all). `upcoming`: true, sessions that end after now; "
                                  "false, those that have ended.")
    async def enrollments(self, info: Info,
                          status: list[Annotated["EnrollmentStatus", strawberry.lazy(ENROLLMENT_TYPES)]] | None = None,
                          upcoming: bool | None = None, first: int | None = None, after: str | None = None,
                          ) -> Annotated["EnrollmentConnection", strawberry.lazy(ENROLLMENT_TYPES)]:
        from ..enrollment.queries import person_enrollment_connection

        return await person_enrollment_connection(info, self.pk, status, upcoming, first, after)

    @strawberry.field(description="The sessions this person instructs (lead or co-facilitator, matched by email "
                                  "to an instructor), ordered by startsAt, then id.")
    async def teaching(self, info: Info,
                       filter: Annotated["SessionFilter", strawberry.lazy(SCHEDULING_INPUTS)] | None = None,
                       first: int | None = None, after: str | None = None,
                       ) -> Annotated["SessionConnection", strawberry.lazy(SCHEDULING_TYPES)]:
        from ..scheduling.queries import teaching_connection

        return await teaching_connection(info, self.email, filter, first, after)

    @strawberry.field(description="This person's journeys through the programs they are in, in the order they "
                                  "joined them: what the caller may see (a learner only their own).")
    async def journeys(self, info: Info, first: int | None = None, after: str | None = None,
                       ) -> Annotated["LearnerJourneyConnection", strawberry.lazy(PROGRAM_TYPES)]:
        from ..programs.queries import person_journey_connection

        return await person_journey_connection(info, self.pk, first, after)

    @strawberry.field(description="This person's certifications, oldest first; staff see anyone's, everyone "
                                  "else only their own (empty for another person).")
    async def certifications(self, info: Info, first: int | None = None, after: str | None = None,
                             ) -> Annotated["CertificationConnection", strawberry.lazy(PROGRAM_TYPES)]:
        from ..programs.queries import certification_connection

        return await certification_connection(info, self.pk, first, after)

    @strawberry.field(description="Your own calendar feed (RFC 5545: your ENROLLED sessions and those you teach) "
                                  "to subscribe to in a calendar app; null on anyone else. The address is the "
                                  "secret: resetCalendarFeed replaces it.")
    async def calendar_feed_url(self, info: Info) -> str | None:
        from ..calendar.urls import calendar_feed_url

        if info.context.caller.person_id != self.pk:
            return None
        return await calendar_feed_url(info, person_id=self.pk)


PERSON_COLUMNS = (PersonRow.id, PersonRow.name, PersonRow.email, PersonRow.timezone, PersonRow.phone)


def person_from(v) -> Person:
    """From a row with PERSON_COLUMNS."""
    return Person(id=global_id("Person", v.id), pk=v.id, name=v.name, email=v.email, timezone=v.timezone,
                  phone=v.phone)


@strawberry.type
class Qualification:
    name: str
    valid_until: date | None


@strawberry.type(description="A training centre: where rooms are, and so where in-person sessions happen.")
class Venue(Node):
    id: strawberry.ID
    pk: strawberry.Private[int]
    name: str
    address: str | None = strawberry.field(description="The street address, as written for people.")
    city: str | None
    country: str | None
    timezone: str

    @strawberry.field(description="Its rooms, in the order they were created.")
    async def rooms(self, info: Info) -> list[Resource]:
        return await info.context.loaders.venue_rooms.load(self.pk)

    @strawberry.field(description=(
        "The travel times set from this venue to others (the same either way), shortest first; a venue not "
        "listed is no travel away. Admins and coordinators only (FORBIDDEN for anyone else)."))
    async def travel_times(self, info: Info) -> list["TravelTime"]:
        require_staff(info.context.caller, "travel times")
        return await info.context.loaders.venue_travel_times.load(self.pk)


@strawberry.type(description=(
    "The minutes an instructor needs between two venues, the same both ways: the conflict check keeps that "
    "long between their in-person sessions at the two (setTravelTime)."))
class TravelTime:
    from_venue_pk: strawberry.Private[int]
    to_venue_pk: strawberry.Private[int]
    minutes: int = strawberry.field(description="0 to 1440; 0: no travel time.")

    @strawberry.field
    async def from_venue(self, info: Info) -> Venue:
        return await info.context.loaders.venues.load(self.from_venue_pk)

    @strawberry.field
    async def to_venue(self, info: Info) -> Venue:
        return await info.context.loaders.venues.load(self.to_venue_pk)


VENUE_COLUMNS = (VenueRow.id, VenueRow.name, VenueRow.address, VenueRow.city, VenueRow.country, VenueRow.timezone)


def venue_from(v) -> Venue:
    """From a row with VENUE_COLUMNS."""
    return Venue(id=global_id("Venue", v.id), pk=v.id, name=v.name, address=v.address, city=v.city,
                 country=v.country, timezone=v.timezone)


@strawberry.type
class Resource(Node):
    id: strawberry.ID
    pk: strawberry.Private[int]
    kind: ResourceKind
    name: str
    timezone: str
    capacity: int | None = strawberry.field(description="Rooms: how many it seats.")
    contact: strawberry.Private[str | None]
    calendar: strawberry.Private[str | None]
    venue_pk: strawberry.Private[int | None]

    @strawberry.field(description="Rooms: the venue the room is in; null when it has none.")
    async def venue(self, info: Info) -> Venue | None:
        return None if self.venue_pk is None else await info.context.loaders.venues.load(self.venue_pk)

    @strawberry.field(description="Instructors: their email, for signed-in callers.")
    def email(self, info: Info) -> str | None:
        return self.contact if sees_staff_contacts(info.context.caller) else None

    @strawberry.field(description="Rooms: the iCalendar feed of when the room is busy outside Podium; for an admin "
                                  "or a coordinator (null for anyone else: such addresses often carry a secret).")
    def calendar_url(self, info: Info) -> str | None:
        return self.calendar if is_staff(info.context.caller) else None

    @strawberry.field(description="Rooms: the feed (RFC 5545) of the sessions held in the room, to subscribe to; "
                                  "for an admin or a coordinator (null for anyone else, and for other resources).")
    async def calendar_feed_url(self, info: Info) -> str | None:
        from ..calendar.urls import calendar_feed_url

        if self.kind is not CoreResourceKind.ROOM or not is_staff(info.context.caller):
            return None
        return await calendar_feed_url(info, resource_id=self.pk)

    @strawberry.field(description="What it costs while booked; null: nothing. Admins and coordinators only "
                                  "(FORBIDDEN for anyone else).")
    async def cost_rate(self, info: Info) -> Annotated["CostRate", strawberry.lazy(COST_TYPES)] | None:
        from ..costs.fields import resource_cost_rate

        return await resource_cost_rate(info, self.pk)

    @strawberry.field
    async def qualifications(self, info: Info) -> list[Qualification]:
        return await info.context.loaders.qualifications.load(self.pk)

    @strawberry.field(description="Active bookings overlapping [from, to), at most 92 days apart; Podium's and imported ones.")
    async def bookings(self, info: Info, from_: Annotated[datetime, strawberry.argument(name="from")],
                       to: datetime) -> list[Annotated["Booking", strawberry.lazy(SCHEDULING_TYPES)]]:
        from ..scheduling.queries import resource_bookings

        require_signed_in(info.context.caller, "bookings")
        return await resource_bookings(info, self, from_, to)

    @strawberry.field(description="Weekly working (instructors) or opening (rooms) hours on the resource's own "
                                  "clock; the default until set: Monday to Friday 09:00-17:00 for instructors and "
                                  "rooms, always for equipment.")
    async def working_hours(self, info: Info) -> list[Annotated["WorkingHours", strawberry.lazy(AVAILABILITY_TYPES)]]:
        return await info.context.loaders.working_hours.load(self.pk)

    @strawberry.field(description="Dated exceptions to the weekly hours with a date in [from, to], at most 366 "
                                  "days apart; for signed-in callers.")
    async def hours_exceptions(self, info: Info, from_: Annotated[date, strawberry.argument(name="from")],
                               to: date) -> list[Annotated["HoursException", strawberry.lazy(AVAILABILITY_TYPES)]]:
        from ..availability.queries import resource_hours_exceptions

        require_signed_in(info.context.caller, "hours")
        return await resource_hours_exceptions(info, self.pk, from_, to)

    @strawberry.field(description="Time off overlapping [from, to), at most 366 days apart; for signed-in callers "
                                  "(the reason for staff only).")
    async def time_off(self, info: Info, from_: Annotated[datetime, strawberry.argument(name="from")],
                       to: datetime) -> list[Annotated["TimeOff", strawberry.lazy(AVAILABILITY_TYPES)]]:
        from ..availability.queries import resource_time_off

        require_signed_in(info.context.caller, "time off")
        return await resource_time_off(info, self.pk, from_, to)


RESOURCE_COLUMNS = (ResourceRow.id, ResourceRow.kind, ResourceRow.name, ResourceRow.timezone, ResourceRow.capacity,
                    ResourceRow.email, ResourceRow.calendar_url, ResourceRow.venue_id)


def resource_from(v) -> Resource:
    """From a row with RESOURCE_COLUMNS."""
    return Resource(id=global_id("Resource", v.id), pk=v.id, kind=v.kind, name=v.name, timezone=v.timezone,
                    capacity=v.capacity, contact=v.email, calendar=v.calendar_url, venue_pk=v.venue_id)


@strawberry.type
class CourseConnection(Connection[Course]):
    pass


@strawberry.type
class PersonConnection(Connection[Person]):
    pass


@strawberry.type
class ResourceConnection(Connection[Resource]):
    pass


@strawberry.type
class VenueConnection(Connection[Venue]):
    pass
