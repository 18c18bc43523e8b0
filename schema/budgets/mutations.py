"""createBudget and updateBudget: staff only; the rules are core/services/budgets.py's."""
from __future__ import annotations

import strawberry
from strawberry.types import Info

from podium.core.errors import DomainError, ErrorCode
from podium.core.models import BudgetScope as CoreBudgetScope
from podium.core.services import budgets

from ..changes import attempt_then_load
from ..costs.types import currency_of
from ..errors import UserError, Warning, warning
from ..permissions import check_staff
from ..relay import decode_id
from .inputs import CreateBudgetInput, UpdateBudgetInput
from .types import Budget

TARGETS = (("course_id", "Course", "courseId"), ("program_id", "Program", "programId"), ("venue_id", "Venue", "venueId"))


@strawberry.type
class BudgetPayload:
    budget: Budget | None
    errors: list[UserError]
    warnings: list[Warning] = strawberry.field(description="BUDGET_EXCEEDED when the budget is over after the change.")


def _target(input: object) -> tuple[bool, int | None]:
    """Whether a course, program or venue was given, and its id: at most one of them."""
    given = [(name, kind, field) for name, kind, field in TARGETS
             if getattr(input, name) is not strawberry.UNSET and getattr(input, name) is not None]
    if len(given) > 1:
        raise DomainError(ErrorCode.INVALID, "Give one of courseId, programId and venueId.", given[1][2])
    if not given:
        return any(getattr(input, name) is None for name, _, _ in TARGETS), None
    name, kind, field = given[0]
    return True, decode_id(getattr(input, name), kind, field)


async def _with_warnings(info: Info, work) -> BudgetPayload:
    found: list = []

    async def change(db, actor):
        check_staff(info.context.caller)
        budget = await work(db, actor)
        found.extend(await budgets.warnings_for_budget(db, budget, currency=currency_of(info)))
        return budget.id

    budget, errors, _ = await attempt_then_load(info, change, "budgets")
    return BudgetPayload(budget=budget, errors=errors, warnings=[warning(w) for w in found] if budget else [])


@strawberry.type
class BudgetMutations:
    @strawberry.mutation(description="A budget for a course, a program, a venue or everything over a period.")
    async def create_budget(self, info: Info, input: CreateBudgetInput) -> BudgetPayload:
        async def work(db, actor):
            _, target = _target(input)
            return await budgets.create_budget(
                db, actor, name=input.name, period_from=input.period.from_, period_to=input.period.to,
                timezone=input.timezone, amount=input.amount, scope=CoreBudgetScope(input.scope), target_id=target,
                currency=currency_of(info))

        return await _with_warnings(info, work)

    @strawberry.mutation(description="Change a budget's name, period, timezone, amount or scope.")
    async def update_budget(self, info: Info, input: UpdateBudgetInput) -> BudgetPayload:
        async def work(db, actor):
            changes = {}
            for name in ("name", "timezone", "amount"):
                if getattr(input, name) is not strawberry.UNSET:
                    changes[name] = getattr(input, name)
            if input.period is not strawberry.UNSET:
                if input.period is None:
                    raise DomainError(ErrorCode.INVALID, "A budget needs a period.", "period")
                changes["period_from"], changes["period_to"] = input.period.from_, input.period.to
            if input.scope is not strawberry.UNSET:
                if input.scope is None:
                    raise DomainError(ErrorCode.INVALID, "A budget needs a scope.", "scope")
                changes["scope"] = CoreBudgetScope(input.scope)
            named, target = _target(input)
            if named:
                changes["target_id"] = target
            return await budgets.update_budget(db, actor, decode_id(input.budget_id, "Budget", "budgetId"),
                                               currency=currency_of(info), **changes)

        return await _with_warnings(info, work)
