"""Reads of hours and time off (fields of Resource), and the availability search."""
from __future__ import annotations

from datetime import date, datetime, timedelta

import strawberry
from strawberry.types import Info

from podium.core.errors import DomainError, ErrorCode
from podium.core.instants import require_range
from podium.core.services import free_slots

from ..errors import ClientError
from ..permissions import require_staff
from ..relay import query_id
from .inputs import AvailabilityInput
from .types import Availability, AvailabilitySlot, HoursException, SlotPart, TimeOff

WINDOW_DAYS = 366
"""The longest window `Resource.timeOff` and `Resource.hoursExceptions` answer, so the lists stay bounded."""


async def resource_time_off(info: Info, resource_id: int, from_: datetime, to: datetime) -> list[TimeOff]:
    try:
        from_, to = require_range(from_, to, "from", "to")
    except DomainError as error:
        raise ClientError(error.message, error.code) from None
    if to - from_ > timedelta(days=WINDOW_DAYS):
        raise ClientError(f"A time-off window is at most {WINDOW_DAYS} days; ask for several.", ErrorCode.INVALID)
    return await info.context.loaders.time_off_windows.load((resource_id, from_, to))


async def resource_hours_exceptions(info: Info, resource_id: int, first: date, last: date) -> list[HoursException]:
    if last < first:
        raise ClientError("to must not be before from.", ErrorCode.INVALID_TIME_RANGE)
    if (last - first).days > WINDOW_DAYS:
        raise ClientError(f"An exceptions window is at most {WINDOW_DAYS} days; ask for several.", ErrorCode.INVALID)
    return await info.context.loaders.exception_windows.load((resource_id, first, last))


@strawberry.type
class AvailabilityQueries:
    @strawberry.field(description="Free slots where the named resources are all free, ranked by how many learners "
                                  "each suits in their own local window; for an admin or a coordinator.")
    async def availability(self, info: Info, input: AvailabilityInput) -> Availability:
        require_staff(info.context.caller, "availability")
        window = input.learner_window
        try:
            search = free_slots.SearchInput(
                starts_at=input.from_, ends_at=input.to,
                resource_ids=[query_id(i, "Resource", "resourceIds") for i in input.resource_ids or []],
                instructor_candidates=[query_id(i, "Resource", "instructorCandidates")
                                       for i in input.instructor_candidates or []],
                room_candidates=[query_id(i, "Resource", "roomCandidates") for i in input.room_candidates or []],
                course_id=None if input.course_id is None else query_id(input.course_id, "Course", "courseId"),
                duration_minutes=input.duration_minutes,
                learner_ids=None if input.learner_ids is None else [
                    query_id(i, "Person", "learnerIds") for i in input.learner_ids],
                learner_timezones=input.learner_timezones,
                learner_window=("09:00", "17:00") if window is None else (window.starts_at, window.ends_at),
                granularity_minutes=30 if input.granularity_minutes is None else input.granularity_minutes,
                parts=1 if input.parts is None else input.parts, timezone=input.timezone or "UTC", first=input.first)
            async with info.context.reading() as db:
                found = await free_slots.find_slots(db, search)
        except DomainError as error:
            raise ClientError(error.message, error.code, error.field) from None
        return Availability(total_count=found.total, slots=[AvailabilitySlot(
            starts_at=s.starts_at, ends_at=s.ends_at, parts=[SlotPart(starts_at=a, ends_at=b) for a, b in s.parts],
            learners_in_window=s.learners_in_window, instructor_pks=s.instructor_ids, room_pks=s.room_ids)
            for s in found.slots])
