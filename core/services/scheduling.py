"""Scheduling: sessions and the bookings of instructors, rooms and equipment.

Rule 2 (no double booking) and rule 4 (qualifications) live here; rule 1's room check is
`capacity.check_room_capacity`, the locks are in `locks`.
"""
from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from .. import limits
from ..audit import Actor, record_change
from ..errors import Clash, DomainError, ErrorCode
from ..events import emit
from ..ids import to_global_id
from ..instants import local_date, require_aware, require_range, utc_now
from ..models import (
    Attendance, AttendanceStatus, Booking, BookingRole, Course, DeliveryMode, Enrollment, Resource, ResourceKind,
    Session, SessionStatus,
)
from ..settings import Settings
from . import meetings
from .capacity import check_room_capacity
from .conferencing import session_conferencing
from .locks import lock_resources, lock_session, session_ordering_key
from .program_calendar import follow_reschedule
from .records import get_or_404, snapshot

MAX_BUFFER_MINUTES = 24 * 60


def session_event_payload(session: Session, **extra: Any) -> dict[str, Any]:
    return {
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
        **extra,
    }


def _booked_interval(starts_at: datetime, ends_at: datetime, setup: int, teardown: int) -> tuple[datetime, datetime]:
    return starts_at - timedelta(minutes=setup), ends_at + timedelta(minutes=teardown)


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
    names = {r.id: r.name for r in resources}
    query = select(Booking).where(Booking.resource_id.in_(names), Booking.active,
                                  Booking.starts_at < ends_at, Booking.ends_at > starts_at)
    if exclude_session_id is not None:
        query = query.where(or_(Booking.session_id.is_(None), Booking.session_id != exclude_session_id))
    rows = (await db.scalars(query.order_by(Booking.starts_at, Booking.id))).all()
    return [Clash(b.resource_id, names[b.resource_id], b.starts_at, b.ends_at, b.session_id) for b in rows]


def _refuse_clashes(clashes: list[Clash]) -> None:
    if clashes:
        who = ", ".join(sorted({c.resource_name for c in clashes}))
        raise DomainError(ErrorCode.RESOURCE_CONFLICT, f"Already booked at that time: {who}.", "startsAt",
                          conflicts=clashes)


@asynccontextmanager
async def _writing_bookings(db: AsyncSession, resources: list[Resource], starts_at: datetime, ends_at: datetime,
                            session_id: int) -> AsyncIterator[None]:
    """Bookings written in a savepoint: when the PostgreSQL exclusion constraint (rule 2's backstop)
    refuses them, the clashes are read back and refused like any other."""
    try:
        async with db.begin_nested():
            yield
    except IntegrityError as exc:
        if "booking_no_overlap" not in str(exc.orig):
            raise
        _refuse_clashes(await find_clashes(db, resources, starts_at, ends_at, exclude_session_id=session_id))
        raise DomainError(ErrorCode.RESOURCE_CONFLICT, "A resource was booked at that time meanwhile.",
                          "startsAt") from None


# --- services ----------------------------------------------------------------------------

