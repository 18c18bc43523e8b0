"""Candidate starts of a request's sessions, built on a wall clock and converted to UTC.

A candidate is one local date and one local start minute on the granularity's grid (or the parts' own
fixed times); each part is placed on its own local date and time and converted on its own, so a session
whose days straddle a daylight-saving change keeps 09:00-17:00 on every day. Which resource may take which
candidate (hours, time off, existing bookings, qualifications on the date) is decided here too, with
sorted-interval searches in numpy: the model only sees the allowed candidate indices.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import numpy as np

from .. import working_hours
from ..instants import UTC
from ..services.scheduling import held_intervals  # the rule of what each part books, buffers included
from ..working_hours import Interval
from .problem import Instructor, Request, Resource, Room

DAY = 24 * 60


def minutes(instant: datetime, origin: datetime) -> int:
    return int((instant - origin).total_seconds() // 60)


@lru_cache(maxsize=200_000)
def local_instant(day: date, minute: int, zone: ZoneInfo) -> datetime | None:
    """The instant of local `minute` on `day`; None when the wall clock skips it (a DST gap). Cached: the
    requests of one problem share their days."""
    day, minute = day + timedelta(days=minute // DAY), minute % DAY
    wall = datetime.combine(day, time(minute // 60, minute % 60))
    instant = wall.replace(tzinfo=zone).astimezone(UTC)
    if instant.astimezone(zone).replace(tzinfo=None) != wall:
        return None
    return instant


@dataclass
class Candidates:
    """A request's candidates in one array per attribute (index = candidate number)."""

    timezone: list[str]
    parts: list[tuple[Interval, ...]]
    part_start: np.ndarray      # [candidate, part] minutes from the origin
    part_end: np.ndarray
    held_start: np.ndarray
    held_end: np.ndarray
    day: np.ndarray             # the first part's local date, as an ordinal (spread)
    last_day: np.ndarray        # the last part's local date, as an ordinal (qualifications)
    minute: np.ndarray          # the first part's local start minute

    def __len__(self) -> int:
        return len(self.parts)

    def take(self, keep: np.ndarray) -> "Candidates":
        idx = np.flatnonzero(keep)
        return Candidates([self.timezone[i] for i in idx], [self.parts[i] for i in idx], self.part_start[idx],
                          self.part_end[idx], self.held_start[idx], self.held_end[idx], self.day[idx],
                          self.last_day[idx], self.minute[idx])


def candidates(request: Request, timezones: list[str], granularity: int, origin: datetime) -> Candidates:
    """Every start of the request's sessions in its window, on each of `timezones`' wall clocks."""
    specs = request.parts
    length = max(p.day for p in specs)
    first_fixed = specs[0].starts
    tzs, parts_all, days, last_days, mins = [], [], [], [], []
    for tz in timezones:
        zone = ZoneInfo(tz)
        day = request.window_from.astimezone(zone).date()
        last = request.window_to.astimezone(zone).date()
        starts = [first_fixed] if first_fixed is not None else range(0, DAY, granularity)
        while day + timedelta(days=length) <= last:
            for minute in starts:
                spans = []
                for spec in specs:
                    begin = spec.starts if spec.starts is not None else minute
                    start = local_instant(day + timedelta(days=spec.day), begin, zone)
                    end = local_instant(day + timedelta(days=spec.day), begin + spec.minutes, zone)
                    if start is None or end is None or end <= start:
                        break
                    if spans and start < spans[-1][1]:
                        break
                    spans.append((start, end))
                else:
                    if spans[0][0] >= request.window_from and spans[-1][1] <= request.window_to:
                        tzs.append(tz)
                        parts_all.append(tuple(spans))
                        days.append(day.toordinal())
                        last_days.append(spans[-1][0].astimezone(zone).date().toordinal())
                        mins.append(minute)
            day += timedelta(days=1)
    n, k = len(parts_all), len(specs)
    part_start = np.zeros((n, k), dtype=np.int64)
    part_end = np.zeros((n, k), dtype=np.int64)
    held_start = np.zeros((n, k), dtype=np.int64)
    held_end = np.zeros((n, k), dtype=np.int64)
    for i, spans in enumerate(parts_all):
        held = held_intervals(list(spans), request.setup_minutes, request.teardown_minutes)
        for j, ((s, e), (hs, he)) in enumerate(zip(spans, held)):
            part_start[i, j], part_end[i, j] = minutes(s, origin), minutes(e, origin)
            held_start[i, j], held_end[i, j] = minutes(hs, origin), minutes(he, origin)
    return Candidates(tzs, parts_all, part_start, part_end, held_start, held_end,
                      np.array(days, dtype=np.int64), np.array(last_days, dtype=np.int64),
                      np.array(mins, dtype=np.int64))


