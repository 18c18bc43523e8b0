"""Money, rates and cost lines. Amounts are minor units inside; the API shows them as decimal strings."""
from __future__ import annotations

import strawberry
from strawberry.types import Info

from podium.core.models import CostCategory as CoreCostCategory
from podium.core.models import RateUnit as CoreRateUnit
from podium.core.money import format_amount
from podium.core.services.costs import CostLine as CoreCostLine
from podium.core.services.costs import SessionCosts as CoreSessionCosts

from ..relay import global_id

CostCategory = strawberry.enum(CoreCostCategory, name="CostCategory")
RateUnit = strawberry.enum(CoreRateUnit, name="RateUnit",
                           description="HOURLY: per booked hour; DAILY: per day started, a day being up to 8 booked "
                                       "hours; PER_SESSION: once per session booked.")


@strawberry.type(description="An exact amount of the installation's currency (PODIUM_CURRENCY).")
class Money:
    amount: str = strawberry.field(description='A decimal string with the currency\'s minor digits, e.g. "1661.00".')
    currency: str = strawberry.field(description="The ISO 4217 code, e.g. EUR.")


def currency_of(info: Info) -> str:
    return info.context.plugins.settings.currency


def money(info: Info, minor: int) -> Money:
    currency = currency_of(info)
    return Money(amount=format_amount(minor, currency), currency=currency)


def money_or_none(info: Info, minor: int | None) -> Money | None:
    return None if minor is None else money(info, minor)


@strawberry.type(description="What a resource costs while booked.")
class CostRate:
    amount: Money
    unit: RateUnit


@strawberry.type(description="A cost of every session of a course, per learner: seats taken when planned, learners "
                              "attended when actual.")
class PerLearnerCost:
    category: CostCategory
    description: str
    amount: Money


def _quantity(line: CoreCostLine, currency: str) -> str:
    """How the line came about, for people: "6.5 h at 90.00/hour", "18 learners at 12.00"."""
    rate = format_amount(line.rate, currency)
    if line.source == "RESOURCE":
        hours = f"{line.planned_quantity / 60:g} h"
        if line.unit is CoreRateUnit.HOURLY:
            return f"{hours} at {rate}/hour"
        if line.unit is CoreRateUnit.DAILY:
            days = -(-line.planned_quantity // (8 * 60))
            return f"{days} day{'s' if days != 1 else ''} ({hours}) at {rate}/day"
        return f"{rate} per session"
    if not line.per_learner:
        return rate
    return f"{rate} per learner: {line.planned_quantity} planned, {line.actual_quantity} attended"


@strawberry.type(name="CostLine", description="One cost of a session.")
class CostLineType:
    line: strawberry.Private[CoreCostLine]

    @strawberry.field(description="Lines entered by hand (removeSessionCost takes it); null for derived lines.")
    def id(self) -> strawberry.ID | None:
        return None if self.line.derived else strawberry.ID(global_id("SessionCost", self.line.ref_id))

    @strawberry.field
    def category(self) -> CostCategory:
        return self.line.category

    @strawberry.field(description='What it is and how it was computed, e.g. "Ada Lovelace: 6.5 h at 90.00/hour".')
    def description(self, info: Info) -> str:
        return f"{self.line.label}: {_quantity(self.line, currency_of(info))}"

    @strawberry.field(description="The planned amount (per-learner costs times seats taken).")
    def amount(self, info: Info) -> Money:
        return money(info, self.line.planned)

    @strawberry.field(description="The actual amount (per-learner costs times learners attended).")
    def actual(self, info: Info) -> Money:
        return money(info, self.line.actual)

    @strawberry.field(description="true: computed from bookings and rates, or the course's per-learner costs; "
                                  "false: entered by hand (addSessionCost).")
    def derived(self) -> bool:
        return self.line.derived

    @strawberry.field(description="true: the amount is a cost per learner times seats taken (planned) or learners "
                                  "attended (actual).")
    def per_learner(self) -> bool:
        return self.line.per_learner

    @strawberry.field(description="Lines entered by hand: kept when the session is cancelled (always false for "
                                  "derived lines, which a cancellation drops).")
    def incurred(self) -> bool:
        return self.line.incurred


@strawberry.type(description="A session's costs. Planned counts seats taken, actual counts learners attended; a "
                              "cancelled session keeps only the lines marked incurred. Figures per learner or hour "
                              "are rounded to the minor unit, half up; null when there is nothing to divide by.")
class SessionCosts:
    costs: strawberry.Private[CoreSessionCosts]

    @strawberry.field(description="Derived lines (instructors, room, equipment, per-learner course costs), then "
                                  "lines entered by hand, in the order entered.")
    def lines(self) -> list[CostLineType]:
        return [CostLineType(line=line) for line in self.costs.lines]

    @strawberry.field(description="The sum of the lines' planned amounts.")
    def planned(self, info: Info) -> Money:
        return money(info, self.costs.planned)

    @strawberry.field(description="The sum of the lines' actual amounts.")
    def actual(self, info: Info) -> Money:
        return money(info, self.costs.actual)

    @strawberry.field(description="planned / seats taken.")
    def per_learner(self, info: Info) -> Money | None:
        return money_or_none(info, self.costs.per_learner)

    @strawberry.field(description="actual / learners attended.")
    def per_attended_learner(self, info: Info) -> Money | None:
        return money_or_none(info, self.costs.per_attended_learner)

    @strawberry.field(description="actual / learner-hours attended (each attendee's recorded minutes, or the "
                                  "session's length when none were recorded).")
    def per_attended_hour(self, info: Info) -> Money | None:
        return money_or_none(info, self.costs.per_attended_hour)

    @strawberry.field(description="Seats taken (ENROLLED learners): what planned per-learner costs count.")
    def seats_taken(self) -> int:
        return self.costs.seats_taken

    @strawberry.field(description="Learners who attended (PRESENT, LATE or LEFT_EARLY): what actual per-learner "
                                  "costs count.")
    def attended(self) -> int:
        return self.costs.attended
