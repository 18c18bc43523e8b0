"""Enrolment: seats, the waitlist and approvals.

Rule 1 (never more ENROLLED than capacity, counted by `capacity`) and rule 3 (first come, first
served) are applied here. Every function runs under the session's row lock (`lock_session`).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, bindparam, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from .. import limits
from ..audit import AUDIT_TABLE, Actor, change_row, record_change
from ..db import insert_rows
from ..errors import DomainError, ErrorCode
from ..events import OUTBOX_TABLE, emit, event_row
from ..ids import to_global_id
from ..instants import utc_now
from ..models import BookingRole, Enrollment, EnrollmentStatus, Person, Session, SessionStatus
from . import meetings
from .records import snapshot, snapshot_values
from .capacity import (
    check_room_capacity, enrolments_sql, free_seats, seats_free, seats_taken, seats_taken_sql,
)
from .locks import lock_resources, lock_session, lock_session_row, session_ordering_key
from .scheduling import session_bookings

ACTIVE = (EnrollmentStatus.PENDING_APPROVAL, EnrollmentStatus.ENROLLED, EnrollmentStatus.WAITLISTED)


def _event_payload(enrollment: Any, before: EnrollmentStatus | None, reason: str) -> dict[str, Any]:
    """The payload of `enrollment.changed` (docs/api.md), from an ORM Enrollment or an `Enrolled`."""
    return {
        "enrollment": to_global_id("Enrollment", enrollment.id),
        "session": to_global_id("Session", enrollment.session_id),
        "learner": to_global_id("Person", enrollment.learner_id),
        "before": {"status": before.value if before else None},
        "after": {"status": enrollment.status.value, "waitlistPosition": enrollment.waitlist_position},
        "reason": reason,
    }


def _event(db: AsyncSession, session: Session, enrollment: Enrollment, before: EnrollmentStatus | None,
           reason: str) -> None:
    emit(db, "enrollment.changed", _event_payload(enrollment, before, reason),
         session_ordering_key(enrollment.session_id))
    if enrollment.status is EnrollmentStatus.ENROLLED:
        meetings.plan_registration(db, session, enrollment)


def _seat_or_waitlist(session: Any, taken: int, waiting: int) -> tuple[EnrollmentStatus, int | None]:
    """Rule 1 and 3: a free seat if there is one (`taken` of the session's seats are), else the end of
    the waitlist (`waiting` long), counted under the session's lock: (status, waitlist position)."""
    if free_seats(session, taken):
        return EnrollmentStatus.ENROLLED, None
    return EnrollmentStatus.WAITLISTED, waiting + 1


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


def enrolment_closes_at(session) -> datetime:
    """When enrolment in a session closes: its cut-off, else its start."""
    return session.enrollment_cutoff_at or session.starts_at


def is_open_for_enrolment(session, now: datetime) -> bool:
    """The rule: a session is open for enrolment while it is SCHEDULED and before `enrolment_closes_at`."""
    return session.status is SessionStatus.SCHEDULED and now < enrolment_closes_at(session)


def open_for_enrolment_sql(now: datetime) -> Any:
    """`is_open_for_enrolment` as a condition on the session table, for queries that filter by it."""
    return and_(Session.status == SessionStatus.SCHEDULED,
                func.coalesce(Session.enrollment_cutoff_at, Session.starts_at) > now)


def _require_open(session: Session) -> None:
    if session.status is not SessionStatus.SCHEDULED:
        raise DomainError(ErrorCode.SESSION_NOT_OPEN, f"The session is {session.status.value.lower()}.", "sessionId")
    if not is_open_for_enrolment(session, utc_now()):
        raise DomainError(ErrorCode.SESSION_NOT_OPEN, "Enrolment for this session has closed.", "sessionId")


@dataclass(frozen=True)
class Enrolled:
    """An enrolment as `enroll` wrote it (the committed row, without a read after the change)."""

    id: int
    session_id: int
    learner_id: int
    status: EnrollmentStatus
    waitlist_position: int | None
    created_at: datetime
    meeting_join_url: str | None


# What `enroll` reads of the session under its lock: what the rules check and what a seat's meeting needs.
ENROL_SESSION_COLUMNS = ("status", "capacity", "requires_approval", "starts_at", "enrollment_cutoff_at",
                         "delivery_mode", "meeting_provider", "meeting_join_url")
ENROLLMENT_TABLE = Enrollment.__table__
PERSON_TABLE = Person.__table__
# Under the lock, one statement: each learner, their enrolment here if any, seats taken, the waitlist
# (the counts are uncorrelated, so the database counts them once, however many learners).
_ENROL_FINDS = (
    select(PERSON_TABLE.c.id, PERSON_TABLE.c.name, *ENROLLMENT_TABLE.c, seats_taken_sql(bindparam("session_id")),
           enrolments_sql(EnrollmentStatus.WAITLISTED, bindparam("session_id")))
    .outerjoin(ENROLLMENT_TABLE, and_(ENROLLMENT_TABLE.c.learner_id == PERSON_TABLE.c.id,
                                      ENROLLMENT_TABLE.c.session_id == bindparam("session_id")))
    .where(PERSON_TABLE.c.id.in_(bindparam("learner_ids", expanding=True))))  # plain Core, no ORM loading
_FOUND_COUNTS = slice(2 + len(ENROLLMENT_TABLE.c), 4 + len(ENROLLMENT_TABLE.c))  # (seats taken, waiting)
# PostgreSQL: the new enrolments' ids drawn in the same statement, under the lock (ids follow the lock
# order, as the waitlist does), so the enrolments, their audit rows and events go in one INSERT after it.
_ENROL_FINDS_WITH_ID = _ENROL_FINDS.add_columns(func.nextval(func.pg_get_serial_sequence("enrollment", "id")))
_ENROL_INSERT = insert(ENROLLMENT_TABLE).returning(ENROLLMENT_TABLE.c.id, sort_by_parameter_order=True)
_ENROL_AGAIN = (update(ENROLLMENT_TABLE).where(ENROLLMENT_TABLE.c.id == bindparam("enrollment_id"))
                .values(status=bindparam("new_status"), waitlist_position=bindparam("new_position"),
                        reason=None, created_at=bindparam("now"), updated_at=bindparam("now"),
                        meeting_join_url=func.coalesce(bindparam("join_url"), ENROLLMENT_TABLE.c.meeting_join_url)))


async def enroll(db: AsyncSession, actor: Actor, session_id: int, learner_id: int) -> Enrolled:
    """Enrol one learner (`enroll_many` with one ask): the enrolment, or its DomainError raised."""
    outcome = (await enroll_many(db, session_id, [(actor, learner_id)]))[0]
    if isinstance(outcome, DomainError):
        raise outcome
    return outcome


async def enroll_many(db: AsyncSession, session_id: int, asks: list[tuple[Actor, int]],
                      joining: Callable[[], list[tuple[Actor, int]]] | None = None) -> list[Enrolled | DomainError]:
    """Rules 1 and 3 for learners enrolling in one session, in the order asked, under the session's
    lock, written with statements (no ORM objects): the lock, one read of everything the rules check,
    then the enrolments, their audit rows and their outbox rows (on PostgreSQL in one statement: the
    lock is held for four round trips however many learners ask). `joining`, called once the lock is
    held, gives more asks to enrol after `asks` (those that arrived while the lock was awaited). Each
    ask gets its enrolment, or the DomainError that refused it alone (nothing of it is written); a
    refusal of the whole session (unknown, not open) is raised."""
    session = await lock_session_row(db, session_id, ENROL_SESSION_COLUMNS)
    if joining is not None:
        asks = [*asks, *joining()]
    postgresql = db.bind.dialect.name == "postgresql"
    found = (await db.execute(_ENROL_FINDS_WITH_ID if postgresql else _ENROL_FINDS,
                              {"session_id": session.id, "learner_ids": sorted({lid for _, lid in asks})})).all()
    _require_open(session)
    by_learner = {row[0]: row for row in found}
    spare_ids = sorted(row[-1] for row in found) if postgresql else []  # handed out in the order asked
    taken, waiting = found[0][_FOUND_COUNTS] if found else (0, 0)
    now = utc_now()
    outcomes: list[Enrolled | DomainError | None] = []
    written: list[tuple[int, Actor, dict, dict | None]] = []  # (outcome's index, actor, the row, before)
    asked: dict[int, EnrollmentStatus] = {}  # learner -> the status their first ask here got
    for actor, learner_id in asks:
        row = by_learner.get(learner_id)
        if row is None:
            outcomes.append(DomainError(ErrorCode.NOT_FOUND, "No person with that id.", "learnerId"))
            continue
        name, columns = row[1], row[2:_FOUND_COUNTS.start]
        existing = dict(zip(ENROLLMENT_TABLE.c.keys(), columns)) if columns[0] is not None else None
        held = asked.get(learner_id) or (existing["status"] if existing is not None else None)
        if held in ACTIVE:
            outcomes.append(DomainError(ErrorCode.ALREADY_ENROLLED,
                                        f"{name} is already {held.value.lower()} in this session.", "learnerId"))
            continue
        if session.requires_approval:
            status, position = EnrollmentStatus.PENDING_APPROVAL, None
        else:
            status, position = _seat_or_waitlist(session, taken, waiting)
            taken, waiting = (taken + 1, waiting) if position is None else (taken, waiting + 1)
        asked[learner_id] = status
        join_url = meetings.seat_join_link(session) if status is EnrollmentStatus.ENROLLED else None
        if existing is None:
            before = None
            values = {"session_id": session.id, "learner_id": learner_id, "status": status,
                      "waitlist_position": position, "reason": None, "meeting_registrant_id": None,
                      "meeting_join_url": join_url, "created_at": now, "updated_at": now}
            if postgresql:
                values["id"] = spare_ids.pop(0)
        else:
            before = snapshot_values(Enrollment, existing)
            await db.execute(_ENROL_AGAIN, {"enrollment_id": existing["id"], "new_status": status,
                                            "new_position": position, "now": now, "join_url": join_url})
            values = {**existing, "status": status, "waitlist_position": position, "reason": None,
                      "created_at": now, "updated_at": now,
                      "meeting_join_url": join_url or existing["meeting_join_url"]}
        written.append((len(outcomes), actor, values, before))
        outcomes.append(None)  # the Enrolled, once its id is known
    fresh = [values for _, _, values, before in written if before is None]
    if fresh and not postgresql:
        for values, new_id in zip(fresh, (await db.execute(_ENROL_INSERT, fresh)).scalars().all()):
            values["id"] = new_id
    audits, messages = [], []
    for index, actor, values, before in written:
        enrolled = Enrolled(values["id"], session.id, values["learner_id"], values["status"],
                            values["waitlist_position"], now, values["meeting_join_url"])
        outcomes[index] = enrolled
        audits.append(change_row(actor, "enrollment.create", "Enrollment", enrolled.id, before,
                                 snapshot_values(Enrollment, values)))
        messages.append(event_row(db, "enrollment.changed", _event_payload(enrolled, None, "enrolled"),
                                  session_ordering_key(session.id))[1])
    await insert_rows(db, [(ENROLLMENT_TABLE, fresh if postgresql else []), (AUDIT_TABLE, audits),
                           (OUTBOX_TABLE, messages)])
    if any(isinstance(o, Enrolled) and o.status is EnrollmentStatus.ENROLLED for o in outcomes):
        meetings.plan_registrants(db, session)
    return outcomes


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
        taken, waiting = await _seat_counts(db, session.id)
        enrollment.status, enrollment.waitlist_position = _seat_or_waitlist(session, taken, waiting)
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
