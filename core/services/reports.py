"""KPIs over a period, grouped by course, venue, instructor, month or delivery mode: each metric an
aggregate in SQL (GROUP BY), a fixed number of statements whatever the number of groups, the same
answer on SQLite and PostgreSQL. Rates are exact decimals (docs: README, "Reports and exports").

Populations: a session counts in the period (and month) it starts in, if it is SCHEDULED or COMPLETED;
a program by its first live session; a certification by when it was issued (certifiedCount) or when it
expires (expiringSoon).
"""
from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Integer, and_, case, false, func, literal, null, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import aliased
from sqlalchemy.sql.functions import FunctionElement

from .. import limits, working_hours
from ..errors import DomainError, ErrorCode
from ..ids import to_global_id
from ..instants import local_midnight, utc_now
from ..models import (
    Attendance, AttendanceStatus, AuditEntry, Budget, HoursException, TimeOff, Booking, BookingRole, Certification, Course, DeliveryMode, Enrollment,
    EnrollmentStatus, Program, ProgramLearner, ProgramStage, ProgramStatus, Resource, ResourceKind, Session,
    SessionStatus, StageKind, UTCDateTime, Venue,
)
from ..settings import Settings
from ..money import divide, format_amount
from .budgets import budget_figures_sql
from .costs import attended_minutes_sql, session_costs_sql
from .evaluations import FACTS as EVALUATION_FACTS
from .evaluations import evaluation_facts_sql, format_score, ratio
from . import availability
from .journeys import ATTENDED, not_superseded

MAX_YEARS = 5
"""The longest period a report covers."""
MAX_GROUPS = 10_000
"""The most rows a report answers with."""
RATE_PLACES = Decimal("0.0001")
"""Rates are rounded half to even to four places (0.8125 is 81.25 %)."""
HOUR_PLACES = Decimal("0.01")
"""Hours (utilisation's numerator and denominator) are shown to two places; the rate uses exact seconds."""
REPORTED = (SessionStatus.SCHEDULED, SessionStatus.COMPLETED)
TEACHING = (BookingRole.LEAD_INSTRUCTOR, BookingRole.CO_FACILITATOR)


class Metric(str, enum.Enum):
    FILL_RATE = "FILL_RATE"
    WAITLIST_DEMAND = "WAITLIST_DEMAND"
    ATTENDANCE_RATE = "ATTENDANCE_RATE"
    NO_SHOW_RATE = "NO_SHOW_RATE"
    LATE_CANCELLATION_RATE = "LATE_CANCELLATION_RATE"
    COMPLETION_RATE = "COMPLETION_RATE"
    CERTIFIED_COUNT = "CERTIFIED_COUNT"
    EXPIRING_SOON = "EXPIRING_SOON"
    INSTRUCTOR_UTILISATION = "INSTRUCTOR_UTILISATION"
    ROOM_UTILISATION = "ROOM_UTILISATION"
    PLANNED_COST = "PLANNED_COST"
    ACTUAL_COST = "ACTUAL_COST"
    COST_PER_LEARNER = "COST_PER_LEARNER"
    COST_PER_ATTENDED_HOUR = "COST_PER_ATTENDED_HOUR"
    AVERAGE_RATING = "AVERAGE_RATING"
    NPS = "NPS"
    EVALUATION_RESPONSE_RATE = "EVALUATION_RESPONSE_RATE"
    LEARNING_GAIN = "LEARNING_GAIN"
    BUDGET_CONSUMPTION = "BUDGET_CONSUMPTION"


class Dimension(str, enum.Enum):
    COURSE = "COURSE"
    VENUE = "VENUE"
    INSTRUCTOR = "INSTRUCTOR"
    MONTH = "MONTH"
    DELIVERY_MODE = "DELIVERY_MODE"


COUNTS = {Metric.WAITLIST_DEMAND, Metric.CERTIFIED_COUNT, Metric.EXPIRING_SOON}
"""Metrics that are a count, not a ratio."""
UTILISATION = {Metric.INSTRUCTOR_UTILISATION: ResourceKind.INSTRUCTOR, Metric.ROOM_UTILISATION: ResourceKind.ROOM}
MONEY = {Metric.PLANNED_COST, Metric.ACTUAL_COST, Metric.COST_PER_LEARNER, Metric.COST_PER_ATTENDED_HOUR}
"""Cost metrics (core/services/costs.py): amounts in the installation's currency."""
EVALUATION_METRICS = {Metric.AVERAGE_RATING, Metric.NPS, Metric.EVALUATION_RESPONSE_RATE, Metric.LEARNING_GAIN}
"""Evaluations (core/services/evaluations.py): of the sessions of the period, as the session metrics."""
SESSION_METRICS = {*MONEY, Metric.FILL_RATE, Metric.WAITLIST_DEMAND, Metric.ATTENDANCE_RATE, Metric.NO_SHOW_RATE,
                   Metric.LATE_CANCELLATION_RATE, *UTILISATION}


