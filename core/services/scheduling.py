"""Scheduling: sessions and the bookings of instructors, rooms and equipment.

Rule 2 (no double booking) and rule 4 (qualifications) live here; rule 2b's (travel between venues)
`travel.travel_clashes`, called from `check_parts` with rule 2's; rule 1's room check is
`capacity.check_room_capacity`, rule 8's (working hours, time off) `availability.check_availability`, the
locks are in `locks`.
"""
from __future__ import annotations

from collections.abc import AsyncIterator, Collection
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from .. import limits
from ..audit import Actor, record_change
from ..errors import Clash, DomainError, ErrorCode
from ..events import emit
from ..ids import to_global_id
from ..instants import local_date, local_shift_spans, require_aware, require_range, utc_now, wall_clock_gap
from ..models import (
    AttendanceStatus, Booking, BookingRole, Course, DeliveryMode, PartAttendance, Resource, ResourceKind, Session,
    SessionPart, SessionStatus,
)
from ..settings import Settings
from . import availability, meetings, travel
from .capacity import check_room_capacity
from .conferencing import session_conferencing
from .locks import lock_resources, lock_session, session_ordering_key
from .program_calendar import follow_reschedule
from .records import get_or_404, snapshot

MAX_BUFFER_MINUTES = 24 * 60


PartSpan = tuple[datetime, datetime]
"""A part's interval [starts_at, ends_at), aware UTC."""


def session_event_payload(session: Session, parts: list[SessionPart] | None = None, **extra: Any) -> dict[str, Any]:
    """An event's facts of a session; `parts`, when given, as `parts: [{part, startsAt, endsAt}]`."""
    payload = {
        "session": to_global_id("Session", session.id),
        "course": to_global_id("Course", session.course_id),
        "title": session.title,
        "startsAt": session.starts_at.isoformat(),
        "endsAt": session.ends_at.isoformat(),
        "timezone": session.timezone,
        "deliveryMode": session.delivery_mode.value,
        "status": session.status.value,
        "capacity": session.capacity,
        "sequence": session.sequence,
    }
    if parts is not None:
        payload["parts"] = parts_payload(parts)
    return {**payload, **extra}


def parts_payload(parts: list[SessionPart]) -> list[dict[str, Any]]:
    return [{"part": p.position, "startsAt": p.starts_at.isoformat(), "endsAt": p.ends_at.isoformat()} for p in parts]


def session_parts(starts_at: datetime, ends_at: datetime, parts: list[PartSpan] | None,
                  settings: Settings | None = None) -> list[PartSpan]:
    """A session's parts, checked: at least one, each ending after it starts, in time order without overlap,
    the first starting at `starts_at` and the last ending at `ends_at`; no parts given: one part, the session."""
    if parts is None:
        return [limits.session_span(starts_at, ends_at, settings)]
    given = limits.items(parts, "parts")
    if not given:
        raise DomainError(ErrorCode.INVALID, "A session has at least one part.", "parts")
    checked: list[PartSpan] = []
    for index, (part_start, part_end) in enumerate(given):
        part_start, part_end = require_range(part_start, part_end, f"parts.{index}.startsAt", f"parts.{index}.endsAt")
        if checked and part_start < checked[-1][1]:
            raise DomainError(ErrorCode.INVALID_TIME_RANGE, f"Part {index + 1} starts before part {index} ends: parts "
                              "are listed in time order and do not overlap.", f"parts.{index}.startsAt")
        checked.append((part_start, part_end))
    starts_at, ends_at = limits.session_span(starts_at, ends_at, settings)
    if checked[0][0] != starts_at:
        raise DomainError(ErrorCode.INVALID_TIME_RANGE, "startsAt is the first part's start.", "startsAt")
    if checked[-1][1] != ends_at:
        raise DomainError(ErrorCode.INVALID_TIME_RANGE, "endsAt is the last part's end.", "endsAt")
    return checked


def held_intervals(parts: list[PartSpan], setup: int, teardown: int) -> list[PartSpan]:
    """What each part books: its interval plus setup before and teardown after. Where the buffers of two
    parts would meet, the gap between them is shared (teardown first), so a session never overlaps itself."""
    held: list[PartSpan] = []
    for index, (part_start, part_end) in enumerate(parts):
        held_from = part_start - timedelta(minutes=setup)
        if held:
            held_from = max(held_from, held[-1][1])
        held_to = part_end + timedelta(minutes=teardown)
        if index + 1 < len(parts):
            held_to = min(held_to, max(part_end, parts[index + 1][0] - timedelta(minutes=setup)))
        held.append((held_from, held_to))
    return held


