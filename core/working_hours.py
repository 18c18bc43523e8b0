"""Working (or opening) hours on a resource's own wall clock, as plain data and interval arithmetic.

Weekly hours are `(weekday, start minute, end minute)` triples, Monday 0, minutes from local midnight
(1440 is the next midnight); a dated exception replaces one local date's hours. Expanding them into UTC
intervals goes day by day on the local clock, so 09:00 stays 09:00 across a daylight-saving change. No
database here: `services/availability.py` reads the rows, the scheduling rule and the search use these.
"""
from __future__ import annotations

import enum
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from .errors import DomainError, ErrorCode
from .instants import UTC
from .models import ResourceKind

Interval = tuple[datetime, datetime]
DayHours = tuple[tuple[int, int], ...]
"""One local day's hours: (start minute, end minute) pairs in order, not overlapping."""
Weekly = tuple[tuple[int, int, int], ...]

class Weekday(str, enum.Enum):
    MONDAY = "MONDAY"
    TUESDAY = "TUESDAY"
    WEDNESDAY = "WEDNESDAY"
    THURSDAY = "THURSDAY"
    FRIDAY = "FRIDAY"
    SATURDAY = "SATURDAY"
    SUNDAY = "SUNDAY"


WEEKDAYS = tuple(day.value for day in Weekday)
"""Their names in `date.weekday()` order: Monday is 0."""
DAY = 24 * 60
MAX_RANGES_PER_DAY = 6
"""Ranges in one day's hours: a morning and an afternoon is two."""

OFFICE_HOURS: Weekly = tuple((day, 9 * 60, 17 * 60) for day in range(5))
"""Monday to Friday, 09:00 to 17:00: instructors' and rooms' hours until they are set."""
ALWAYS: Weekly = tuple((day, 0, DAY) for day in range(7))
"""Every hour of every day: equipment's hours until they are set."""


def default_weekly(kind: ResourceKind) -> Weekly:
    return ALWAYS if kind is ResourceKind.EQUIPMENT else OFFICE_HOURS


def weekly_of(kind: ResourceKind, stored: Sequence[Sequence[int]] | None) -> Weekly:
    """A resource's weekly hours: what is stored, or its kind's default when nothing is."""
    return default_weekly(kind) if stored is None else tuple((d, s, e) for d, s, e in stored)


# --- input --------------------------------------------------------------------------------

_CLOCK = re.compile(r"^([01]\d|2[0-4]):([0-5]\d)$")


def minute_of(value: str, field: str) -> int:
    """"09:30" as 570; "24:00" is the next midnight."""
    match = _CLOCK.match(value.strip()) if isinstance(value, str) else None
    minute = int(match[1]) * 60 + int(match[2]) if match else -1
    if not 0 <= minute <= DAY:
        raise DomainError(ErrorCode.INVALID, f"{field} must be a time of day such as 09:00 (24:00 for midnight "
                                             f"at the end of the day).", field)
    return minute


def clock(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


def day_hours(ranges: Iterable[tuple[str, str]], field: str) -> DayHours:
    """Ranges of one day, each ending after it starts, none overlapping another."""
    parsed = []
    for index, (starts, ends) in enumerate(ranges):
        start, end = minute_of(starts, f"{field}.{index}.startsAt"), minute_of(ends, f"{field}.{index}.endsAt")
        if end <= start:
            raise DomainError(ErrorCode.INVALID, f"Hours from {starts} must end after they start, not at {ends}.",
                              f"{field}.{index}.endsAt")
        parsed.append((start, end))
    if len(parsed) > MAX_RANGES_PER_DAY:
        raise DomainError(ErrorCode.INVALID, f"A day has at most {MAX_RANGES_PER_DAY} ranges of hours.", field)
    parsed.sort()
    for (_, end), (start, _) in zip(parsed, parsed[1:]):
        if start < end:
            raise DomainError(ErrorCode.INVALID, f"Hours overlap at {clock(start)}.", field)
    return tuple(parsed)


def weekly_hours(ranges: Iterable[tuple[str, str, str]], field: str = "weekly") -> Weekly:
    """(weekday name, "09:00", "17:00") triples as Weekly, checked like `day_hours` day by day."""
    by_day: dict[int, list[tuple[str, str]]] = {}
    for index, (weekday, starts, ends) in enumerate(ranges):
        weekday = weekday.value if isinstance(weekday, Weekday) else weekday
        if weekday not in WEEKDAYS:
            raise DomainError(ErrorCode.INVALID, f"{weekday!r} is not a weekday.", f"{field}.{index}.weekday")
        by_day.setdefault(WEEKDAYS.index(weekday), []).append((starts, ends))
    return tuple((day, start, end) for day in sorted(by_day) for start, end in day_hours(by_day[day], field))


# --- intervals ----------------------------------------------------------------------------

def merged(intervals: Iterable[Interval]) -> list[Interval]:
    """Sorted, with overlapping and touching intervals joined."""
    out: list[Interval] = []
    for start, end in sorted(intervals):
        if out and start <= out[-1][1]:
            if end > out[-1][1]:
                out[-1] = (out[-1][0], end)
        else:
            out.append((start, end))
    return out


def subtract(intervals: Sequence[Interval], taken: Sequence[Interval]) -> list[Interval]:
    """`intervals` (merged) less `taken` (merged), in one pass over both."""
    out: list[Interval] = []
    index = 0
    for start, end in intervals:
        while index < len(taken) and taken[index][1] <= start:
            index += 1
        cursor, look = start, index
        while look < len(taken) and taken[look][0] < end:
            if taken[look][0] > cursor:
                out.append((cursor, taken[look][0]))
            cursor = max(cursor, taken[look][1])
            look += 1
        if cursor < end:
            out.append((cursor, end))
    return out


def gaps(open_intervals: Sequence[Interval], starts_at: datetime, ends_at: datetime) -> list[Interval]:
    """The parts of [starts_at, ends_at) that the merged `open_intervals` do not cover."""
    return subtract([(starts_at, ends_at)], open_intervals)


def _local(day: date, minute: int, tz: ZoneInfo) -> datetime:
    """The instant of `minute` after local midnight on `day`, on the wall clock (24:00 is the next day)."""
    day, minute = (day + timedelta(days=minute // DAY), minute % DAY)
    return datetime.combine(day, time(minute // 60, minute % 60), tz).astimezone(UTC)


def open_intervals(weekly: Weekly, exceptions: Mapping[date, DayHours], tz: str, starts_at: datetime,
                   ends_at: datetime) -> list[Interval]:
    """The hours in [starts_at, ends_at) as merged UTC intervals: every local date the window touches gets
    its exception's hours, or its weekday's."""
    zone = ZoneInfo(tz)
    by_day: dict[int, list[tuple[int, int]]] = {}
    for weekday, start, end in weekly:
        by_day.setdefault(weekday, []).append((start, end))
    day, last = starts_at.astimezone(zone).date(), ends_at.astimezone(zone).date()
    found = []
    while day <= last:
        for start, end in exceptions.get(day, by_day.get(day.weekday(), ())):
            found.append((max(_local(day, start, zone), starts_at), min(_local(day, end, zone), ends_at)))
        day += timedelta(days=1)
    return merged((s, e) for s, e in found if s < e)
