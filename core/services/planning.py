"""Auto-scheduling (issue 16): load plain data for the solver (core/planning/), keep its plans, apply them.

A proposal or a re-plan is read in one read, solved off the event loop (`solve_off_loop`, a worker
thread: CP-SAT releases the interpreter while it searches), and stored as a SchedulePlan that costs
nothing until applied. Applying goes through `scheduling.schedule_session` (or `reassign_session` for a
re-plan) for every session, under the usual locks, in one transaction: all of them, or none and the
conflicts listed.
"""
from __future__ import annotations

import asyncio
import threading
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from .. import limits, working_hours
from ..audit import Actor, record_change
from ..errors import DomainError, ErrorCode
from ..instants import require_aware, require_range, utc_now
from ..models import (
    Booking, BookingRole, Course, Enrollment, EnrollmentStatus, Person, Resource, ResourceKind, SchedulePlan,
    Session, SessionPart, SessionStatus, Venue,
)
from ..planning import problem as plain
from ..planning.problem import Current, PartSpec, Problem, Progress, Request, Solution, Weights
from ..planning.solve import solve
from ..settings import Settings
from . import scheduling, travel
from .availability import calendars
from .records import get_or_404

MAX_SESSIONS = 2_000
"""Sessions one proposal may ask for, all requests together."""
MAX_REQUESTS = 500
MAX_WINDOW_DAYS = 366
MAX_PARTS = 14
MAX_PART_DAY = 56
DEFAULT_TIME_LIMIT = 10.0
REPLAN_SLACK_DAYS = 14
"""How far past the re-planned span an affected session may move."""
PROPOSAL, REPLAN = "PROPOSAL", "REPLAN"


# --- input -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class PartInput:
    """A part: `starts_at`/`ends_at` ("09:00"/"17:00") on fixed local times, or `duration_minutes` at the
    start the solver chooses; `day`: days after the session's first day."""

    day: int = 0
    starts_at: str | None = None
    ends_at: str | None = None
    duration_minutes: int | None = None


@dataclass(frozen=True)
class RequestInput:
    course_id: int
    count: int
    window_from: datetime
    window_to: datetime
    delivery_mode: str = plain.IN_PERSON
    capacity: int | None = None
    parts: Sequence[PartInput] | None = None
    venue_ids: Sequence[int] = ()
    learner_ids: Sequence[int] = ()
    timezone: str | None = None
    preferred_instructor_ids: Sequence[int] = ()
    room_features: Sequence[str] = ()
    setup_minutes: int = 0
    teardown_minutes: int = 0
    title: str | None = None


@dataclass(frozen=True)
class ProposeInput:
    requests: Sequence[RequestInput]
    weights: Weights = field(default_factory=Weights)
    time_limit_seconds: float | None = None
    fix_existing: bool = True
    granularity_minutes: int = 60


def time_limit(value: float | None, settings: Settings, field_name: str = "timeLimitSeconds") -> float:
    cap = settings.solver_max_seconds
    if value is None:
        return min(DEFAULT_TIME_LIMIT, cap)
    if not value > 0 or value > cap:
        raise DomainError(ErrorCode.INVALID, f"timeLimitSeconds is above 0 and at most {cap:g} "
                                             "(PODIUM_SOLVER_MAX_SECONDS).", field_name)
    return float(value)


def _weights(weights: Weights) -> Weights:
    for name in ("cost", "travel", "spread", "preferred", "local_time"):
        value = getattr(weights, name)
        if not 0 <= value <= 1000:
            raise DomainError(ErrorCode.INVALID, "Each objective weight is between 0 and 1000.",
                              f"objective.{ {'preferred': 'preferredInstructors', 'local_time': 'learnerLocalTime'}.get(name, name)}")
    return weights


