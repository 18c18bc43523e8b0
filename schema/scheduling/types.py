"""Session, Booking, Meeting, Conflict. A Session arrives whole from `build_sessions` (course, room,
instructors, seat counts): the sessions page resolves plain attributes, not one resolver per field."""
from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING, Annotated

import strawberry
from strawberry.types import Info

from podium.core.models import BookingRole as CoreBookingRole
from podium.core.models import DeliveryMode as CoreDeliveryMode
from podium.core.models import EnrollmentStatus as CoreEnrollmentStatus
from podium.core.models import MeetingStatus as CoreMeetingStatus
from podium.core.models import SessionStatus as CoreSessionStatus

from ..catalogue.types import Course, Resource, Venue
from ..relay import Connection, Node

if TYPE_CHECKING:
    from ..enrollment.types import EnrollmentConnection, EnrollmentStatus
    from ..costs.types import Money, SessionCosts
    from ..evaluations.types import EvaluationSummary
    from ..programs.types import Program

DeliveryMode = strawberry.enum(CoreDeliveryMode, name="DeliveryMode")
SessionStatus = strawberry.enum(CoreSessionStatus, name="SessionStatus")
BookingRole = strawberry.enum(CoreBookingRole, name="BookingRole")
MeetingStatus = strawberry.enum(CoreMeetingStatus, name="MeetingStatus")

ENROLLMENT_TYPES = "podium.schema.enrollment.types"
COST_TYPES = "podium.schema.costs.types"
PROGRAM_TYPES = "podium.schema.programs.types"
EVALUATION_TYPES = "podium.schema.evaluations.types"


@strawberry.type(description="A VIRTUAL or HYBRID session's online meeting. Its link, id and errors are for staff "
                              "and the session's instructors; a learner holding a seat sees their own join link; "
                              "everyone else sees only the provider and the status.")
class Meeting:
    session_pk: strawberry.Private[int]
    provider: str
    status: MeetingStatus
    link: strawberry.Private[str | None]
    meeting_id: strawberry.Private[str | None]
    failure: strawberry.Private[str | None]

    @strawberry.field(description="Staff and instructors: the meeting's link; a learner holding a seat: their own "
                                  "link; null for anyone else.")
    async def join_url(self, info: Info) -> str | None:
        access = await info.context.loaders.meeting_access.load(self.session_pk)
        if self.link is None:  # no meeting (yet, or any more): no one joins
            return None
        return self.link if access.hosts else access.own_link

    @strawberry.field(description="The provider's id of the meeting; staff and the session's instructors only.")
    async def external_id(self, info: Info) -> str | None:
        return self.meeting_id if (await info.context.loaders.meeting_access.load(self.session_pk)).hosts else None

    @strawberry.field(description="Why the meeting is FAILED (the provider's last answer); null otherwise. Staff and "
                                  "the session's instructors only.")
    async def error(self, info: Info) -> str | None:
        return self.failure if (await info.context.loaders.meeting_access.load(self.session_pk)).hosts else None


@strawberry.type(description="Someone a conferencing report saw who matches no enrolment.")
class UnmatchedParticipant:
    name: str | None
    email: str | None
    minutes_attended: int
    source: str


@strawberry.type(description="One interval of a session: a day of a three-day course. Every session has at "
                              "least one; startsAt is the first part's start, endsAt the last part's end.")
class SessionPart:
    part: int = strawberry.field(description="Its position in the session, from 1, in time order.")
    starts_at: datetime
    ends_at: datetime


@strawberry.type
class Booking:
    resource: Resource
    role: BookingRole
    starts_at: datetime
    ends_at: datetime
    session_pk: strawberry.Private[int | None]
    part: int | None = strawberry.field(default=None, description=(
        "The part of the session this booking holds the resource for (setup and teardown included); null for "
        "a booking imported from an outside system."))

    @strawberry.field(description="Null for a booking imported from an outside system (a room calendar).")
    async def session(self, info: Info) -> Session | None:
        return None if self.session_pk is None else await info.context.loaders.sessions.load(self.session_pk)