# --- the rules ---------------------------------------------------------------------------

def check_qualifications(course: Course, instructors: list[Resource], starts_at: datetime, tz: str) -> None:
    """Rule 4: every instructor holds every qualification the course requires, valid on the session's date."""
    on = local_date(starts_at, tz)
    for index, instructor in enumerate(instructors):
        held = {q.name: q.valid_until for q in instructor.qualifications}
        for required in course.required_qualifications:
            if required not in held:
                raise DomainError(ErrorCode.QUALIFICATION_MISSING,
                                  f"{instructor.name} lacks the qualification {required!r}.", "instructorIds")
            valid_until = held[required]
            if valid_until is not None and valid_until < on:
                raise DomainError(ErrorCode.QUALIFICATION_MISSING,
                                  f"{instructor.name}'s qualification {required!r} expires {valid_until.isoformat()},"
                                  f" before the session on {on.isoformat()}.", "instructorIds")


async def find_clashes(db: AsyncSession, resources: list[Resource], starts_at: datetime, ends_at: datetime,
                       exclude_session_id: int | None = None) -> list[Clash]:
    """Rule 2: active bookings of these resources that overlap [starts_at, ends_at)."""
    return await find_clashes_in(db, resources, [(starts_at, ends_at)], exclude_session_id)


async def find_clashes_in(db: AsyncSession, resources: list[Resource], intervals: list[PartSpan],
                          exclude_session_id: int | Collection[int] | None = None) -> list[Clash]:
    """Rule 2 for several intervals (a session's parts, a series' occurrences) in one statement; the
    bookings of the excluded session (or sessions: a series moving) do not count."""
    names = {r.id: r.name for r in resources}
    if not names or not intervals:
        return []
    overlaps = or_(*(and_(Booking.starts_at < held_to, Booking.ends_at > held_from) for held_from, held_to in intervals))
    query = select(Booking).where(Booking.resource_id.in_(names), Booking.active, overlaps)
    excluded = _excluded(exclude_session_id)
    if excluded:
        query = query.where(or_(Booking.session_id.is_(None), Booking.session_id.not_in(excluded)))
    rows = (await db.scalars(query.order_by(Booking.starts_at, Booking.id))).all()
    return [Clash(b.resource_id, names[b.resource_id], b.starts_at, b.ends_at, b.session_id) for b in rows]


def _excluded(exclude_session_id: int | Collection[int] | None) -> list[int]:
    if exclude_session_id is None:
        return []
    return [exclude_session_id] if isinstance(exclude_session_id, int) else sorted(exclude_session_id)


async def check_parts(db: AsyncSession, resources: list[Resource], held: list[PartSpan],
                      exclude_session_id: int | Collection[int] | None = None,
                      delivery_mode: DeliveryMode | None = None) -> list[Clash]:
    """Where the bookings of parts are checked (each held interval, buffers included): the clashes of rule 2
    and, for an in-person or hybrid session in a venue, of rule 2b (travel between venues), returned so that
    a series can list every one. Scheduling, rescheduling, series and multi-part sessions all come here."""
    clashes = await find_clashes_in(db, resources, held, exclude_session_id)
    return clashes + await travel.travel_clashes(db, resources, delivery_mode, held, _excluded(exclude_session_id))


def clash_summary(clashes: list[Clash]) -> str:
    """Who is in the way, in words: the booked, and the instructors who could not travel in time."""
    booked = sorted({c.resource_name for c in clashes if c.travel_minutes is None})
    travel_notes = list(dict.fromkeys(c.note or c.resource_name for c in clashes if c.travel_minutes is not None))
    said = [f"already booked at that time: {', '.join(booked)}"] if booked else []
    if travel_notes:
        said.append(f"no time to travel: {'; '.join(travel_notes)}")
    return "; ".join(said)


def refuse_clashes(clashes: list[Clash]) -> None:
    if clashes:
        summary = clash_summary(clashes)
        raise DomainError(ErrorCode.RESOURCE_CONFLICT, summary[0].upper() + summary[1:] + ".", "startsAt",
                          conflicts=clashes)


