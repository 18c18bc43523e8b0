"""Rule 1 in one place: a seat is held by an ENROLLED learner and by no one else; a session never
has more of them than its capacity, and an in-person or hybrid session never seats more than its room.

`seats_taken_sql` is the one count of seats: enrolment, program placement and the `seatsLeft` of
the sessions page (computed inside the page query) all read it.
"""
from __future__ import annotations

from sqlalchemy import ColumnElement, ScalarSelect, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ..errors import DomainError, ErrorCode
from ..models import (
    Booking, DeliveryMode, Enrollment, EnrollmentStatus, Resource, ResourceKind, Session, SessionStatus,
)

SEAT_HOLDER = EnrollmentStatus.ENROLLED
"""PENDING_APPROVAL and WAITLISTED learners hold no seat (rule 1 counts ENROLLED learners only)."""


ENROLLMENT = Enrollment.__table__


def enrolments_sql(status: EnrollmentStatus, session_id: int | ColumnElement = Session.id) -> ScalarSelect:
    """How many enrolments of `status` a session has; by default correlated to the query's session row.
    Written on the table, so a statement of plain columns that counts with it stays plain Core (no ORM
    loading of its rows)."""
    return (select(func.count()).select_from(ENROLLMENT)
            .where(ENROLLMENT.c.session_id == session_id, ENROLLMENT.c.status == status)
            .correlate(Session).scalar_subquery())


def seats_taken_sql(session_id: int | ColumnElement = Session.id) -> ScalarSelect:
    """Seats taken in a session, as SQL."""
    return enrolments_sql(SEAT_HOLDER, session_id)


async def count_enrolments(db: AsyncSession, session_id: int, status: EnrollmentStatus) -> int:
    return await db.scalar(select(enrolments_sql(status, session_id))) or 0


async def seats_taken(db: AsyncSession, session_id: int) -> int:
    return await db.scalar(select(seats_taken_sql(session_id))) or 0


async def seats_free(db: AsyncSession, session: Session) -> int:
    """Seats a learner could take now (never negative)."""
    return free_seats(session, await seats_taken(db, session.id))


def free_seats(session: Session, taken: int) -> int:
    """Seats left when `taken` are held (never negative)."""
    return max(session.capacity - taken, 0)


def check_room_capacity(capacity: int, room: Resource | None, mode: DeliveryMode) -> None:
    """Rule 1: an in-person or hybrid session never seats more than its room holds."""
    if mode is not DeliveryMode.VIRTUAL and room is not None and room.capacity is not None and capacity > room.capacity:
        raise DomainError(ErrorCode.CAPACITY_EXCEEDS_ROOM,
                          f"Capacity {capacity} exceeds room {room.name!r}, which holds {room.capacity}.", "capacity")


async def check_room_keeps_sessions(db: AsyncSession, room: Resource) -> None:
    """Rule 1 seen from the room: shrinking it may not leave a booked session too big."""
    if room.kind is not ResourceKind.ROOM or room.capacity is None:
        return
    biggest = await db.scalar(
        select(func.max(Session.capacity)).join(Booking, Booking.session_id == Session.id)
        .where(Booking.resource_id == room.id, Booking.active, Session.status == SessionStatus.SCHEDULED,
               Session.delivery_mode != DeliveryMode.VIRTUAL))
    if biggest is not None and biggest > room.capacity:
        raise DomainError(ErrorCode.CAPACITY_EXCEEDS_ROOM,
                          f"A session booked in {room.name!r} seats {biggest}; the room cannot shrink below that.",
                          "capacity")