def _parts(given: Sequence[PartInput] | None, course: Course, field_name: str) -> tuple[PartSpec, ...]:
    if given is None:
        return (PartSpec(course.duration_minutes),)
    given = limits.items(given, field_name, MAX_PARTS)
    if not given:
        raise DomainError(ErrorCode.INVALID, "A session has at least one part.", field_name)
    specs = []
    for index, part in enumerate(given):
        where = f"{field_name}.{index}"
        if not 0 <= part.day <= MAX_PART_DAY:
            raise DomainError(ErrorCode.INVALID, f"day is between 0 and {MAX_PART_DAY}.", f"{where}.day")
        if part.starts_at is not None or part.ends_at is not None:
            if part.starts_at is None or part.ends_at is None or part.duration_minutes is not None:
                raise DomainError(ErrorCode.INVALID, "Give startsAt and endsAt, or durationMinutes.", where)
            start = working_hours.minute_of(part.starts_at, f"{where}.startsAt")
            end = working_hours.minute_of(part.ends_at, f"{where}.endsAt")
            if end <= start:
                raise DomainError(ErrorCode.INVALID, "A part ends after it starts.", f"{where}.endsAt")
            specs.append(PartSpec(end - start, part.day, start))
        else:
            minutes = part.duration_minutes if part.duration_minutes is not None else course.duration_minutes
            if not 5 <= minutes <= 24 * 60:
                raise DomainError(ErrorCode.INVALID, "durationMinutes is between 5 and 1440.",
                                  f"{where}.durationMinutes")
            specs.append(PartSpec(minutes, part.day))
    if [s.day for s in specs] != sorted(s.day for s in specs):
        raise DomainError(ErrorCode.INVALID, "Parts are listed in day order.", field_name)
    if specs[0].day != 0:
        raise DomainError(ErrorCode.INVALID, "The first part is on day 0.", f"{field_name}.0.day")
    if specs[0].starts is None and any(s.starts is not None for s in specs[1:]):
        raise DomainError(ErrorCode.INVALID, "When the first part's start is chosen, every part's is.", field_name)
    return tuple(specs)


def check_input(given: ProposeInput, settings: Settings) -> float:
    """The bounds of a proposal (before any read): sessions, windows, time limit; returns the time limit."""
    if not given.fix_existing:
        raise DomainError(ErrorCode.INVALID, "Only fixExisting: true is supported: existing sessions stay where "
                                             "they are (use replan to move them).", "fixExisting")
    requests = limits.items(given.requests, "requests", MAX_REQUESTS)
    if not requests:
        raise DomainError(ErrorCode.INVALID, "Give at least one request.", "requests")
    total = 0
    for index, request in enumerate(requests):
        if not 1 <= request.count <= MAX_SESSIONS:
            raise DomainError(ErrorCode.INVALID, f"count is between 1 and {MAX_SESSIONS}.",
                              f"requests.{index}.count")
        total += request.count
        window_from = require_aware(request.window_from, f"requests.{index}.window.from")
        window_to = require_aware(request.window_to, f"requests.{index}.window.to")
        if window_to <= window_from:
            raise DomainError(ErrorCode.INVALID_TIME_RANGE, "The window ends after it starts.",
                              f"requests.{index}.window.to")
        if window_to - window_from > timedelta(days=MAX_WINDOW_DAYS):
            raise DomainError(ErrorCode.INVALID, f"A request's window is at most {MAX_WINDOW_DAYS} days.",
                              f"requests.{index}.window.to")
        if request.delivery_mode not in plain.DELIVERY_MODES:
            raise DomainError(ErrorCode.INVALID, "deliveryMode is IN_PERSON, VIRTUAL or HYBRID.",
                              f"requests.{index}.deliveryMode")
        if request.capacity is not None and request.capacity < 1:
            raise DomainError(ErrorCode.INVALID, "capacity must be at least 1.", f"requests.{index}.capacity")
        for value, name in ((request.setup_minutes, "setupMinutes"), (request.teardown_minutes, "teardownMinutes")):
            if not 0 <= value <= scheduling.MAX_BUFFER_MINUTES:
                raise DomainError(ErrorCode.INVALID, f"{name} is between 0 and {scheduling.MAX_BUFFER_MINUTES}.",
                                  f"requests.{index}.{name}")
    if total > MAX_SESSIONS:
        raise DomainError(ErrorCode.INVALID, f"A proposal places at most {MAX_SESSIONS} sessions; these requests "
                                             f"ask for {total}. Propose in several steps.", "requests")
    limits.bounded(given.granularity_minutes, "granularityMinutes", 5, 24 * 60)
    _weights(given.weights)
    return time_limit(given.time_limit_seconds, settings)


# --- reading the world as plain data --------------------------------------------------------------

