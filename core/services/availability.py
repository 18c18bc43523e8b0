"""Rule 8: a resource is booked only within its working (or opening) hours and outside its time off,
judged on its own local clock, unless an admin or a coordinator overrides it (audited).

`check_availability` is the rule, called by scheduling next to the conflict check, under the same
locks, for every interval a change books (each part's, with its buffers). The hours themselves are set here; the interval arithmetic is
core/working_hours.py, which the free-slot search (`free_slots.py`) shares.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from .. import limits, working_hours
from ..audit import Actor, record_change
from ..errors import Clash, DomainError, ErrorCode
from ..instants import require_range
from ..models import STAFF_ROLES, HoursException, Resource, TimeOff
from ..working_hours import Interval
from .records import get_or_404

MAX_TIME_OFF_DAYS = 366
"""The longest one time off may be; a longer absence is several."""


@dataclass
class Calendar:
    """A resource's hours and time off within a window, as merged UTC intervals."""

    hours: list[Interval]
    time_off: list[Interval] = field(default_factory=list)

    def free(self) -> list[Interval]:
        return working_hours.subtract(self.hours, self.time_off)


async def calendars(db: AsyncSession, resources: list[Resource], starts_at: datetime,
                    ends_at: datetime) -> dict[int, Calendar]:
    """Every resource's Calendar in [starts_at, ends_at): two statements, however many resources."""
    ids = [r.id for r in resources]
    if not ids:
        return {}
    exceptions: dict[int, dict[date, working_hours.DayHours]] = defaultdict(dict)
    rows = await db.execute(select(HoursException.resource_id, HoursException.on_date, HoursException.hours).where(
        HoursException.resource_id.in_(ids), HoursException.on_date >= (starts_at - timedelta(days=1)).date(),
        HoursException.on_date <= (ends_at + timedelta(days=1)).date()))
    for row in rows:
        exceptions[row.resource_id][row.on_date] = tuple((s, e) for s, e in row.hours)
    away: dict[int, list[Interval]] = defaultdict(list)
    rows = await db.execute(select(TimeOff.resource_id, TimeOff.starts_at, TimeOff.ends_at).where(
        TimeOff.resource_id.in_(ids), TimeOff.starts_at < ends_at, TimeOff.ends_at > starts_at))
    for row in rows:
        away[row.resource_id].append((row.starts_at, row.ends_at))
    return {r.id: Calendar(working_hours.open_intervals(working_hours.weekly_of(r.kind, r.weekly_hours),
                                                        exceptions[r.id], r.timezone, starts_at, ends_at),
                           working_hours.merged(away[r.id]))
            for r in resources}


def _shown(resource: Resource, gap: Interval) -> str:
    zone = ZoneInfo(resource.timezone)
    start, end = gap[0].astimezone(zone), gap[1].astimezone(zone)
    until = end.strftime("%H:%M") if end.date() == start.date() else end.strftime("%Y-%m-%d %H:%M")
    return f"{start:%Y-%m-%d %H:%M}–{until} {resource.timezone}"


async def check_availability(db: AsyncSession, actor: Actor, resources: list[Resource], held: list[Interval], *,
                             allow_outside_hours: bool = False, field_name: str = "startsAt") -> None:
    """Rule 8 for every booked interval (`held`: each part's, buffers included): every resource keeps each
    within its hours and outside its time off, or the change is refused with OUTSIDE_AVAILABILITY naming the
    resource and the interval (the pieces in `conflicts`). `allow_outside_hours`, an admin's or a
    coordinator's alone, books anyway and audits it. Two statements, however many resources and intervals."""
    if allow_outside_hours and actor.role not in STAFF_ROLES:
        raise DomainError(ErrorCode.FORBIDDEN, "Only an admin or a coordinator may book outside working hours.",
                          "allowOutsideHours")
    if not resources or not held:
        return
    found = await calendars(db, resources, min(s for s, _ in held), max(e for _, e in held))
    outside: list[tuple[Resource, Interval, list[Interval], bool]] = []
    for resource in resources:
        calendar = found[resource.id]
        free = calendar.free()
        for starts_at, ends_at in held:
            pieces = working_hours.gaps(free, starts_at, ends_at)
            if pieces:
                away = any(s < ends_at and e > starts_at for s, e in calendar.time_off)
                outside.append((resource, (starts_at, ends_at), pieces, away))
    if not outside:
        return
    if allow_outside_hours:
        for resource, (starts_at, ends_at), pieces, away in outside:
            record_change(db, actor, "availability.override", "Resource", resource.id, None, {
                "starts_at": starts_at.isoformat(), "ends_at": ends_at.isoformat(), "time_off": away,
                "outside": [[s.isoformat(), e.isoformat()] for s, e in pieces]})
        return
    reasons = "; ".join(f"{r.name} is {'on time off' if away else 'outside their hours'} "
                        f"{', '.join(_shown(r, p) for p in pieces)}" for r, _, pieces, away in outside)
    raise DomainError(ErrorCode.OUTSIDE_AVAILABILITY, f"Not available: {reasons}.", field_name,
                      conflicts=[Clash(r.id, r.name, s, e) for r, _, pieces, _ in outside for s, e in pieces])