@dataclass(frozen=True)
class ReportFilter:
    course_id: int | None = None
    venue_id: int | None = None
    instructor_id: int | None = None
    delivery_mode: DeliveryMode | None = None


@dataclass(frozen=True)
class Period:
    """[starts_at, ends_at) in UTC: from the start of `first` to the end of `last`, local days of `timezone`."""

    first: date
    last: date
    timezone: str
    starts_at: datetime
    ends_at: datetime

    def months(self) -> list[tuple[str, datetime, datetime]]:
        """Each calendar month the period touches, as (YYYY-MM, start, end) clipped to the period."""
        zone, out = ZoneInfo(self.timezone), []
        month = self.first.replace(day=1)
        while month <= self.last:
            following = (month + timedelta(days=32)).replace(day=1)
            start = max(local_midnight(month, zone), self.starts_at)
            end = min(local_midnight(following, zone), self.ends_at)
            out.append((f"{month:%Y-%m}", start, end))
            month = following
        return out


@dataclass(frozen=True)
class DimensionValue:
    dimension: Dimension
    key: str | None  # a global ID, "2027-03" or a delivery mode; None: the session has none (no venue, no instructor)
    label: str


@dataclass(frozen=True)
class MetricValue:
    metric: Metric
    value: Decimal | int | None  # None: nothing to divide by
    numerator: Decimal | int
    denominator: Decimal | int | None  # None for counts


@dataclass
class ReportRow:
    dimensions: list[DimensionValue]
    values: list[MetricValue]


@dataclass
class Report:
    period: Period
    metrics: list[Metric]
    group_by: list[Dimension]
    rows: list[ReportRow] = field(default_factory=list)
    totals: list[MetricValue] = field(default_factory=list)


# --- the input ------------------------------------------------------------------------------------

def period(first: date, last: date, timezone: str = "UTC") -> Period:
    """A report's period, both days included; `first` after `last`, or more than MAX_YEARS, is INVALID."""
    timezone = limits.timezone(timezone, "timezone")
    if first > last:
        raise DomainError(ErrorCode.INVALID, "from is after to.", "from")
    try:
        longest = first.replace(year=first.year + MAX_YEARS)
    except ValueError:  # 29 February
        longest = first.replace(year=first.year + MAX_YEARS, day=28)
    if last >= longest:
        raise DomainError(ErrorCode.INVALID, f"A report covers at most {MAX_YEARS} years.", "to")
    zone = ZoneInfo(timezone)
    return Period(first, last, timezone, local_midnight(first, zone), local_midnight(last + timedelta(days=1), zone))


def _distinct(values: Sequence, field_name: str) -> list:
    seen = list(dict.fromkeys(values))
    if len(seen) != len(values):
        raise DomainError(ErrorCode.INVALID, f"{field_name} names an item twice.", field_name)
    return seen


# --- SQL pieces -------------------------------------------------------------------------------------

class seconds_between(FunctionElement):
    """Whole seconds from the first instant to the second, in SQL, on either database."""

    type = Integer()
    inherit_cache = True


@compiles(seconds_between, "sqlite")
def _seconds_sqlite(element, compiler, **kw) -> str:
    start, end = list(element.clauses)
    return (f"CAST(ROUND((julianday({compiler.process(end, **kw)}) - julianday({compiler.process(start, **kw)}))"
            f" * 86400) AS INTEGER)")


@compiles(seconds_between, "postgresql")
def _seconds_postgresql(element, compiler, **kw) -> str:
    start, end = list(element.clauses)
    return f"CAST(ROUND(EXTRACT(EPOCH FROM ({compiler.process(end, **kw)} - {compiler.process(start, **kw)}))) AS BIGINT)"


def _at(value: datetime):
    return literal(value, UTCDateTime())


def _month_of(column, months: list[tuple[str, datetime, datetime]]):
    """The report-timezone month an instant falls in, as 'YYYY-MM', by comparing with the month bounds."""
    return case(*[(column < _at(end), literal(name)) for name, _start, end in months], else_=literal(None))


def _sum(expression):
    return func.coalesce(func.sum(expression), 0)


def _count_if(condition):
    return _sum(case((condition, 1), else_=0))


