"""The role rules (docs/api.md, "Signing in and roles"), in one place.

ADMIN and COORDINATOR may do everything; an INSTRUCTOR (their Person matched to an INSTRUCTOR
resource by email) reads the rosters of, and records attendance for, the sessions they teach;
a LEARNER sees their own person and enrolments and enrols or cancels only themselves; anonymous
callers read the public catalogue (courses, sessions without rosters).
"""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Select, false, or_, select

from podium.core.errors import DomainError, ErrorCode
from podium.core.models import (
    Booking, BookingRole, Certification, Enrollment, EnrollmentStatus, Person, Program, ProgramLearner, ProgramStage,
    Resource, ResourceKind, Role, STAFF_ROLES, UnmatchedParticipant,
)

from .access.callers import Caller
from .errors import ClientError

STAFF = STAFF_ROLES
TEACHING = (BookingRole.LEAD_INSTRUCTOR, BookingRole.CO_FACILITATOR)


def is_staff(caller: Caller) -> bool:
    return caller.role in STAFF


# --- mutations: a refusal is a FORBIDDEN UserError ---------------------------------------

def _forbidden(message: str) -> DomainError:
    return DomainError(ErrorCode.FORBIDDEN, message)


def check_staff(caller: Caller) -> None:
    if not is_staff(caller):
        raise _forbidden("Only an admin or a coordinator may do this.")


def check_admin(caller: Caller, what: str = "do this") -> None:
    """Tokens and the outbox are an admin's alone."""
    if caller.role is not Role.ADMIN:
        raise _forbidden(f"Only an admin may {what}.")


def check_enrolment_of(caller: Caller, learner_id: int) -> None:
    """Enrol or cancel: staff for anyone, everyone else only for themselves."""
    if not is_staff(caller) and (caller.person_id is None or caller.person_id != learner_id):
        raise _forbidden("You may enrol and cancel only yourself.")


def sessions_taught_by(email: str) -> Select:
    """The sessions a person teaches: bookings of INSTRUCTOR resources with their email."""
    return (select(Booking.session_id).join(Resource, Resource.id == Booking.resource_id)
            .where(Resource.kind == ResourceKind.INSTRUCTOR, Resource.email == email,
                   Booking.role.in_(TEACHING), Booking.session_id.is_not(None)))


def taught_session_ids(caller: Caller) -> Select:
    """The sessions an instructor caller teaches."""
    return sessions_taught_by(caller.email)


def teaches(caller: Caller) -> bool:
    return caller.role is Role.INSTRUCTOR and caller.email is not None


async def teaches_session(db, caller: Caller, session_id: int) -> bool:
    return teaches(caller) and bool(
        await db.scalar(taught_session_ids(caller).where(Booking.session_id == session_id).limit(1)))


async def check_attendance_of(db, caller: Caller, session_id: int) -> None:
    if is_staff(caller) or await teaches_session(db, caller, session_id):
        return
    raise _forbidden("Only the session's instructors, an admin or a coordinator may record attendance.")


# --- reads: a refusal is a GraphQL error, or rows filtered to what the caller may see ---------

def require_signed_in(caller: Caller, what: str) -> None:
    if not caller.signed_in:
        raise ClientError(f"Sign in to see {what}.", ErrorCode.FORBIDDEN)


def require_staff(caller: Caller, what: str) -> None:
    if not is_staff(caller):
        raise ClientError(f"Only an admin or a coordinator may see {what}.", ErrorCode.FORBIDDEN)


def require_admin(caller: Caller, what: str) -> None:
    if caller.role is not Role.ADMIN:
        raise ClientError(f"Only an admin may see {what}.", ErrorCode.FORBIDDEN)


async def require_session_staff(db, caller: Caller, session_id: int, what: str) -> None:
    """A session's readiness is for staff and the session's instructors."""
    if is_staff(caller) or await teaches_session(db, caller, session_id):
        return
    raise ClientError(f"Only the session's instructors, an admin or a coordinator may see {what}.",
                      ErrorCode.FORBIDDEN)


def _own(caller: Caller, person_column):
    return person_column == caller.person_id if caller.person_id else false()


def visible_enrollments(caller: Caller, query: Select) -> Select:
    """Rosters: staff see all, an instructor those of sessions they teach (and their own), a learner their own."""
    require_signed_in(caller, "enrolments")
    if is_staff(caller):
        return query
    own = _own(caller, Enrollment.learner_id)
    if teaches(caller):
        return query.where(or_(own, Enrollment.session_id.in_(taught_session_ids(caller))))
    return query.where(own)


