"""Rosters, paged by enrolment id and filtered to what the caller may see. A page of sessions asks
for all their rosters at once: one windowed statement per batch, not one per session."""
from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import NamedTuple

from sqlalchemy import and_, func, or_, select
from strawberry.types import Info

from podium.core.instants import utc_now
from podium.core.models import Enrollment as EnrollmentRow
from podium.core.models import EnrollmentStatus
from podium.core.models import Session as SessionRow

from ..permissions import require_signed_in, visible_enrollments
from ..relay import connection, encode_cursor, id_after, instant_after, page_size
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


class PersonPage(NamedTuple):
    """What one `Person.enrollments(...)` asks for; people asking the same share a statement."""

    learner_id: int
    statuses: tuple[EnrollmentStatus, ...]
    upcoming: bool | None
    size: int
    after: tuple[datetime, int] | None


class PersonCount(NamedTuple):
    learner_id: int
    statuses: tuple[EnrollmentStatus, ...]
    upcoming: bool | None


def _person_where(statuses: tuple[EnrollmentStatus, ...], upcoming: bool | None, now: datetime) -> list:
    """A person's enrolments by status and by whether their session ends after `now` (conditions on the
    enrolment and its session, which the query joins)."""
    where = [EnrollmentRow.status.in_(statuses)] if statuses else []
    if upcoming is not None:
        where.append(SessionRow.ends_at > now if upcoming else SessionRow.ends_at <= now)
    return where


def _where(status: EnrollmentStatus | None, session_ids: list[int]) -> list:
    return [EnrollmentRow.session_id.in_(session_ids)] + ([EnrollmentRow.status == status] if status else [])


def loaders(context) -> dict:
    now = utc_now()  # one "now" for every `upcoming` a request asks (loaders are made afresh per request)

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

    async def person_pages(keys: list[PersonPage]) -> list[list[Enrollment]]:
        """A page of each person's enrolments in the order of their sessions (startsAt, then enrolment id):
        up to size + 1 rows per person, numbered per person in SQL, one statement per kind of page."""
        batches: dict[tuple, list[int]] = defaultdict(list)
        for key in keys:
            batches[key[1:]].append(key.learner_id)
        found: dict[PersonPage, list[Enrollment]] = defaultdict(list)
        for (statuses, upcoming, size, after), learner_ids in batches.items():
            where = [EnrollmentRow.learner_id.in_(learner_ids), *_person_where(statuses, upcoming, now)]
            if after is not None:
                where.append(or_(SessionRow.starts_at > after[0],
                                 and_(SessionRow.starts_at == after[0], EnrollmentRow.id > after[1])))
            numbered = visible_enrollments(context.caller, select(
                *ENROLLMENT_COLUMNS, SessionRow.starts_at.label("starts_at"),
                func.row_number().over(partition_by=EnrollmentRow.learner_id,
                                       order_by=(SessionRow.starts_at, EnrollmentRow.id)).label("n"),
            ).join(SessionRow, SessionRow.id == EnrollmentRow.session_id).where(*where)).subquery()
            query = (select(*(numbered.c[c.key] for c in ENROLLMENT_COLUMNS), numbered.c.starts_at)
                     .where(numbered.c.n <= size + 1)
                     .order_by(numbered.c.learner_id, numbered.c.starts_at, numbered.c.id))
            async with context.reading() as db:
                rows = (await db.execute(query)).all()
            for row in rows:
                enrollment = enrollment_from(row)
                enrollment.session_starts_at = row.starts_at
                found[PersonPage(row.learner_id, statuses, upcoming, size, after)].append(enrollment)
        return [found[key] for key in keys]

    async def person_counts(keys: list[PersonCount]) -> list[int]:
        batches: dict[tuple, list[int]] = defaultdict(list)
        for key in keys:
            batches[key[1:]].append(key.learner_id)
        counts: dict[PersonCount, int] = {}
        for (statuses, upcoming), learner_ids in batches.items():
            query = visible_enrollments(context.caller, select(EnrollmentRow.learner_id, func.count())
                                        .join(SessionRow, SessionRow.id == EnrollmentRow.session_id)
                                        .where(EnrollmentRow.learner_id.in_(learner_ids),
                                               *_person_where(statuses, upcoming, now))
                                        ).group_by(EnrollmentRow.learner_id)
            async with context.reading() as db:
                for learner_id, n in (await db.execute(query)).all():
                    counts[PersonCount(learner_id, statuses, upcoming)] = n
        return [counts.get(key, 0) for key in keys]

    return {"roster_pages": roster_pages, "roster_counts": roster_counts, "person_pages": person_pages,
            "person_counts": person_counts}


async def enrollment_connection(info: Info, session_id: int, status: EnrollmentStatus | None, first: int | None,
                                after: str | None) -> EnrollmentConnection:
    context = info.context
    require_signed_in(context.caller, "enrolments")
    size, after_id = page_size(first), id_after(after)
    rows = await context.loaders.roster_pages.load(RosterPage(session_id, status, size, after_id))

    async def count_total() -> int:
        return await context.loaders.roster_counts.load(RosterCount(session_id, status))

    return connection(rows[:size], len(rows) > size, after, lambda e: encode_cursor(e.pk), count_total)


async def person_enrollment_connection(info: Info, learner_id: int, statuses: list[EnrollmentStatus] | None,
                                       upcoming: bool | None, first: int | None,
                                       after: str | None) -> EnrollmentConnection:
    """`Person.enrollments`: in the order of their sessions, keyset (startsAt, enrolment id), paged in SQL."""
    context = info.context
    require_signed_in(context.caller, "enrolments")
    size, position = page_size(first), instant_after(after)
    wanted = tuple(sorted({EnrollmentStatus(s) for s in statuses or []}, key=lambda s: s.value))
    rows = await context.loaders.person_pages.load(PersonPage(learner_id, wanted, upcoming, size, position))

    async def count_total() -> int:
        return await context.loaders.person_counts.load(PersonCount(learner_id, wanted, upcoming))

    return connection(rows[:size], len(rows) > size, after,
                      lambda e: encode_cursor(e.session_starts_at.isoformat(), e.pk), count_total)
