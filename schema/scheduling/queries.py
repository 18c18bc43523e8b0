"""The `sessions` query: keyset pages on (startsAt, id) in SQL, each page whole in four statements."""
from __future__ import annotations

from datetime import datetime

import strawberry
from sqlalchemy import and_, func, or_, select
from strawberry.types import Info

from podium.core.errors import DomainError, ErrorCode
from podium.core.instants import require_aware
from podium.core.models import Booking as BookingRow
from podium.core.models import Session as SessionRow
from podium.core.models import SessionStatus as CoreSessionStatus

from ..errors import ClientError
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


def _conditions(filter: SessionFilter | None, course_id: int | None) -> list:
    where = [] if course_id is None else [SessionRow.course_id == course_id]
    if filter is None:
        return where
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
    return where


def _after(after: str | None) -> list:
    position = instant_after(after)
    if position is None:
        return []
    starts_at, pk = position
    return [or_(SessionRow.starts_at > starts_at, and_(SessionRow.starts_at == starts_at, SessionRow.id > pk))]


async def session_connection(info: Info, filter: SessionFilter | None, first: int | None, after: str | None,
                             course_id: int | None = None) -> SessionConnection:
    context = info.context
    size = page_size(first)
    where = _conditions(filter, course_id)
    query = session_rows().where(*where, *_after(after)).order_by(SessionRow.starts_at, SessionRow.id).limit(size + 1)
    async with context.reading() as db:
        rows = (await db.execute(query)).all()
        sessions = await build_sessions(db, rows[:size], context.loaders.resource_objects)

    async def count_total() -> int:
        async with context.reading() as db:
            return await db.scalar(select(func.count()).select_from(SessionRow).where(*where))

    return connection(sessions, len(rows) > size, after,
                      lambda s: encode_cursor(s.starts_at.isoformat(), s.pk), count_total)


async def resource_bookings(info: Info, resource: Resource, from_: datetime, to: datetime) -> list[Booking]:
    """A resource's bookings in [from, to): the resources of a page share one statement (`booking_windows`)."""
    from_, to = _aware(from_, "from"), _aware(to, "to")
    if to <= from_:
        raise ClientError("to must be after from.", ErrorCode.INVALID_TIME_RANGE)
    rows = await info.context.loaders.booking_windows.load((resource.pk, from_, to))
    return [Booking(resource=resource, role=r.role, starts_at=r.starts_at, ends_at=r.ends_at, session_pk=r.session_id)
            for r in rows]


@strawberry.type
class SessionQueries:
    @strawberry.field(description="Ordered by startsAt, then id.")
    async def sessions(self, info: Info, filter: SessionFilter | None = None, first: int | None = None,
                       after: str | None = None) -> SessionConnection:
        return await session_connection(info, filter, first, after)