class _Shape:
    """The dimension columns of one population's query: joins added on demand, keys in `dimensions` order."""

    def __init__(self, query, session, course_column, month_column, months, dimensions: Sequence[Dimension]) -> None:
        self.query, self.columns = query, []
        self.teaching = None
        for dimension in dimensions:
            if dimension is Dimension.COURSE:
                self.columns.append(course_column)
            elif dimension is Dimension.MONTH:
                self.columns.append(_month_of(month_column, months))
            elif dimension is Dimension.DELIVERY_MODE:
                self.columns.append(session.delivery_mode)
            elif dimension is Dimension.VENUE:
                venues = _session_venues()
                self.query = self.query.outerjoin(venues, venues.c.session_id == session.id)
                self.columns.append(venues.c.venue_id)
            elif dimension is Dimension.INSTRUCTOR:
                self.teaching = _session_teachers()
                self.query = self.query.outerjoin(self.teaching, self.teaching.c.session_id == session.id)
                self.columns.append(self.teaching.c.resource_id)


def _session_venues():
    """Each session's venues (those of its rooms, once each, whatever the number of its parts)."""
    return (select(Booking.session_id, Resource.venue_id).join(Resource, Resource.id == Booking.resource_id)
            .where(Booking.role == BookingRole.ROOM, Booking.active, Booking.session_id.is_not(None))
            .distinct().subquery("session_venues"))


def _session_teachers():
    """Each session's instructors, once each, with the seconds each is booked for it (over all its parts)."""
    return (select(Booking.session_id, Booking.resource_id,
                   func.sum(seconds_between(Booking.starts_at, Booking.ends_at)).label("seconds"))
            .where(Booking.role.in_(TEACHING), Booking.active, Booking.session_id.is_not(None))
            .group_by(Booking.session_id, Booking.resource_id).subquery("session_teachers"))


def _session_conditions(session, span: Period, report_filter: ReportFilter) -> list:
    """Sessions that count: SCHEDULED or COMPLETED, starting in the period, within the filter."""
    return [session.starts_at >= _at(span.starts_at), session.starts_at < _at(span.ends_at),
            session.status.in_(REPORTED), *_filter_conditions(session, report_filter)]


def _filter_conditions(session, report_filter: ReportFilter) -> list:
    where = []
    if report_filter.course_id is not None:
        where.append(session.course_id == report_filter.course_id)
    if report_filter.delivery_mode is not None:
        where.append(session.delivery_mode == report_filter.delivery_mode)
    if report_filter.instructor_id is not None:
        where.append(session.id.in_(select(Booking.session_id).where(
            Booking.resource_id == report_filter.instructor_id, Booking.role.in_(TEACHING), Booking.active)))
    if report_filter.venue_id is not None:
        where.append(session.id.in_(select(Booking.session_id).join(Resource, Resource.id == Booking.resource_id)
                                    .where(Booking.role == BookingRole.ROOM, Booking.active,
                                           Resource.venue_id == report_filter.venue_id)))
    return where


def _anchor_session_id(program_id_column):
    """A program's first live session: the LIVE stage first in order (its first section)."""
    return (select(ProgramStage.session_id).where(ProgramStage.program_id == program_id_column,
                                                  ProgramStage.kind == StageKind.LIVE)
            .order_by(ProgramStage.position, ProgramStage.id).limit(1).scalar_subquery())


# --- the populations --------------------------------------------------------------------------------

def _enrolment_facts(span: Period, report_filter: ReportFilter, settings: Settings, now: datetime):
    """Per session of the period: seat holders, waitlisted, attended, absent, cancellations and late ones."""
    last_cancel = (select(AuditEntry.target_id.label("enrollment_id"), func.max(AuditEntry.at).label("at"))
                   .where(AuditEntry.target_type == "Enrollment", AuditEntry.action == "enrollment.cancel")
                   .group_by(AuditEntry.target_id).subquery())
    started = Session.starts_at <= _at(now)
    enrolled = Enrollment.status == EnrollmentStatus.ENROLLED
    cancelled = and_(Enrollment.status == EnrollmentStatus.CANCELLED, last_cancel.c.at.is_not(None))
    query = (select(
        Enrollment.session_id.label("session_id"),
        _count_if(enrolled).label("enrolled"),
        _count_if(Enrollment.status == EnrollmentStatus.WAITLISTED).label("waitlisted"),
        _count_if(and_(enrolled, started)).label("enrolled_started"),
        _count_if(and_(enrolled, started, Attendance.status.in_(ATTENDED))).label("attended"),
        _count_if(and_(enrolled, started, Attendance.status == AttendanceStatus.ABSENT)).label("absent"),
        _count_if(cancelled).label("cancelled"),
        _count_if(and_(cancelled, _late(last_cancel.c.at, Session.starts_at, settings.late_cancel_hours))).label("late_cancelled"))
        .select_from(Enrollment).join(Session, Session.id == Enrollment.session_id)
        .outerjoin(Attendance, Attendance.enrollment_id == Enrollment.id)
        .outerjoin(last_cancel, last_cancel.c.enrollment_id == Enrollment.id)
        .where(*_session_conditions(Session, span, report_filter))
        .group_by(Enrollment.session_id))
    return query.subquery("enrolment_facts")


