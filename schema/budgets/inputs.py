"""Inputs of the budget operations."""
from __future__ import annotations

from datetime import date

import strawberry

from .types import BudgetScope


@strawberry.input(description="Whole days, both included; from may not be after to; at most 10 years.")
class PeriodInput:
    from_: date = strawberry.field(name="from")
    to: date


@strawberry.input
class CreateBudgetInput:
    name: str
    period: PeriodInput
    timezone: str = strawberry.field(description="The clock the period's days are counted on (IANA), e.g. "
                                                 "Europe/London.")
    amount: str = strawberry.field(description='In PODIUM_CURRENCY, e.g. "25000.00".')
    scope: BudgetScope
    course_id: strawberry.ID | None = strawberry.field(default=None, description="Required for COURSE.")
    program_id: strawberry.ID | None = strawberry.field(default=None, description="Required for PROGRAM.")
    venue_id: strawberry.ID | None = strawberry.field(default=None, description="Required for VENUE.")


@strawberry.input(description="Only the fields given change; a new scope needs its courseId, programId or venueId.")
class UpdateBudgetInput:
    budget_id: strawberry.ID
    name: str | None = strawberry.UNSET
    period: PeriodInput | None = strawberry.UNSET
    timezone: str | None = strawberry.UNSET
    amount: str | None = strawberry.UNSET
    scope: BudgetScope | None = strawberry.UNSET
    course_id: strawberry.ID | None = strawberry.UNSET
    program_id: strawberry.ID | None = strawberry.UNSET
    venue_id: strawberry.ID | None = strawberry.UNSET