@asynccontextmanager
async def _writing_bookings(db: AsyncSession, resources: list[Resource], held: list[PartSpan],
                            session_id: int | None) -> AsyncIterator[None]:
    """Bookings written in a savepoint: when the PostgreSQL exclusion constraint (rule 2's backstop)
    refuses them, the clashes are read back and refused like any other."""
    try:
        async with db.begin_nested():
            yield
    except IntegrityError as exc:
        if "booking_no_overlap" not in str(exc.orig):
            raise
        refuse_clashes(await find_clashes_in(db, resources, held, exclude_session_id=session_id))
        raise DomainError(ErrorCode.RESOURCE_CONFLICT, "A resource was booked at that time meanwhile.",
                          "startsAt") from None


# --- services ----------------------------------------------------------------------------

@dataclass
class SessionPlan:
    """A session's checked input with its resources locked: what scheduling one session or a series needs."""

    course: Course
    title: str
    timezone: str
    delivery_mode: DeliveryMode
    capacity: int
    instructors: list[Resource]
    room: Resource | None
    equipment: list[Resource]
    setup_minutes: int
    teardown_minutes: int
    enrollment_cutoff_at: datetime | None
    requires_approval: bool
    join_url: str | None
    conferencing: str | None = None       # who makes its meeting (`conferencing.session_conferencing`)

    @property
    def resources(self) -> list[Resource]:
        return staffing(self.instructors, self.room, self.equipment)[0]

    @property
    def roles(self) -> list[BookingRole]:
        return staffing(self.instructors, self.room, self.equipment)[1]

    def held(self, parts: list[PartSpan]) -> list[PartSpan]:
        return held_intervals(parts, self.setup_minutes, self.teardown_minutes)


def staffing(instructors: list[Resource], room: Resource | None, equipment: list[Resource]
             ) -> tuple[list[Resource], list[BookingRole]]:
    """A session's booked resources and the role of each: the first instructor leads, the others
    co-facilitate, then the room, then the equipment."""
    resources = instructors + ([room] if room else []) + equipment
    roles = ([BookingRole.LEAD_INSTRUCTOR] + [BookingRole.CO_FACILITATOR] * (len(instructors) - 1)
             + [BookingRole.ROOM] * (room is not None) + [BookingRole.EQUIPMENT] * len(equipment))
    return resources, roles


def check_instructor_ids(instructor_ids: list[int]) -> list[int]:
    """A session has at least one instructor, each listed once (the first leads); INVALID on instructorIds."""
    instructor_ids = limits.items(instructor_ids, "instructorIds")
    if not instructor_ids:
        raise DomainError(ErrorCode.INVALID, "A session needs at least one instructor.", "instructorIds")
    if len(set(instructor_ids)) != len(instructor_ids):
        raise DomainError(ErrorCode.INVALID, "An instructor is listed twice.", "instructorIds")
    return instructor_ids


async def check_plan(db: AsyncSession, plan: SessionPlan, parts: list[PartSpan]) -> list[Clash]:
    """The rules of a new session on these parts: qualifications per part, the room's seats (raised), and
    the clashes of every part's bookings (returned)."""
    for part_start, _ in parts:
        check_qualifications(plan.course, plan.instructors, part_start, plan.timezone)
    check_room_capacity(plan.capacity, plan.room, plan.delivery_mode)
    return await check_parts(db, plan.resources, plan.held(parts), delivery_mode=plan.delivery_mode)


