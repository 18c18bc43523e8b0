"""The `sessions` query: keyset pages on (startsAt, id) in SQL, each page whole in four statements."""
from __future__ import annotations

from datetime import datetime, timedelta

import strawberry
from sqlalchemy import and_, func, or_, select
from strawberry.types import Info

from podium.core.errors import DomainError, ErrorCode
from podium.core.instants import require_aware, utc_now
from podium.core.services import enrollment
from podium.core.models import Booking as BookingRow
from podium.core.models import BookingRole
from podium.core.models import Course as CourseRow
from podium.core.models import Resource as ResourceRow
from podium.core.models import Session as SessionRow
from podium.core.models import SessionStatus as CoreSessionStatus
from podium.core.models import Venue as VenueRow
from podium.core.text_search import LIKE_ESCAPE, contains_pattern, fold

from ..errors import ClientError
from ..limits import query_term
from ..permissions import sessions_taught_by
from ..relay import connection, encode_cursor, instant_after, page_size, query_id
from .dataloaders import build_sessions, session_rows
from .inputs import SessionFilter
from ..catalogue.types import Resource
from .types import Booking, SessionConnection


def _aware(value: datetime, name: str) -> datetime:
    """A query's instant, taken as rule 5 says (`require_aware`); refused as a GraphQL error."""
    try:
        return require_aware(value, name)
    except DomainError as error:
        raise ClientError(error.message, error.code) from None


def _in_rooms(rooms) -> object:
    """Sessions whose room is one of `rooms` (a select of resource ids)."""
    return SessionRow.id.in_(select(BookingRow.session_id).where(BookingRow.role == BookingRole.ROOM,
                                                                 BookingRow.resource_id.in_(rooms)))


def _matching(term: str) -> object:
    pattern = contains_pattern(term)
    return or_(SessionRow.search_text.like(pattern, escape=LIKE_ESCAPE),
               SessionRow.course_id.in_(select(CourseRow.id).where(CourseRow.search_text.like(pattern,
                                                                                             escape=LIKE_ESCAPE))))


def _conditions(filter: SessionFilter | None, course_id: int | None) -> list:
    """The filter as WHERE conditions on the session table alone (subqueries, no joins), so the page and
    its count take the same ones and the page stays one statement."""
    where = [] if course_id is None else [SessionRow.course_id == course_id]
    if filter is None:
        return where
    now = utc_now()
    if filter.from_ is not None:
        where.append(SessionRow.ends_at > _aware(filter.from_, "from"))
    if filter.to is not None:
        where.append(SessionRow.starts_at < _aware(filter.to, "to"))
    if filter.course_id is not None:
        where.append(SessionRow.course_id == query_id(filter.course_id, "Course", "courseId"))
    if filter.resource_id is not None:
        resource = query_id(filter.resource_id, "Resource", "resourceId")
        where.append(SessionRow.id.in_(select(BookingRow.session_id).where(BookingRow.resource_id == resource)))
    if filter.delivery_mode is not None:
        where.append(SessionRow.delivery_mode == filter.delivery_mode)
    if filter.status:
        where.append(SessionRow.status.in_([CoreSessionStatus(s) for s in filter.status]))
    if filter.venue_id is not None:
        venue = query_id(filter.venue_id, "Venue", "venueId")
        where.append(_in_rooms(select(ResourceRow.id).where(ResourceRow.venue_id == venue)))
    if filter.city is not None and (city := query_term(filter.city, "city")):
        where.append(_in_rooms(select(ResourceRow.id).join(VenueRow, VenueRow.id == ResourceRow.venue_id)
                               .where(VenueRow.city_key == fold(city))))
    if filter.search is not None and (term := query_term(filter.search, "search")):
        where.append(_matching(term))
    if filter.has_seats is not None:
        # what `hasSeats` means: enrolling now gives a seat, or a waitlist place when the session is full
        open_ = enrollment.open_for_enrolment_sql(now)
        where.append(open_ if filter.has_seats else ~open_)
    if filter.upcoming is not None:
        where.append(SessionRow.ends_at > now if filter.upcoming else SessionRow.ends_at <= now)
    return where


def _after(after: str | None) -> list:
    position = instant_after(after)
    if position is None:
        return []
    starts_at, pk = position
    return [or_(SessionRow.starts_at > starts_at, and_(SessionRow.starts_at == starts_at, SessionRow.id > pk))]


async def session_connection(info: Info, filter: SessionFilter | None, first: int | None, after: str | None,
                             course_id: int | None = None, within: tuple = ()) -> SessionConnection:
    """A page of sessions; `within` narrows it further (conditions on the session table)."""
    context = info.context
    size = page_size(first)
    where = [*_conditions(filter, course_id), *within]
    query = session_rows().where(*where, *_after(after)).order_by(SessionRow.starts_at, SessionRow.id).limit(size + 1)
    async with context.reading() as db:
        rows = (await db.execute(query)).all()
        sessions = await build_sessions(db, rows[:size], context.loaders.resource_objects)

    async def count_total() -> int:
        async with context.reading() as db:
            return await db.scalar(select(func.count()).select_from(SessionRow).where(*where))

    return connection(sessions, len(rows) > size, after,
                      lambda s: encode_cursor(s.starts_at.isoformat(), s.pk), count_total)


async def teaching_connection(info: Info, email: str, filter: SessionFilter | None, first: int | None,
                              after: str | None) -> SessionConnection:
    """The sessions the person with this email instructs."""
    return await session_connection(info, filter, first, after, within=(SessionRow.id.in_(sessions_taught_by(email)),))


BOOKINGS_WINDOW = timedelta(days=92)
"""The longest [from, to) `Resource.bookings` answers: a quarter, so the list stays bounded (cost.py)."""


async def resource_bookings(info: Info, resource: Resource, from_: datetime, to: datetime) -> list[Booking]:
    """A resource's bookings in [from, to): the resources of a page share one statement (`booking_windows`)."""
    from_, to = _aware(from_, "from"), _aware(to, "to")
    if to <= from_:
        raise ClientError("to must be after from.", ErrorCode.INVALID_TIME_RANGE)
    if to - from_ > BOOKINGS_WINDOW:
        raise ClientError(f"A bookings window is at most {BOOKINGS_WINDOW.days} days; ask for several.",
                          ErrorCode.INVALID)
    rows = await info.context.loaders.booking_windows.load((resource.pk, from_, to))
    return [Booking(resource=resource, role=r.role, starts_at=r.starts_at, ends_at=r.ends_at, session_pk=r.session_id,
                    part=r.position) for r in rows]


@strawberry.type
class SessionQueries:
    @strawberry.field(description="Ordered by startsAt, then id.")
    async def sessions(self, info: Info, filter: SessionFilter | None = None, first: int | None = None,
                       after: str | None = None) -> SessionConnection:
        return await session_connection(info, filter, first, after)
