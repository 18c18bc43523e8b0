"""Batched loads of catalogue objects by id: one statement per kind per request tick."""
from __future__ import annotations

from collections import defaultdict

from sqlalchemy import select

from podium.core.models import Course as CourseRow
from podium.core.models import Person as PersonRow
from podium.core.models import Qualification as QualificationRow
from podium.core.models import Resource as ResourceRow

from .types import (
    COURSE_COLUMNS, PERSON_COLUMNS, RESOURCE_COLUMNS, Course, Person, Qualification, Resource, course_from,
    person_from, resource_from,
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

    return {"courses": courses, "people": people, "resources": resources, "qualifications": qualifications}
