"""Inputs of the scheduling operations."""
from __future__ import annotations

from datetime import date, datetime

import strawberry

from .types import DeliveryMode, SessionStatus


ALLOW_OUTSIDE_HOURS = ("Default false; true books the instructors, room and equipment even outside their working "
                       "hours or during their time off (an admin's or a coordinator's call; audited).")


@strawberry.input
class SessionFilter:
    from_: datetime | None = strawberry.field(default=None, name="from",
                                               description="Sessions overlapping [from, to).")
    to: datetime | None = None
    course_id: strawberry.ID | None = None
    resource_id: strawberry.ID | None = None
    delivery_mode: DeliveryMode | None = None
    status: list[SessionStatus] | None = None
    venue_id: strawberry.ID | None = strawberry.field(default=None, description="Sessions in a room of this venue.")
    city: str | None = strawberry.field(default=None, description="Sessions in a room of a venue in this city "
                                                                   "(case-insensitive; at most 200 characters).")
    has_seats: bool | None = strawberry.field(default=None, description=(
        "true: sessions a learner can enrol in now and get a seat, or a place on the waitlist when it is full: "
        "SCHEDULED and before its enrolment cutoff (its start when it has none). Podium's waitlists have no "
        "cap, so every such session qualifies; seatsLeft tells the two apart. false: every other session."))
    search: str | None = strawberry.field(default=None, description=(
        "Case-insensitive text in the session's title, its course's code, title or description; the same "
        "answer on SQLite and PostgreSQL. At most 200 characters."))
    upcoming: bool | None = strawberry.field(default=None, description="true: sessions that end after now; "
                                                                        "false: those that have ended.")


@strawberry.input(description="One part of a session: [startsAt, endsAt).")
class SessionPartInput:
    starts_at: datetime
    ends_at: datetime


@strawberry.input
class ScheduleSessionInput:
    course_id: strawberry.ID
    starts_at: datetime
    ends_at: datetime
    timezone: str
    delivery_mode: DeliveryMode
    instructor_ids: list[strawberry.ID] = strawberry.field(description="The first leads, the others co-facilitate.")
    capacity: int | None = strawberry.field(default=None, description="Default: the course's defaultCapacity.")
    room_id: strawberry.ID | None = strawberry.field(default=None, description="Required for IN_PERSON and HYBRID.")
    equipment_ids: list[strawberry.ID] | None = None
    title: str | None = None
    requires_approval: bool | None = strawberry.field(
        default=None, description="Default false; true: enrolments wait for a coordinator's decision.")
    join_url: str | None = strawberry.field(default=None, description=(
        "VIRTUAL and HYBRID: a meeting link entered by hand (Teams, Meet, ...), an http or https address of at "
        "most 2,000 characters; the meeting is then `manual` and READY, and no conferencing plugin is asked."))
    setup_minutes: int | None = strawberry.field(default=None, description=(
        "Minutes every resource is booked before the start (0 to 1440, default 0): the room is set up, the "
        "instructors arrive. Booked time is what resources cost."))
    teardown_minutes: int | None = strawberry.field(default=None, description="Minutes every resource stays booked "
                                                                              "after the end (0 to 1440, default 0).")
    conferencing: str | None = strawberry.field(default=None, description=(
        "VIRTUAL and HYBRID: who makes the meeting, a loaded conferencing provider's name (e.g. `zoom`) or "
        "`manual` (staff paste the link: joinUrl now, or updateSession later). Default: the course's "
        "defaultConferencing, else PODIUM_DEFAULT_CONFERENCING, else the first provider loaded. An unknown "
        "or unloaded name is INVALID with the field conferencing."))
    parts: list[SessionPartInput] | None = strawberry.field(default=None, description=(
        "A session over several intervals (a course of three days): at least one part, in time order, not "
        "overlapping; the first starts at startsAt, the last ends at endsAt. Null: one part, startsAt to endsAt."))
    allow_outside_hours: bool | None = strawberry.field(default=None, description=ALLOW_OUTSIDE_HOURS)


