"""The free-slot search: when are the named resources all free (bookings with their buffers, room calendar
bookings, working hours, time off), with which of the candidate instructors and rooms, ranked by how many
learners each slot suits in their own local window.

It reads in a fixed number of statements however long the history (resources, qualifications, the course,
the learners' zones, hours exceptions, time off, bookings in the window, and with rooms in venues the
travel times and the instructors' in-person bookings), then merges sorted intervals in memory: each
candidate start is a binary search per resource, never a query.

Travel between venues (rule 2b, `travel.py`): when the rooms a slot would use are in a venue, an
instructor's in-person bookings at another venue count as busy for the travel time before and after
them. A required room fixes the venue; otherwise an instructor is listed when they can reach at least
one of the slot's free candidate rooms in time.
"""
from __future__ import annotations

from bisect import bisect_right
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from .. import limits, working_hours
from ..errors import DomainError, ErrorCode
from ..instants import local_date, local_shift
from ..models import Booking, Course, Person, Resource, ResourceKind
from ..working_hours import Interval
from . import travel
from .availability import calendars
from .records import get_or_404
from .scheduling import check_qualifications


@dataclass(frozen=True)
class Slot:
    starts_at: datetime
    ends_at: datetime
    parts: tuple[Interval, ...]
    instructor_ids: tuple[int, ...]
    room_ids: tuple[int, ...]
    learners_in_window: int


@dataclass(frozen=True)
class SlotSearch:
    slots: list[Slot]
    total: int
    """How many slots were found, before `first` cut the list."""


@dataclass(frozen=True)
class SearchInput:
    """What to search for; see docs/api.md ("Availability search") for each field."""

    starts_at: datetime
    ends_at: datetime
    resource_ids: Sequence[int] = ()
    instructor_candidates: Sequence[int] = ()
    room_candidates: Sequence[int] = ()
    course_id: int | None = None
    duration_minutes: int | None = None
    learner_ids: Sequence[int] | None = None
    learner_timezones: Sequence[str] | None = None
    learner_window: tuple[str, str] = ("09:00", "17:00")
    granularity_minutes: int = 30
    parts: int = 1
    timezone: str = "UTC"
    first: int | None = None


class _Free:
    """One resource's free intervals, sorted and apart, with their starts for binary search."""

    def __init__(self, intervals: list[Interval]) -> None:
        self.intervals = intervals
        self.starts = [start for start, _ in intervals]

    def holds(self, start: datetime, end: datetime) -> bool:
        index = bisect_right(self.starts, start) - 1
        return index >= 0 and self.intervals[index][1] >= end


def _ids(values: Sequence[int] | None, field: str) -> list[int]:
    return list(dict.fromkeys(limits.items(values, field)))


async def _resources(db: AsyncSession, wanted: dict[str, tuple[list[int], ResourceKind | None]]) -> dict[int, Resource]:
    ids = sorted({rid for rids, _ in wanted.values() for rid in rids})
    rows = (await db.scalars(select(Resource).where(Resource.id.in_(ids))
                             .options(selectinload(Resource.qualifications)))).all() if ids else []
    found = {r.id: r for r in rows}
    for field, (rids, kind) in wanted.items():
        for rid in rids:
            if rid not in found:
                raise DomainError(ErrorCode.NOT_FOUND, f"No resource with id {rid}.", field)
            if kind is not None and found[rid].kind is not kind:
                raise DomainError(ErrorCode.INVALID, f"{found[rid].name} is not a {kind.value.lower()}.", field)
    return found


async def _learner_zones(db: AsyncSession, search: SearchInput) -> Counter[str]:
    """How many learners live in each timezone: from their people (one grouped statement) or as given."""
    if search.learner_ids is not None and search.learner_timezones is not None:
        raise DomainError(ErrorCode.INVALID, "Give learnerIds or learnerTimezones, not both.", "learnerTimezones")
    if search.learner_timezones is not None:
        zones = limits.items(search.learner_timezones, "learnerTimezones", limits.COHORT)
        return Counter(limits.timezone(z, f"learnerTimezones.{i}") for i, z in enumerate(zones))
    ids = set(limits.items(search.learner_ids, "learnerIds", limits.COHORT))
    if not ids:
        return Counter()
    rows = (await db.execute(select(Person.timezone, func.count(Person.id)).where(Person.id.in_(ids))
                             .group_by(Person.timezone))).all()
    zones = Counter({zone: count for zone, count in rows})
    if sum(zones.values()) != len(ids):
        raise DomainError(ErrorCode.NOT_FOUND, "A learnerId names no person.", "learnerIds")
    return zones