@strawberry.type
class Session(Node):
    id: strawberry.ID
    pk: strawberry.Private[int]
    course: Course
    title: str
    starts_at: datetime
    ends_at: datetime
    timezone: str
    delivery_mode: DeliveryMode
    status: SessionStatus
    capacity: int
    seats_taken: int
    seats_left: int
    waitlist_count: int
    instructors: list[Resource] = strawberry.field(description="The lead first.")
    room: Resource | None
    meeting: Meeting | None = strawberry.field(description="VIRTUAL and HYBRID sessions, from the conferencing plugin.")

    @strawberry.field(description="Where it happens: the venue of its room; null for a session without a room, or a "
                                  "room in no venue.")
    async def venue(self, info: Info) -> Venue | None:
        if self.room is None or self.room.venue_pk is None:
            return None
        return await info.context.loaders.venues.load(self.room.venue_pk)

    @strawberry.field(description="The blended program this session is a live stage of; null when none, or none "
                                  "the caller may see (a program shares its sessions' learners' journeys). When "
                                  "several programs share the session: the first created.")
    async def program(self, info: Info) -> Annotated["Program", strawberry.lazy(PROGRAM_TYPES)] | None:
        program_pk = await info.context.loaders.session_programs.load(self.pk)
        return None if program_pk is None else await info.context.loaders.programs.load(program_pk)

    @strawberry.field(description="This session as an `.ics` file to download once (the same UID as its invites "
                                  "and feeds; no join URL). To follow changes, subscribe to me.calendarFeedUrl.")
    def ics_url(self, info: Info) -> str:
        from ..calendar.urls import session_ics_url

        return session_ics_url(info, self.id)

    @strawberry.field(description="Who the conferencing report saw that matches no enrolment, for review; "
                                  "staff and the session's instructors only (empty for anyone else).")
    async def unmatched_participants(self, info: Info) -> list[UnmatchedParticipant]:
        return await info.context.loaders.unmatched_participants.load(self.pk)

    @strawberry.field(description="The series this session is an occurrence of; null for a session scheduled "
                                  "on its own.")
    async def series(self, info: Info) -> Series | None:
        found = await info.context.loaders.session_series.load(self.pk)
        return None if found is None else found[0]

    @strawberry.field(description="Which occurrence of its series this session is (from 1); null outside a series.")
    async def series_occurrence(self, info: Info) -> int | None:
        found = await info.context.loaders.session_series.load(self.pk)
        return None if found is None else found[1]

    @strawberry.field(description="Its parts, in time order: one for a session on one interval.")
    async def parts(self, info: Info) -> list[SessionPart]:
        return await info.context.loaders.session_parts.load(self.pk)

    @strawberry.field(description="Active bookings: instructors, room, equipment, with setup and teardown; one "
                                  "of each per part.")
    async def bookings(self, info: Info) -> list[Booking]:
        return await info.context.loaders.session_bookings.load(self.pk)

    @strawberry.field(description="What the session costs, line by line, planned and actual; admins and "
                                  "coordinators only (FORBIDDEN for anyone else).")
    async def costs(self, info: Info) -> Annotated["SessionCosts", strawberry.lazy(COST_TYPES)]:
        from ..costs.fields import session_costs

        return await session_costs(info, self.pk)

    @strawberry.field(description="Its evaluation results: requests, responses, average rating, NPS, learning gain, "
                                  "per question. Staff, and the session's own instructors; FORBIDDEN for anyone else.")
    async def evaluation_summary(self, info: Info
                                 ) -> Annotated["EvaluationSummary", strawberry.lazy(EVALUATION_TYPES)]:
        from ..evaluations.fields import session_evaluation_summary

        return await session_evaluation_summary(info, self.pk)

    @strawberry.field(description="The price per seat: the session's own, else its course's; null when neither has one.")
    async def price(self, info: Info) -> Annotated["Money", strawberry.lazy(COST_TYPES)] | None:
        from ..costs.fields import session_price

        return await session_price(info, self.pk)

    @strawberry.field(description="price x seats taken (nothing for a cancelled session); staff only.")
    async def revenue(self, info: Info) -> Annotated["Money", strawberry.lazy(COST_TYPES)]:
        from ..costs.fields import session_revenue

        return await session_revenue(info, self.pk)

    @strawberry.field(description="revenue - costs.planned (negative: a loss); staff only.")
    async def margin(self, info: Info) -> Annotated["Money", strawberry.lazy(COST_TYPES)]:
        from ..costs.fields import session_margin

        return await session_margin(info, self.pk)

    @strawberry.field(description="The roster: what the caller may see of it (docs/api.md, Enrolment).")
    async def enrollments(self, info: Info,
                          status: Annotated["EnrollmentStatus", strawberry.lazy(ENROLLMENT_TYPES)] | None = None,
                          first: int | None = None, after: str | None = None,
                          ) -> Annotated["EnrollmentConnection", strawberry.lazy(ENROLLMENT_TYPES)]:
        from ..enrollment.queries import enrollment_connection

        return await enrollment_connection(info, self.pk, CoreEnrollmentStatus(status) if status else None,
                                           first, after)


