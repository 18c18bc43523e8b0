"""Costs of sessions, in one place: the lines each session costs, derived and entered by hand, as SQL.

Derived lines: every booking of a resource with a rate (instructors, the room, equipment), priced on
the booking's own interval (setup and teardown included): HOURLY is rate x booked hours, DAILY is
rate x days started (a day being up to 8 booked hours, summed over the session's bookings of that
resource), PER_SESSION is the rate once. Then each per-learner cost of the course (materials,
catering) times seats taken (planned) or learners attended (actual). Manual lines are amounts, or
amounts per learner, entered on one session. A cancelled session keeps only manual lines marked
`incurred`. Money is integer minor units of the installation currency (core/money.py); an HOURLY
line is rounded to the minor unit, half up, and every total is the exact sum of its lines.

`cost_lines_sql` and `session_costs_sql` are the SQL that reports group by.
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger, Boolean, ColumnElement, Integer, Select, String, case, cast, false, func, true, literal, null, or_, select,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import FunctionElement

from .. import limits
from ..audit import Actor, record_change
from ..errors import DomainError, ErrorCode
from ..events import emit
from ..ids import to_global_id
from ..models import (
    Attendance, AttendanceStatus, Booking, BookingRole, CostCategory, Course, CourseCost, Enrollment, RateUnit,
    Resource, Session, SessionCost, SessionPart, SessionStatus,
)
from ..money import divide, parse_amount
from .capacity import seats_taken_sql
from .locks import session_ordering_key
from .records import get_or_404, snapshot

DAY_MINUTES = 8 * 60
"""A DAILY rate buys up to 8 booked hours; every further started 8 hours is another day."""
ATTENDED = (AttendanceStatus.PRESENT, AttendanceStatus.LATE, AttendanceStatus.LEFT_EARLY)
"""Who counts as having attended for the actual costs: came at all (not ABSENT, not EXCUSED)."""
MAX_COURSE_COSTS = limits.LIST

ROLE_CATEGORY = {BookingRole.LEAD_INSTRUCTOR: CostCategory.INSTRUCTOR, BookingRole.CO_FACILITATOR: CostCategory.INSTRUCTOR,
                 BookingRole.ROOM: CostCategory.VENUE, BookingRole.EQUIPMENT: CostCategory.EQUIPMENT}


class minutes_between(FunctionElement):
    """Whole minutes from one instant column to another, on either database."""

    type = BigInteger()
    inherit_cache = True


@compiles(minutes_between, "sqlite")
def _minutes_sqlite(element, compiler, **kw):
    start, end = list(element.clauses)
    return (f"CAST(ROUND((julianday({compiler.process(end, **kw)}) - julianday({compiler.process(start, **kw)}))"
            f" * 1440) AS INTEGER)")


@compiles(minutes_between)
def _minutes_postgresql(element, compiler, **kw):
    start, end = list(element.clauses)
    return (f"CAST(ROUND(EXTRACT(EPOCH FROM ({compiler.process(end, **kw)} - {compiler.process(start, **kw)}))"
            f" / 60) AS BIGINT)")


# --- the SQL ------------------------------------------------------------------------------

def attended_sql(session_id: Any = Session.id) -> ColumnElement:
    """Learners who attended a session (PRESENT, LATE, LEFT_EARLY), correlated to the query's session row."""
    return (select(func.count()).select_from(Attendance).join(Enrollment, Enrollment.id == Attendance.enrollment_id)
            .where(Enrollment.session_id == session_id, Attendance.status.in_(ATTENDED))
            .correlate(Session).scalar_subquery())


def delivered_minutes_sql(session_id: Any = Session.id) -> ColumnElement:
    """How long a session is taught: the sum of its parts' lengths (no setup, no nights between parts)."""
    return (select(func.coalesce(func.sum(minutes_between(SessionPart.starts_at, SessionPart.ends_at)), 0))
            .where(SessionPart.session_id == session_id).correlate(Session).scalar_subquery())


def attended_minutes_sql(session_id: Any = Session.id) -> ColumnElement:
    """Learner-minutes attended: each attendee's recorded minutes, or the session's taught length when none were."""
    return (select(func.coalesce(func.sum(func.coalesce(Attendance.minutes_attended, delivered_minutes_sql())), 0))
            .select_from(Attendance).join(Enrollment, Enrollment.id == Attendance.enrollment_id)
            .where(Enrollment.session_id == session_id, Attendance.status.in_(ATTENDED))
            .correlate(Session).scalar_subquery())