def _late(cancelled_at, starts_at, hours: int):
    """Cancelled less than PODIUM_LATE_CANCEL_HOURS before the start (or after it)."""
    return seconds_between(cancelled_at, starts_at) < hours * 3600


def _booking_facts(span: Period, report_filter: ReportFilter):
    """Per session of the period: hours booked of instructors and of rooms (seconds, setup and teardown included)."""
    seconds = seconds_between(Booking.starts_at, Booking.ends_at)
    return (select(Booking.session_id.label("session_id"),
                   _sum(case((Booking.role.in_(TEACHING), seconds), else_=0)).label("instructor_seconds"),
                   _sum(case((Booking.role == BookingRole.ROOM, seconds), else_=0)).label("room_seconds"))
            .join(Session, Session.id == Booking.session_id)
            .where(Booking.active, *_session_conditions(Session, span, report_filter))
            .group_by(Booking.session_id).subquery("booking_facts"))


def _cost_facts(span: Period, report_filter: ReportFilter):
    """Per session of the period: planned and actual cost (minor units, the sum of its cost lines as
    core/services/costs.py computes them) and learner-minutes attended."""
    where = _session_conditions(Session, span, report_filter)
    costs = session_costs_sql(*where).subquery("cost_totals")
    return (select(Session.id.label("session_id"), func.coalesce(costs.c.planned, 0).label("planned"),
                   func.coalesce(costs.c.actual, 0).label("actual"),
                   attended_minutes_sql().label("attended_minutes"))
            .outerjoin(costs, costs.c.session_id == Session.id).where(*where).subquery("cost_facts"))


def _session_query(span: Period, report_filter: ReportFilter, settings: Settings, now: datetime,
                   dimensions: Sequence[Dimension], with_costs: bool = False):
    facts, booked = _enrolment_facts(span, report_filter, settings, now), _booking_facts(span, report_filter)
    base = (select().select_from(Session).outerjoin(facts, facts.c.session_id == Session.id)
            .outerjoin(booked, booked.c.session_id == Session.id))
    costs = _cost_facts(span, report_filter) if with_costs else None
    if costs is not None:
        base = base.outerjoin(costs, costs.c.session_id == Session.id)
    shape = _Shape(base, Session, Session.course_id, Session.starts_at, span.months(), dimensions)
    # Grouped by instructor, an instructor's utilisation counts their own bookings, not their co-facilitators'.
    instructor_seconds = (_sum(shape.teaching.c.seconds) if shape.teaching is not None
                          else _sum(booked.c.instructor_seconds))
    aggregates = [_sum(Session.capacity), _sum(facts.c.enrolled), _sum(facts.c.waitlisted),
                  _sum(facts.c.enrolled_started), _sum(facts.c.attended), _sum(facts.c.absent),
                  _sum(facts.c.cancelled), _sum(facts.c.late_cancelled), instructor_seconds,
                  _sum(booked.c.room_seconds)]
    if costs is not None:
        aggregates += [_sum(costs.c.planned), _sum(costs.c.actual), _sum(costs.c.attended_minutes)]
    query = shape.query.add_columns(*shape.columns, *aggregates).where(*_session_conditions(Session, span, report_filter))
    return query.group_by(*shape.columns) if shape.columns else query, len(shape.columns)


def _evaluation_query(span: Period, report_filter: ReportFilter, dimensions: Sequence[Dimension]):
    """Per group: evaluations requested and answered, ratings, NPS answers, and pre/post gains of the
    sessions of the period (each session's facts summed; grouped by instructor, each instructor's sessions)."""
    where = _session_conditions(Session, span, report_filter)
    facts = evaluation_facts_sql(*where).subquery("evaluation_facts")
    base = select().select_from(Session).join(facts, facts.c.session_id == Session.id)
    shape = _Shape(base, Session, Session.course_id, Session.starts_at, span.months(), dimensions)
    query = shape.query.add_columns(*shape.columns, *(_sum(facts.c[name]) for name in EVALUATION_FACTS)).where(*where)
    return query.group_by(*shape.columns) if shape.columns else query, len(shape.columns)


def _from_evaluation_facts(metric: Metric, facts: Sequence[int]) -> tuple[int, int]:
    (requested, responded, rating_sum, ratings, promoters, detractors, nps_answers, gain_sum,
     gains) = (int(v or 0) for v in facts)
    return {Metric.AVERAGE_RATING: (rating_sum, ratings),
            Metric.NPS: (promoters - detractors, nps_answers),
            Metric.EVALUATION_RESPONSE_RATE: (responded, requested),
            Metric.LEARNING_GAIN: (gain_sum, gains)}[metric]