async def plan_session(db: AsyncSession, *, course_id: int, timezone: str, delivery_mode: DeliveryMode,
                       instructor_ids: list[int], capacity: int | None = None, room_id: int | None = None,
                       equipment_ids: list[int] | None = None, title: str | None = None,
                       requires_approval: bool = False, setup_minutes: int = 0, teardown_minutes: int = 0,
                       enrollment_cutoff_at: datetime | None = None, join_url: str | None = None,
                       conferencing: str | None = None) -> SessionPlan:
    """Check what a session is (not when) and lock its resources, in the one lock order."""
    timezone = limits.timezone(timezone)
    title = limits.text(title, "title", required=False)
    instructor_ids = check_instructor_ids(instructor_ids)
    equipment_ids = limits.items(equipment_ids, "equipmentIds")
    delivery_mode = DeliveryMode(delivery_mode)
    if enrollment_cutoff_at is not None:
        enrollment_cutoff_at = require_aware(enrollment_cutoff_at, "enrollmentCutoffAt")
    for value, field in ((setup_minutes, "setupMinutes"), (teardown_minutes, "teardownMinutes")):
        if not 0 <= value <= MAX_BUFFER_MINUTES:
            raise DomainError(ErrorCode.INVALID, f"{field} must be between 0 and {MAX_BUFFER_MINUTES}.", field)
    course = await get_or_404(db, Course, course_id, "courseId")
    provider = session_conferencing(db, conferencing, course.default_conferencing, delivery_mode,
                                    meetings.manual_link(join_url))
    capacity = course.default_capacity if capacity is None else capacity
    if capacity <= 0:
        raise DomainError(ErrorCode.INVALID, "capacity must be at least 1.", "capacity")
    if delivery_mode is not DeliveryMode.VIRTUAL and room_id is None:
        raise DomainError(ErrorCode.INVALID, "An in-person or hybrid session needs a room.", "roomId")
    join_url = meetings.manual_link(join_url)
    if join_url is not None and delivery_mode not in meetings.CONFERENCED:
        raise DomainError(ErrorCode.INVALID, "Only virtual and hybrid sessions have a join link.", "joinUrl")
    equipment_ids = list(dict.fromkeys(equipment_ids or []))

    locked = await lock_resources(db, {"instructorIds": (instructor_ids, ResourceKind.INSTRUCTOR),
                                       "roomId": ([room_id] if room_id is not None else [], ResourceKind.ROOM),
                                       "equipmentIds": (equipment_ids, ResourceKind.EQUIPMENT)})
    room = locked["roomId"][0] if locked["roomId"] else None
    return SessionPlan(course=course, title=title or course.title, timezone=timezone, delivery_mode=delivery_mode,
                       capacity=capacity, instructors=locked["instructorIds"], room=room,
                       equipment=locked["equipmentIds"], setup_minutes=setup_minutes,
                       teardown_minutes=teardown_minutes, enrollment_cutoff_at=enrollment_cutoff_at,
                       requires_approval=requires_approval, join_url=join_url, conferencing=provider)


async def create_session(db: AsyncSession, actor: Actor, plan: SessionPlan, parts: list[PartSpan],
                         series: dict[str, Any] | None = None) -> Session:
    """Write a checked session, its parts and each part's bookings, audited and announced; `series`: the
    series facts its event carries (`{id, rule, occurrence, count}`), for an occurrence of one."""
    session = Session(course_id=plan.course.id, title=plan.title, starts_at=parts[0][0], ends_at=parts[-1][1],
                      timezone=plan.timezone, delivery_mode=plan.delivery_mode, status=SessionStatus.SCHEDULED,
                      capacity=plan.capacity, setup_minutes=plan.setup_minutes, teardown_minutes=plan.teardown_minutes,
                      enrollment_cutoff_at=plan.enrollment_cutoff_at, requires_approval=plan.requires_approval)
    db.add(session)
    await db.flush()
    rows = [SessionPart(session_id=session.id, position=index + 1, starts_at=part_start, ends_at=part_end)
            for index, (part_start, part_end) in enumerate(parts)]
    db.add_all(rows)
    await db.flush()
    held = plan.held(parts)
    resources, roles = plan.resources, plan.roles
    async with _writing_bookings(db, resources, held, session.id):
        for row, (held_from, held_to) in zip(rows, held):
            for resource, role in zip(resources, roles):
                db.add(Booking(resource_id=resource.id, session_id=session.id, part_id=row.id, role=role,
                               starts_at=held_from, ends_at=held_to))
    await meetings.plan_new_meeting(db, session, plan.conferencing, plan.join_url)
    bookings = {r.id: role.value for r, role in zip(resources, roles)}
    record_change(db, actor, "session.schedule", "Session", session.id, None,
                  {**snapshot(session), "bookings": bookings, "parts": parts_payload(rows)})
    emit(db, "session.scheduled", session_event_payload(
        session, rows, instructors=[to_global_id("Resource", r.id) for r in plan.instructors],
        room=to_global_id("Resource", plan.room.id) if plan.room else None, **({"series": series} if series else {})),
        session_ordering_key(session.id))
    return session


