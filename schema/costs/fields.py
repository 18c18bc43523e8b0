"""The cost fields of Session, Course and Resource: prices are public, costs and rates are for staff."""
from __future__ import annotations

from strawberry.types import Info

from ..permissions import require_staff
from .types import CostRate, Money, PerLearnerCost, SessionCosts, money, money_or_none


async def session_costs(info: Info, session_pk: int) -> SessionCosts:
    require_staff(info.context.caller, "costs")
    return SessionCosts(costs=await info.context.loaders.session_costs.load(session_pk))


async def session_price(info: Info, session_pk: int) -> Money | None:
    return money_or_none(info, await info.context.loaders.session_prices.load(session_pk))


async def session_revenue(info: Info, session_pk: int) -> Money:
    require_staff(info.context.caller, "revenue")
    return money(info, (await info.context.loaders.session_costs.load(session_pk)).revenue)


async def session_margin(info: Info, session_pk: int) -> Money:
    require_staff(info.context.caller, "margins")
    return money(info, (await info.context.loaders.session_costs.load(session_pk)).margin)


async def resource_cost_rate(info: Info, resource_pk: int) -> CostRate | None:
    require_staff(info.context.caller, "cost rates")
    rate = await info.context.loaders.resource_rates.load(resource_pk)
    return None if rate is None else CostRate(amount=money(info, rate[0]), unit=rate[1])


async def course_price(info: Info, course_pk: int) -> Money | None:
    return money_or_none(info, await info.context.loaders.course_prices.load(course_pk))


async def course_per_learner_costs(info: Info, course_pk: int) -> list[PerLearnerCost]:
    require_staff(info.context.caller, "costs")
    return [PerLearnerCost(category=c.category, description=c.description, amount=money(info, c.amount_minor))
            for c in await info.context.loaders.course_per_learner_costs.load(course_pk)]