def free_intervals(resource: Resource, starts_at: datetime, ends_at: datetime) -> list[Interval]:
    """Where the resource may be booked: its hours (own clock), less time off, less what it already holds."""
    hours = list(resource.hours) if resource.hours is not None else working_hours.open_intervals(
        resource.weekly, resource.exceptions, resource.timezone, starts_at, ends_at)
    taken = working_hours.merged(list(resource.time_off) + list(resource.busy))
    return working_hours.subtract(hours, taken)


class FreeTime:
    """A resource's free intervals as two sorted arrays of minutes from the origin."""

    def __init__(self, intervals: list[Interval], origin: datetime) -> None:
        self.starts = np.array([minutes(s, origin) for s, _ in intervals], dtype=np.int64)
        self.ends = np.array([minutes(e, origin) for _, e in intervals], dtype=np.int64)

    def holds(self, start: np.ndarray, end: np.ndarray) -> np.ndarray:
        """For each [start, end): does one free interval hold it whole?"""
        if len(self.starts) == 0:
            return np.zeros(start.shape, dtype=bool)
        index = np.searchsorted(self.starts, start, side="right") - 1
        return (index >= 0) & (self.ends[np.maximum(index, 0)] >= end)


def fits(free: FreeTime, cands: Candidates) -> np.ndarray:
    """Candidates every held interval of which the resource has free."""
    ok = np.ones(len(cands), dtype=bool)
    for j in range(cands.held_start.shape[1]):
        ok &= free.holds(cands.held_start[:, j], cands.held_end[:, j])
    return ok


def qualified_until(instructor: Instructor, required: tuple[str, ...]) -> date | None | bool:
    """The last date on which the instructor holds every required qualification: a date, None (no end),
    or False (one is missing)."""
    until: date | None = None
    for name in required:
        if name not in instructor.qualifications:
            return False
        valid = instructor.qualifications[name]
        if valid is not None and (until is None or valid < until):
            until = valid
    return until


def instructor_allowed(instructor: Instructor, free: FreeTime, request: Request, cands: Candidates) -> np.ndarray:
    until = qualified_until(instructor, request.required_qualifications)
    if until is False:
        return np.zeros(len(cands), dtype=bool)
    ok = fits(free, cands)
    if until is not None:
        ok &= cands.last_day <= until.toordinal()
    return ok


def room_tz(room: Room, venues: dict) -> str:
    venue = venues.get(room.venue_id) if room.venue_id is not None else None
    return venue.timezone if venue is not None else room.timezone


def room_suits(room: Room, request: Request) -> bool:
    """What a room is, not when: at an allowed venue, seats enough, holds the features asked for."""
    if request.venue_ids and room.venue_id not in request.venue_ids:
        return False
    if room.capacity is not None and room.capacity < request.capacity:
        return False
    return set(request.required_features) <= set(room.features)


def room_allowed(room: Room, tz: str, free: FreeTime, cands: Candidates) -> np.ndarray:
    same_clock = np.array([t == tz for t in cands.timezone], dtype=bool)
    return same_clock & fits(free, cands)


def learners_outside(cands: Candidates, zones: dict[str, int], window: tuple[int, int]) -> np.ndarray:
    """For each candidate: how many of the cohort's learners have a part outside their local window."""
    out = np.zeros(len(cands), dtype=np.int64)
    for tz, count in zones.items():
        zone = ZoneInfo(tz)
        for i, spans in enumerate(cands.parts):
            for start, end in spans:
                a, b = start.astimezone(zone), end.astimezone(zone)
                first = a.hour * 60 + a.minute
                last = first + int((end - start).total_seconds() // 60)
                if a.date() != b.date() and not (b.hour == 0 and b.minute == 0 and last == DAY) or \
                        first < window[0] or last > window[1]:
                    out[i] += count
                    break
    return out