async def schedule_session(db: AsyncSession, actor: Actor, *, course_id: int, starts_at: datetime,
                           ends_at: datetime, timezone: str, delivery_mode: DeliveryMode,
                           instructor_ids: list[int], capacity: int | None = None, room_id: int | None = None,
                           equipment_ids: list[int] | None = None, title: str | None = None,
                           requires_approval: bool = False, setup_minutes: int = 0, teardown_minutes: int = 0,
                           enrollment_cutoff_at: datetime | None = None, settings: Settings | None = None,
                           join_url: str | None = None, parts: list[PartSpan] | None = None,
                           conferencing: str | None = None, allow_outside_hours: bool = False) -> Session:
    """`settings` (the running app's) bound how long and how far ahead or back a session may be; `join_url`,
    for a VIRTUAL or HYBRID session, is a meeting link entered by hand (no conferencing plugin is asked);
    `parts`, when given, are the session's intervals (otherwise it is one part, startsAt to endsAt);
    `conferencing` names the provider that makes its meeting (`conferencing.session_conferencing`);
    `allow_outside_hours` books resources outside their hours or time off (staff only, audited)."""
    spans = session_parts(starts_at, ends_at, parts, settings)
    plan = await plan_session(db, course_id=course_id, timezone=timezone, delivery_mode=delivery_mode,
                              instructor_ids=instructor_ids, capacity=capacity, room_id=room_id,
                              equipment_ids=equipment_ids, title=title, requires_approval=requires_approval,
                              setup_minutes=setup_minutes, teardown_minutes=teardown_minutes,
                              enrollment_cutoff_at=enrollment_cutoff_at, join_url=join_url,
                              conferencing=conferencing)
    refuse_clashes(await check_plan(db, plan, spans))
    await availability.check_availability(db, actor, plan.resources, plan.held(spans),
                                          allow_outside_hours=allow_outside_hours)
    return await create_session(db, actor, plan, spans)


def require_scheduled(session: Session) -> None:
    if session.status is not SessionStatus.SCHEDULED:
        raise DomainError(ErrorCode.SESSION_NOT_OPEN, f"The session is {session.status.value.lower()}.", "sessionId")


async def session_bookings(db: AsyncSession, session_id: int) -> list[Booking]:
    return list((await db.scalars(select(Booking).where(Booking.session_id == session_id).order_by(Booking.id)
                                  .execution_options(populate_existing=True))).all())


async def active_bookings(db: AsyncSession, session_id: int) -> list[Booking]:
    """What a SCHEDULED session holds now: its active bookings (a re-staffed session keeps its old ones,
    inactive)."""
    return [b for b in await session_bookings(db, session_id) if b.active]


async def session_part_rows(db: AsyncSession, session_id: int) -> list[SessionPart]:
    return list((await db.scalars(select(SessionPart).where(SessionPart.session_id == session_id)
                                  .order_by(SessionPart.position).execution_options(populate_existing=True))).all())


async def _keep_attendance_true(db: AsyncSession, moved: dict[int, datetime]) -> None:
    """Records are true (rule 10): a part learners attended cannot move to a start still to come.
    `moved`: part id -> its new start."""
    now = utc_now()
    future = [part_id for part_id, starts_at in moved.items() if starts_at > now]
    if not future:
        return
    attended = await db.scalar(select(PartAttendance.id).where(
        PartAttendance.part_id.in_(future),
        PartAttendance.status.not_in((AttendanceStatus.ABSENT, AttendanceStatus.EXCUSED))).limit(1))
    if attended is not None:
        raise DomainError(ErrorCode.INVALID_TIME_RANGE, "Learners were recorded attending this session: it can "
                          "only move to a start that has passed.", "startsAt")