def _budget_query(span: Period, report_filter: ReportFilter, now: datetime, dimensions: Sequence[Dimension]):
    """Budgets whose period overlaps the report's: spent or committed (actual + committed, as BUDGET_EXCEEDED
    counts) and amount, summed per group. A budget has a course (COURSE scope) or a venue (VENUE scope) and a
    month (that of its start, or the period's first when it started before); it has no instructor and no
    delivery mode (null keys). A course or venue filter keeps the budgets of that scope and target; an
    instructor or delivery mode filter keeps none."""
    chosen = aliased(Budget)
    ids = select(chosen.id).where(chosen.starts_at < _at(span.ends_at), chosen.ends_at > _at(span.starts_at))
    if report_filter.course_id is not None:
        ids = ids.where(chosen.course_id == report_filter.course_id)
    if report_filter.venue_id is not None:
        ids = ids.where(chosen.venue_id == report_filter.venue_id)
    if report_filter.instructor_id is not None or report_filter.delivery_mode is not None:
        ids = ids.where(false())
    figures = budget_figures_sql(ids, now).subquery("budget_figures")
    start = case((Budget.starts_at < _at(span.starts_at), _at(span.starts_at)), else_=Budget.starts_at)
    columns, grouped = [], []
    for dimension in dimensions:
        column = {Dimension.COURSE: Budget.course_id, Dimension.VENUE: Budget.venue_id,
                  Dimension.MONTH: _month_of(start, span.months())}.get(dimension)
        columns.append(null() if column is None else column)
        if column is not None:
            grouped.append(column)
    query = (select(*columns, _sum(figures.c.actual + figures.c.committed), _sum(figures.c.amount_minor))
             .select_from(figures).join(Budget, Budget.id == figures.c.id))
    return query.group_by(*grouped) if grouped else query, len(columns)


def _program_query(span: Period, report_filter: ReportFilter, dimensions: Sequence[Dimension]):
    """Journeys of ACTIVE programs whose first live session starts in the period: learners and completed
    (certified) ones. A journey is complete when every required stage is; the program then certifies."""
    anchor = aliased(Session)
    learners = (select(ProgramLearner.program_id, func.count().label("learners"))
                .group_by(ProgramLearner.program_id).subquery())
    completed = (select(Certification.program_id, func.count(func.distinct(Certification.person_id)).label("done"))
                 .where(Certification.program_id.is_not(None)).group_by(Certification.program_id).subquery())
    base = (select().select_from(Program).join(anchor, anchor.id == _anchor_session_id(Program.id))
            .outerjoin(learners, learners.c.program_id == Program.id)
            .outerjoin(completed, completed.c.program_id == Program.id))
    shape = _Shape(base, anchor, anchor.course_id, anchor.starts_at, span.months(), dimensions)
    query = (shape.query.add_columns(*shape.columns, _sum(completed.c.done), _sum(learners.c.learners))
             .where(Program.status == ProgramStatus.ACTIVE, *_session_conditions(anchor, span, report_filter)))
    return query.group_by(*shape.columns) if shape.columns else query, len(shape.columns)


def _certification_query(metric: Metric, span: Period, report_filter: ReportFilter, now: datetime,
                         dimensions: Sequence[Dimension]):
    """Certifications issued in the period (certifiedCount), or expiring in it from now on and not renewed
    (expiringSoon). Venue, instructor and delivery mode are those of the certifying program's first live session."""
    anchor = aliased(Session)
    instant = Certification.issued_at if metric is Metric.CERTIFIED_COUNT else Certification.expires_at
    base = (select().select_from(Certification).outerjoin(Program, Program.id == Certification.program_id)
            .outerjoin(anchor, anchor.id == _anchor_session_id(Program.id)))
    shape = _Shape(base, anchor, Certification.course_id, instant, span.months(), dimensions)
    where = [instant >= _at(span.starts_at), instant < _at(span.ends_at)]
    if metric is Metric.EXPIRING_SOON:
        where += [Certification.expires_at >= _at(now), not_superseded()]
    if report_filter.course_id is not None:
        where.append(Certification.course_id == report_filter.course_id)
    session_filter = ReportFilter(None, report_filter.venue_id, report_filter.instructor_id, report_filter.delivery_mode)
    if session_filter != ReportFilter():
        where += [anchor.id.is_not(None), *_filter_conditions(anchor, session_filter)]
    query = shape.query.add_columns(*shape.columns, func.count(Certification.id)).where(*where)
    return query.group_by(*shape.columns) if shape.columns else query, len(shape.columns)


# --- working hours: the utilisation denominators ---------------------------------------------------

def seconds_within(intervals: Sequence[tuple[datetime, datetime]],
                   buckets: list[tuple[str, datetime, datetime]]) -> dict[str, int]:
    """Seconds of the (merged) intervals that fall within each bucket (name, start, end)."""
    return {name: sum(max(int((min(end, e) - max(start, s)).total_seconds()), 0) for s, e in intervals
                      if s < end and e > start) for name, start, end in buckets}