async def _busy(db: AsyncSession, ids: list[int], starts_at: datetime, ends_at: datetime) -> dict[int, list[Interval]]:
    """Active bookings (with their buffers; Podium's and room calendars') overlapping the window, merged per
    resource in the order SQL returns them."""
    rows = await db.execute(select(Booking.resource_id, Booking.starts_at, Booking.ends_at).where(
        Booking.resource_id.in_(ids), Booking.active, Booking.ends_at > starts_at, Booking.starts_at < ends_at)
        .order_by(Booking.resource_id, Booking.starts_at))
    busy: dict[int, list[Interval]] = defaultdict(list)
    for resource_id, start, end in rows:
        held = busy[resource_id]
        if held and start <= held[-1][1]:
            if end > held[-1][1]:
                held[-1] = (held[-1][0], end)
        else:
            held.append((start, end))
    return busy


async def _travel_rule(db: AsyncSession, found: dict[int, Resource], venue_of: dict[int, int | None],
                       free: dict[int, _Free], window_from: datetime, window_to: datetime):
    """`fits_at(instructor, venue, spans)`: whether the instructor, free for `spans`, also has the travel time
    to `venue` (None: a room in no venue) from their in-person bookings at other venues; None when no room
    is in a venue with a travel time. At most two statements (none without rooms in venues)."""
    instructors = [rid for rid, r in found.items() if r.kind is ResourceKind.INSTRUCTOR]
    venues = {v for v in venue_of.values() if v is not None}
    minutes = await travel.travel_from(db, venues) if venues and instructors else {}
    gaps: dict[int, dict[int, int]] = defaultdict(dict)
    for (a, b), m in minutes.items():
        if a in venues:
            gaps[a][b] = m
    if not gaps:
        return None
    reach = timedelta(minutes=max(minutes.values()))
    others = await travel.in_person_bookings(db, instructors, {b for g in gaps.values() for b in g},
                                             [(window_from, window_to)], reach)
    away: dict[int, list[travel.InPersonBooking]] = defaultdict(list)
    for booking in others:
        away[booking.resource_id].append(booking)
    cache: dict[tuple[int, int], _Free] = {}

    def fits_at(rid: int, venue: int | None, spans: list[Interval]) -> bool:
        if venue is None or venue not in gaps or not away.get(rid):
            return True
        if (rid, venue) not in cache:
            kept = [(b.starts_at - timedelta(minutes=gaps[venue][b.venue_id]),
                     b.ends_at + timedelta(minutes=gaps[venue][b.venue_id]))
                    for b in away[rid] if b.venue_id in gaps[venue]]
            cache[(rid, venue)] = _Free(working_hours.subtract(free[rid].intervals, working_hours.merged(kept)))
        return all(cache[(rid, venue)].holds(s, e) for s, e in spans)

    return fits_at


