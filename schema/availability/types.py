"""Working hours, their dated exceptions and time off, as a resource shows them."""
from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING, Annotated

import strawberry
from strawberry.types import Info

from podium.core import working_hours

from ..permissions import is_staff

if TYPE_CHECKING:
    from ..catalogue.types import Resource

CATALOGUE_TYPES = "podium.schema.catalogue.types"

Weekday = strawberry.enum(working_hours.Weekday, name="Weekday")


@strawberry.type(description="Hours on one weekday, on the resource's own clock.")
class WorkingHours:
    weekday: Weekday
    starts_at: str = strawberry.field(description='Local time of day, e.g. "09:00".')
    ends_at: str = strawberry.field(description='Local time of day, after startsAt; "24:00" is midnight at the '
                                                'end of the day.')


@strawberry.type(description="A range of hours on one local date.")
class LocalHours:
    starts_at: str = strawberry.field(description='Local time of day, e.g. "09:00".')
    ends_at: str = strawberry.field(description='Local time of day, after startsAt; "24:00" is midnight.')


@strawberry.type(description="A local date on which a resource keeps other hours than its weekly ones.")
class HoursException:
    date: date
    hours: list[LocalHours] = strawberry.field(description="Empty: closed all day.")


@strawberry.type(description="A span in which a resource is not to be booked (leave, training, maintenance).")
class TimeOff:
    id: strawberry.ID
    starts_at: datetime
    ends_at: datetime
    note: strawberry.Private[str | None]

    @strawberry.field(description="Why: for an admin or a coordinator (null for anyone else).")
    def reason(self, info: Info) -> str | None:
        return self.note if is_staff(info.context.caller) else None


def weekly_view(weekly: working_hours.Weekly) -> list[WorkingHours]:
    return [WorkingHours(weekday=Weekday[working_hours.WEEKDAYS[d]], starts_at=working_hours.clock(s),
                         ends_at=working_hours.clock(e)) for d, s, e in weekly]


def exception_view(on_date: date, hours: list[list[int]]) -> HoursException:
    return HoursException(date=on_date, hours=[LocalHours(starts_at=working_hours.clock(s),
                                                          ends_at=working_hours.clock(e)) for s, e in hours])


@strawberry.type(description="One part of a slot: an interval in UTC.")
class SlotPart:
    starts_at: datetime
    ends_at: datetime


@strawberry.type(description="A time at which the named resources are all free.")
class AvailabilitySlot:
    starts_at: datetime = strawberry.field(description="The first part's start.")
    ends_at: datetime = strawberry.field(description="The last part's end.")
    parts: list[SlotPart] = strawberry.field(description="Each part, in order (one unless `parts` asked for more).")
    learners_in_window: int = strawberry.field(description="How many of the learners have every part within "
                                                           "their local window.")
    instructor_pks: strawberry.Private[tuple[int, ...]]
    room_pks: strawberry.Private[tuple[int, ...]]

    @strawberry.field(description="The instructor candidates free (and qualified) for every part, in the "
                                  "order given.")
    async def instructors(self, info: Info) -> list[Annotated["Resource", strawberry.lazy(CATALOGUE_TYPES)]]:
        return list(await info.context.loaders.resources.load_many(self.instructor_pks))

    @strawberry.field(description="The room candidates free for every part, in the order given.")
    async def rooms(self, info: Info) -> list[Annotated["Resource", strawberry.lazy(CATALOGUE_TYPES)]]:
        return list(await info.context.loaders.resources.load_many(self.room_pks))


@strawberry.type(description="The answer of an availability search.")
class Availability:
    slots: list[AvailabilitySlot] = strawberry.field(description="Most learners in their window first, then "
                                                                 "earliest first; at most `first`.")
    total_count: int = strawberry.field(description="How many slots were found in all.")
