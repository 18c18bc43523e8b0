"""Reads of hours and time off (fields of Resource)."""
from __future__ import annotations

from datetime import date, datetime, timedelta

from strawberry.types import Info

from podium.core.errors import DomainError, ErrorCode
from podium.core.instants import require_range

from ..errors import ClientError
from .types import HoursException, TimeOff

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
