"""Batched loads of resources' hours and time off: one statement per kind (and window) per request tick."""
from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime

from sqlalchemy import select

from podium.core import working_hours
from podium.core.models import HoursException as ExceptionRow
from podium.core.models import Resource as ResourceRow
from podium.core.models import TimeOff as TimeOffRow

from ..relay import global_id
from .types import HoursException, TimeOff, WorkingHours, exception_view, weekly_view


def _by_window(keys: list[tuple]) -> dict[tuple, list[int]]:
    """(resource id, from, to) keys grouped by their window: one query per distinct window."""
    windows: dict[tuple, list[int]] = defaultdict(list)
    for resource_id, *window in keys:
        windows[tuple(window)].append(resource_id)
    return windows


def loaders(context) -> dict:
    async def working_hours_of(ids: list[int]) -> list[list[WorkingHours]]:
        async with context.reading() as db:
            rows = (await db.execute(select(ResourceRow.id, ResourceRow.kind, ResourceRow.weekly_hours)
                                     .where(ResourceRow.id.in_(ids)))).all()
        found = {row.id: weekly_view(working_hours.weekly_of(row.kind, row.weekly_hours)) for row in rows}
        return [found.get(i, []) for i in ids]

    async def time_off_windows(keys: list[tuple[int, datetime, datetime]]) -> list[list[TimeOff]]:
        held: dict[tuple, list[TimeOff]] = defaultdict(list)
        async with context.reading() as db:
            for (from_, to), resource_ids in _by_window(keys).items():
                rows = (await db.execute(
                    select(TimeOffRow.id, TimeOffRow.resource_id, TimeOffRow.starts_at, TimeOffRow.ends_at,
                           TimeOffRow.reason)
                    .where(TimeOffRow.resource_id.in_(resource_ids), TimeOffRow.starts_at < to,
                           TimeOffRow.ends_at > from_)
                    .order_by(TimeOffRow.resource_id, TimeOffRow.starts_at, TimeOffRow.id))).all()
                for row in rows:
                    held[(row.resource_id, from_, to)].append(TimeOff(
                        id=global_id("TimeOff", row.id), starts_at=row.starts_at, ends_at=row.ends_at,
                        note=row.reason))
        return [held[key] for key in keys]

    async def exception_windows(keys: list[tuple[int, date, date]]) -> list[list[HoursException]]:
        held: dict[tuple, list[HoursException]] = defaultdict(list)
        async with context.reading() as db:
            for (first, last), resource_ids in _by_window(keys).items():
                rows = (await db.execute(
                    select(ExceptionRow.resource_id, ExceptionRow.on_date, ExceptionRow.hours)
                    .where(ExceptionRow.resource_id.in_(resource_ids), ExceptionRow.on_date >= first,
                           ExceptionRow.on_date <= last)
                    .order_by(ExceptionRow.resource_id, ExceptionRow.on_date))).all()
                for row in rows:
                    held[(row.resource_id, first, last)].append(exception_view(row.on_date, row.hours))
        return [held[key] for key in keys]

    return {"working_hours": working_hours_of, "time_off_windows": time_off_windows,
            "exception_windows": exception_windows}
