"""Seeded instances with a planted timetable: the tests' and bench/planning.py's problems.

Resources get hours on their own clocks in three time zones, time off and existing bookings; then each
session is planted where a qualified instructor and a suitable room are both free (one session per
instructor a day, so travel never binds the planted timetable), and its request's window is drawn around
it. Whatever the solver answers, the planted timetable proves the instance feasible.
"""
from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from ..instants import UTC
from ..working_hours import merged
from .problem import (
    IN_PERSON, VIRTUAL, Instructor, PartSpec, PlacedSession, Problem, Request, Room, Venue, Weights,
)
from .slots import local_instant

ZONES = ("Europe/London", "America/New_York", "Europe/Berlin")
QUALIFICATIONS = ("First Aid", "Forklift", "Fire Warden", "Manual Handling", "Food Hygiene")
FEATURES = ("projector", "kitchen", "yard")
SHAPES = (  # (parts, weight)
    ((PartSpec(120),), 3),
    ((PartSpec(180),), 3),
    ((PartSpec(420, 0, 9 * 60),), 2),
    ((PartSpec(420, 0, 9 * 60), PartSpec(420, 1, 9 * 60)), 2),
    ((PartSpec(360, 0, 9 * 60 + 30), PartSpec(360, 1, 9 * 60 + 30), PartSpec(360, 2, 9 * 60 + 30)), 1),
)


@dataclass
class Instance:
    problem: Problem
    planted: list[PlacedSession]


def _overlaps(busy: list[tuple[datetime, datetime]], a: datetime, b: datetime) -> bool:
    return any(s < b and a < e for s, e in busy)


def _inside(weekly, tz: str, a: datetime, b: datetime) -> bool:
    zone = ZoneInfo(tz)
    la, lb = a.astimezone(zone), b.astimezone(zone)
    if la.date() != lb.date():
        return False
    start, end = la.hour * 60 + la.minute, lb.hour * 60 + lb.minute
    return any(d == la.weekday() and s <= start and end <= e for d, s, e in weekly)