async def load_travel_minutes(db: AsyncSession, venue_ids: list[int]) -> dict[tuple[int, int], int]:
    """Minutes of travel between venues, (a, b) -> minutes, as rule 2b (services/travel.py) counts them."""
    return await travel.load_travel_minutes(db, venue_ids)


@dataclass
class World:
    """What a plan's problem was built from, for the answer: courses and the request each key names."""

    problem: Problem
    courses: dict[int, Course]
    meta: dict[str, dict[str, Any]]          # request key -> what applying needs


async def _resources(db: AsyncSession) -> tuple[list[Resource], list[Resource]]:
    rows = (await db.scalars(select(Resource).where(Resource.kind.in_((ResourceKind.INSTRUCTOR, ResourceKind.ROOM)))
                             .options(selectinload(Resource.qualifications)).order_by(Resource.id))).all()
    return ([r for r in rows if r.kind is ResourceKind.INSTRUCTOR], [r for r in rows if r.kind is ResourceKind.ROOM])


async def _busy(db: AsyncSession, ids: list[int], starts_at: datetime, ends_at: datetime,
                leave_out: dict[int, set[int]] | None = None) -> dict[int, list[tuple[datetime, datetime, int | None]]]:
    """Active bookings per resource overlapping the horizon, each with the venue of its session's room (for
    travel); `leave_out`: session -> resources whose bookings of it are not counted (re-planned)."""
    rows = (await db.execute(select(Booking.resource_id, Booking.starts_at, Booking.ends_at, Booking.session_id).where(
        Booking.resource_id.in_(ids), Booking.active, Booking.starts_at < ends_at, Booking.ends_at > starts_at)
        .order_by(Booking.resource_id, Booking.starts_at))).all() if ids else []
    sessions = sorted({r.session_id for r in rows if r.session_id is not None})
    venue_of: dict[int, int | None] = {}
    for chunk in range(0, len(sessions), 5000):
        venue_of.update({sid: venue for sid, venue in (await db.execute(
            select(Booking.session_id, Resource.venue_id).join(Resource, Resource.id == Booking.resource_id).where(
                Booking.session_id.in_(sessions[chunk:chunk + 5000]), Booking.role == BookingRole.ROOM,
                Booking.active))).all()})
    busy: dict[int, list] = defaultdict(list)
    for row in rows:
        if leave_out and row.session_id in leave_out and row.resource_id in leave_out[row.session_id]:
            continue
        busy[row.resource_id].append((row.starts_at, row.ends_at, venue_of.get(row.session_id)))
    return busy


async def _plain_resources(db: AsyncSession, starts_at: datetime, ends_at: datetime,
                           time_off: dict[int, list] | None = None, leave_out: dict[int, set[int]] | None = None
                           ) -> tuple[list[plain.Instructor], list[plain.Room], dict[int, Venue]]:
    instructors, rooms = await _resources(db)
    everyone = instructors + rooms
    found = await calendars(db, everyone, starts_at, ends_at)
    busy = await _busy(db, [r.id for r in everyone], starts_at, ends_at, leave_out)
    venues = {v.id: v for v in (await db.scalars(select(Venue))).all()}
    extra = time_off or {}

    def common(r: Resource) -> dict[str, Any]:
        held = busy.get(r.id, [])
        return {"id": r.id, "name": r.name, "timezone": r.timezone,
                "weekly": working_hours.weekly_of(r.kind, r.weekly_hours), "hours": tuple(found[r.id].hours),
                "time_off": tuple(found[r.id].time_off) + tuple(extra.get(r.id, ())),
                "busy": tuple((a, b) for a, b, _ in held), "busy_venues": tuple(v for _, _, v in held),
                "cost_rate_minor": r.cost_rate_minor, "cost_unit": r.cost_rate_unit.value if r.cost_rate_unit else None}

    return ([plain.Instructor(**common(r), qualifications={q.name: q.valid_until for q in r.qualifications},
                              home_venue_id=r.venue_id) for r in instructors],
            [plain.Room(**common(r), venue_id=r.venue_id, capacity=r.capacity, features=tuple(r.features or ()))
             for r in rooms], venues)