def _moved_parts(session: Session, current: list[SessionPart], starts_at: datetime, ends_at: datetime,
                 part: int | None, parts: list[PartSpan] | None) -> list[PartSpan]:
    """The new intervals of every part: `parts` (as many as the session has), or one `part` moved to
    [starts_at, ends_at), or, neither given, the whole session moved on its local clock to `starts_at`."""
    if parts is not None:
        if part is not None:
            raise DomainError(ErrorCode.INVALID, "Give part or parts, not both.", "part")
        if len(parts) != len(current):
            raise DomainError(ErrorCode.INVALID, f"The session has {len(current)} part(s): give every one.", "parts")
        return list(parts)
    starts_at, ends_at = require_range(starts_at, ends_at)
    spans = [(p.starts_at, p.ends_at) for p in current]
    if part is not None:
        if not 1 <= part <= len(current):
            raise DomainError(ErrorCode.NOT_FOUND, f"The session has no part {part}; it has {len(current)}.", "part")
        spans[part - 1] = (starts_at, ends_at)
        return spans
    if len(current) == 1:
        return [(starts_at, ends_at)]
    tz = ZoneInfo(session.timezone)
    delta = wall_clock_gap(session.starts_at, starts_at, tz)
    shifted = local_shift_spans(spans, tz, delta)
    if ends_at != shifted[-1][1]:
        raise DomainError(ErrorCode.INVALID_TIME_RANGE, f"Moved whole, on its local clock, the session ends "
                          f"{shifted[-1][1].isoformat()}; give that as endsAt, or move parts with part or parts.",
                          "endsAt")
    return shifted


@dataclass
class Move:
    """A SCHEDULED session (row-locked) with its parts, bookings and booked resources (row-locked), and the
    new intervals of its parts: what rescheduling one session, or this and later occurrences of a series,
    checks and then writes."""

    session: Session
    current: list[SessionPart]
    spans: list[PartSpan]
    bookings: list[Booking]
    resources: list[Resource]
    roles: list[BookingRole] | None = None
    """Re-staffed: each of `resources`' role, and the bookings are written anew for them (the old ones
    deleted); None: the bookings keep their resources and only move."""

    @property
    def held(self) -> list[PartSpan]:
        return held_intervals(self.spans, self.session.setup_minutes, self.session.teardown_minutes)


async def check_move(db: AsyncSession, move: Move, course: Course,
                     exclude_session_ids: Collection[int] | None = None) -> list[Clash]:
    """The rules of moving a session: records stay true (raised), qualifications on every part's new date
    (raised), and the clashes of rules 2 and 2b (returned), with the bookings of `exclude_session_ids`
    (default: the session's own) left out."""
    session = move.session
    await _keep_attendance_true(db, {row.id: span[0] for row, span in zip(move.current, move.spans)
                                     if (row.starts_at, row.ends_at) != span})
    instructors = [r for r in move.resources if r.kind is ResourceKind.INSTRUCTOR]
    for part_start, _ in move.spans:
        check_qualifications(course, instructors, part_start, session.timezone)
    return await check_parts(db, move.resources, move.held, exclude_session_ids or [session.id],
                             delivery_mode=session.delivery_mode)


async def move_session(db: AsyncSession, actor: Actor, move: Move, settings: Settings) -> Session:
    """Write a checked move: the parts' and bookings' new times (bookings active again, if a series' move
    set them aside), the meeting, the program stages that follow, audited and announced
    (`session.rescheduled`, which tells the enrolled)."""
    session, current, spans = move.session, move.current, move.spans
    held = move.held
    before = {**snapshot(session), "parts": parts_payload(current)}
    session.starts_at, session.ends_at = spans[0][0], spans[-1][1]
    session.sequence += 1
    held_by_part = {row.id: interval for row, interval in zip(current, held)}
    restaffed: dict[str, Any] = {}
    if move.roles is not None:
        before["bookings"] = {str(b.resource_id): b.role.value for b in move.bookings}
    async with _writing_bookings(db, move.resources, held, session.id):
        for row, (part_start, part_end) in zip(current, spans):
            row.starts_at, row.ends_at = part_start, part_end
        if move.roles is None:
            for booking in move.bookings:
                booking.starts_at, booking.ends_at = held_by_part.get(booking.part_id, (held[0][0], held[-1][1]))
                booking.active = True
        else:  # the old bookings go (the audit entry keeps them): a session's bookings are its resources
            taught = {b.resource_id for b in move.bookings
                      if b.role in (BookingRole.LEAD_INSTRUCTOR, BookingRole.CO_FACILITATOR)}
            for booking in move.bookings:
                await db.delete(booking)
            await db.flush()
            for row, (held_from, held_to) in zip(current, held):
                for resource, role in zip(move.resources, move.roles):
                    db.add(Booking(resource_id=resource.id, session_id=session.id, part_id=row.id, role=role,
                                   starts_at=held_from, ends_at=held_to))
            room = next((r for r, role in zip(move.resources, move.roles) if role is BookingRole.ROOM), None)
            teaching = {r.id for r in move.resources if r.kind is ResourceKind.INSTRUCTOR}
            restaffed = {"instructors": [to_global_id("Resource", r.id) for r in move.resources
                                         if r.kind is ResourceKind.INSTRUCTOR],
                         "room": to_global_id("Resource", room.id) if room else None,
                         "unassigned": [to_global_id("Resource", rid) for rid in sorted(taught - teaching)]}
    await meetings.plan_meeting(db, session)
    await follow_reschedule(db, session, datetime.fromisoformat(before["starts_at"]), settings)
    after = {**snapshot(session), "parts": parts_payload(current)}
    if move.roles is not None:
        after["bookings"] = {str(r.id): role.value for r, role in zip(move.resources, move.roles)}
    record_change(db, actor, "session.reschedule", "Session", session.id, before, after)
    emit(db, "session.rescheduled", session_event_payload(
        session, current, before={"startsAt": before["starts_at"], "endsAt": before["ends_at"],
                                  "parts": before["parts"]}, **restaffed),
        session_ordering_key(session.id))
    return session


