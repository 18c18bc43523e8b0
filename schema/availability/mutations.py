"""setWorkingHours, setHoursException, addTimeOff, removeTimeOff: staff only; the rules are
core/services/availability.py's."""
from __future__ import annotations

import strawberry
from strawberry.types import Info

from podium.core.services import availability

from ..catalogue.mutations import ResourcePayload
from ..changes import attempt, attempt_then_load
from ..errors import UserError
from ..permissions import check_staff
from ..relay import decode_id, global_id
from .inputs import AddTimeOffInput, RemoveTimeOffInput, SetHoursExceptionInput, SetWorkingHoursInput
from .types import TimeOff


@strawberry.type
class TimeOffPayload:
    time_off: TimeOff | None
    errors: list[UserError]


def time_off_view(entry) -> TimeOff:
    return TimeOff(id=global_id("TimeOff", entry.id), starts_at=entry.starts_at, ends_at=entry.ends_at,
                   note=entry.reason)


def _resource_id(value: str) -> int:
    return decode_id(value, "Resource", "resourceId")


@strawberry.type
class AvailabilityMutations:
    @strawberry.mutation(description="Replaces a resource's weekly working (or opening) hours; bookings already "
                                     "made stay.")
    async def set_working_hours(self, info: Info, input: SetWorkingHoursInput) -> ResourcePayload:
        async def work(db, actor):
            check_staff(info.context.caller)
            weekly = None if input.weekly is None else [(h.weekday, h.starts_at, h.ends_at) for h in input.weekly]
            return (await availability.set_working_hours(db, actor, _resource_id(input.resource_id), weekly)).id

        resource, errors, _ = await attempt_then_load(info, work, "resources")
        return ResourcePayload(resource=resource, errors=errors)

    @strawberry.mutation(description="Gives one local date other hours than the weekly ones (a holiday, a late "
                                     "opening), or removes that date's exception.")
    async def set_hours_exception(self, info: Info, input: SetHoursExceptionInput) -> ResourcePayload:
        async def work(db, actor):
            check_staff(info.context.caller)
            hours = None if input.hours is None else [(h.starts_at, h.ends_at) for h in input.hours]
            resource_id = _resource_id(input.resource_id)
            await availability.set_hours_exception(db, actor, resource_id, input.date, hours)
            return resource_id

        resource, errors, _ = await attempt_then_load(info, work, "resources")
        return ResourcePayload(resource=resource, errors=errors)

    @strawberry.mutation(description="Marks a resource away for a span: nothing is booked on it then unless an "
                                     "admin or a coordinator says allowOutsideHours. Bookings already made stay.")
    async def add_time_off(self, info: Info, input: AddTimeOffInput) -> TimeOffPayload:
        async def work(db, actor):
            check_staff(info.context.caller)
            return time_off_view(await availability.add_time_off(
                db, actor, _resource_id(input.resource_id), input.starts_at, input.ends_at, input.reason))

        entry, errors, _ = await attempt(info, work)
        return TimeOffPayload(time_off=entry, errors=errors)

    @strawberry.mutation(description="Takes a time off away; the payload shows what was removed.")
    async def remove_time_off(self, info: Info, input: RemoveTimeOffInput) -> TimeOffPayload:
        async def work(db, actor):
            check_staff(info.context.caller)
            return time_off_view(await availability.remove_time_off(
                db, actor, decode_id(input.time_off_id, "TimeOff", "timeOffId")))

        entry, errors, _ = await attempt(info, work)
        return TimeOffPayload(time_off=entry, errors=errors)