async def _resources(db: AsyncSession, kind: ResourceKind, report_filter: ReportFilter) -> list[Resource]:
    """The resources whose hours the utilisation divides by."""
    query = select(Resource).where(Resource.kind == kind)
    if kind is ResourceKind.INSTRUCTOR and report_filter.instructor_id is not None:
        query = query.where(Resource.id == report_filter.instructor_id)
    if kind is ResourceKind.ROOM and report_filter.venue_id is not None:
        query = query.where(Resource.venue_id == report_filter.venue_id)
    return list((await db.scalars(query.order_by(Resource.id))).all())


async def _working_seconds(db: AsyncSession, resources: list[Resource], span: Period,
                           buckets: list[tuple[str, datetime, datetime]]) -> dict[int, dict[str, int]]:
    """Each resource's working seconds per bucket, by the availability rules (its weekly hours and dated
    exceptions on its own clock, less time off). Resources with the same weekly hours and timezone and no
    exception or time off in the period share one computation, so 500 instructors cost a few."""
    ids = [r.id for r in resources]
    special = set((await db.scalars(select(HoursException.resource_id).where(
        HoursException.resource_id.in_(ids), HoursException.on_date >= span.first - timedelta(days=1),
        HoursException.on_date <= span.last + timedelta(days=1)))).all()) if ids else set()
    special |= set((await db.scalars(select(TimeOff.resource_id).where(
        TimeOff.resource_id.in_(ids), TimeOff.starts_at < _at(span.ends_at), TimeOff.ends_at > _at(span.starts_at))
    )).all()) if ids else set()
    calendars = await availability.calendars(db, [r for r in resources if r.id in special], span.starts_at,
                                             span.ends_at)
    shared: dict[tuple, dict[str, int]] = {}
    out = {}
    for resource in resources:
        if resource.id in special:
            out[resource.id] = seconds_within(calendars[resource.id].free(), buckets)
            continue
        weekly = working_hours.weekly_of(resource.kind, resource.weekly_hours)
        key = (weekly, resource.timezone)
        if key not in shared:
            shared[key] = seconds_within(working_hours.open_intervals(
                weekly, {}, resource.timezone, span.starts_at, span.ends_at), buckets)
        out[resource.id] = shared[key]
    return out


# --- the report -------------------------------------------------------------------------------------

def _ratio(numerator: Decimal | int, denominator: Decimal | int) -> Decimal | None:
    if not denominator:
        return None
    return (Decimal(numerator) / Decimal(denominator)).quantize(RATE_PLACES, rounding=ROUND_HALF_EVEN)


def _hours(seconds: int) -> Decimal:
    return (Decimal(seconds) / 3600).quantize(HOUR_PLACES, rounding=ROUND_HALF_EVEN)


def _value(metric: Metric, numerator: int, denominator: int | None, currency: str = "EUR") -> MetricValue:
    if metric is Metric.AVERAGE_RATING:  # mean of every RATING_1_5 answer, two places
        return MetricValue(metric, ratio(numerator, denominator or 0), numerator, denominator or 0)
    if metric is Metric.NPS:  # (promoters - detractors) x 100 / NPS answers: -100 to 100, two places
        return MetricValue(metric, ratio(100 * numerator, denominator or 0), numerator, denominator or 0)
    if metric is Metric.LEARNING_GAIN:  # the numerator is the sum of POST - PRE in hundredths of a point
        return MetricValue(metric, ratio(numerator, 100 * (denominator or 0)), format_score(numerator),
                           denominator or 0)
    if metric is Metric.BUDGET_CONSUMPTION:  # spent or committed / amount, of the budgets
        return MetricValue(metric, _ratio(numerator, denominator or 0), format_amount(numerator, currency),
                           format_amount(denominator or 0, currency))
    if metric in (Metric.PLANNED_COST, Metric.ACTUAL_COST):
        return MetricValue(metric, format_amount(numerator, currency), format_amount(numerator, currency), None)
    if metric is Metric.COST_PER_LEARNER:
        each = divide(numerator, denominator or 0)
        return MetricValue(metric, None if each is None else format_amount(each, currency),
                           format_amount(numerator, currency), denominator or 0)
    if metric is Metric.COST_PER_ATTENDED_HOUR:  # the denominator is learner-minutes attended
        each = divide(numerator * 60, denominator or 0)
        return MetricValue(metric, None if each is None else format_amount(each, currency),
                           format_amount(numerator, currency), _hours((denominator or 0) * 60))
    if metric in COUNTS:
        return MetricValue(metric, numerator, numerator, None)
    if metric in UTILISATION:
        return MetricValue(metric, _ratio(numerator, denominator), _hours(numerator), _hours(denominator or 0))
    return MetricValue(metric, _ratio(numerator, denominator), numerator, denominator)


