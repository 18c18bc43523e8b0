"""What the solver is given and what it answers, as plain data: no database, no ORM objects.

Instants are aware UTC datetimes; a part's times of day are minutes on a local wall clock (the session's
timezone: the venue's for an in-person session, the request's for a virtual one), turned into instants
day by day by `slots.py`, so 09:00 stays 09:00 across a daylight-saving change.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from ..working_hours import DayHours, Interval, Weekly

VIRTUAL = "VIRTUAL"
IN_PERSON = "IN_PERSON"
HYBRID = "HYBRID"
DELIVERY_MODES = (IN_PERSON, VIRTUAL, HYBRID)


@dataclass(frozen=True)
class PartSpec:
    """One part of a session: `day` days after the session's first day, starting at local minute `starts`
    (None: at the session's chosen start time, on the granularity's grid), lasting `minutes`."""

    minutes: int
    day: int = 0
    starts: int | None = None


@dataclass(frozen=True)
class Weights:
    """How much each term of the objective counts (0 turns it off); see README, "Auto-scheduling"."""

    cost: int = 1
    travel: int = 1
    spread: int = 1
    preferred: int = 1
    local_time: int = 1
    changes: int = 1     # re-planning: a changed instructor, room or time (minimal perturbation)


@dataclass(frozen=True)
class Current:
    """Where a session to re-plan is now: what minimal perturbation keeps if it can."""

    session_id: int
    parts: tuple[Interval, ...]
    instructor_ids: tuple[int, ...]
    room_id: int | None
    learners: int = 0          # enrolled learners, told when it moves


@dataclass(frozen=True)
class Request:
    """`count` sessions of a course, each with `parts`, somewhere in [window_from, window_to)."""

    key: str
    course_id: int
    count: int
    window_from: datetime
    window_to: datetime
    parts: tuple[PartSpec, ...]
    delivery_mode: str = IN_PERSON
    capacity: int = 1
    venue_ids: tuple[int, ...] = ()            # allowed venues; empty: any
    learner_ids: tuple[int, ...] = ()          # a cohort: never two of its sessions at once
    required_qualifications: tuple[str, ...] = ()
    qualification_label: str = ""              # for explanations, e.g. the course's title
    required_features: tuple[str, ...] = ()    # a room's features (equipment it holds)
    timezone: str = "UTC"                      # the wall clock of a virtual session
    preferred_instructor_ids: tuple[int, ...] = ()
    setup_minutes: int = 0
    teardown_minutes: int = 0
    title: str | None = None
    current: tuple[Current, ...] = ()          # re-planning: the sessions' present places, one per session

    @property
    def needs_room(self) -> bool:
        return self.delivery_mode != VIRTUAL


@dataclass(frozen=True)
class Resource:
    """An instructor or a room: its own clock, hours, time off and what it already holds."""

    id: int
    name: str
    timezone: str
    weekly: Weekly
    exceptions: dict[date, DayHours] = field(default_factory=dict)
    time_off: tuple[Interval, ...] = ()
    busy: tuple[Interval, ...] = ()            # existing bookings, buffers included
    busy_venues: tuple[int | None, ...] = ()   # instructors: the venue of each busy interval (travel), if known
    cost_rate_minor: int | None = None
    cost_unit: str | None = None               # HOURLY, DAILY (a day being up to 8 booked hours), PER_SESSION
    hours: tuple[Interval, ...] | None = None  # the hours already expanded to UTC (None: from weekly/exceptions)


@dataclass(frozen=True)
class Instructor(Resource):
    qualifications: dict[str, date | None] = field(default_factory=dict)   # name -> valid until (None: forever)
    home_venue_id: int | None = None


@dataclass(frozen=True)
class Room(Resource):
    venue_id: int | None = None
    capacity: int | None = None
    features: tuple[str, ...] = ()


@dataclass(frozen=True)
class Venue:
    id: int
    name: str
    timezone: str


@dataclass
class Problem:
    requests: list[Request]
    instructors: list[Instructor]
    rooms: list[Room]
    venues: dict[int, Venue] = field(default_factory=dict)
    travel_minutes: dict[tuple[int, int], int] = field(default_factory=dict)
    learner_timezones: dict[int, str] = field(default_factory=dict)
    learner_window: tuple[int, int] = (9 * 60, 17 * 60)     # local minutes that suit a learner
    granularity_minutes: int = 60
    weights: Weights = field(default_factory=Weights)

    def travel(self, a: int | None, b: int | None) -> int:
        if a is None or b is None or a == b:
            return 0
        return self.travel_minutes.get((a, b), self.travel_minutes.get((b, a), 0))


# --- answers ----------------------------------------------------------------------------

OPTIMAL, FEASIBLE, INFEASIBLE, UNKNOWN = "OPTIMAL", "FEASIBLE", "INFEASIBLE", "UNKNOWN"


@dataclass(frozen=True)
class PlacedSession:
    request: str
    index: int                                 # which of the request's sessions, from 0
    timezone: str
    parts: tuple[Interval, ...]
    instructor_ids: tuple[int, ...]
    room_id: int | None
    cost_minor: int
    session_id: int | None = None              # re-planning: the session this moves or re-staffs

    @property
    def starts_at(self) -> datetime:
        return self.parts[0][0]

    @property
    def ends_at(self) -> datetime:
        return self.parts[-1][1]


@dataclass(frozen=True)
class Unplaced:
    request: str
    index: int | None                          # None: every session of the request
    reason: str


def relative_gap(objective: float | None, bound: float | None) -> float | None:
    """How far a solution may be from the best: (objective - bound) / objective; 0 when the objective is 0;
    None without both."""
    if objective is None or bound is None:
        return None
    if abs(objective) < 1e-9:
        return 0.0
    return max(0.0, (objective - bound) / abs(objective))


@dataclass
class Solution:
    status: str
    sessions: list[PlacedSession]
    unplaced: list[Unplaced]
    objective: float | None = None
    bound: float | None = None
    solve_seconds: float = 0.0
    first_feasible_seconds: float | None = None
    complete_seconds: float | None = None      # the first timetable placing every session modelled

    @property
    def gap(self) -> float | None:
        return relative_gap(self.objective, self.bound)


@dataclass(frozen=True)
class Progress:
    """What a solve has found so far: for progress bars and cancellation checks."""

    seconds: float
    objective: float | None
    bound: float | None
    solutions: int
