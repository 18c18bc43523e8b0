"""Whole sessions in two statements however many there are: the sessions with their course and
seat counts, then their bookings with the resources."""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from podium.core.models import Booking as BookingRow
from podium.core.models import BookingRole, EnrollmentStatus, MeetingStatus
from podium.core.models import Course as CourseRow
from podium.core.models import Enrollment as EnrollmentRow
from podium.core.models import Resource as ResourceRow
from podium.core.models import Session as SessionRow
from podium.core.models import UnmatchedParticipant as UnmatchedRow

from ..relay import global_id
from ..catalogue.types import COURSE_COLUMNS, RESOURCE_COLUMNS, Resource, course_from, resource_from
from ..permissions import MeetingAccess, meeting_access, visible_unmatched
from .types import Booking, Meeting, Session, UnmatchedParticipant

SESSION_COLUMNS = (SessionRow.id, SessionRow.title, SessionRow.starts_at, SessionRow.ends_at, SessionRow.timezone,
                   SessionRow.delivery_mode, SessionRow.status, SessionRow.capacity, SessionRow.meeting_provider,
                   SessionRow.meeting_status, SessionRow.meeting_join_url, SessionRow.meeting_external_id,
                   SessionRow.meeting_error)
TEACHING = {BookingRole.LEAD_INSTRUCTOR: 0, BookingRole.CO_FACILITATOR: 1}


def _counted(status: EnrollmentStatus):
    """Learners of a status in the row's session: evaluated only for the rows a page returns."""
    return (select(func.count()).select_from(EnrollmentRow)
            .where(EnrollmentRow.session_id == SessionRow.id, EnrollmentRow.status == status)
            .correlate(SessionRow).scalar_subquery())


COUNT_COLUMNS = (_counted(EnrollmentStatus.ENROLLED), _counted(EnrollmentStatus.WAITLISTED))
_N = len(SESSION_COLUMNS) + len(COUNT_COLUMNS)


def session_rows() -> Select:
    """Sessions with their seat counts, joined with their course; callers add filters, order and limit."""
    return (select(*SESSION_COLUMNS, *COUNT_COLUMNS, *COURSE_COLUMNS)
            .join(CourseRow, CourseRow.id == SessionRow.course_id))


def _resource(resources: dict[int, Resource], row) -> Resource:
    resource = resources.get(row[0])
    if resource is None:
        resource = resources[row[0]] = resource_from(row)
    return resource


async def build_sessions(db: AsyncSession, rows: Sequence, resources: dict[int, Resource]) -> list[Session]:
    """Session objects for rows of `session_rows()`; `resources` shares Resource objects across a request."""
    if not rows:
        return []
    teaching = (await db.execute(
        select(BookingRow.session_id, BookingRow.role, *RESOURCE_COLUMNS)
        .join(ResourceRow, ResourceRow.id == BookingRow.resource_id)
        .where(BookingRow.session_id.in_([row[0] for row in rows]),
               BookingRow.role.in_((*TEACHING, BookingRole.ROOM)))
        .order_by(BookingRow.session_id, BookingRow.id))).all()
    teachers: dict[int, list[tuple[int, Resource]]] = defaultdict(list)
    rooms: dict[int, Resource] = {}
    for row in teaching:
        session_id, role = row[0], row[1]
        if role is BookingRole.ROOM:
            rooms[session_id] = _resource(resources, row[2:])
        else:
            teachers[session_id].append((TEACHING[role], _resource(resources, row[2:])))
    courses = {}
    built = []
    for row in rows:
        pk, capacity, taken = row[0], row[7], row[13]
        course = courses.get(row[_N])
        if course is None:
            course = courses[row[_N]] = course_from(row[_N:])
        built.append(Session(
            id=global_id("Session", pk), pk=pk, course=course, title=row[1], starts_at=row[2], ends_at=row[3],
            timezone=row[4], delivery_mode=row[5], status=row[6], capacity=capacity, seats_taken=taken,
            seats_left=max(capacity - taken, 0), waitlist_count=row[14],
            instructors=[r for _, r in sorted(teachers[pk], key=lambda t: t[0])], room=rooms.get(pk),
            meeting=Meeting(session_pk=pk, provider=row[8], status=row[9] or MeetingStatus.PENDING, link=row[10],
                            meeting_id=row[11], failure=row[12]) if row[8] else None))
    return built


