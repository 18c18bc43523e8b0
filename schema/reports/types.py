"""What a report answers: rows of dimension values and metric values, and the totals."""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import strawberry

from podium.core.services import reports as core

Metric = strawberry.enum(core.Metric, name="Metric", description="A KPI a report computes (README, "
                         "\"Reports and exports\", gives each formula).")
Dimension = strawberry.enum(core.Dimension, name="Dimension", description="What a report groups by.")


def _text(value: Decimal | int | None) -> str | None:
    return None if value is None else str(value)


@strawberry.type(description="One dimension of a report row.")
class DimensionValue:
    dimension: Dimension
    key: str | None = strawberry.field(description="The global ID of a course, venue or instructor (a Resource); "
                                       "the month as YYYY-MM; the delivery mode. Null: the sessions have none "
                                       "(a virtual session has no venue).")
    label: str = strawberry.field(description="A course's code and title, a venue's or instructor's name, the "
                                  "month, the mode; `(no venue)` and the like for a null key.")


@strawberry.type(description="One metric of a report row or of its totals, as exact decimal text.")
class MetricValue:
    metric: Metric
    value: str | None = strawberry.field(description="A rate as a decimal fraction rounded half to even to four "
                                         "places (\"0.8125\"), or a count (\"12\"); null when there is nothing to "
                                         "divide by.")
    numerator: str = strawberry.field(description="What was counted: learners, enrolments, certifications; hours "
                                      "booked (two places) for the utilisations.")
    denominator: str | None = strawberry.field(description="What it is divided by: seats, enrolments, learners; "
                                               "working hours (two places) for the utilisations; null for counts.")


@strawberry.type(description="One group of a report.")
class ReportRow:
    dimensions: list[DimensionValue] = strawberry.field(description="One per `groupBy` dimension, in that order.")
    values: list[MetricValue] = strawberry.field(description="One per asked metric, in that order.")


@strawberry.type(description="KPIs over a period; staff only.")
class Report:
    from_: date = strawberry.field(name="from", description="The first day of the period.")
    to: date = strawberry.field(description="The last day of the period (included).")
    timezone: str = strawberry.field(description="Whose days and months the period and MONTH are in.")
    starts_at: datetime = strawberry.field(description="The period's start as an instant.")
    ends_at: datetime = strawberry.field(description="The period's end (exclusive) as an instant.")
    rows: list[ReportRow] = strawberry.field(description="One per group, ordered by the dimensions' labels "
                                             "(months in order, null keys last); at most 10,000.")
    totals: list[MetricValue] = strawberry.field(description="Each metric over the whole period and filter: "
                                                 "every session counted once.")


def metric_value(value: core.MetricValue) -> MetricValue:
    return MetricValue(metric=value.metric, value=_text(value.value), numerator=_text(value.numerator),
                       denominator=_text(value.denominator))


def report_from(report: core.Report) -> Report:
    return Report(from_=report.period.first, to=report.period.last, timezone=report.period.timezone,
                  starts_at=report.period.starts_at, ends_at=report.period.ends_at,
                  rows=[ReportRow(dimensions=[DimensionValue(dimension=d.dimension, key=d.key, label=d.label)
                                              for d in row.dimensions],
                                  values=[metric_value(v) for v in row.values]) for row in report.rows],
                  totals=[metric_value(v) for v in report.totals])
