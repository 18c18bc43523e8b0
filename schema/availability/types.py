"""Working hours, their dated exceptions and time off, as a resource shows them."""
from __future__ import annotations

from datetime import date, datetime

import strawberry
from strawberry.types import Info

from podium.core import working_hours

from ..permissions import is_staff

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