def loaders(context) -> dict:
    async def sessions(ids: list[int]) -> list[Session | None]:
        async with context.reading() as db:
            rows = (await db.execute(session_rows().where(SessionRow.id.in_(ids)))).all()
            found = {s.pk: s for s in await build_sessions(db, rows, context.loaders.resource_objects)}
        return [found.get(i) for i in ids]

    async def session_bookings(ids: list[int]) -> list[list[Booking]]:
        """Active bookings of sessions (a cancelled session has none)."""
        async with context.reading() as db:
            rows = (await db.execute(
                select(BookingRow.session_id, BookingRow.role, BookingRow.starts_at, BookingRow.ends_at,
                       *RESOURCE_COLUMNS)
                .join(ResourceRow, ResourceRow.id == BookingRow.resource_id)
                .where(BookingRow.session_id.in_(ids), BookingRow.active)
                .order_by(BookingRow.session_id, BookingRow.id))).all()
        held: dict[int, list[Booking]] = defaultdict(list)
        for row in rows:
            held[row[0]].append(Booking(resource=_resource(context.loaders.resource_objects, row[4:]), role=row[1],
                                        starts_at=row[2], ends_at=row[3], session_pk=row[0]))
        return [held[i] for i in ids]

    async def booking_windows(keys: list[tuple[int, datetime, datetime]]) -> list[list]:
        """Active bookings of resources overlapping [from, to): one statement per window asked for."""
        windows: dict[tuple[datetime, datetime], list[int]] = defaultdict(list)
        for resource_id, from_, to in keys:
            windows[(from_, to)].append(resource_id)
        held: dict[tuple, list] = defaultdict(list)
        for (from_, to), resource_ids in windows.items():
            async with context.reading() as db:
                rows = (await db.execute(
                    select(BookingRow.resource_id, BookingRow.role, BookingRow.starts_at, BookingRow.ends_at,
                           BookingRow.session_id)
                    .where(BookingRow.resource_id.in_(resource_ids), BookingRow.active,
                           BookingRow.starts_at < to, BookingRow.ends_at > from_)
                    .order_by(BookingRow.resource_id, BookingRow.starts_at, BookingRow.id))).all()
            for row in rows:
                held[(row[0], from_, to)].append(row)
        return [held[key] for key in keys]

    async def unmatched_participants(ids: list[int]) -> list[list[UnmatchedParticipant]]:
        """For review by staff and the session's instructors; nobody else sees who attended."""
        query = visible_unmatched(context.caller, select(
            UnmatchedRow.session_id, UnmatchedRow.name, UnmatchedRow.email, UnmatchedRow.minutes_attended,
            UnmatchedRow.source).where(UnmatchedRow.session_id.in_(ids)).order_by(UnmatchedRow.session_id,
                                                                                 UnmatchedRow.id))
        if query is None:
            return [[] for _ in ids]
        async with context.reading() as db:
            rows = (await db.execute(query)).all()
        listed: dict[int, list[UnmatchedParticipant]] = defaultdict(list)
        for row in rows:
            listed[row[0]].append(UnmatchedParticipant(name=row[1], email=row[2], minutes_attended=row[3],
                                                       source=row[4]))
        return [listed[i] for i in ids]

    async def meeting_access_of(ids: list[int]) -> list[MeetingAccess]:
        """What the caller may see of these sessions' meetings, in at most two statements."""
        async with context.reading() as db:
            access = await meeting_access(db, context.caller, ids)
        return [access.get(i, MeetingAccess()) for i in ids]

    return {"sessions": sessions, "session_bookings": session_bookings, "meeting_access": meeting_access_of,
            "unmatched_participants": unmatched_participants,
            "booking_windows": booking_windows}