def taught_learner_ids(caller: Caller) -> Select:
    """The learners of the sessions an instructor caller teaches: the only learners an instructor sees."""
    return select(Enrollment.learner_id).where(Enrollment.session_id.in_(taught_session_ids(caller)))


def _self_or_taught(caller: Caller, person_column) -> list:
    """Who a caller may see, as a WHERE clause on a person column: staff anyone (no clause), an instructor
    themselves and the learners they teach, anyone else themselves."""
    if is_staff(caller):
        return []
    own = _own(caller, person_column)
    return [or_(own, person_column.in_(taught_learner_ids(caller)))] if teaches(caller) else [own]


def visible_people(caller: Caller, query: Select) -> Select:
    """Staff see everyone, an instructor themselves and the learners they teach, a learner only themselves."""
    require_signed_in(caller, "people")
    return query.where(*_self_or_taught(caller, Person.id))


def visible_programs(caller: Caller, query: Select) -> Select:
    """Staff see every program, an instructor those whose live sessions they teach, a learner those they are in."""
    require_signed_in(caller, "programs")
    if is_staff(caller):
        return query
    mine = (Program.id.in_(select(ProgramLearner.program_id).where(ProgramLearner.learner_id == caller.person_id))
            if caller.person_id else false())
    if teaches(caller):
        taught = Program.id.in_(select(ProgramStage.program_id).where(
            ProgramStage.session_id.in_(taught_session_ids(caller))))
        return query.where(mine | taught)
    return query.where(mine)


def within_program(caller: Caller, person_column) -> list:
    """Inside a program the caller may see, as everywhere: staff see every learner's journey and
    certifications, an instructor those of the learners they teach (and their own), a learner their own.
    An instructor who is also in the cohort sees no co-learner they do not teach."""
    return _self_or_taught(caller, person_column)


def own_certifications(caller: Caller) -> list:
    """Certifications outside a program: staff see any, everyone else their own."""
    return [] if is_staff(caller) else [_own(caller, Certification.person_id)]


def visible_unmatched(caller: Caller, query: Select) -> Select | None:
    """Who a conferencing report saw unmatched: staff, and instructors for the sessions they teach; None
    for anyone else."""
    if is_staff(caller):
        return query
    if teaches(caller):
        return query.where(UnmatchedParticipant.session_id.in_(taught_session_ids(caller)))
    return None


@dataclass(frozen=True)
class MeetingAccess:
    """What a caller may see of one session's online meeting."""

    hosts: bool = False            # staff or one of its instructors: the meeting's link, id and errors
    own_link: str | None = None    # a learner holding a seat: their own join link (it identifies them)


async def meeting_access(db, caller: Caller, session_ids: list[int]) -> dict[int, MeetingAccess]:
    """Join links and meeting ids are for staff, the session's instructors and its seated learners (their own
    link only); anonymous callers, other learners and the waitlisted see none. Two statements at most."""
    if is_staff(caller):
        return {sid: MeetingAccess(hosts=True) for sid in session_ids}
    access: dict[int, MeetingAccess] = {}
    if caller.person_id is not None:
        rows = await db.execute(select(Enrollment.session_id, Enrollment.meeting_join_url).where(
            Enrollment.learner_id == caller.person_id, Enrollment.status == EnrollmentStatus.ENROLLED,
            Enrollment.session_id.in_(session_ids)))
        access.update({sid: MeetingAccess(own_link=link) for sid, link in rows})
    if teaches(caller):
        taught = await db.scalars(taught_session_ids(caller).where(Booking.session_id.in_(session_ids)))
        access.update({sid: MeetingAccess(hosts=True) for sid in taught})
    return access


def sees_join_link_of(caller: Caller, learner_id: int, status: EnrollmentStatus) -> bool:
    """An enrolment's personal join link: for staff and the learner while they hold the seat, not their
    instructors (the link identifies the learner in the attendance report)."""
    return is_staff(caller) or (caller.person_id == learner_id and status is EnrollmentStatus.ENROLLED)


def sees_staff_contacts(caller: Caller) -> bool:
    """Instructors' emails are for signed-in callers, not the public catalogue."""
    return caller.signed_in
