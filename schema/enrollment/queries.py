"""Rosters, paged by enrolment id and filtered to what the caller may see."""
from __future__ import annotations

from sqlalchemy import func, select
from strawberry.types import Info

from podium.core.models import Enrollment as EnrollmentRow
from podium.core.models import EnrollmentStatus

from ..permissions import visible_enrollments
from ..relay import connection, encode_cursor, id_after, page_size
from .types import ENROLLMENT_COLUMNS, EnrollmentConnection, enrollment_from


async def enrollment_connection(info: Info, session_id: int, status: EnrollmentStatus | None, first: int | None,
                                after: str | None) -> EnrollmentConnection:
    context = info.context
    size, after_id = page_size(first), id_after(after)
    where = [EnrollmentRow.session_id == session_id] + ([EnrollmentRow.status == status] if status else [])
    rows_query = visible_enrollments(context.caller, select(*ENROLLMENT_COLUMNS).where(*where))
    if after_id is not None:
        rows_query = rows_query.where(EnrollmentRow.id > after_id)
    async with context.reading() as db:
        rows = (await db.execute(rows_query.order_by(EnrollmentRow.id).limit(size + 1))).all()
    count_query = visible_enrollments(context.caller, select(func.count()).select_from(EnrollmentRow).where(*where))

    async def count_total() -> int:
        async with context.reading() as db:
            return await db.scalar(count_query)

    return connection([enrollment_from(r) for r in rows[:size]], len(rows) > size, after, lambda e: encode_cursor(e.pk), count_total)
