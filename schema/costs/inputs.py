"""Inputs of the cost operations. Amounts are decimal strings in PODIUM_CURRENCY ("12.50"), never floats."""
from __future__ import annotations

import strawberry

from .types import CostCategory, RateUnit


@strawberry.input
class SetResourceCostRateInput:
    resource_id: strawberry.ID
    amount: str | None = strawberry.field(description='The rate, e.g. "90.00"; null clears it (the resource then '
                                                      'costs nothing).')
    unit: RateUnit | None = strawberry.field(default=None, description="Required with an amount.")


@strawberry.input
class PerLearnerCostInput:
    category: CostCategory
    description: str
    amount: str = strawberry.field(description='Per learner, e.g. "12.00".')


@strawberry.input(description="Only the fields given change.")
class SetCourseCostsInput:
    course_id: strawberry.ID
    per_learner_costs: list[PerLearnerCostInput] | None = strawberry.field(
        default=strawberry.UNSET, description="Replaces the course's per-learner costs (at most 50; [] or null: none).")
    price: str | None = strawberry.field(default=strawberry.UNSET,
                                         description="Per seat, for every session without its own; null clears it.")


@strawberry.input
class SetSessionPriceInput:
    session_id: strawberry.ID
    price: str | None = strawberry.field(description="Per seat; null: the course's price.")


@strawberry.input
class AddSessionCostInput:
    session_id: strawberry.ID
    category: CostCategory
    description: str
    amount: str = strawberry.field(description='e.g. "150.00"; per learner when perLearner is true.')
    per_learner: bool = strawberry.field(default=False, description="true: amount times seats taken (planned) or "
                                                                     "learners attended (actual).")
    incurred: bool = strawberry.field(default=False, description="true: owed even if the session is cancelled "
                                                                  "(e.g. a late-cancellation venue fee).")


@strawberry.input
class RemoveSessionCostInput:
    cost_id: strawberry.ID = strawberry.field(description="The id of a line entered by hand (CostLine.id).")
