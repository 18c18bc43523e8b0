"""Batched loads of catalogue objects by id: one statement per kind per request tick."""
from __future__ import annotations

from collections import defaultdict

from sqlalchemy import select

from podium.core.models import Course as CourseRow
from podium.core.models import Person as PersonRow
from podium.core.models import Qualification as QualificationRow
from podium.core.models import Resource as ResourceRow
from podium.core.models import ResourceKind
from podium.core.models import Venue as VenueRow
from podium.core.services.travel import venue_travel_times

from .types import (
    COURSE_COLUMNS, PERSON_COLUMNS, RESOURCE_COLUMNS, VENUE_COLUMNS, Course, Person, Qualification, Resource,
    TravelTime, Venue, course_from, person_from, resource_from, venue_from,
)

def loaders(context) -> dict:
    async def courses(ids: list[int]) -> list[Course | None]:
        async with context.reading() as db:
            rows = (await db.execute(select(*COURSE_COLUMNS).where(CourseRow.id.in_(ids)))).all()
        found = {row.course_id: course_from(row) for row in rows}
        return [found.get(i) for i in ids]

    async def people(ids: list[int]) -> list[Person | None]:
        async with context.reading() as db:
            rows = (await db.execute(select(*PERSON_COLUMNS).where(PersonRow.id.in_(ids)))).all()
        found = {row.id: person_from(row) for row in rows}
        return [found.get(i) for i in ids]

    async def resources(ids: list[int]) -> list[Resource | None]:
        async with context.reading() as db:
            rows = (await db.execute(select(*RESOURCE_COLUMNS).where(ResourceRow.id.in_(ids)))).all()
        found = {row.id: resource_from(row) for row in rows}
        return [found.get(i) for i in ids]

    async def qualifications(ids: list[int]) -> list[list[Qualification]]:
        async with context.reading() as db:
            rows = (await db.execute(select(QualificationRow.resource_id, QualificationRow.name,
                                            QualificationRow.valid_until)
                                     .where(QualificationRow.resource_id.in_(ids))
                                     .order_by(QualificationRow.name))).all()
        held = defaultdict(list)
        for row in rows:
            held[row.resource_id].append(Qualification(name=row.name, valid_until=row.valid_until))
        return [held[i] for i in ids]

    async def venues(ids: list[int]) -> list[Venue | None]:
        async with context.reading() as db:
            rows = (await db.execute(select(*VENUE_COLUMNS).where(VenueRow.id.in_(ids)))).all()
        found = {row.id: venue_from(row) for row in rows}
        return [found.get(i) for i in ids]

    async def venue_rooms(ids: list[int]) -> list[list[Resource]]:
        async with context.reading() as db:
            rows = (await db.execute(select(*RESOURCE_COLUMNS).where(
                ResourceRow.venue_id.in_(ids), ResourceRow.kind == ResourceKind.ROOM).order_by(ResourceRow.id))).all()
        held = defaultdict(list)
        for row in rows:
            held[row.venue_id].append(resource_from(row))
        return [held[i] for i in ids]

    async def travel_times(ids: list[int]) -> list[list[TravelTime]]:
        async with context.reading() as db:
            found = await venue_travel_times(db, ids)
        return [[travel_time_view(t) for t in found[i]] for i in ids]

    return {"courses": courses, "people": people, "resources": resources, "qualifications": qualifications,
            "venues": venues, "venue_rooms": venue_rooms, "venue_travel_times": travel_times}


def travel_time_view(t) -> TravelTime:
    return TravelTime(from_venue_pk=t.from_venue_id, to_venue_pk=t.to_venue_id, minutes=t.minutes)
