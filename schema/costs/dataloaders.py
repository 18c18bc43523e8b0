"""Costs, rates and prices of many objects in one statement (two for session costs) per request tick."""
from __future__ import annotations

from collections import defaultdict

from sqlalchemy import select

from podium.core.models import Course as CourseRow
from podium.core.models import CourseCost as CourseCostRow
from podium.core.models import Resource as ResourceRow
from podium.core.models import Session as SessionRow
from podium.core.services.costs import SessionCosts, price_sql, session_costs


def loaders(context) -> dict:
    async def session_costs_of(ids: list[int]) -> list[SessionCosts | None]:
        async with context.reading() as db:
            found = await session_costs(db, ids)
        return [found.get(i) for i in ids]

    async def session_prices(ids: list[int]) -> list[int | None]:
        async with context.reading() as db:
            rows = (await db.execute(select(SessionRow.id, price_sql().label("price"))
                                     .where(SessionRow.id.in_(ids)))).all()
        found = {row.id: row.price for row in rows}
        return [found.get(i) for i in ids]

    async def resource_rates(ids: list[int]) -> list[tuple | None]:
        async with context.reading() as db:
            rows = (await db.execute(select(ResourceRow.id, ResourceRow.cost_rate_minor, ResourceRow.cost_rate_unit)
                                     .where(ResourceRow.id.in_(ids)))).all()
        found = {row.id: (row.cost_rate_minor, row.cost_rate_unit) for row in rows if row.cost_rate_minor is not None}
        return [found.get(i) for i in ids]

    async def course_prices(ids: list[int]) -> list[int | None]:
        async with context.reading() as db:
            rows = (await db.execute(select(CourseRow.id, CourseRow.price_minor).where(CourseRow.id.in_(ids)))).all()
        found = {row.id: row.price_minor for row in rows}
        return [found.get(i) for i in ids]

    async def course_per_learner_costs(ids: list[int]) -> list[list]:
        async with context.reading() as db:
            rows = (await db.execute(select(CourseCostRow).where(CourseCostRow.course_id.in_(ids))
                                     .order_by(CourseCostRow.course_id, CourseCostRow.id))).scalars().all()
        held = defaultdict(list)
        for row in rows:
            held[row.course_id].append(row)
        return [held[i] for i in ids]

    return {"session_costs": session_costs_of, "session_prices": session_prices, "resource_rates": resource_rates,
            "course_prices": course_prices, "course_per_learner_costs": course_per_learner_costs}
