"""The report's input."""
from __future__ import annotations

from datetime import date

import strawberry

from ..scheduling.types import DeliveryMode
from .types import Dimension, Metric


@strawberry.input(description="Which sessions a report counts; all of them when empty.")
class ReportFilter:
    course_id: strawberry.ID | None = None
    venue_id: strawberry.ID | None = strawberry.field(default=None, description="Sessions in a room of this venue.")
    instructor_id: strawberry.ID | None = strawberry.field(default=None, description="Sessions this instructor "
                                                           "(a Resource) teaches.")
    delivery_mode: DeliveryMode | None = None


@strawberry.input(description="A report: metrics over a period of days, grouped.")
class ReportInput:
    metrics: list[Metric] = strawberry.field(description="One or more, each once.")
    from_: date = strawberry.field(name="from", description="The first day, in `timezone`.")
    to: date = strawberry.field(description="The last day (included), at most 5 years after `from`.")
    group_by: list[Dimension] | None = strawberry.field(default=None, description="No grouping: only totals.")
    timezone: str = strawberry.field(default="UTC", description="The IANA zone of the days and months.")
    filter: ReportFilter | None = None
