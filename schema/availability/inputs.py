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