async def reassign_session(db: AsyncSession, actor: Actor, session_id: int, *, parts: list[PartSpan],
                           instructor_ids: list[int], room_id: int | None, settings: Settings) -> Session:
    """Re-staff and, if its parts move, move a session at once (a re-plan around an absent instructor or a
    closed room): a `Move` with new resources, checked and written as `reschedule_session` writes one (rules
    2, 2b, 4, 8 and the room's seats; the enrolled told, instructors taken off told). Equipment stays."""
    session = await lock_session(db, session_id)
    require_scheduled(session)
    current = await session_part_rows(db, session.id)
    if len(parts) != len(current):
        raise DomainError(ErrorCode.INVALID, f"The session has {len(current)} part(s): give every one.", "parts")
    spans = session_parts(parts[0][0], parts[-1][1], list(parts), settings)
    instructor_ids = limits.items(instructor_ids, "instructorIds")
    if not instructor_ids or len(set(instructor_ids)) != len(instructor_ids):
        raise DomainError(ErrorCode.INVALID, "A session needs at least one instructor, each once.", "instructorIds")
    if session.delivery_mode is not DeliveryMode.VIRTUAL and room_id is None:
        raise DomainError(ErrorCode.INVALID, "An in-person or hybrid session needs a room.", "roomId")
    bookings = await active_bookings(db, session.id)
    equipment_ids = sorted({b.resource_id for b in bookings if b.role is BookingRole.EQUIPMENT})
    locked = await lock_resources(db, {"instructorIds": (instructor_ids, ResourceKind.INSTRUCTOR),
                                       "roomId": ([room_id] if room_id is not None else [], ResourceKind.ROOM),
                                       "equipmentIds": (equipment_ids, ResourceKind.EQUIPMENT)})
    instructors, equipment = locked["instructorIds"], locked["equipmentIds"]
    room = locked["roomId"][0] if locked["roomId"] else None
    check_room_capacity(session.capacity, room, session.delivery_mode)
    resources = instructors + ([room] if room else []) + equipment
    roles = ([BookingRole.LEAD_INSTRUCTOR] + [BookingRole.CO_FACILITATOR] * (len(instructors) - 1)
             + [BookingRole.ROOM] * (room is not None) + [BookingRole.EQUIPMENT] * len(equipment))
    course = await get_or_404(db, Course, session.course_id, "sessionId")
    move = Move(session, current, spans, bookings, resources, roles)
    refuse_clashes(await check_move(db, move, course))
    await availability.check_availability(db, actor, resources, move.held)
    return await move_session(db, actor, move, settings)


async def set_bookings_aside(db: AsyncSession, moves: list[Move]) -> None:
    """Several sessions moving at once (a series): their bookings inactive until each is written in its new
    place, so none stands in another's way meanwhile (PostgreSQL's exclusion constraint checks each row)."""
    for move in moves:
        for booking in move.bookings:
            booking.active = False
    await db.flush()