def _from_session_facts(metric: Metric, facts: Sequence[int]) -> tuple[int, int | None]:
    (capacity, enrolled, waitlisted, enrolled_started, attended, absent, cancelled, late_cancelled,
     instructor_seconds, room_seconds, *costs) = (int(v or 0) for v in facts)
    planned, actual, attended_minutes = costs or (0, 0, 0)
    return {
        Metric.PLANNED_COST: (planned, None),
        Metric.ACTUAL_COST: (actual, None),
        Metric.COST_PER_LEARNER: (planned, enrolled),
        Metric.COST_PER_ATTENDED_HOUR: (actual, attended_minutes),
        Metric.FILL_RATE: (enrolled, capacity),
        Metric.WAITLIST_DEMAND: (waitlisted, None),
        Metric.ATTENDANCE_RATE: (attended, enrolled_started),
        Metric.NO_SHOW_RATE: (absent, enrolled_started),
        Metric.LATE_CANCELLATION_RATE: (late_cancelled, enrolled + cancelled),
        Metric.INSTRUCTOR_UTILISATION: (instructor_seconds, None),
        Metric.ROOM_UTILISATION: (room_seconds, None),
    }[metric]


async def _grouped(db: AsyncSession, query, width: int) -> dict[tuple, tuple]:
    """Rows of a grouped query by their dimension keys; more than MAX_GROUPS is INVALID."""
    rows = (await db.execute(query.limit(MAX_GROUPS + 1) if width else query)).all()
    if len(rows) > MAX_GROUPS:
        raise DomainError(ErrorCode.INVALID, f"The report would have more than {MAX_GROUPS:,} rows; group by "
                          "less or shorten the period.", "groupBy")
    return {tuple(row[:width]): tuple(row[width:]) for row in rows}


async def run_report(db: AsyncSession, metrics: Sequence[Metric], group_by: Sequence[Dimension], span: Period,
                     report_filter: ReportFilter = ReportFilter(), settings: Settings | None = None,
                     now: datetime | None = None) -> Report:
    """The report: per metric family two statements (grouped and totals), plus one per label to name."""
    settings, now = settings or Settings(), now or utc_now()
    metrics = _distinct([Metric(m) for m in metrics], "metrics")
    group_by = _distinct([Dimension(d) for d in group_by or []], "groupBy")
    if not metrics:
        raise DomainError(ErrorCode.INVALID, "Ask for at least one metric.", "metrics")
    report = Report(span, metrics, group_by)
    per_metric: dict[Metric, dict[tuple, tuple[int, int | None]]] = {}
    totals: dict[Metric, tuple[int, int | None]] = {}

    if SESSION_METRICS & set(metrics):
        with_costs = bool(MONEY & set(metrics))
        query, width = _session_query(span, report_filter, settings, now, group_by, with_costs)
        grouped = await _grouped(db, query, width)
        total_query, _ = _session_query(span, report_filter, settings, now, [], with_costs)
        overall = (await db.execute(total_query)).one()
        for metric in SESSION_METRICS & set(metrics):
            per_metric[metric] = {key: _from_session_facts(metric, facts) for key, facts in grouped.items()}
            totals[metric] = _from_session_facts(metric, overall)
    if EVALUATION_METRICS & set(metrics):
        query, width = _evaluation_query(span, report_filter, group_by)
        grouped = await _grouped(db, query, width)
        overall = (await db.execute(_evaluation_query(span, report_filter, [])[0])).one()
        for metric in EVALUATION_METRICS & set(metrics):
            per_metric[metric] = {key: _from_evaluation_facts(metric, facts) for key, facts in grouped.items()}
            totals[metric] = _from_evaluation_facts(metric, overall)
    if Metric.BUDGET_CONSUMPTION in metrics:
        query, width = _budget_query(span, report_filter, now, group_by)
        per_metric[Metric.BUDGET_CONSUMPTION] = {k: (int(v[0]), int(v[1])) for k, v in
                                                 (await _grouped(db, query, width)).items()}
        spent, amount = (await db.execute(_budget_query(span, report_filter, now, [])[0])).one()
        totals[Metric.BUDGET_CONSUMPTION] = (int(spent), int(amount))
    if Metric.COMPLETION_RATE in metrics:
        query, width = _program_query(span, report_filter, group_by)
        per_metric[Metric.COMPLETION_RATE] = {k: (int(v[0]), int(v[1])) for k, v in (await _grouped(db, query, width)).items()}
        done, learners = (await db.execute(_program_query(span, report_filter, [])[0])).one()
        totals[Metric.COMPLETION_RATE] = (int(done), int(learners))
    for metric in (Metric.CERTIFIED_COUNT, Metric.EXPIRING_SOON):
        if metric in metrics:
            query, width = _certification_query(metric, span, report_filter, now, group_by)
            per_metric[metric] = {k: (int(v[0]), None) for k, v in (await _grouped(db, query, width)).items()}
            totals[metric] = (int((await db.execute(_certification_query(metric, span, report_filter, now, [])[0]))
                                  .scalar_one()), None)

    keys = sorted({key for groups in per_metric.values() for key in groups}, key=_sort_key) if group_by else []
    if len(keys) > MAX_GROUPS:
        raise DomainError(ErrorCode.INVALID, f"The report would have more than {MAX_GROUPS:,} rows; group by "
                          "less or shorten the period.", "groupBy")
    labels = await _labels(db, group_by, keys)
    await _divide_utilisation(db, metrics, group_by, span, report_filter, per_metric, totals, labels)
    for key in keys:
        dims = [_dimension_value(d, k, labels) for d, k in zip(group_by, key)]
        values = [_value(m, *per_metric[m].get(key, (0, 0 if m not in COUNTS else None)), settings.currency)
                  for m in metrics]
        report.rows.append(ReportRow(dims, values))
    report.rows.sort(key=lambda row: [(d.key is None, d.label.casefold() if d.dimension is not Dimension.MONTH
                                       else d.key or "") for d in row.dimensions])
    report.totals = [_value(m, *totals[m], settings.currency) for m in metrics]
    return report


