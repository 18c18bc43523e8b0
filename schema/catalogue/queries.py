"""`me`, `courses`, `resources`, `people`: id-ordered keyset pages."""
from __future__ import annotations

import strawberry
from sqlalchemy import func, select
from strawberry.types import Info

from podium.core.models import Course as CourseRow
from podium.core.models import Person as PersonRow
from podium.core.models import Resource as ResourceRow
from podium.core.models import Venue as VenueRow
from podium.core.text_search import fold

from ..limits import query_term
from ..permissions import require_signed_in, visible_people
from ..relay import connection, encode_cursor, id_after, page_size
from .inputs import VenueFilter
from .types import (
    COURSE_COLUMNS, PERSON_COLUMNS, RESOURCE_COLUMNS, VENUE_COLUMNS, CourseConnection, Person, PersonConnection,
    ResourceConnection, ResourceKind, VenueConnection, course_from, person_from, resource_from, venue_from,
)


async def _page(info: Info, query, count_query, pk_column, build, first: int | None, after: str | None):
    context = info.context
    size, after_id = page_size(first), id_after(after)
    if after_id is not None:
        query = query.where(pk_column > after_id)
    async with context.reading() as db:
        rows = (await db.execute(query.order_by(pk_column).limit(size + 1))).all()

    async def count_total() -> int:
        async with context.reading() as db:
            return await db.scalar(count_query)

    return connection([build(r) for r in rows[:size]], len(rows) > size, after, lambda o: encode_cursor(o.pk),
                      count_total)


@strawberry.type
class CatalogueQueries:
    @strawberry.field(description="The caller's own person; null when anonymous or the bootstrap admin token.")
    async def me(self, info: Info) -> Person | None:
        person_id = info.context.caller.person_id
        return None if person_id is None else await info.context.loaders.people.load(person_id)

    @strawberry.field(description="The public catalogue, in the order courses were created.")
    async def courses(self, info: Info, first: int | None = None, after: str | None = None) -> CourseConnection:
        return await _page(info, select(*COURSE_COLUMNS), select(func.count()).select_from(CourseRow), CourseRow.id,
                           course_from, first, after)

    @strawberry.field
    async def resources(self, info: Info, kind: ResourceKind | None = None, first: int | None = None,
                        after: str | None = None) -> ResourceConnection:
        require_signed_in(info.context.caller, "resources")
        where = [] if kind is None else [ResourceRow.kind == kind]
        return await _page(info, select(*RESOURCE_COLUMNS).where(*where),
                           select(func.count()).select_from(ResourceRow).where(*where), ResourceRow.id,
                           resource_from, first, after)

    @strawberry.field(description="Everyone for staff; yourself and the learners you teach for an instructor; "
                                  "yourself for a learner.")
    async def people(self, info: Info, first: int | None = None, after: str | None = None) -> PersonConnection:
        caller = info.context.caller
        return await _page(info, visible_people(caller, select(*PERSON_COLUMNS)),
                           visible_people(caller, select(func.count()).select_from(PersonRow)), PersonRow.id,
                           person_from, first, after)

    @strawberry.field(description="Venues, in the order they were created; public, like the catalogue.")
    async def venues(self, info: Info, filter: VenueFilter | None = None, first: int | None = None,
                     after: str | None = None) -> VenueConnection:
        where = []
        if filter is not None and filter.city is not None:
            where.append(VenueRow.city_key == fold(query_term(filter.city, "city")))
        return await _page(info, select(*VENUE_COLUMNS).where(*where),
                           select(func.count()).select_from(VenueRow).where(*where), VenueRow.id,
                           venue_from, first, after)