async def _learner_timezones(db: AsyncSession, ids: set[int]) -> dict[int, str]:
    found = {pid: tz for pid, tz in (await db.execute(select(Person.id, Person.timezone).where(
        Person.id.in_(ids)))).all()} if ids else {}
    if len(found) != len(ids):
        raise DomainError(ErrorCode.NOT_FOUND, "A learnerId names no person.", "requests")
    return found


async def load_proposal(db: AsyncSession, given: ProposeInput) -> World:
    """The problem of a proposal: its requests with their courses, and every instructor and room with
    their hours, time off and bookings over the requests' windows (existing sessions are fixed)."""
    course_ids = sorted({r.course_id for r in given.requests})
    courses = {c.id: c for c in (await db.scalars(select(Course).where(Course.id.in_(course_ids)))).all()}
    requests, meta = [], {}
    learners: set[int] = set()
    known_venues = set((await db.scalars(select(Venue.id))).all())
    for index, r in enumerate(given.requests):
        course = courses.get(r.course_id)
        if course is None:
            raise DomainError(ErrorCode.NOT_FOUND, "No course with that id.", f"requests.{index}.courseId")
        for v in r.venue_ids:
            if v not in known_venues:
                raise DomainError(ErrorCode.NOT_FOUND, f"No venue with id {v}.", f"requests.{index}.venueIds")
        tz = limits.timezone(r.timezone or "UTC", f"requests.{index}.timezone")
        learner_ids = tuple(dict.fromkeys(limits.items(r.learner_ids, f"requests.{index}.learnerIds", limits.COHORT)))
        learners.update(learner_ids)
        capacity = r.capacity if r.capacity is not None else course.default_capacity
        key = str(index)
        requests.append(Request(
            key=key, course_id=course.id, count=r.count, window_from=r.window_from, window_to=r.window_to,
            parts=_parts(r.parts, course, f"requests.{index}.parts"), delivery_mode=r.delivery_mode,
            capacity=capacity, venue_ids=tuple(r.venue_ids), learner_ids=learner_ids,
            required_qualifications=tuple(course.required_qualifications or ()), qualification_label=course.title,
            required_features=tuple(limits.items(r.room_features, f"requests.{index}.roomFeatures")), timezone=tz,
            preferred_instructor_ids=tuple(r.preferred_instructor_ids), setup_minutes=r.setup_minutes,
            teardown_minutes=r.teardown_minutes, title=limits.text(r.title, f"requests.{index}.title", required=False)))
        meta[key] = {"course_id": course.id, "title": requests[-1].title, "delivery_mode": r.delivery_mode,
                     "capacity": capacity, "setup_minutes": r.setup_minutes, "teardown_minutes": r.teardown_minutes}
    starts_at = min(r.window_from for r in requests) - timedelta(days=1)
    ends_at = max(r.window_to for r in requests) + timedelta(days=1)
    instructors, rooms, venues = await _plain_resources(db, starts_at, ends_at)
    problem = Problem(requests=requests, instructors=instructors, rooms=rooms,
                      venues={v.id: plain.Venue(v.id, v.name, v.timezone) for v in venues.values()},
                      travel_minutes=await load_travel_minutes(db, sorted(venues)),
                      learner_timezones=await _learner_timezones(db, learners),
                      granularity_minutes=given.granularity_minutes, weights=given.weights)
    return World(problem, courses, meta)


# --- re-planning ------------------------------------------------------------------------------------