def _sort_key(key: tuple) -> tuple:
    return tuple((v is None, str(v.value if isinstance(v, enum.Enum) else v)) for v in key)


async def _divide_utilisation(db, metrics, group_by, span: Period, report_filter, per_metric, totals, labels) -> None:
    """Utilisation: booked seconds over the working seconds of the resources the group pins (an instructor;
    a venue's rooms) or of all of them, within the group's month or the whole period."""
    buckets = [("", span.starts_at, span.ends_at), *span.months()]
    for metric, kind in UTILISATION.items():
        if metric not in metrics:
            continue
        found = await _resources(db, kind, report_filter)
        hours = await _working_seconds(db, found, span, buckets)
        resources = [(r.id, r.venue_id, hours[r.id]) for r in found]

        def capacity(month: str, chosen) -> int:
            return sum(hours[month] for rid, venue, hours in resources if chosen(rid, venue))

        pins = Dimension.INSTRUCTOR if kind is ResourceKind.INSTRUCTOR else Dimension.VENUE
        for key, (seconds, _none) in list(per_metric[metric].items()):
            picked = dict(zip(group_by, key))
            month = picked.get(Dimension.MONTH) or ""
            if pins in picked and kind is ResourceKind.INSTRUCTOR:
                chosen = (lambda rid, venue, one=picked[pins]: rid == one)
            elif pins in picked:
                chosen = (lambda rid, venue, one=picked[pins]: venue == one)
            else:
                chosen = (lambda rid, venue: True)
            per_metric[metric][key] = (seconds, capacity(month, chosen))
        totals[metric] = (totals[metric][0], capacity("", lambda rid, venue: True))


async def _labels(db: AsyncSession, group_by: Sequence[Dimension], keys: Iterable[tuple]) -> dict:
    """Names for the keys: one statement per named dimension (courses, venues, instructors)."""
    labels: dict[tuple[Dimension, Any], str] = {}
    keys = list(keys)
    for index, dimension in enumerate(group_by):
        ids = sorted({key[index] for key in keys if key[index] is not None})
        if dimension is Dimension.COURSE and ids:
            rows = await db.execute(select(Course.id, Course.code, Course.title).where(Course.id.in_(ids)))
            labels.update({(dimension, i): f"{code} {title}" for i, code, title in rows})
        elif dimension is Dimension.VENUE and ids:
            rows = await db.execute(select(Venue.id, Venue.name).where(Venue.id.in_(ids)))
            labels.update({(dimension, i): name for i, name in rows})
        elif dimension is Dimension.INSTRUCTOR and ids:
            rows = await db.execute(select(Resource.id, Resource.name).where(Resource.id.in_(ids)))
            labels.update({(dimension, i): name for i, name in rows})
    return labels


NONE_LABELS = {Dimension.VENUE: "(no venue)", Dimension.INSTRUCTOR: "(no instructor)", Dimension.COURSE: "(no course)",
               Dimension.MONTH: "(no month)", Dimension.DELIVERY_MODE: "(no session)"}
GLOBAL_TYPES = {Dimension.COURSE: "Course", Dimension.VENUE: "Venue", Dimension.INSTRUCTOR: "Resource"}


def _dimension_value(dimension: Dimension, key: Any, labels: dict) -> DimensionValue:
    if key is None:
        return DimensionValue(dimension, None, NONE_LABELS[dimension])
    if dimension in GLOBAL_TYPES:
        return DimensionValue(dimension, to_global_id(GLOBAL_TYPES[dimension], key), labels.get((dimension, key), "?"))
    value = key.value if isinstance(key, enum.Enum) else str(key)
    return DimensionValue(dimension, value, value)
