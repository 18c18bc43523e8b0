"""Rosters, paged by enrolment id and filtered to what the caller may see. A page of sessions asks
for all their rosters at once: one windowed statement per batch, not one per session."""
from __future__ import annotations

from collections import defaultdict
from typing import NamedTuple

from sqlalchemy import func, select
from strawberry.types import Info

from podium.core.models import Enrollment as EnrollmentRow
from podium.core.models import EnrollmentStatus

from ..permissions import require_signed_in, visible_enrollments
from ..relay import connection, encode_cursor, id_after, page_size
from .types import ENROLLMENT_COLUMNS, Enrollment, EnrollmentConnection, enrollment_from


class RosterPage(NamedTuple):
    """What one `Session.enrollments(...)` asks for; sessions asking the same share a statement."""

    session_id: int
    status: EnrollmentStatus | None
    size: int
    after_id: int | None


class RosterCount(NamedTuple):
    session_id: int
    status: EnrollmentStatus | None


def _where(status: EnrollmentStatus | None, session_ids: list[int]) -> list:
    return [EnrollmentRow.session_id.in_(session_ids)] + ([EnrollmentRow.status == status] if status else [])


def loaders(context) -> dict:
    async def roster_pages(keys: list[RosterPage]) -> list[list[Enrollment]]:
        """Up to size + 1 rows per session (the extra one tells has_next), numbered per session in SQL."""
        batches: dict[tuple, list[int]] = defaultdict(list)
        for key in keys:
            batches[key[1:]].append(key.session_id)
        found: dict[RosterPage, list[Enrollment]] = defaultdict(list)
        for (status, size, after_id), session_ids in batches.items():
            where = _where(status, session_ids) + ([EnrollmentRow.id > after_id] if after_id is not None else [])
            numbered = visible_enrollments(context.caller, select(
                *ENROLLMENT_COLUMNS,
                func.row_number().over(partition_by=EnrollmentRow.session_id, order_by=EnrollmentRow.id).label("n"),
            ).where(*where)).subquery()
            query = (select(*(numbered.c[c.key] for c in ENROLLMENT_COLUMNS)).where(numbered.c.n <= size + 1)
                     .order_by(numbered.c.session_id, numbered.c.id))
            async with context.reading() as db:
                rows = (await db.execute(query)).all()
            for row in rows:
                found[RosterPage(row.session_id, status, size, after_id)].append(enrollment_from(row))
        return [found[key] for key in keys]

    async def roster_counts(keys: list[RosterCount]) -> list[int]:
        batches: dict[EnrollmentStatus | None, list[int]] = defaultdict(list)
        for key in keys:
            batches[key.status].append(key.session_id)
        counts: dict[RosterCount, int] = {}
        for status, session_ids in batches.items():
            query = visible_enrollments(context.caller, select(EnrollmentRow.session_id, func.count())
                                        .where(*_where(status, session_ids))).group_by(EnrollmentRow.session_id)
            async with context.reading() as db:
                for session_id, n in (await db.execute(query)).all():
                    counts[RosterCount(session_id, status)] = n
        return [counts.get(key, 0) for key in keys]

    return {"roster_pages": roster_pages, "roster_counts": roster_counts}


async def enrollment_connection(info: Info, session_id: int, status: EnrollmentStatus | None, first: int | None,
                                after: str | None) -> EnrollmentConnection:
    context = info.context
    require_signed_in(context.caller, "enrolments")
    size, after_id = page_size(first), id_after(after)
    rows = await context.loaders.roster_pages.load(RosterPage(session_id, status, size, after_id))

    async def count_total() -> int:
        return await context.loaders.roster_counts.load(RosterCount(session_id, status))

    return connection(rows[:size], len(rows) > size, after, lambda e: encode_cursor(e.pk), count_total)
