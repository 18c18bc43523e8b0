"""Whole sessions in two statements however many there are: the sessions with their course and
seat counts, then their bookings with the resources."""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import date, datetime

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from podium.core.models import Booking as BookingRow
from podium.core.models import BookingRole, EnrollmentStatus, MeetingStatus
from podium.core.models import Course as CourseRow
from podium.core.models import Resource as ResourceRow
from podium.core.models import Session as SessionRow
from podium.core.models import SeriesOccurrence as SeriesOccurrenceRow
from podium.core.models import SessionPart as SessionPartRow
from podium.core.models import SeriesRule as SeriesRuleRow
from podium.core.models import SessionSeries as SessionSeriesRow
from podium.core.models import UnmatchedParticipant as UnmatchedRow
from podium.core.services.capacity import enrolments_sql, seats_taken_sql

from ..relay import global_id
from ..catalogue.types import COURSE_COLUMNS, RESOURCE_COLUMNS, Resource, course_from, resource_from
from ..permissions import MeetingAccess, meeting_access, visible_unmatched
from .types import Booking, Meeting, Series, SeriesRecurrence, Session, SessionPart, UnmatchedParticipant

SESSION_COLUMNS = (SessionRow.id, SessionRow.title, SessionRow.starts_at, SessionRow.ends_at, SessionRow.timezone,
                   SessionRow.delivery_mode, SessionRow.status, SessionRow.capacity, SessionRow.meeting_provider,
                   SessionRow.meeting_status, SessionRow.meeting_join_url, SessionRow.meeting_external_id,
                   SessionRow.meeting_error)
TEACHING = {BookingRole.LEAD_INSTRUCTOR: 0, BookingRole.CO_FACILITATOR: 1}
COUNT_COLUMNS = (seats_taken_sql().label("seats_taken"),
                 enrolments_sql(EnrollmentStatus.WAITLISTED).label("waitlist_count"))
"""Evaluated only for the rows a page returns."""


FIRST_RULE = (select(SeriesRuleRow.rule).where(SeriesRuleRow.series_id == SessionSeriesRow.id)
              .order_by(SeriesRuleRow.first_occurrence).limit(1).correlate(SessionSeriesRow).scalar_subquery())
SERIES_COLUMNS = (SessionSeriesRow.id, FIRST_RULE.label("rule"), SessionSeriesRow.timezone,
                  SessionSeriesRow.occurrences, SessionSeriesRow.except_dates)


def series_from(row) -> Series:
    """From a row with SERIES_COLUMNS."""
    return Series(id=global_id("Series", row.id), pk=row.id, rule=row.rule, timezone=row.timezone,
                  occurrences=row.occurrences, except_dates=[date.fromisoformat(d) for d in row.except_dates or []])


def session_rows() -> Select:
    """Sessions with their seat counts, joined with their course; callers add filters, order and limit."""
    return (select(*SESSION_COLUMNS, *COUNT_COLUMNS, *COURSE_COLUMNS)
            .join(CourseRow, CourseRow.id == SessionRow.course_id))


def _resource(resources: dict[int, Resource], row) -> Resource:
    """The row's resource (RESOURCE_COLUMNS), one object per resource across a request."""
    resource = resources.get(row.id)
    if resource is None:
        resource = resources[row.id] = resource_from(row)
    return resource