async def schedule_session(db: AsyncSession, actor: Actor, *, course_id: int, starts_at: datetime,
                           ends_at: datetime, timezone: str, delivery_mode: DeliveryMode,
                           instructor_ids: list[int], capacity: int | None = None, room_id: int | None = None,
                           equipment_ids: list[int] | None = None, title: str | None = None,
                           requires_approval: bool = False, setup_minutes: int = 0, teardown_minutes: int = 0,
                           enrollment_cutoff_at: datetime | None = None, settings: Settings | None = None,
                           join_url: str | None = None, conferencing: str | None = None) -> Session:
    """`settings` (the running app's) bound how long and how far ahead or back a session may be; `join_url`,
    for a VIRTUAL or HYBRID session, is a meeting link entered by hand (no conferencing plugin is asked);
    `conferencing` names the provider that makes its meeting (`conferencing.session_conferencing`)."""
    starts_at, ends_at = limits.session_span(starts_at, ends_at, settings)
    timezone = limits.timezone(timezone)
    title = limits.text(title, "title", required=False)
    instructor_ids = limits.items(instructor_ids, "instructorIds")
    equipment_ids = limits.items(equipment_ids, "equipmentIds")
    delivery_mode = DeliveryMode(delivery_mode)
    if enrollment_cutoff_at is not None:
        enrollment_cutoff_at = require_aware(enrollment_cutoff_at, "enrollmentCutoffAt")
    for value, field in ((setup_minutes, "setupMinutes"), (teardown_minutes, "teardownMinutes")):
        if not 0 <= value <= MAX_BUFFER_MINUTES:
            raise DomainError(ErrorCode.INVALID, f"{field} must be between 0 and {MAX_BUFFER_MINUTES}.", field)
    course = await get_or_404(db, Course, course_id, "courseId")
    provider = session_conferencing(db, conferencing, course.default_conferencing, delivery_mode, join_url)
    capacity = course.default_capacity if capacity is None else capacity
    if capacity <= 0:
        raise DomainError(ErrorCode.INVALID, "capacity must be at least 1.", "capacity")
    if not instructor_ids:
        raise DomainError(ErrorCode.INVALID, "A session needs at least one instructor.", "instructorIds")
    if len(set(instructor_ids)) != len(instructor_ids):
        raise DomainError(ErrorCode.INVALID, "An instructor is listed twice.", "instructorIds")
    if delivery_mode is not DeliveryMode.VIRTUAL and room_id is None:
        raise DomainError(ErrorCode.INVALID, "An in-person or hybrid session needs a room.", "roomId")
    join_url = meetings.manual_link(join_url)
    if join_url is not None and delivery_mode not in meetings.CONFERENCED:
        raise DomainError(ErrorCode.INVALID, "Only virtual and hybrid sessions have a join link.", "joinUrl")
    equipment_ids = list(dict.fromkeys(equipment_ids or []))

    locked = await lock_resources(db, {"instructorIds": (instructor_ids, ResourceKind.INSTRUCTOR),
                                       "roomId": ([room_id] if room_id is not None else [], ResourceKind.ROOM),
                                       "equipmentIds": (equipment_ids, ResourceKind.EQUIPMENT)})
    instructors, equipment = locked["instructorIds"], locked["equipmentIds"]
    room = locked["roomId"][0] if locked["roomId"] else None
    check_qualifications(course, instructors, starts_at, timezone)
    check_room_capacity(capacity, room, delivery_mode)
    held_from, held_to = _booked_interval(starts_at, ends_at, setup_minutes, teardown_minutes)
    all_resources = instructors + ([room] if room else []) + equipment
    _refuse_clashes(await find_clashes(db, all_resources, held_from, held_to))

    session = Session(course_id=course.id, title=title or course.title, starts_at=starts_at,
                      ends_at=ends_at, timezone=timezone, delivery_mode=delivery_mode,
                      status=SessionStatus.SCHEDULED, capacity=capacity, setup_minutes=setup_minutes,
                      teardown_minutes=teardown_minutes, enrollment_cutoff_at=enrollment_cutoff_at,
                      requires_approval=requires_approval)
    db.add(session)
    await db.flush()
    roles = [BookingRole.LEAD_INSTRUCTOR] + [BookingRole.CO_FACILITATOR] * (len(instructors) - 1)
    roles += [BookingRole.ROOM] * (room is not None) + [BookingRole.EQUIPMENT] * len(equipment)
    async with _writing_bookings(db, all_resources, held_from, held_to, session.id):
        for resource, role in zip(all_resources, roles):
            db.add(Booking(resource_id=resource.id, session_id=session.id, role=role, starts_at=held_from,
                           ends_at=held_to))
    await meetings.plan_new_meeting(db, session, provider, join_url)
    bookings = {r.id: role.value for r, role in zip(all_resources, roles)}
    record_change(db, actor, "session.schedule", "Session", session.id, None, {**snapshot(session), "bookings": bookings})
    emit(db, "session.scheduled", session_event_payload(
        session, instructors=[to_global_id("Resource", r.id) for r in instructors],
        room=to_global_id("Resource", room.id) if room else None), session_ordering_key(session.id))
    return session


def _require_scheduled(session: Session) -> None:
    if session.status is not SessionStatus.SCHEDULED:
        raise DomainError(ErrorCode.SESSION_NOT_OPEN, f"The session is {session.status.value.lower()}.", "sessionId")


async def session_bookings(db: AsyncSession, session_id: int) -> list[Booking]:
    return list((await db.scalars(select(Booking).where(Booking.session_id == session_id).order_by(Booking.id)
                                  .execution_options(populate_existing=True))).all())