def _local_spec(parts: list[tuple[datetime, datetime]], tz: str) -> tuple[PartSpec, ...]:
    zone = ZoneInfo(tz)
    first = parts[0][0].astimezone(zone).date()
    specs = []
    for start, end in parts:
        a, b = start.astimezone(zone), end.astimezone(zone)
        minute = a.hour * 60 + a.minute
        length = int((b.replace(tzinfo=None) - a.replace(tzinfo=None)).total_seconds() // 60)
        specs.append(PartSpec(length, (a.date() - first).days, minute))
    return tuple(specs)


async def load_replan(db: AsyncSession, resource_id: int, from_: datetime, to: datetime) -> World:
    """The problem of re-planning the sessions a resource holds in [from, to) while it is away: each is a
    request of one session that may keep its place, change instructor or room, or move (up to
    REPLAN_SLACK_DAYS after `to`, on its own wall clock); every other session stays fixed. The objective
    counts changed assignments, and a move by the learners it moves."""
    from_, to = require_range(from_, to, "from", "to")
    if to - from_ > timedelta(days=MAX_WINDOW_DAYS):
        raise DomainError(ErrorCode.INVALID, f"A re-plan covers at most {MAX_WINDOW_DAYS} days.", "to")
    away = await get_or_404(db, Resource, resource_id, "resourceId")
    if away.kind not in (ResourceKind.INSTRUCTOR, ResourceKind.ROOM):
        raise DomainError(ErrorCode.INVALID, "Re-plan around an instructor or a room.", "resourceId")
    now = utc_now()
    session_ids = sorted(set((await db.scalars(select(Booking.session_id).join(Session, Session.id == Booking.session_id)
                                               .where(Booking.resource_id == away.id, Booking.active,
                                                      Booking.starts_at < to, Booking.ends_at > from_,
                                                      Session.status == SessionStatus.SCHEDULED,
                                                      Session.starts_at > now))).all()))
    sessions = {s.id: s for s in (await db.scalars(select(Session).where(Session.id.in_(session_ids)))).all()}
    parts: dict[int, list] = defaultdict(list)
    for row in (await db.scalars(select(SessionPart).where(SessionPart.session_id.in_(session_ids))
                                 .order_by(SessionPart.session_id, SessionPart.position))).all():
        parts[row.session_id].append((row.starts_at, row.ends_at))
    bookings: dict[int, list[Booking]] = defaultdict(list)
    for b in (await db.scalars(select(Booking).where(Booking.session_id.in_(session_ids), Booking.active)
                               .order_by(Booking.id))).all():
        bookings[b.session_id].append(b)
    learners = {sid: n for sid, n in (await db.execute(select(Enrollment.session_id, func.count(Enrollment.id)).where(
        Enrollment.session_id.in_(session_ids), Enrollment.status.in_((EnrollmentStatus.ENROLLED,
                                                                       EnrollmentStatus.WAITLISTED)))
        .group_by(Enrollment.session_id))).all()}
    course_ids = sorted({s.course_id for s in sessions.values()})
    courses = {c.id: c for c in (await db.scalars(select(Course).where(Course.id.in_(course_ids)))).all()}
    room_ids = {b.resource_id for bs in bookings.values() for b in bs if b.role is BookingRole.ROOM}
    room_venue = {r.id: r.venue_id for r in (await db.scalars(select(Resource).where(Resource.id.in_(room_ids)))).all()}
    requests, meta, leave_out = [], {}, {}
    for sid in session_ids:
        session = sessions[sid]
        teachers = list(dict.fromkeys(b.resource_id for b in bookings[sid]
                                      if b.role in (BookingRole.LEAD_INSTRUCTOR, BookingRole.CO_FACILITATOR)))
        room = next((b.resource_id for b in bookings[sid] if b.role is BookingRole.ROOM), None)
        modelled = away.id if away.id in teachers else (teachers[0] if teachers else None)
        leave_out[sid] = {x for x in (modelled, room) if x is not None}
        spans = parts[sid]
        fixed_time = len(teachers) > 1      # co-facilitators stay: only the one away is replaced, at the same time
        course = courses[session.course_id]
        key = f"S{sid}"
        window_from = max(now, min(from_, spans[0][0]))
        window_to = spans[-1][1] if fixed_time else max(to, spans[-1][1]) + timedelta(days=REPLAN_SLACK_DAYS)
        if fixed_time:
            window_from = spans[0][0]
        venue = room_venue.get(room) if room is not None else None
        requests.append(Request(
            key=key, course_id=course.id, count=1, window_from=window_from, window_to=window_to,
            parts=_local_spec(spans, session.timezone), delivery_mode=session.delivery_mode.value,
            capacity=session.capacity,
            venue_ids=(venue,) if venue is not None and away.kind is ResourceKind.INSTRUCTOR else (),
            required_qualifications=tuple(course.required_qualifications or ()), qualification_label=course.title,
            timezone=session.timezone, setup_minutes=session.setup_minutes, teardown_minutes=session.teardown_minutes,
            title=session.title,
            current=(Current(sid, tuple(spans), (modelled,) if modelled is not None else (), room,
                             learners.get(sid, 0)),)))
        meta[key] = {"course_id": course.id, "title": session.title, "delivery_mode": session.delivery_mode.value,
                     "capacity": session.capacity, "setup_minutes": session.setup_minutes,
                     "teardown_minutes": session.teardown_minutes, "session_id": sid, "instructors": teachers,
                     "replaced": modelled, "learners": learners.get(sid, 0)}
    if not requests:
        return World(Problem([], [], []), courses, meta)
    starts_at = min(r.window_from for r in requests) - timedelta(days=1)
    ends_at = max(r.window_to for r in requests) + timedelta(days=1)
    instructors, rooms, venues = await _plain_resources(db, starts_at, ends_at, {away.id: [(from_, to)]}, leave_out)
    problem = Problem(requests=requests, instructors=instructors, rooms=rooms,
                      venues={v.id: plain.Venue(v.id, v.name, v.timezone) for v in venues.values()},
                      travel_minutes=await load_travel_minutes(db, sorted(venues)),
                      weights=Weights(cost=0, travel=0, spread=0, preferred=0, local_time=0, changes=1))
    return World(problem, courses, meta)


# --- solving off the event loop ---------------------------------------------------------------------

_running = 0
_running_lock = threading.Lock()


def _take_slot(limit: int) -> bool:
    global _running
    with _running_lock:
        if _running >= max(1, limit):
            return False
        _running += 1
        return True


def _give_slot() -> None:
    global _running
    with _running_lock:
        _running -= 1


def running_solves() -> int:
    """Solves running in this process now (at most PODIUM_SOLVER_CONCURRENCY)."""
    return _running


def busy_solution(problem: Problem, limit: int, seconds: float) -> Solution:
    reason = (f"the solver was busy for the whole time limit ({seconds:g} s): {limit} solve(s) at a time run in "
              "this process (PODIUM_SOLVER_CONCURRENCY); propose again in a moment")
    return Solution(plain.UNKNOWN, [], [plain.Unplaced(r.key, None, reason) for r in problem.requests],
                    solve_seconds=seconds)


async def solve_off_loop(problem: Problem, seconds: float, *, cancel: threading.Event | None = None,
                         on_progress: Callable[[Progress], None] | None = None,
                         is_gone: Callable[[], Any] | None = None, concurrency: int = 1) -> Solution:
    """`solve` in a worker thread: the event loop goes on serving other requests. The solve stops when
    `cancel` is set, when `is_gone()` (awaited every quarter second) says the client left, or when this
    coroutine is cancelled.

    At most `concurrency` solves run at once in a process (each uses up to 8 threads): the others wait
    for a slot, and the wait counts against their time limit (an answer is due within it); one that gets
    no slot within it answers UNKNOWN, every request unplaced with the reason."""
    cancel = cancel or threading.Event()
    started = asyncio.get_running_loop().time()
    waited = 0.0
    while not _take_slot(concurrency):
        waited = asyncio.get_running_loop().time() - started
        if waited >= seconds - MIN_SOLVE_SECONDS or cancel.is_set():
            return busy_solution(problem, concurrency, seconds)
        if is_gone is not None and await is_gone():
            return busy_solution(problem, concurrency, seconds)
        await asyncio.sleep(0.05)
    try:
        task = asyncio.ensure_future(asyncio.to_thread(solve, problem, time_limit=seconds - waited, cancel=cancel,
                                                       on_progress=on_progress))
        try:
            while True:
                done, _ = await asyncio.wait({task}, timeout=0.25)
                if done:
                    return task.result()
                if is_gone is not None and await is_gone():
                    cancel.set()
        except BaseException:
            cancel.set()
            try:   # the slot is free only once the solver thread has stopped
                await asyncio.shield(task)
            except BaseException:  # noqa: BLE001 - its answer is not wanted any more
                pass
            raise
    finally:
        _give_slot()


MIN_SOLVE_SECONDS = 1.0
"""A solve that waited for a slot runs at least this long, or not at all."""


# --- plans ----------------------------------------------------------------------------------------------

def _plan_sessions(world: World, solution: Solution) -> list[dict[str, Any]]:
    rows = []
    for placed in solution.sessions:
        info = world.meta[placed.request]
        instructors = list(placed.instructor_ids)
        if info.get("session_id") is not None:      # re-plan: the one away is replaced, co-facilitators stay
            instructors = [placed.instructor_ids[0] if i == info["replaced"] else i for i in info["instructors"]] \
                or list(placed.instructor_ids)
        rows.append({"request": placed.request, "index": placed.index, "course_id": info["course_id"],
                     "title": info["title"], "timezone": placed.timezone, "delivery_mode": info["delivery_mode"],
                     "capacity": info["capacity"], "setup_minutes": info["setup_minutes"],
                     "teardown_minutes": info["teardown_minutes"],
                     "parts": [[a.isoformat(), b.isoformat()] for a, b in placed.parts],
                     "instructor_ids": instructors, "room_id": placed.room_id, "cost_minor": placed.cost_minor,
                     "session_id": info.get("session_id")})
    return rows


async def store_plan(db: AsyncSession, actor: Actor, kind: str, world: World, solution: Solution,
                     settings: Settings, reason: str | None = None) -> SchedulePlan:
    """Keep a solve's answer as a plan, to apply until PODIUM_PLAN_TTL_HOURS have passed."""
    now = utc_now()
    plan = SchedulePlan(
        kind=kind, status=solution.status, objective=solution.objective, bound=solution.bound,
        solve_seconds=round(solution.solve_seconds, 3), sessions=_plan_sessions(world, solution),
        unplaced=[{"request": u.request, "index": u.index, "course_id": world.meta[u.request]["course_id"],
                   "session_id": world.meta[u.request].get("session_id"), "reason": u.reason}
                  for u in solution.unplaced],
        requests=[{"key": r.key, "course_id": r.course_id, "count": r.count} for r in world.problem.requests],
        reason=reason, created_by=actor.label, created_at=now,
        expires_at=now + timedelta(hours=settings.plan_ttl_hours))
    db.add(plan)
    await db.flush()
    record_change(db, actor, "schedule_plan.propose" if kind == PROPOSAL else "schedule_plan.replan",
                  "SchedulePlan", plan.id, None, {"status": plan.status, "sessions": len(plan.sessions),
                                                  "unplaced": len(plan.unplaced), "reason": reason})
    return plan


def is_changed(row: dict[str, Any], current: dict[str, Any]) -> bool:
    return (row["parts"] != current["parts"] or row["instructor_ids"] != current["instructor_ids"]
            or row["room_id"] != current["room_id"])


@dataclass
class PlanProblem:
    """One session of a plan that no longer fits: its number in the plan (from 1) and why."""

    number: int
    error: DomainError


class PlanConflicts(DomainError):
    """Applying found sessions that no longer fit: nothing was created or changed."""

    def __init__(self, problems: list[PlanProblem]) -> None:
        super().__init__(ErrorCode.RESOURCE_CONFLICT,
                         f"{len(problems)} of the plan's sessions no longer fit (the world changed since it was "
                         "proposed): nothing was created or changed; propose again.", "planId",
                         [c for p in problems for c in p.error.conflicts])
        self.problems = problems


async def apply_plan(db: AsyncSession, actor: Actor, plan_id: int, settings: Settings) -> tuple[SchedulePlan, list[int]]:
    """Create (or, for a re-plan, change) every session of the plan through the scheduling rules, under
    their locks, in this one transaction; any that no longer fits refuses all of them (PlanConflicts)."""
    plan = await get_or_404(db, SchedulePlan, plan_id, "planId", lock=True)
    if plan.applied_at is not None:
        raise DomainError(ErrorCode.INVALID, f"The plan was applied at {plan.applied_at.isoformat()}; it is "
                                             "applied once.", "planId")
    if plan.expires_at <= utc_now():
        raise DomainError(ErrorCode.NOT_FOUND, f"The plan expired at {plan.expires_at.isoformat()} "
                                               "(PODIUM_PLAN_TTL_HOURS); propose again.", "planId")
    if plan.status in (plain.INFEASIBLE, plain.UNKNOWN) or (not plan.sessions and plan.kind == PROPOSAL):
        raise DomainError(ErrorCode.INVALID, "The plan places no session: there is nothing to apply.", "planId")
    problems: list[PlanProblem] = []
    made: list[int] = []
    for number, row in enumerate(plan.sessions, start=1):
        parts = [(datetime.fromisoformat(a), datetime.fromisoformat(b)) for a, b in row["parts"]]
        try:
            async with db.begin_nested():
                if row.get("session_id") is not None:
                    session = await scheduling.reassign_session(
                        db, actor, row["session_id"], parts=parts, instructor_ids=row["instructor_ids"],
                        room_id=row["room_id"], settings=settings)
                else:
                    session = await scheduling.schedule_session(
                        db, actor, course_id=row["course_id"], starts_at=parts[0][0], ends_at=parts[-1][1],
                        timezone=row["timezone"], delivery_mode=row["delivery_mode"],
                        instructor_ids=row["instructor_ids"], capacity=row["capacity"], room_id=row["room_id"],
                        title=row["title"], setup_minutes=row["setup_minutes"],
                        teardown_minutes=row["teardown_minutes"], settings=settings, parts=parts)
                made.append(session.id)
        except DomainError as error:
            problems.append(PlanProblem(number, error))
    if problems:
        raise PlanConflicts(problems)
    plan.applied_at = utc_now()
    plan.applied_session_ids = made
    record_change(db, actor, "schedule_plan.apply", "SchedulePlan", plan.id, None, {"sessions": made})
    return plan, made


# --- the same input as JSON (`podium plan FILE.json`) -------------------------------------------------

def _json_id(value: Any, type_name: str, field_name: str) -> int:
    """An id in a plan file: the API's global ID, or the plain database id."""
    from ..ids import from_global_id

    if isinstance(value, int) and not isinstance(value, bool):
        return value
    decoded = from_global_id(value) if isinstance(value, str) else None
    if decoded is None or decoded[0] != type_name:
        raise DomainError(ErrorCode.NOT_FOUND, f"{value!r} is not the ID of a {type_name.lower()}.", field_name)
    return decoded[1]


def propose_input_from_json(data: Any) -> ProposeInput:
    """proposeSchedule's `input` as JSON (the API's field names; ids global or plain) as the service takes it."""
    if not isinstance(data, dict) or not isinstance(data.get("requests"), list):
        raise DomainError(ErrorCode.INVALID, "A plan file is a JSON object with a list of requests, as "
                                             "proposeSchedule's input.", "requests")
    requests = []
    for index, r in enumerate(data["requests"]):
        where = f"requests.{index}"
        try:
            window = r["window"]
            window_from = datetime.fromisoformat(window["from"])
            window_to = datetime.fromisoformat(window["to"])
            parts = None if r.get("parts") is None else [
                PartInput(p.get("day", 0), p.get("startsAt"), p.get("endsAt"), p.get("durationMinutes"))
                for p in r["parts"]]
            requests.append(RequestInput(
                course_id=_json_id(r["courseId"], "Course", f"{where}.courseId"), count=int(r["count"]),
                window_from=window_from, window_to=window_to, delivery_mode=r.get("deliveryMode", plain.IN_PERSON),
                capacity=r.get("capacity"), parts=parts,
                venue_ids=tuple(_json_id(v, "Venue", f"{where}.venueIds") for v in r.get("venueIds") or ()),
                learner_ids=tuple(_json_id(v, "Person", f"{where}.learnerIds") for v in r.get("learnerIds") or ()),
                timezone=r.get("timezone"),
                preferred_instructor_ids=tuple(_json_id(v, "Resource", f"{where}.preferredInstructorIds")
                                               for v in r.get("preferredInstructorIds") or ()),
                room_features=tuple(r.get("roomFeatures") or ()), setup_minutes=r.get("setupMinutes") or 0,
                teardown_minutes=r.get("teardownMinutes") or 0, title=r.get("title")))
        except (KeyError, TypeError, ValueError, AttributeError) as error:
            raise DomainError(ErrorCode.INVALID, f"Request {index} is malformed ({error!s}).", where) from None
    o = data.get("objective") or {}
    weights = Weights(cost=o.get("cost", 1), travel=o.get("travel", 1), spread=o.get("spread", 1),
                      preferred=o.get("preferredInstructors", 1), local_time=o.get("learnerLocalTime", 1))
    return ProposeInput(requests=requests, weights=weights, time_limit_seconds=data.get("timeLimitSeconds"),
                        fix_existing=data.get("fixExisting", True),
                        granularity_minutes=data.get("granularityMinutes") or 60)