async def find_slots(db: AsyncSession, search: SearchInput) -> SlotSearch:
    """Every start on the granularity's grid from `starts_at` whose parts (consecutive days at the same time on
    the `timezone` wall clock) all end by `ends_at` and find every required resource free, at least one free
    (and qualified) instructor candidate and room candidate when such are named; best ranked first."""
    window_from, window_to = limits.availability_window(search.starts_at, search.ends_at)
    granularity = limits.bounded(search.granularity_minutes, "granularityMinutes", *limits.AVAILABILITY_GRANULARITY)
    parts = limits.bounded(search.parts, "parts", 1, limits.AVAILABILITY_PARTS)
    first = limits.bounded(search.first, "first", 1, limits.AVAILABILITY_SLOTS[1], limits.AVAILABILITY_SLOTS[0])
    timezone = limits.timezone(search.timezone)
    window = working_hours.day_hours([search.learner_window], "learnerWindow")
    required = _ids(search.resource_ids, "resourceIds")
    instructors = _ids(search.instructor_candidates, "instructorCandidates")
    rooms = _ids(search.room_candidates, "roomCandidates")
    if not (required or instructors or rooms):
        raise DomainError(ErrorCode.INVALID, "Name resourceIds, instructorCandidates or roomCandidates.",
                          "resourceIds")
    course = await get_or_404(db, Course, search.course_id, "courseId") if search.course_id is not None else None
    duration = limits.bounded(search.duration_minutes, "durationMinutes", *limits.AVAILABILITY_DURATION,
                              course.duration_minutes if course else None)
    found = await _resources(db, {"resourceIds": (required, None),
                                  "instructorCandidates": (instructors, ResourceKind.INSTRUCTOR),
                                  "roomCandidates": (rooms, ResourceKind.ROOM)})
    zones = await _learner_zones(db, search)

    everyone = list(found.values())
    hours = await calendars(db, everyone, window_from, window_to)
    busy = await _busy(db, [r.id for r in everyone], window_from, window_to)
    free = {rid: _Free(working_hours.subtract(hours[rid].free(), busy.get(rid, []))) for rid in found}
    venue_of = {rid: r.venue_id for rid, r in found.items() if r.kind is ResourceKind.ROOM}
    fits_at = await _travel_rule(db, found, venue_of, free, window_from, window_to)
    every_day = tuple((day, start, end) for day in range(7) for start, end in window)
    learner_hours = {zone: _Free(working_hours.open_intervals(every_day, {}, zone, window_from, window_to))
                     for zone in zones}
    qualified_on: dict[tuple[int, date], bool] = {}

    def qualified(resource: Resource, when: datetime) -> bool:
        if course is None or resource.kind is not ResourceKind.INSTRUCTOR:
            return True
        key = (resource.id, local_date(when, timezone))
        if key not in qualified_on:
            try:
                check_qualifications(course, [resource], when, timezone)
                qualified_on[key] = True
            except DomainError:
                qualified_on[key] = False
        return qualified_on[key]

    def fits(rid: int, spans: list[Interval]) -> bool:
        return all(free[rid].holds(s, e) and qualified(found[rid], s) for s, e in spans)

    fixed = {venue_of[rid] for rid in required if venue_of.get(rid) is not None}

    def teaches(rid: int, spans: list[Interval], held_rooms: tuple[int, ...]) -> bool:
        """Free and qualified, and (rule 2b) able to reach the slot's venue: a required room's, else one of
        the free candidate rooms'."""
        if not fits(rid, spans):
            return False
        if fits_at is None:
            return True
        if fixed:
            return all(fits_at(rid, v, spans) for v in fixed)
        reachable = {venue_of[r] for r in held_rooms}
        return any(fits_at(rid, v, spans) for v in reachable) if reachable else True

    zone, length, step = ZoneInfo(timezone), timedelta(minutes=duration), timedelta(minutes=granularity)
    slots: list[Slot] = []
    start = window_from
    while True:
        spans = [(s, s + length) for s in (local_shift(start, zone, timedelta(days=i)) for i in range(parts))]
        if spans[-1][1] > window_to:
            break
        if all(fits(rid, spans) for rid in required if found[rid].kind is not ResourceKind.INSTRUCTOR):
            held_rooms = tuple(rid for rid in rooms if fits(rid, spans))
            leads = tuple(rid for rid in instructors if teaches(rid, spans, held_rooms))
            if (all(teaches(rid, spans, held_rooms) for rid in required if found[rid].kind is ResourceKind.INSTRUCTOR)
                    and (leads or not instructors) and (held_rooms or not rooms)):
                suited = sum(count for z, count in zones.items()
                             if all(learner_hours[z].holds(s, e) for s, e in spans))
                slots.append(Slot(spans[0][0], spans[-1][1], tuple(spans), leads, held_rooms, suited))
        start += step
    slots.sort(key=lambda slot: (-slot.learners_in_window, slot.starts_at))
    return SlotSearch(slots=slots[:first], total=len(slots))