async def _keep_attendance_true(db: AsyncSession, session_id: int, starts_at: datetime) -> None:
    """Records are true (rule 10): a session learners attended cannot move to a start still to come."""
    if starts_at <= utc_now():
        return
    attended = await db.scalar(select(Attendance.id).join(Enrollment, Enrollment.id == Attendance.enrollment_id).where(
        Enrollment.session_id == session_id,
        Attendance.status.not_in((AttendanceStatus.ABSENT, AttendanceStatus.EXCUSED))).limit(1))
    if attended is not None:
        raise DomainError(ErrorCode.INVALID_TIME_RANGE, "Learners were recorded attending this session: it can "
                          "only move to a start that has passed.", "startsAt")


async def reschedule_session(db: AsyncSession, actor: Actor, session_id: int, starts_at: datetime,
                             ends_at: datetime, *, settings: Settings) -> Session:
    """Move a session and all its bookings at once, or change nothing; `settings` (the running app's)
    say when the notices of a blended program's moved session go out, and bound its new times."""
    starts_at, ends_at = limits.session_span(starts_at, ends_at, settings)
    session = await lock_session(db, session_id)
    _require_scheduled(session)
    await _keep_attendance_true(db, session.id, starts_at)
    bookings = await session_bookings(db, session.id)
    resources = (await lock_resources(db, {"sessionId": (sorted({b.resource_id for b in bookings}), None)}))["sessionId"]
    course = await get_or_404(db, Course, session.course_id, "sessionId")
    check_qualifications(course, [r for r in resources if r.kind is ResourceKind.INSTRUCTOR], starts_at,
                         session.timezone)
    held_from, held_to = _booked_interval(starts_at, ends_at, session.setup_minutes, session.teardown_minutes)
    _refuse_clashes(await find_clashes(db, resources, held_from, held_to, exclude_session_id=session.id))
    before = snapshot(session)
    session.starts_at, session.ends_at = starts_at, ends_at
    session.sequence += 1
    async with _writing_bookings(db, resources, held_from, held_to, session.id):
        for booking in bookings:
            booking.starts_at, booking.ends_at = held_from, held_to
    await meetings.plan_meeting(db, session)
    await follow_reschedule(db, session, datetime.fromisoformat(before["starts_at"]), settings)
    record_change(db, actor, "session.reschedule", "Session", session.id, before, snapshot(session))
    emit(db, "session.rescheduled", session_event_payload(
        session, before={"startsAt": before["starts_at"], "endsAt": before["ends_at"]}),
        session_ordering_key(session.id))
    return session


async def update_session(db: AsyncSession, actor: Actor, session_id: int, **changes: Any) -> Session:
    """Change what may change of a SCHEDULED session without moving it: `join_url`, a meeting link entered
    by hand (None takes it away, and a loaded conferencing plugin then makes one)."""
    session = await lock_session(db, session_id)
    _require_scheduled(session)
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
    _require_scheduled(session)
    before = snapshot(session)
    session.status = SessionStatus.CANCELLED
    session.cancel_reason = reason
    session.sequence += 1
    await db.execute(update(Booking).where(Booking.session_id == session.id).values(active=False))
    await db.flush()
    await meetings.plan_meeting(db, session)
    record_change(db, actor, "session.cancel", "Session", session.id, before, snapshot(session))
    emit(db, "session.cancelled", session_event_payload(session, reason=reason), session_ordering_key(session.id))
    return session


async def resource_bookings(db: AsyncSession, resource_id: int, starts_at: datetime, ends_at: datetime) -> list[Booking]:
    """A resource's active bookings overlapping [starts_at, ends_at), Podium's and imported ones."""
    starts_at, ends_at = require_range(starts_at, ends_at, "from", "to")
    return list((await db.scalars(select(Booking).where(
        Booking.resource_id == resource_id, Booking.active,
        and_(Booking.starts_at < ends_at, Booking.ends_at > starts_at)).order_by(Booking.starts_at))).all())


async def complete_past_sessions(db: AsyncSession, actor: Actor, now: datetime | None = None) -> int:
    """Mark scheduled sessions that have ended as COMPLETED; returns how many."""
    now = now or utc_now()
    ids = (await db.scalars(select(Session.id).where(Session.status == SessionStatus.SCHEDULED,
                                                     Session.ends_at <= now))).all()
    for sid in ids:
        session = await lock_session(db, sid)
        before = snapshot(session)
        session.status = SessionStatus.COMPLETED
        record_change(db, actor, "session.complete", "Session", sid, before, snapshot(session))
        emit(db, "session.completed", session_event_payload(session), session_ordering_key(sid))
    return len(ids)
