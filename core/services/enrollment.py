"""Enrolment: seats, the waitlist and approvals.

Rule 1 (never more ENROLLED than capacity, counted by `capacity`) and rule 3 (first come, first
served) are applied here. Every function runs under the session's row lock (`lock_session`).
"""
from __future__ import annotations

from typing import Any

from sqlalchemy import and_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from .. import limits
from ..audit import Actor, record_change
from ..errors import DomainError, ErrorCode
from ..events import emit
from ..ids import to_global_id
from ..instants import utc_now
from ..models import BookingRole, Enrollment, EnrollmentStatus, Person, Session, SessionStatus
from . import meetings
from .records import snapshot
from .capacity import (
    check_room_capacity, enrolments_sql, free_seats, seats_free, seats_taken, seats_taken_sql,
)
from .locks import lock_resources, lock_session, session_ordering_key
from .scheduling import session_bookings

ACTIVE = (EnrollmentStatus.PENDING_APPROVAL, EnrollmentStatus.ENROLLED, EnrollmentStatus.WAITLISTED)


def _event(db: AsyncSession, session: Session, enrollment: Enrollment, before: EnrollmentStatus | None,
           reason: str) -> None:
    emit(db, "enrollment.changed", {
        "enrollment": to_global_id("Enrollment", enrollment.id),
        "session": to_global_id("Session", enrollment.session_id),
        "learner": to_global_id("Person", enrollment.learner_id),
        "before": {"status": before.value if before else None},
        "after": {"status": enrollment.status.value, "waitlistPosition": enrollment.waitlist_position},
        "reason": reason,
    }, session_ordering_key(enrollment.session_id))
    if enrollment.status is EnrollmentStatus.ENROLLED:
        meetings.plan_registration(db, session, enrollment)


def _seat_or_waitlist(session: Session, enrollment: Enrollment, taken: int, waiting: int) -> None:
    """Rule 1 and 3: a free seat if there is one (`taken` of the session's seats are), else the end of
    the waitlist (`waiting` long), counted under the session's lock."""
    if free_seats(session, taken):
        enrollment.status, enrollment.waitlist_position = EnrollmentStatus.ENROLLED, None
    else:
        enrollment.status, enrollment.waitlist_position = EnrollmentStatus.WAITLISTED, waiting + 1


async def _seat_counts(db: AsyncSession, session_id: int) -> tuple[int, int]:
    """(seats taken, learners waiting) in one statement."""
    row = (await db.execute(select(seats_taken_sql(session_id),
                                   enrolments_sql(EnrollmentStatus.WAITLISTED, session_id)))).one()
    return row[0], row[1]


async def _leave_waitlist(db: AsyncSession, session_id: int, position: int) -> None:
    """Close up the waitlist behind a learner who left it."""
    await db.execute(update(Enrollment).where(
        Enrollment.session_id == session_id, Enrollment.status == EnrollmentStatus.WAITLISTED,
        Enrollment.waitlist_position > position).values(waitlist_position=Enrollment.waitlist_position - 1)
        .execution_options(synchronize_session=False))


async def fill_free_seats(db: AsyncSession, session: Session) -> list[Enrollment]:
    """Rule 3: promote the first waitlisted learners into free seats, in waitlist order."""
    free = await seats_free(db, session)
    if not free:
        return []
    promoted = list((await db.scalars(select(Enrollment).where(
        Enrollment.session_id == session.id, Enrollment.status == EnrollmentStatus.WAITLISTED)
        .order_by(Enrollment.waitlist_position).limit(free).execution_options(populate_existing=True))).all())
    for enrollment in promoted:
        enrollment.status, enrollment.waitlist_position = EnrollmentStatus.ENROLLED, None
    await db.flush()
    if promoted:
        await db.execute(update(Enrollment).where(
            Enrollment.session_id == session.id, Enrollment.status == EnrollmentStatus.WAITLISTED)
            .values(waitlist_position=Enrollment.waitlist_position - len(promoted))
            .execution_options(synchronize_session=False))
    for enrollment in promoted:
        _event(db, session, enrollment, EnrollmentStatus.WAITLISTED, "promoted")
    return promoted


def _require_open(session: Session) -> None:
    if session.status is not SessionStatus.SCHEDULED:
        raise DomainError(ErrorCode.SESSION_NOT_OPEN, f"The session is {session.status.value.lower()}.", "sessionId")
    cutoff = session.enrollment_cutoff_at or session.starts_at
    if utc_now() >= cutoff:
        raise DomainError(ErrorCode.SESSION_NOT_OPEN, "Enrolment for this session has closed.", "sessionId")