# --- setting hours and time off --------------------------------------------------------------

async def _locked(db: AsyncSession, resource_id: int) -> Resource:
    """The resource row locked, as scheduling locks it: a change of hours and a booking never interleave."""
    return await get_or_404(db, Resource, resource_id, "resourceId", lock=True)


def _hours_json(weekly: working_hours.Weekly | None) -> list[list[int]] | None:
    return None if weekly is None else [list(entry) for entry in weekly]


async def set_working_hours(db: AsyncSession, actor: Actor, resource_id: int,
                            weekly: list[tuple[str, str, str]] | None) -> Resource:
    """Replace a resource's weekly hours ((weekday, "09:00", "17:00") triples); None: back to its kind's
    default; an empty list: no weekly hours (only dated exceptions open it). Bookings already made stay."""
    resource = await _locked(db, resource_id)
    before = {"weekly_hours": resource.weekly_hours}
    checked = None if weekly is None else working_hours.weekly_hours(
        limits.items(weekly, "weekly", 7 * working_hours.MAX_RANGES_PER_DAY))
    resource.weekly_hours = _hours_json(checked)
    await db.flush()
    record_change(db, actor, "resource.working_hours", "Resource", resource.id, before,
                  {"weekly_hours": resource.weekly_hours})
    return resource


async def set_hours_exception(db: AsyncSession, actor: Actor, resource_id: int, on_date: date,
                              hours: list[tuple[str, str]] | None) -> HoursException | None:
    """Give one local date other hours than the weekly ones (an empty list: closed all day); None removes
    the date's exception, so the weekly hours hold again."""
    resource = await _locked(db, resource_id)
    if not isinstance(on_date, date) or isinstance(on_date, datetime):
        raise DomainError(ErrorCode.INVALID, "date must be a calendar date.", "date")
    existing = await db.scalar(select(HoursException).where(HoursException.resource_id == resource.id,
                                                            HoursException.on_date == on_date))
    before = None if existing is None else {"date": on_date.isoformat(), "hours": existing.hours}
    if hours is None:
        if existing is not None:
            await db.delete(existing)
        after, kept = None, None
    else:
        checked = working_hours.day_hours(limits.items(hours, "hours", working_hours.MAX_RANGES_PER_DAY), "hours")
        kept = existing or HoursException(resource_id=resource.id, on_date=on_date)
        kept.hours = [list(r) for r in checked]
        db.add(kept)
        after = {"date": on_date.isoformat(), "hours": kept.hours}
    await db.flush()
    if before != after:
        record_change(db, actor, "resource.hours_exception", "Resource", resource.id, before, after)
    return kept


async def hours_exceptions(db: AsyncSession, resource_id: int, first: date, last: date) -> list[HoursException]:
    return list((await db.scalars(select(HoursException).where(
        HoursException.resource_id == resource_id, HoursException.on_date >= first, HoursException.on_date <= last)
        .order_by(HoursException.on_date))).all())


def _time_off_snapshot(entry: TimeOff) -> dict[str, Any]:
    return {"id": entry.id, "starts_at": entry.starts_at.isoformat(), "ends_at": entry.ends_at.isoformat(),
            "reason": entry.reason}


async def add_time_off(db: AsyncSession, actor: Actor, resource_id: int, starts_at: datetime, ends_at: datetime,
                       reason: str | None = None) -> TimeOff:
    """Mark a resource away for [starts_at, ends_at); bookings already made then stay (re-staff them)."""
    starts_at, ends_at = require_range(starts_at, ends_at)
    if ends_at - starts_at > timedelta(days=MAX_TIME_OFF_DAYS):
        raise DomainError(ErrorCode.INVALID_TIME_RANGE, f"One time off lasts at most {MAX_TIME_OFF_DAYS} days.",
                          "endsAt")
    reason = limits.text(reason, "reason", limits.NOTE, required=False, multiline=True)
    resource = await _locked(db, resource_id)
    entry = TimeOff(resource_id=resource.id, starts_at=starts_at, ends_at=ends_at, reason=reason)
    db.add(entry)
    await db.flush()
    record_change(db, actor, "resource.time_off.add", "Resource", resource.id, None, _time_off_snapshot(entry))
    return entry


async def remove_time_off(db: AsyncSession, actor: Actor, time_off_id: int) -> TimeOff:
    entry = await get_or_404(db, TimeOff, time_off_id, "timeOffId")
    await _locked(db, entry.resource_id)
    before = _time_off_snapshot(entry)
    await db.execute(delete(TimeOff).where(TimeOff.id == entry.id))
    record_change(db, actor, "resource.time_off.remove", "Resource", entry.resource_id, before, None)
    return entry


async def time_off(db: AsyncSession, resource_id: int, starts_at: datetime, ends_at: datetime) -> list[TimeOff]:
    """A resource's time off overlapping [starts_at, ends_at)."""
    return list((await db.scalars(select(TimeOff).where(
        TimeOff.resource_id == resource_id, TimeOff.starts_at < ends_at, TimeOff.ends_at > starts_at)
        .order_by(TimeOff.starts_at, TimeOff.id))).all())