async def build_sessions(db: AsyncSession, rows: Sequence, resources: dict[int, Resource]) -> list[Session]:
    """Session objects for rows of `session_rows()`; `resources` shares Resource objects across a request."""
    if not rows:
        return []
    teaching = (await db.execute(
        select(BookingRow.session_id, BookingRow.role, *RESOURCE_COLUMNS)
        .join(ResourceRow, ResourceRow.id == BookingRow.resource_id)
        .where(BookingRow.session_id.in_([row.id for row in rows]),
               BookingRow.role.in_((*TEACHING, BookingRole.ROOM)))
        .order_by(BookingRow.session_id, BookingRow.id))).all()
    teachers: dict[int, dict[int, tuple[int, Resource]]] = defaultdict(dict)  # once each, of every part
    rooms: dict[int, Resource] = {}
    for row in teaching:
        if row.role is BookingRole.ROOM:
            rooms[row.session_id] = _resource(resources, row)
        else:
            teachers[row.session_id].setdefault(row.id, (TEACHING[row.role], _resource(resources, row)))
    courses = {}
    built = []
    for row in rows:
        course = courses.get(row.course_id)
        if course is None:
            course = courses[row.course_id] = course_from(row)
        built.append(Session(
            id=global_id("Session", row.id), pk=row.id, course=course, title=row.title, starts_at=row.starts_at,
            ends_at=row.ends_at, timezone=row.timezone, delivery_mode=row.delivery_mode, status=row.status,
            capacity=row.capacity, seats_taken=row.seats_taken, seats_left=max(row.capacity - row.seats_taken, 0),
            waitlist_count=row.waitlist_count,
            instructors=[r for _, r in sorted(teachers[row.id].values(), key=lambda t: t[0])], room=rooms.get(row.id),
            meeting=Meeting(session_pk=row.id, provider=row.meeting_provider,
                            status=row.meeting_status or MeetingStatus.PENDING, link=row.meeting_join_url,
                            meeting_id=row.meeting_external_id, failure=row.meeting_error)
            if row.meeting_provider else None))
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
                       SessionPartRow.position, *RESOURCE_COLUMNS)
                .join(ResourceRow, ResourceRow.id == BookingRow.resource_id)
                .outerjoin(SessionPartRow, SessionPartRow.id == BookingRow.part_id)
                .where(BookingRow.session_id.in_(ids), BookingRow.active)
                .order_by(BookingRow.session_id, SessionPartRow.position, BookingRow.id))).all()
        held: dict[int, list[Booking]] = defaultdict(list)
        for row in rows:
            held[row.session_id].append(Booking(resource=_resource(context.loaders.resource_objects, row),
                                                role=row.role, starts_at=row.starts_at, ends_at=row.ends_at,
                                                session_pk=row.session_id, part=row.position))
        return [held[i] for i in ids]

    async def session_parts(ids: list[int]) -> list[list[SessionPart]]:
        async with context.reading() as db:
            rows = (await db.execute(select(SessionPartRow.session_id, SessionPartRow.position,
                                            SessionPartRow.starts_at, SessionPartRow.ends_at)
                                     .where(SessionPartRow.session_id.in_(ids))
                                     .order_by(SessionPartRow.session_id, SessionPartRow.position))).all()
        found: dict[int, list[SessionPart]] = defaultdict(list)
        for row in rows:
            found[row.session_id].append(SessionPart(part=row.position, starts_at=row.starts_at, ends_at=row.ends_at))
        return [found[i] for i in ids]

    async def session_series(ids: list[int]) -> list[tuple[Series, int] | None]:
        """Each session's series and its occurrence number (None outside a series)."""
        async with context.reading() as db:
            rows = (await db.execute(select(SeriesOccurrenceRow.session_id, SeriesOccurrenceRow.number,
                                            *SERIES_COLUMNS)
                                     .join(SessionSeriesRow, SessionSeriesRow.id == SeriesOccurrenceRow.series_id)
                                     .where(SeriesOccurrenceRow.session_id.in_(ids)))).all()
        found = {row.session_id: (series_from(row), row.number) for row in rows}
        return [found.get(i) for i in ids]

    async def series(ids: list[int]) -> list[Series | None]:
        async with context.reading() as db:
            rows = (await db.execute(select(*SERIES_COLUMNS).where(SessionSeriesRow.id.in_(ids)))).all()
        found = {row.id: series_from(row) for row in rows}
        return [found.get(i) for i in ids]

    async def series_recurrences(ids: list[int]) -> list[list[SeriesRecurrence]]:
        """Each series' rules in occurrence order, each up to the next one's first occurrence: one statement."""
        async with context.reading() as db:
            rows = (await db.execute(
                select(SeriesRuleRow.series_id, SeriesRuleRow.first_occurrence, SeriesRuleRow.starts_at,
                       SeriesRuleRow.ends_at, SeriesRuleRow.rule, SeriesRuleRow.except_dates,
                       SessionSeriesRow.occurrences)
                .join(SessionSeriesRow, SessionSeriesRow.id == SeriesRuleRow.series_id)
                .where(SeriesRuleRow.series_id.in_(ids))
                .order_by(SeriesRuleRow.series_id, SeriesRuleRow.first_occurrence))).all()
        found: dict[int, list[SeriesRecurrence]] = defaultdict(list)
        for row, following in zip(rows, [*rows[1:], None]):
            last = (following.first_occurrence - 1 if following is not None and following.series_id == row.series_id
                    else row.occurrences)
            found[row.series_id].append(SeriesRecurrence(
                from_occurrence=row.first_occurrence, to_occurrence=last, starts_at=row.starts_at,
                ends_at=row.ends_at, rule=row.rule, except_dates=[date.fromisoformat(d) for d in row.except_dates]))
        return [found[i] for i in ids]

    async def series_sessions(ids: list[int]) -> list[list[Session]]:
        """Each series' sessions in occurrence order: one statement for the sessions of every series asked for."""
        async with context.reading() as db:
            rows = (await db.execute(
                session_rows().add_columns(SeriesOccurrenceRow.series_id)
                .join(SeriesOccurrenceRow, SeriesOccurrenceRow.session_id == SessionRow.id)
                .where(SeriesOccurrenceRow.series_id.in_(ids))
                .order_by(SeriesOccurrenceRow.series_id, SeriesOccurrenceRow.number))).all()
            built = await build_sessions(db, rows, context.loaders.resource_objects)
        found: dict[int, list[Session]] = defaultdict(list)
        for row, session in zip(rows, built):
            found[row.series_id].append(session)
        return [found[i] for i in ids]

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
                           BookingRow.session_id, SessionPartRow.position)
                    .outerjoin(SessionPartRow, SessionPartRow.id == BookingRow.part_id)
                    .where(BookingRow.resource_id.in_(resource_ids), BookingRow.active,
                           BookingRow.starts_at < to, BookingRow.ends_at > from_)
                    .order_by(BookingRow.resource_id, BookingRow.starts_at, BookingRow.id))).all()
            for row in rows:
                held[(row.resource_id, from_, to)].append(row)
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
            listed[row.session_id].append(UnmatchedParticipant(name=row.name, email=row.email,
                                                               minutes_attended=row.minutes_attended,
                                                               source=row.source))
        return [listed[i] for i in ids]

    async def meeting_access_of(ids: list[int]) -> list[MeetingAccess]:
        """What the caller may see of these sessions' meetings, in at most two statements."""
        async with context.reading() as db:
            access = await meeting_access(db, context.caller, ids)
        return [access.get(i, MeetingAccess()) for i in ids]

    return {"sessions": sessions, "session_bookings": session_bookings, "session_parts": session_parts,
            "session_series": session_series, "series": series, "series_sessions": series_sessions,
            "series_recurrences": series_recurrences,
            "meeting_access": meeting_access_of,
            "unmatched_participants": unmatched_participants,
            "booking_windows": booking_windows}