async def enroll(db: AsyncSession, actor: Actor, session_id: int, learner_id: int) -> Enrollment:
    session = await lock_session(db, session_id)
    # Under the lock, one statement: the learner, their enrolment here if any, seats taken, the waitlist.
    found = (await db.execute(
        select(Person.name, Enrollment, seats_taken_sql(session.id),
               enrolments_sql(EnrollmentStatus.WAITLISTED, session.id))
        .outerjoin(Enrollment, and_(Enrollment.learner_id == Person.id, Enrollment.session_id == session.id))
        .where(Person.id == learner_id).execution_options(populate_existing=True))).first()
    if found is None:
        raise DomainError(ErrorCode.NOT_FOUND, "No person with that id.", "learnerId")
    _require_open(session)
    name, enrollment, taken, waiting = found
    if enrollment is not None and enrollment.status in ACTIVE:
        raise DomainError(ErrorCode.ALREADY_ENROLLED, f"{name} is already {enrollment.status.value.lower()}"
                          " in this session.", "learnerId")
    before = snapshot(enrollment) if enrollment else None
    if enrollment is None:
        enrollment = Enrollment(session_id=session.id, learner_id=learner_id, status=EnrollmentStatus.PENDING_APPROVAL)
        db.add(enrollment)
    else:
        enrollment.created_at, enrollment.reason = utc_now(), None
    if session.requires_approval:
        enrollment.status, enrollment.waitlist_position = EnrollmentStatus.PENDING_APPROVAL, None
    else:
        _seat_or_waitlist(session, enrollment, taken, waiting)
    await db.flush()
    record_change(db, actor, "enrollment.create", "Enrollment", enrollment.id, before, snapshot(enrollment))
    _event(db, session, enrollment, None, "enrolled")
    return enrollment


async def _lock_enrollment(db: AsyncSession, enrollment_id: int) -> tuple[Session, Enrollment]:
    """Lock the enrolment's session first (the one lock order), then load the enrolment."""
    session_id = await db.scalar(select(Enrollment.session_id).where(Enrollment.id == enrollment_id))
    if session_id is None:
        raise DomainError(ErrorCode.NOT_FOUND, "No enrollment with that id.", "enrollmentId")
    session = await lock_session(db, session_id, "enrollmentId")
    enrollment = await db.scalar(select(Enrollment).where(Enrollment.id == enrollment_id)
                                 .execution_options(populate_existing=True))
    return session, enrollment


async def cancel_enrollment(db: AsyncSession, actor: Actor, enrollment_id: int, reason: str | None = None) -> Enrollment:
    """Cancel; a freed seat goes to the first waitlisted learner in the same transaction (rule 3)."""
    session, enrollment = await _lock_enrollment(db, enrollment_id)
    if enrollment.status is EnrollmentStatus.CANCELLED:
        raise DomainError(ErrorCode.INVALID, "This enrolment is already cancelled.", "enrollmentId")
    before = snapshot(enrollment)
    was, position = enrollment.status, enrollment.waitlist_position
    enrollment.status, enrollment.waitlist_position, enrollment.reason = EnrollmentStatus.CANCELLED, None, reason
    if was is EnrollmentStatus.ENROLLED:
        await meetings.plan_unregistration(db, session, enrollment)
    await db.flush()
    after: dict[str, Any] = snapshot(enrollment)
    _event(db, session, enrollment, was, "cancelled")
    if was is EnrollmentStatus.WAITLISTED and position is not None:
        await _leave_waitlist(db, session.id, position)
    if was is EnrollmentStatus.ENROLLED and session.status is SessionStatus.SCHEDULED:
        after["promoted"] = [e.id for e in await fill_free_seats(db, session)]
    record_change(db, actor, "enrollment.cancel", "Enrollment", enrollment.id, before, after)
    return enrollment


async def decide_enrollment(db: AsyncSession, actor: Actor, enrollment_id: int, approve: bool,
                            reason: str | None = None) -> Enrollment:
    """Approve (a seat, or the waitlist) or decline (CANCELLED) a PENDING_APPROVAL enrolment."""
    reason = limits.text(reason, "reason", limits.NOTE, required=False, multiline=True)
    session, enrollment = await _lock_enrollment(db, enrollment_id)
    if enrollment.status is not EnrollmentStatus.PENDING_APPROVAL:
        raise DomainError(ErrorCode.INVALID, f"This enrolment is {enrollment.status.value.lower()}, not pending approval.",
                          "enrollmentId")
    before = snapshot(enrollment)
    if approve:
        _require_open(session)
        _seat_or_waitlist(session, enrollment, *await _seat_counts(db, session.id))
    else:
        enrollment.status = EnrollmentStatus.CANCELLED
    enrollment.reason = reason
    await db.flush()
    record_change(db, actor, "enrollment.approve" if approve else "enrollment.decline", "Enrollment",
                  enrollment.id, before, snapshot(enrollment))
    _event(db, session, enrollment, EnrollmentStatus.PENDING_APPROVAL, "approved" if approve else "declined")
    return enrollment


async def change_capacity(db: AsyncSession, actor: Actor, session_id: int, capacity: int) -> Session:
    """Change a session's capacity: more seats promote from the waitlist; fewer than are taken is refused."""
    session = await lock_session(db, session_id)
    if capacity <= 0:
        raise DomainError(ErrorCode.INVALID, "capacity must be at least 1.", "capacity")
    taken = await seats_taken(db, session.id)
    if capacity < taken:
        raise DomainError(ErrorCode.INVALID, f"{taken} learners hold seats; capacity cannot drop below that.", "capacity")
    # The room's row lock orders this against a concurrent shrinking of the room (rule 1).
    room_ids = [b.resource_id for b in await session_bookings(db, session.id) if b.role is BookingRole.ROOM]
    rooms = (await lock_resources(db, {"capacity": (room_ids, None)}))["capacity"]
    check_room_capacity(capacity, rooms[0] if rooms else None, session.delivery_mode)
    before = snapshot(session)
    session.capacity = capacity
    await db.flush()
    promoted = await fill_free_seats(db, session) if session.status is SessionStatus.SCHEDULED else []
    record_change(db, actor, "session.capacity", "Session", session.id, before,
                  {**snapshot(session), "promoted": [e.id for e in promoted]})
    return session
