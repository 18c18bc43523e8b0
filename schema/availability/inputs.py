"""Inputs of the working-hours and time-off operations."""
from __future__ import annotations

from datetime import date, datetime

import strawberry

from .types import Weekday


@strawberry.input(description="Hours on one weekday, on the resource's own clock.")
class WorkingHoursInput:
    weekday: Weekday
    starts_at: str = strawberry.field(description='"HH:MM", e.g. "09:00".')
    ends_at: str = strawberry.field(description='"HH:MM" after startsAt; "24:00" for midnight at the end of the day.')


@strawberry.input(description="A range of hours on one local date.")
class LocalHoursInput:
    starts_at: str = strawberry.field(description='"HH:MM", e.g. "09:00".')
    ends_at: str = strawberry.field(description='"HH:MM" after startsAt; "24:00" for midnight.')


@strawberry.input
class SetWorkingHoursInput:
    resource_id: strawberry.ID
    weekly: list[WorkingHoursInput] | None = strawberry.field(description=(
        "Replaces the weekly hours (at most 6 ranges a day, not overlapping). null: back to the default "
        "(Monday to Friday 09:00-17:00 for instructors and rooms, always for equipment); []: no weekly hours, "
        "only dated exceptions open the resource."))


@strawberry.input
class SetHoursExceptionInput:
    resource_id: strawberry.ID
    date: date = strawberry.field(description="A date on the resource's own clock.")
    hours: list[LocalHoursInput] | None = strawberry.field(description=(
        "That date's hours instead of the weekly ones; []: closed all day; null: removes the exception."))


@strawberry.input
class AddTimeOffInput:
    resource_id: strawberry.ID
    starts_at: datetime
    ends_at: datetime = strawberry.field(description="After startsAt, at most 366 days later.")
    reason: str | None = strawberry.field(default=None, description="For staff only; at most 500 characters.")


@strawberry.input
class RemoveTimeOffInput:
    time_off_id: strawberry.ID


@strawberry.input(description="What to find free slots for; see docs/api.md, \"Availability search\".")
class AvailabilityInput:
    from_: datetime = strawberry.field(name="from", description="Candidate starts from here, on the granularity's "
                                                                "grid.")
    to: datetime = strawberry.field(description="Every part ends by then; at most 42 days after from.")
    resource_ids: list[strawberry.ID] | None = strawberry.field(default=None, description=(
        "Resources that must all be free (at most 50)."))
    instructor_candidates: list[strawberry.ID] | None = strawberry.field(default=None, description=(
        "Instructors of whom any one will do, qualified for courseId on each part's date (at most 50)."))
    room_candidates: list[strawberry.ID] | None = strawberry.field(default=None, description=(
        "Rooms of which any one will do (at most 50)."))
    course_id: strawberry.ID | None = strawberry.field(default=None, description=(
        "The course: instructors must hold its qualifications; its duration is the default durationMinutes."))
    duration_minutes: int | None = strawberry.field(default=None, description="Minutes of each part, 5 to 1440.")
    learner_ids: list[strawberry.ID] | None = strawberry.field(default=None, description=(
        "Learners whose own timezones rank the slots (at most 5,000)."))
    learner_timezones: list[str] | None = strawberry.field(default=None, description=(
        "Or: one IANA timezone per learner (at most 5,000)."))
    learner_window: LocalHoursInput | None = strawberry.field(default=None, description=(
        "The local hours that suit a learner; default 09:00-17:00."))
    granularity_minutes: int | None = strawberry.field(default=None, description=(
        "Minutes between candidate starts, 5 to 1440; default 30."))
    parts: int | None = strawberry.field(default=None, description=(
        "Parts on consecutive days at the same local time in `timezone`, 1 to 14; default 1."))
    timezone: str | None = strawberry.field(default=None, description=(
        "The session's timezone: for the parts' days and the qualifications' dates; default UTC."))
    first: int | None = strawberry.field(default=None, description="Slots to return, 1 to 200; default 50.")