@strawberry.type(description="A repeating session: an RFC 5545 RRULE expanded on the local wall clock of its "
                              "timezone; each occurrence is a session of its own. Anyone may see a series, as "
                              "anyone may see its sessions.")
class Series(Node):
    id: strawberry.ID
    pk: strawberry.Private[int]
    rule: str = strawberry.field(description=(
        "The RRULE of its first occurrences, one line, e.g. RRULE:FREQ=WEEKLY;BYDAY=TU;COUNT=10: recurrence's first. "
        "Once rescheduleSeries has moved later occurrences it ends before them."))
    timezone: str = strawberry.field(description="The IANA timezone whose wall clock the rule follows.")
    occurrences: int = strawberry.field(description="How many sessions the series made (exceptDates left out).")
    except_dates: list[date] = strawberry.field(description="Local dates of the rule left out.")

    @strawberry.field(description="What it schedules now, as RFC 5545 recurrences in occurrence order: one as "
                                  "made; rescheduleSeries ends the one in force before the first occurrence it "
                                  "moves and adds what describes the rest. Expanded, they make every session of "
                                  "the series at its start and end.")
    async def recurrence(self, info: Info) -> list[SeriesRecurrence]:
        return await info.context.loaders.series_recurrences.load(self.pk)

    @strawberry.field(description="Its sessions, one per occurrence, in occurrence order (each with its "
                                  "seriesOccurrence), cancelled ones included; each shows what the caller may see of "
                                  "a session.")
    async def sessions(self, info: Info) -> list[Session]:
        return await info.context.loaders.series_sessions.load(self.pk)


@strawberry.type(description=(
    "One RFC 5545 recurrence of a series, on the series' timezone: DTSTART (startsAt), DTEND (endsAt: every "
    "occurrence it makes lasts as long), the RRULE and EXDATEs (exceptDates, at startsAt's local time); it makes "
    "occurrences fromOccurrence to toOccurrence."))
class SeriesRecurrence:
    from_occurrence: int
    to_occurrence: int
    starts_at: datetime = strawberry.field(description="DTSTART: the start of its first occurrence.")
    ends_at: datetime = strawberry.field(description="DTEND: the end of its first occurrence.")
    rule: str = strawberry.field(description="The RRULE, one line, with COUNT or UNTIL (UTC).")
    except_dates: list[date] = strawberry.field(description="Local dates its RRULE makes but leaves out (EXDATE).")


@strawberry.type(description="A session a series makes (or, in a dry run, would make).")
class SeriesOccurrence:
    occurrence: int = strawberry.field(description="From 1, in time order.")
    starts_at: datetime
    ends_at: datetime
    parts: list[SessionPart]


@strawberry.type
class SessionConnection(Connection[Session]):
    pass


@strawberry.type(description=(
    "A booking that stands in the way of a schedule or reschedule, or (travelMinutes set) the time an "
    "instructor needs to travel from or to a session at another venue."))
class Conflict:
    resource_pk: strawberry.Private[int]
    starts_at: datetime
    ends_at: datetime
    occurrence: int | None = strawberry.field(default=None, description=(
        "scheduleSeries and rescheduleSeries: the occurrence (from 1) this booking stands in the way of; null "
        "otherwise."))
    travel_minutes: int | None = strawberry.field(default=None, description=(
        "Travel between venues: the minutes the instructor needs to get here from (or on to) a session at "
        "another venue; startsAt-endsAt is then the time kept for that travel, not a booking. Null: a booking."))

    @strawberry.field
    async def resource(self, info: Info) -> Resource:
        return await info.context.loaders.resources.load(self.resource_pk)
