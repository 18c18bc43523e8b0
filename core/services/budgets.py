"""Budgets: an amount to spend on a scope (a course, a program, a venue, or everything) over a period.

A session counts against every budget whose scope holds it and whose period holds its start. Of its
sessions' costs (core/services/costs.py), a budget has `planned` (all of them, planned), `actual`
(the actual costs of the sessions that are done: ended, completed or cancelled), `committed` (the
planned costs of those still to come) and `remaining` = amount - actual - committed. A change that
leaves a budget over (actual + committed > amount) goes through with a BUDGET_EXCEEDED warning:
warnings are data, and change nothing.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import BigInteger, ColumnElement, Select, and_, case, cast, exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from .. import limits
from ..audit import Actor, record_change
from ..errors import DomainError, DomainWarning, ErrorCode, WarningCode
from ..events import emit
from ..ids import to_global_id
from ..instants import local_midnight, utc_now
from ..models import (
    Booking, BookingRole, Budget, BudgetScope, Course, Program, ProgramStage, Resource, Session, SessionStatus, Venue,
)
from ..money import format_amount, parse_amount
from .costs import session_costs_sql
from .records import get_or_404, snapshot

MAX_PERIOD_DAYS = 10 * 366
SCOPE_TARGETS = {BudgetScope.COURSE: ("course_id", Course, "courseId"),
                 BudgetScope.PROGRAM: ("program_id", Program, "programId"),
                 BudgetScope.VENUE: ("venue_id", Venue, "venueId")}


# --- the SQL ------------------------------------------------------------------------------

def holds_session() -> ColumnElement:
    """The one rule of which sessions count against a budget: its period holds the start, its scope the session."""
    in_program = exists(select(ProgramStage.id).where(ProgramStage.program_id == Budget.program_id,
                                                      ProgramStage.session_id == Session.id))
    in_venue = exists(select(Booking.id).join(Resource, Resource.id == Booking.resource_id).where(
        Booking.session_id == Session.id, Booking.role == BookingRole.ROOM, Resource.venue_id == Budget.venue_id))
    return and_(Session.starts_at >= Budget.starts_at, Session.starts_at < Budget.ends_at,
                or_(Budget.scope == BudgetScope.EVERYTHING,
                    and_(Budget.scope == BudgetScope.COURSE, Session.course_id == Budget.course_id),
                    and_(Budget.scope == BudgetScope.PROGRAM, in_program),
                    and_(Budget.scope == BudgetScope.VENUE, in_venue)))


def done_sql(now: datetime) -> ColumnElement:
    """A session whose costs are actual now: ended, completed or cancelled."""
    return or_(Session.status.in_((SessionStatus.CANCELLED, SessionStatus.COMPLETED)), Session.ends_at <= now)


def budget_figures_sql(budget_ids: Any, now: datetime) -> Select:
    """budget id, amount, planned, actual, committed (minor units) of the budgets `budget_ids` (a list or a
    SELECT of ids), in one statement."""
    window = (select(func.min(Budget.starts_at)).where(Budget.id.in_(budget_ids)).scalar_subquery(),
              select(func.max(Budget.ends_at)).where(Budget.id.in_(budget_ids)).scalar_subquery())
    totals = session_costs_sql(Session.starts_at >= window[0], Session.starts_at < window[1]).subquery("totals")
    planned, actual, done = func.coalesce(totals.c.planned, 0), func.coalesce(totals.c.actual, 0), done_sql(now)
    return (select(Budget.id, Budget.amount_minor,
                   cast(func.coalesce(func.sum(planned), 0), BigInteger).label("planned"),
                   cast(func.coalesce(func.sum(case((done, actual), else_=0)), 0), BigInteger).label("actual"),
                   cast(func.coalesce(func.sum(case((done, 0), else_=planned)), 0), BigInteger).label("committed"))
            .select_from(Budget).outerjoin(Session, holds_session())
            .outerjoin(totals, totals.c.session_id == Session.id)
            .where(Budget.id.in_(budget_ids)).group_by(Budget.id, Budget.amount_minor))


@dataclass(frozen=True)
class BudgetFigures:
    budget_id: int
    amount: int
    planned: int
    actual: int
    committed: int

    @property
    def remaining(self) -> int:
        return self.amount - self.actual - self.committed

    @property
    def exceeded(self) -> bool:
        return self.remaining < 0


async def budget_figures(db: AsyncSession, budget_ids: list[int], now: datetime | None = None
                         ) -> dict[int, BudgetFigures]:
    if not budget_ids:
        return {}
    rows = (await db.execute(budget_figures_sql(budget_ids, now or utc_now()))).all()
    return {row.id: BudgetFigures(row.id, row.amount_minor, row.planned, row.actual, row.committed) for row in rows}


async def exceeded_budgets(db: AsyncSession, session_ids: Select | list[int], *, currency: str,
                           now: datetime | None = None) -> list[DomainWarning]:
    """A BUDGET_EXCEEDED warning for each budget that holds one of these sessions and is over: called after a
    change, in its transaction, so the figures include it. Two statements."""
    held = select(Budget.id).join(Session, holds_session()).where(Session.id.in_(session_ids)).distinct()
    budgets = {b.id: b for b in (await db.scalars(select(Budget).where(Budget.id.in_(held)))).all()}
    figures = await budget_figures(db, sorted(budgets), now)
    return [budget_warning(budgets[i], figures[i], currency) for i in sorted(figures) if figures[i].exceeded]


def budget_warning(budget: Budget, figures: BudgetFigures, currency: str) -> DomainWarning:
    spent = figures.actual + figures.committed
    return DomainWarning(WarningCode.BUDGET_EXCEEDED,
                         f"Budget {budget.name!r} is over by {format_amount(-figures.remaining, currency)} {currency}: "
                         f"{format_amount(spent, currency)} spent or committed of "
                         f"{format_amount(budget.amount_minor, currency)}.", budget_id=budget.id)


# --- changing -----------------------------------------------------------------------------

def _period(period_from: date, period_to: date, tz: str) -> tuple[datetime, datetime]:
    """The period's whole days on the budget's clock, as UTC instants [start, end)."""
    if not isinstance(period_from, date) or not isinstance(period_to, date):
        raise DomainError(ErrorCode.INVALID, "A period is two dates.", "period")
    if period_from > period_to:
        raise DomainError(ErrorCode.INVALID, "The period's from is after its to.", "period.from")
    if (period_to - period_from).days >= MAX_PERIOD_DAYS:
        raise DomainError(ErrorCode.INVALID, "A budget's period is at most 10 years.", "period.to")
    if period_from.year < 1900 or period_to.year > 2998:
        raise DomainError(ErrorCode.INVALID, "A period lies within the years 1900 to 2998.", "period")
    return local_midnight(period_from, tz), local_midnight(period_to + timedelta(days=1), tz)


async def _scope(db: AsyncSession, budget: Budget, scope: BudgetScope, target_id: int | None) -> None:
    """Point the budget at what its scope names: a course, a program, a venue, or nothing (EVERYTHING)."""
    budget.scope = BudgetScope(scope)
    budget.course_id = budget.program_id = budget.venue_id = None
    if budget.scope is BudgetScope.EVERYTHING:
        if target_id is not None:
            raise DomainError(ErrorCode.INVALID, "A budget for everything names no course, program or venue.",
                              "scope")
        return
    column, model, field = SCOPE_TARGETS[budget.scope]
    if target_id is None:
        raise DomainError(ErrorCode.INVALID, f"A {budget.scope.value.lower()} budget needs its {field}.", field)
    setattr(budget, column, (await get_or_404(db, model, target_id, field)).id)


def _event(db: AsyncSession, budget: Budget, what: str, before: dict | None) -> None:
    after = snapshot(budget)
    emit(db, f"budget.{what}", {"budget": to_global_id("Budget", budget.id), "before": before, "after": after})


async def create_budget(db: AsyncSession, actor: Actor, *, name: str, period_from: date, period_to: date,
                        timezone: str, amount: str, scope: BudgetScope, target_id: int | None = None,
                        currency: str) -> Budget:
    """`target_id` is the course, program or venue the scope names (none for EVERYTHING)."""
    timezone = limits.timezone(timezone)
    starts_at, ends_at = _period(period_from, period_to, timezone)
    budget = Budget(name=limits.text(name, "name"), period_from=period_from, period_to=period_to, timezone=timezone,
                    starts_at=starts_at, ends_at=ends_at, amount_minor=parse_amount(amount, currency, "amount"))
    await _scope(db, budget, scope, target_id)
    db.add(budget)
    await db.flush()
    record_change(db, actor, "budget.create", "Budget", budget.id, None, snapshot(budget))
    _event(db, budget, "created", None)
    return budget


async def update_budget(db: AsyncSession, actor: Actor, budget_id: int, *, currency: str, **changes: Any) -> Budget:
    """Change what is given: name, period_from, period_to, timezone, amount, and scope with target_id."""
    budget = await get_or_404(db, Budget, budget_id, "budgetId", lock=True)
    before = snapshot(budget)
    unknown = set(changes) - {"name", "period_from", "period_to", "timezone", "amount", "scope", "target_id"}
    if unknown:
        raise DomainError(ErrorCode.INVALID, f"A budget has no changeable field {sorted(unknown)[0]!r}.",
                          sorted(unknown)[0])
    if "name" in changes:
        budget.name = limits.text(changes["name"], "name")
    if "amount" in changes:
        budget.amount_minor = parse_amount(changes["amount"], currency, "amount")
    if "timezone" in changes:
        budget.timezone = limits.timezone(changes["timezone"])
    budget.period_from = changes.get("period_from", budget.period_from)
    budget.period_to = changes.get("period_to", budget.period_to)
    budget.starts_at, budget.ends_at = _period(budget.period_from, budget.period_to, budget.timezone)
    if "scope" in changes or "target_id" in changes:
        scope = BudgetScope(changes.get("scope", budget.scope))
        kept = budget.course_id or budget.program_id or budget.venue_id if scope is budget.scope else None
        await _scope(db, budget, scope, changes["target_id"] if "target_id" in changes else kept)
    await db.flush()
    after = snapshot(budget)
    if after != before:
        record_change(db, actor, "budget.update", "Budget", budget.id, before, after)
        _event(db, budget, "updated", before)
    return budget


async def warnings_for_budget(db: AsyncSession, budget: Budget, *, currency: str) -> list[DomainWarning]:
    """BUDGET_EXCEEDED when this budget is over now (after a change to it)."""
    figures = (await budget_figures(db, [budget.id]))[budget.id]
    return [budget_warning(budget, figures, currency)] if figures.exceeded else []