def _line(session_id, source: str, ref_id, category, label, unit, rate, planned_qty, actual_qty, planned, actual,
          incurred=false(), per_learner=false()):
    return (session_id.label("session_id"), literal(source, String).label("source"),
            cast(ref_id, Integer).label("ref_id"), cast(category, String).label("category"),
            cast(label, String).label("label"), cast(unit, String).label("unit"), cast(rate, BigInteger).label("rate"),
            cast(planned_qty, BigInteger).label("planned_quantity"), cast(actual_qty, BigInteger).label("actual_quantity"),
            cast(planned, BigInteger).label("planned"), cast(actual, BigInteger).label("actual"),
            cast(incurred, Boolean).label("incurred"), cast(per_learner, Boolean).label("per_learner"))


def booked_cost(rate: ColumnElement, unit: ColumnElement, minutes: ColumnElement) -> ColumnElement:
    """What a resource costs for `minutes` booked at `rate` per `unit`, in minor units (HOURLY rounded half up)."""
    return case((unit == RateUnit.HOURLY.value, (rate * minutes + 30) // 60),
                (unit == RateUnit.DAILY.value, rate * ((minutes + DAY_MINUTES - 1) // DAY_MINUTES)),
                else_=rate)


def cost_lines_sql(*session_filter: ColumnElement) -> Select:
    """Every cost line of the sessions matching `session_filter` (WHERE clauses on Session), one row each:
    session_id, source (RESOURCE, COURSE, MANUAL), ref_id, category, label, unit, rate, planned_quantity,
    actual_quantity (minutes booked, or learners), planned, actual (minor units), incurred, per_learner."""
    live = Session.status != SessionStatus.CANCELLED
    minutes = cast(func.sum(minutes_between(Booking.starts_at, Booking.ends_at)), BigInteger)
    unit = cast(Resource.cost_rate_unit, String)
    category = case(*((Booking.role == role.value, category.value) for role, category in ROLE_CATEGORY.items()))
    resources = (select(*_line(Session.id, "RESOURCE", Resource.id, category, Resource.name, unit,
                               Resource.cost_rate_minor, minutes, minutes,
                               booked_cost(Resource.cost_rate_minor, unit, minutes),
                               booked_cost(Resource.cost_rate_minor, unit, minutes)))
                 .select_from(Booking).join(Session, Session.id == Booking.session_id)
                 .join(Resource, Resource.id == Booking.resource_id)
                 .where(Booking.active, live, Resource.cost_rate_minor.is_not(None), *session_filter)
                 .group_by(Session.id, Resource.id, Resource.name, Resource.cost_rate_unit, Resource.cost_rate_minor,
                           Booking.role))
    seats, attended = seats_taken_sql(), attended_sql()
    per_course = (select(*_line(Session.id, "COURSE", CourseCost.id, CourseCost.category, CourseCost.description,
                                null(), CourseCost.amount_minor, seats, attended,
                                CourseCost.amount_minor * seats, CourseCost.amount_minor * attended,
                                per_learner=true()))
                  .select_from(Session).join(CourseCost, CourseCost.course_id == Session.course_id)
                  .where(live, *session_filter))
    each = SessionCost.per_learner
    manual = (select(*_line(Session.id, "MANUAL", SessionCost.id, SessionCost.category, SessionCost.description,
                            null(), SessionCost.amount_minor, case((each, seats), else_=1),
                            case((each, attended), else_=1),
                            case((each, SessionCost.amount_minor * seats), else_=SessionCost.amount_minor),
                            case((each, SessionCost.amount_minor * attended), else_=SessionCost.amount_minor),
                            SessionCost.incurred, SessionCost.per_learner))
              .select_from(SessionCost).join(Session, Session.id == SessionCost.session_id)
              .where(or_(live, SessionCost.incurred), *session_filter))
    return union_all(resources, per_course, manual)


def session_costs_sql(*session_filter: ColumnElement) -> Select:
    """Per session: planned and actual cost (minor units), the sum of its lines; only sessions that have a line.
    Join it to sessions (outer, coalescing to 0) and group by anything."""
    lines = cost_lines_sql(*session_filter).subquery("cost_lines")
    return (select(lines.c.session_id, cast(func.sum(lines.c.planned), BigInteger).label("planned"),
                   cast(func.sum(lines.c.actual), BigInteger).label("actual"))
            .group_by(lines.c.session_id))


def price_sql() -> ColumnElement:
    """A session's price per seat: its own, else its course's (minor units; null when neither has one)."""
    course_price = select(Course.price_minor).where(Course.id == Session.course_id).correlate(Session).scalar_subquery()
    return func.coalesce(Session.price_minor, course_price)


# --- reading ------------------------------------------------------------------------------

@dataclass(frozen=True)
class CostLine:
    session_id: int
    source: str          # RESOURCE, COURSE or MANUAL
    ref_id: int          # the resource, course cost or session cost
    category: CostCategory
    label: str
    unit: RateUnit | None
    rate: int
    planned_quantity: int
    actual_quantity: int
    planned: int
    actual: int
    incurred: bool = False
    per_learner: bool = False

    @property
    def derived(self) -> bool:
        return self.source != "MANUAL"


@dataclass(frozen=True)
class SessionCosts:
    """A session's costs and what they are divided by; amounts in minor units."""

    session_id: int
    lines: list[CostLine]
    planned: int
    actual: int
    seats_taken: int
    attended: int
    attended_minutes: int
    price: int | None
    cancelled: bool

    @property
    def per_learner(self) -> int | None:
        """Planned cost per seat taken."""
        return divide(self.planned, self.seats_taken)

    @property
    def per_attended_learner(self) -> int | None:
        return divide(self.actual, self.attended)

    @property
    def per_attended_hour(self) -> int | None:
        """Actual cost per learner-hour attended."""
        return divide(self.actual * 60, self.attended_minutes)

    @property
    def revenue(self) -> int:
        """Price per seat times seats taken; nothing for a cancelled session or one without a price."""
        return 0 if self.cancelled or self.price is None else self.price * self.seats_taken

    @property
    def margin(self) -> int:
        return self.revenue - self.planned


async def session_costs(db: AsyncSession, session_ids: list[int]) -> dict[int, SessionCosts]:
    """The costs of these sessions in two statements however many they are."""
    if not session_ids:
        return {}
    rows = (await db.execute(select(cost_lines_sql(Session.id.in_(session_ids)).subquery("lines"))
                             )).all()
    lines: dict[int, list[CostLine]] = {i: [] for i in session_ids}
    for row in rows:
        lines[row.session_id].append(CostLine(
            session_id=row.session_id, source=row.source, ref_id=row.ref_id, category=CostCategory(row.category),
            label=row.label, unit=RateUnit(row.unit) if row.unit else None, rate=row.rate,
            planned_quantity=row.planned_quantity, actual_quantity=row.actual_quantity, planned=row.planned,
            actual=row.actual, incurred=bool(row.incurred), per_learner=bool(row.per_learner)))
    totals = session_costs_sql(Session.id.in_(session_ids)).subquery("totals")
    summary = (await db.execute(
        select(Session.id, Session.status, seats_taken_sql().label("seats"), attended_sql().label("attended"),
               attended_minutes_sql().label("minutes"), price_sql().label("price"),
               func.coalesce(totals.c.planned, 0).label("planned"), func.coalesce(totals.c.actual, 0).label("actual"))
        .outerjoin(totals, totals.c.session_id == Session.id).where(Session.id.in_(session_ids)))).all()
    order = {"RESOURCE": 0, "COURSE": 1, "MANUAL": 2}
    return {row.id: SessionCosts(
        session_id=row.id, lines=sorted(lines[row.id], key=lambda line: (order[line.source], line.ref_id)),
        planned=int(row.planned), actual=int(row.actual), seats_taken=row.seats or 0, attended=row.attended or 0,
        attended_minutes=int(row.minutes or 0), price=row.price, cancelled=row.status is SessionStatus.CANCELLED)
        for row in summary}


# --- changing -----------------------------------------------------------------------------

def _rate_snapshot(resource: Resource) -> dict[str, Any]:
    return {"cost_rate_minor": resource.cost_rate_minor,
            "cost_rate_unit": resource.cost_rate_unit.value if resource.cost_rate_unit else None}


async def set_cost_rate(db: AsyncSession, actor: Actor, resource_id: int, amount: str | Decimal | None,
                        unit: RateUnit | None, *, currency: str) -> Resource:
    """A resource's rate (None clears it): HOURLY, DAILY or PER_SESSION, in the installation currency."""
    resource = await get_or_404(db, Resource, resource_id, "resourceId", lock=True)
    before = _rate_snapshot(resource)
    if amount is None:
        resource.cost_rate_minor, resource.cost_rate_unit = None, None
    else:
        if unit is None:
            raise DomainError(ErrorCode.INVALID, "A rate needs a unit: HOURLY, DAILY or PER_SESSION.", "unit")
        resource.cost_rate_minor = parse_amount(str(amount), currency, "amount")
        resource.cost_rate_unit = RateUnit(unit)
    await db.flush()
    after = _rate_snapshot(resource)
    record_change(db, actor, "resource.cost_rate", "Resource", resource.id, before, after)
    emit(db, "resource.cost_rate_changed", {"resource": to_global_id("Resource", resource.id), "before": before,
                                            "after": after})
    return resource


@dataclass(frozen=True)
class PerLearnerCost:
    category: CostCategory
    description: str
    amount: str | Decimal


def _course_costs_snapshot(course: Course, costs: list[CourseCost]) -> dict[str, Any]:
    return {"price_minor": course.price_minor,
            "per_learner_costs": [{"category": c.category.value, "description": c.description,
                                   "amount_minor": c.amount_minor} for c in costs]}


async def course_costs(db: AsyncSession, course_id: int) -> list[CourseCost]:
    return list((await db.scalars(select(CourseCost).where(CourseCost.course_id == course_id)
                                  .order_by(CourseCost.id))).all())


async def set_course_costs(db: AsyncSession, actor: Actor, course_id: int, *, currency: str,
                           **changes: Any) -> Course:
    """Change what is given: `per_learner_costs` (a list of PerLearnerCost, replacing the course's) and
    `price` (per seat; None clears it)."""
    course = await get_or_404(db, Course, course_id, "courseId", lock=True)
    existing = await course_costs(db, course.id)
    before = _course_costs_snapshot(course, existing)
    for name, value in changes.items():
        if name == "price":
            course.price_minor = None if value is None else parse_amount(str(value), currency, "price")
        elif name == "per_learner_costs":
            items = limits.items(value, "perLearnerCosts", MAX_COURSE_COSTS)
            made = [CourseCost(course_id=course.id, category=CostCategory(item.category),
                               description=limits.text(item.description, f"perLearnerCosts.{i}.description"),
                               amount_minor=parse_amount(str(item.amount), currency, f"perLearnerCosts.{i}.amount"))
                    for i, item in enumerate(items)]
            for old in existing:
                await db.delete(old)
            db.add_all(made)
            existing = made
        else:
            raise DomainError(ErrorCode.INVALID, f"A course has no cost field {name!r}.", name)
    await db.flush()
    after = _course_costs_snapshot(course, existing)
    record_change(db, actor, "course.costs", "Course", course.id, before, after)
    emit(db, "course.costs_changed", {"course": to_global_id("Course", course.id), "before": before, "after": after})
    return course


async def set_session_price(db: AsyncSession, actor: Actor, session_id: int, price: str | Decimal | None, *,
                            currency: str) -> Session:
    """A session's own price per seat; None: its course's."""
    session = await get_or_404(db, Session, session_id, "sessionId", lock=True)
    before = {"price_minor": session.price_minor}
    session.price_minor = None if price is None else parse_amount(str(price), currency, "price")
    await db.flush()
    after = {"price_minor": session.price_minor}
    record_change(db, actor, "session.price", "Session", session.id, before, after)
    emit(db, "session.price_changed", {"session": to_global_id("Session", session.id), "before": before,
                                       "after": after}, session_ordering_key(session.id))
    return session


def _cost_payload(cost: SessionCost) -> dict[str, Any]:
    return {"cost": to_global_id("SessionCost", cost.id), "session": to_global_id("Session", cost.session_id),
            "category": cost.category.value, "description": cost.description, "amountMinor": cost.amount_minor,
            "perLearner": cost.per_learner, "incurred": cost.incurred}


async def add_session_cost(db: AsyncSession, actor: Actor, session_id: int, *, category: CostCategory,
                           description: str, amount: str | Decimal, currency: str, per_learner: bool = False,
                           incurred: bool = False) -> SessionCost:
    """A cost line entered by hand: `amount` once, or per learner; `incurred` lines stay on cancellation."""
    session = await get_or_404(db, Session, session_id, "sessionId")
    cost = SessionCost(session_id=session.id, category=CostCategory(category),
                       description=limits.text(description, "description"),
                       amount_minor=parse_amount(str(amount), currency, "amount"), per_learner=bool(per_learner),
                       incurred=bool(incurred))
    db.add(cost)
    await db.flush()
    record_change(db, actor, "session_cost.add", "SessionCost", cost.id, None, snapshot(cost))
    emit(db, "session.cost_added", _cost_payload(cost), session_ordering_key(session.id))
    return cost


async def remove_session_cost(db: AsyncSession, actor: Actor, cost_id: int) -> int:
    """Remove a line entered by hand; returns its session's id."""
    cost = await get_or_404(db, SessionCost, cost_id, "costId", lock=True)
    before = snapshot(cost)
    payload = _cost_payload(cost)
    await db.delete(cost)
    await db.flush()
    record_change(db, actor, "session_cost.remove", "SessionCost", cost_id, before, None)
    emit(db, "session.cost_removed", payload, session_ordering_key(cost.session_id))
    return cost.session_id
