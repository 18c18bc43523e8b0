"""`report`: KPIs for staff, computed in SQL by core/services/reports.py."""
from __future__ import annotations

import strawberry
from strawberry.types import Info

from podium.core.errors import DomainError
from podium.core.models import DeliveryMode as CoreDeliveryMode
from podium.core.services import reports as core

from ..errors import ClientError
from ..permissions import require_staff
from ..relay import query_id
from .inputs import ReportFilter, ReportInput
from .types import Report, report_from


def report_filter(given: ReportFilter | None) -> core.ReportFilter:
    if given is None:
        return core.ReportFilter()
    return core.ReportFilter(
        course_id=None if given.course_id is None else query_id(given.course_id, "Course", "courseId"),
        venue_id=None if given.venue_id is None else query_id(given.venue_id, "Venue", "venueId"),
        instructor_id=None if given.instructor_id is None else query_id(given.instructor_id, "Resource", "instructorId"),
        delivery_mode=None if given.delivery_mode is None else CoreDeliveryMode(given.delivery_mode.value))


@strawberry.type
class ReportQueries:
    @strawberry.field(description="KPIs over a period, grouped by course, venue, instructor, month or delivery "
                                  "mode. ADMIN and COORDINATOR only.")
    async def report(self, info: Info, input: ReportInput) -> Report:
        context = info.context
        require_staff(context.caller, "reports")
        try:
            span = core.period(input.from_, input.to, input.timezone)
            async with context.reading() as db:
                answer = await core.run_report(
                    db, [core.Metric(m.value) for m in input.metrics],
                    [core.Dimension(d.value) for d in input.group_by or []], span, report_filter(input.filter),
                    context.plugins.settings if context.plugins is not None else None)
        except DomainError as error:
            raise ClientError(error.message, error.code, ".".join(["input", error.field]) if error.field else None) \
                from None
        return report_from(answer)
