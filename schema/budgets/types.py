"""Budget and its period; the figures come from core/services/budgets.py in one statement per request tick."""
from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Annotated

import strawberry
from strawberry.types import Info

from podium.core.models import BudgetScope as CoreBudgetScope

from ..costs.types import Money, money
from ..relay import Connection, Node

if TYPE_CHECKING:
    from ..catalogue.types import Course, Venue
    from ..programs.types import Program

BudgetScope = strawberry.enum(CoreBudgetScope, name="BudgetScope")


@strawberry.type(description="Whole days, both included, on the budget's clock (its timezone).")
class Period:
    from_: date = strawberry.field(name="from")
    to: date


@strawberry.type(description="An amount to spend on a scope over a period. A session counts against every budget "
                              "whose scope holds it and whose period holds its start. Staff only.")
class Budget(Node):
    id: strawberry.ID
    pk: strawberry.Private[int]
    name: str
    period: Period
    timezone: str = strawberry.field(description="The clock the period's days are counted on (IANA).")
    amount_minor: strawberry.Private[int]
    scope: BudgetScope
    course_pk: strawberry.Private[int | None]
    program_pk: strawberry.Private[int | None]
    venue_pk: strawberry.Private[int | None]

    @strawberry.field(description="What the budget allows.")
    def amount(self, info: Info) -> Money:
        return money(info, self.amount_minor)

    @strawberry.field(description="COURSE: the course.")
    async def course(self, info: Info) -> Annotated["Course", strawberry.lazy("podium.schema.catalogue.types")] | None:
        return None if self.course_pk is None else await info.context.loaders.courses.load(self.course_pk)

    @strawberry.field(description="PROGRAM: the program (its live sessions count).")
    async def program(self, info: Info) -> Annotated["Program", strawberry.lazy("podium.schema.programs.types")] | None:
        return None if self.program_pk is None else await info.context.loaders.programs.load(self.program_pk)

    @strawberry.field(description="VENUE: the venue (sessions in its rooms count).")
    async def venue(self, info: Info) -> Annotated["Venue", strawberry.lazy("podium.schema.catalogue.types")] | None:
        return None if self.venue_pk is None else await info.context.loaders.venues.load(self.venue_pk)

    @strawberry.field(description="The planned costs of all its sessions.")
    async def planned(self, info: Info) -> Money:
        return money(info, (await info.context.loaders.budget_figures.load(self.pk)).planned)

    @strawberry.field(description="The actual costs of its sessions that are done (ended, completed or cancelled).")
    async def actual(self, info: Info) -> Money:
        return money(info, (await info.context.loaders.budget_figures.load(self.pk)).actual)

    @strawberry.field(description="The planned costs of its sessions still to come.")
    async def committed(self, info: Info) -> Money:
        return money(info, (await info.context.loaders.budget_figures.load(self.pk)).committed)

    @strawberry.field(description="amount - actual - committed; negative when the budget is over.")
    async def remaining(self, info: Info) -> Money:
        return money(info, (await info.context.loaders.budget_figures.load(self.pk)).remaining)


@strawberry.type
class BudgetConnection(Connection[Budget]):
    pass


def budget_from(row) -> Budget:
    from ..relay import global_id

    return Budget(id=global_id("Budget", row.id), pk=row.id, name=row.name,
                  period=Period(from_=row.period_from, to=row.period_to), timezone=row.timezone,
                  amount_minor=row.amount_minor, scope=row.scope, course_pk=row.course_id,
                  program_pk=row.program_id, venue_pk=row.venue_id)