def generate(seed: int, sessions: int = 20, instructors: int = 6, rooms: int = 4, venues: int = 3,
             weeks: int = 3, start: date = date(2027, 3, 8), zones: tuple[str, ...] = ZONES,
             granularity: int = 60, busy_per_resource: int = 2) -> Instance:
    """An instance of `sessions` sessions whose planted timetable is feasible; the default start puts the
    US (14 March 2027) and EU (28 March 2027) daylight-saving changes inside a three-week window."""
    rng = random.Random(seed)
    horizon_from = datetime.combine(start, datetime.min.time(), UTC)
    horizon_to = horizon_from + timedelta(weeks=weeks)
    venue_list = [Venue(100 + v, f"Venue {v + 1}", zones[v % min(2, len(zones))]) for v in range(venues)]
    travel = {}
    for a in venue_list:
        for b in venue_list:
            if a.id < b.id:
                travel[(a.id, b.id)] = rng.choice((45, 60, 90, 120)) if a.timezone == b.timezone else 480
    room_list = []
    for r in range(rooms):
        venue = venue_list[r % venues]
        room_list.append(Room(
            id=200 + r, name=f"Room {r + 1}", timezone=venue.timezone,
            weekly=tuple((d, 8 * 60, 18 * 60) for d in range(5)), venue_id=venue.id,
            capacity=rng.choice((8, 12, 16, 24)), features=tuple(f for f in FEATURES if rng.random() < 0.4),
            cost_rate_minor=rng.choice((2000, 3500, 5000)), cost_unit="HOURLY"))
    people = []
    for i in range(instructors):
        tz = zones[i % len(zones)]
        quals = {}
        for q in QUALIFICATIONS:
            if rng.random() < 0.6:
                quals[q] = None if rng.random() < 0.5 else start + timedelta(days=rng.randint(3, 7 * weeks + 30))
        home = next((v.id for v in venue_list if v.timezone == tz), None)
        time_off = ()
        if rng.random() < 0.3:
            off = horizon_from + timedelta(days=rng.randint(0, 7 * weeks - 3))
            time_off = ((off, off + timedelta(days=rng.randint(1, 3))),)
        early = rng.choice((8 * 60, 9 * 60))
        people.append(Instructor(
            id=1 + i, name=f"Instructor {i + 1}", timezone=tz,
            weekly=tuple((d, early, early + 9 * 60) for d in range(5)), time_off=time_off,
            qualifications=quals, home_venue_id=home,
            cost_rate_minor=rng.choice((40000, 55000, 70000)), cost_unit="DAILY"))
    # existing bookings, then the planted sessions around them
    busy: dict[int, list] = {x.id: list(x.time_off) for x in people + room_list}
    with_busy = []
    for resource in people + room_list:
        own = []
        for _ in range(busy_per_resource):
            day = start + timedelta(days=rng.randint(0, 7 * weeks - 1))
            a = local_instant(day, rng.choice((10, 13, 15)) * 60, ZoneInfo(resource.timezone))
            b = a + timedelta(hours=1)
            own.append((a, b))
            busy[resource.id].append((a, b))
        with_busy.append((resource, tuple(own)))
    people = [_with(p, busy=b) for p, b in with_busy[:len(people)]]
    room_list = [_with(r, busy=b) for r, b in with_busy[len(people):]]
    taught_on: set[tuple[int, date]] = set()
    planted: list[PlacedSession] = []
    requests: list[Request] = []
    cohorts = [tuple(1000 + rng.randint(0, 40) for _ in range(4)) for _ in range(max(1, sessions // 8))]
    learner_busy: dict[int, list] = {learner: [] for c in cohorts for learner in c}
    learner_tz = {learner: rng.choice(zones) for c in cohorts for learner in c}
    shapes, weights = zip(*SHAPES)
    attempts = 0
    while len(planted) < sessions and attempts < sessions * 400:
        attempts += 1
        parts = rng.choices(shapes, weights)[0]
        virtual = rng.random() < 0.15
        day = start + timedelta(days=rng.randint(0, 7 * weeks - 1 - max(p.day for p in parts)))
        if any((day + timedelta(days=p.day)).weekday() >= 5 for p in parts):
            continue
        room = None if virtual else rng.choice(room_list)
        tz = rng.choice(zones) if virtual else room.timezone
        zone = ZoneInfo(tz)
        minute = parts[0].starts if parts[0].starts is not None else rng.randrange(8 * 60, 16 * 60, granularity)
        spans = []
        for p in parts:
            begin = p.starts if p.starts is not None else minute
            spans.append((local_instant(day + timedelta(days=p.day), begin, zone),
                          local_instant(day + timedelta(days=p.day), begin + p.minutes, zone)))
        if room is not None and not all(_inside(room.weekly, room.timezone, a, b) and
                                        not _overlaps(busy[room.id], a, b) for a, b in spans):
            continue
        options = [x for x in people if all(_inside(x.weekly, x.timezone, a, b) and not _overlaps(busy[x.id], a, b)
                                            and (x.id, a.astimezone(zone).date()) not in taught_on
                                            for a, b in spans)]
        if not options:
            continue
        teacher = rng.choice(options)
        last = spans[-1][0].astimezone(zone).date()
        held = [q for q, until in teacher.qualifications.items() if until is None or until >= last]
        required = tuple(sorted(rng.sample(held, min(len(held), rng.choice((0, 1, 1, 2))))))
        cohort = rng.choice(cohorts) if rng.random() < 0.3 else ()
        if any(_overlaps(learner_busy[learner], a, b) for learner in cohort for a, b in spans):
            continue
        capacity = rng.randint(4, room.capacity) if room is not None and room.capacity else rng.randint(4, 30)
        features = tuple(f for f in room.features if rng.random() < 0.5) if room is not None else ()
        for a, b in spans:
            busy[teacher.id].append((a, b))
            taught_on.add((teacher.id, a.astimezone(zone).date()))
            if room is not None:
                busy[room.id].append((a, b))
            for learner in cohort:
                learner_busy[learner].append((a, b))
        key = f"R{len(requests) + 1}"
        before, after = rng.randint(0, 6), rng.randint(1, 8)
        window_from = max(horizon_from, datetime.combine(day - timedelta(days=before), datetime.min.time(), UTC))
        window_to = min(horizon_to, datetime.combine(last + timedelta(days=after), datetime.min.time(), UTC))
        window_to = max(window_to, spans[-1][1] + timedelta(hours=12))
        allowed_venues = ()
        if room is not None and rng.random() < 0.5:
            others = [v.id for v in venue_list if v.timezone == room.timezone and v.id != room.venue_id]
            allowed_venues = tuple(sorted({room.venue_id, *rng.sample(others, min(len(others), 1))}))
        requests.append(Request(
            key=key, course_id=1 + len(requests) % 7, count=1, window_from=window_from, window_to=window_to,
            parts=parts, delivery_mode=VIRTUAL if virtual else IN_PERSON, capacity=capacity,
            venue_ids=allowed_venues, learner_ids=cohort, required_qualifications=required,
            required_features=features, timezone=tz,
            preferred_instructor_ids=(teacher.id,) if rng.random() < 0.2 else ()))
        planted.append(PlacedSession(key, 0, tz, tuple(spans), (teacher.id,), room.id if room else None, 0))
    problem = Problem(requests=requests, instructors=people, rooms=room_list,
                      venues={v.id: v for v in venue_list}, travel_minutes=travel, learner_timezones=learner_tz,
                      granularity_minutes=granularity, weights=Weights())
    return Instance(problem, planted)


def _with(resource, **changes):
    from dataclasses import replace
    return replace(resource, **changes)


def merged_busy(problem: Problem) -> dict[int, list]:
    return {x.id: merged(list(x.busy) + list(x.time_off)) for x in problem.instructors + problem.rooms}