async def reschedule_session(db: AsyncSession, actor: Actor, session_id: int, starts_at: datetime,
                             ends_at: datetime, *, settings: Settings, part: int | None = None,
                             parts: list[PartSpan] | None = None, allow_outside_hours: bool = False) -> Session:
    """Move a session (all its parts, or one) and their bookings at once, or change nothing; `settings` (the
    running app's) say when the notices of a blended program's moved session go out, and bound its new times."""
    session = await lock_session(db, session_id)
    require_scheduled(session)
    current = await session_part_rows(db, session.id)
    proposed = _moved_parts(session, current, starts_at, ends_at, part, parts)
    spans = session_parts(proposed[0][0], proposed[-1][1], proposed, settings)
    bookings = await active_bookings(db, session.id)
    resources = (await lock_resources(db, {"sessionId": (sorted({b.resource_id for b in bookings}), None)}))["sessionId"]
    course = await get_or_404(db, Course, session.course_id, "sessionId")
    move = Move(session, current, spans, bookings, resources)
    refuse_clashes(await check_move(db, move, course))
    await availability.check_availability(db, actor, resources, move.held, allow_outside_hours=allow_outside_hours)
    return await move_session(db, actor, move, settings)


async def update_session(db: AsyncSession, actor: Actor, session_id: int, **changes: Any) -> Session:
    """Change what may change of a SCHEDULED session without moving it: `join_url`, a meeting link entered
    by hand (None takes it away, and a loaded conferencing plugin then makes one)."""
    session = await lock_session(db, session_id)
    require_scheduled(session)
    before = snapshot(session)
    for name, value in changes.items():
        if name != "join_url":
            raise DomainError(ErrorCode.INVALID, f"A session has no changeable field {name!r}.", name)
        await meetings.set_manual_link(db, session, meetings.manual_link(value))
        await meetings.plan_meeting(db, session)
    await db.flush()
    after = snapshot(session)
    if after != before:
        record_change(db, actor, "session.update", "Session", session.id, before, after)
        emit(db, "session.updated", session_event_payload(session), session_ordering_key(session.id))
    return session


async def cancel_session(db: AsyncSession, actor: Actor, session_id: int, reason: str | None = None) -> Session:
    """Cancel a session: its bookings are freed; learners keep their enrolment record and are told."""
    reason = limits.text(reason, "reason", limits.NOTE, required=False, multiline=True)
    session = await lock_session(db, session_id)
    require_scheduled(session)
    before = snapshot(session)
    session.status = SessionStatus.CANCELLED
    session.cancel_reason = reason
    session.sequence += 1
    await db.execute(update(Booking).where(Booking.session_id == session.id).values(active=False))
    await db.flush()
    await meetings.plan_meeting(db, session)
    record_change(db, actor, "session.cancel", "Session", session.id, before, snapshot(session))
    emit(db, "session.cancelled", session_event_payload(session, await session_part_rows(db, session.id),
                                                        reason=reason), session_ordering_key(session.id))
    return session


async def resource_bookings(db: AsyncSession, resource_id: int, starts_at: datetime, ends_at: datetime) -> list[Booking]:
    """A resource's active bookings overlapping [starts_at, ends_at), Podium's and imported ones."""
    starts_at, ends_at = require_range(starts_at, ends_at, "from", "to")
    return list((await db.scalars(select(Booking).where(
        Booking.resource_id == resource_id, Booking.active,
        and_(Booking.starts_at < ends_at, Booking.ends_at > starts_at)).order_by(Booking.starts_at))).all())


async def complete_past_sessions(db: AsyncSession, actor: Actor, now: datetime | None = None, *,
                                 grace: timedelta = timedelta(0), limit: int | None = None) -> list[int]:
    """Mark SCHEDULED sessions that ended at least `grace` before `now` as COMPLETED, each audited with one
    `session.completed` event, oldest first (at most `limit`); returns their ids. The periodic job
    `complete_sessions` (services/periodic.py) calls it; each session is re-checked under its lock, so a
    cancel or a move that commits meanwhile wins."""
    cutoff = (now or utc_now()) - grace
    query = select(Session.id).where(Session.status == SessionStatus.SCHEDULED, Session.ends_at <= cutoff)
    ids = (await db.scalars(query.order_by(Session.ends_at, Session.id).limit(limit))).all()
    completed = []
    for sid in ids:
        session = await lock_session(db, sid)
        if session.status is not SessionStatus.SCHEDULED or session.ends_at > cutoff:
            continue
        before = snapshot(session)
        session.status = SessionStatus.COMPLETED
        record_change(db, actor, "session.complete", "Session", sid, before, snapshot(session))
        emit(db, "session.completed", session_event_payload(session), session_ordering_key(sid))
        completed.append(sid)
    return completed