@strawberry.input(description="A session repeated by an RFC 5545 RRULE: every field of ScheduleSessionInput "
                               "describes the first occurrence.")
class ScheduleSeriesInput(ScheduleSessionInput):
    recurrence: str = strawberry.field(description=(
        "One RRULE line with COUNT or UNTIL, FREQ DAILY, WEEKLY, MONTHLY or YEARLY, at most 366 occurrences, "
        "e.g. RRULE:FREQ=WEEKLY;BYDAY=TU;COUNT=10. Expanded on the wall clock of `timezone` from startsAt."))
    except_dates: list[date] | None = strawberry.field(default=None, description=(
        "Local dates the rule makes that the series leaves out (a holiday)."))
    dry_run: bool | None = strawberry.field(default=None, description=(
        "true: check every occurrence and answer what would be made, writing nothing."))


@strawberry.input
class CancelSeriesInput:
    series_id: strawberry.ID
    from_: datetime | None = strawberry.field(default=None, name="from", description=(
        "Cancel the occurrences starting at or after this instant; null: every one still SCHEDULED."))
    reason: str | None = None


@strawberry.input(description=(
    "Moves this and later occurrences of a series on the series' local wall clock: give startTime or "
    "shiftMinutes, and/or durationMinutes."))
class RescheduleSeriesInput:
    series_id: strawberry.ID
    from_: datetime | None = strawberry.field(default=None, name="from", description=(
        "Move the occurrences starting at or after this instant; null (and no fromOccurrence): every one still "
        "SCHEDULED."))
    from_occurrence: int | None = strawberry.field(default=None, description=(
        "Or: move this occurrence (from 1) and the later ones."))
    start_time: str | None = strawberry.field(default=None, description=(
        '"HH:MM" on the series\' clock: each occurrence then starts at that local time on its own date (every '
        "part moves by the same local shift), in summer and in winter alike."))
    shift_minutes: int | None = strawberry.field(default=None, description=(
        "Or: every part this many minutes later on the local wall clock (negative: earlier); at most a year."))
    duration_minutes: int | None = strawberry.field(default=None, description=(
        "Every part lasts this many minutes from its (new) start."))
    instructor_ids: list[strawberry.ID] | None = strawberry.field(default=None, description=(
        "Re-staff: these instructors instead (the first leads), qualified on every occurrence's dates; null: "
        "the same."))
    room_id: strawberry.ID | None = strawberry.field(default=None, description=(
        "Re-staff: this room instead, seating each occurrence's capacity; null: the same."))
    dry_run: bool | None = strawberry.field(default=None, description=(
        "true: check every occurrence and answer where each would move, writing nothing."))
    allow_outside_hours: bool | None = strawberry.field(default=None, description=ALLOW_OUTSIDE_HOURS)


@strawberry.input(description="Only the fields given change.")
class UpdateSessionInput:
    session_id: strawberry.ID
    join_url: str | None = strawberry.field(default=strawberry.UNSET, description=(
        "A meeting link entered by hand for a VIRTUAL or HYBRID session whose meeting no conferencing plugin "
        "makes (an http or https address of at most 2,000 characters); null takes it away."))


@strawberry.input
class RescheduleSessionInput:
    session_id: strawberry.ID
    starts_at: datetime
    ends_at: datetime
    part: int | None = strawberry.field(default=None, description=(
        "Move only this part (from 1) to [startsAt, endsAt); the others stay. Null, without parts: the session "
        "moves whole, every part by the same shift on the session's local clock, to startsAt (endsAt is then "
        "the last part's end after that shift)."))
    parts: list[SessionPartInput] | None = strawberry.field(default=None, description=(
        "New intervals of every part, as many as the session has (startsAt and endsAt are the first's start "
        "and the last's end)."))
    allow_outside_hours: bool | None = strawberry.field(default=None, description=ALLOW_OUTSIDE_HOURS)


@strawberry.input
class CancelSessionInput:
    session_id: strawberry.ID
    reason: str | None = None


@strawberry.input
class ChangeSessionCapacityInput:
    session_id: strawberry.ID
    capacity: int
