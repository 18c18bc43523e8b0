"""Exports: enrolments, attendance (the compliance record), the audit log and reports, as rows read in
keyset pages (by id), so a million rows take the memory of one page. The HTTP route and the CLI write
them as CSV (or XLSX); `safe_cell` neutralises spreadsheet formulas."""
from __future__ import annotations

import enum
import json
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ..errors import DomainError, ErrorCode
from ..ids import to_global_id
from ..models import Attendance, AuditEntry, Course, Enrollment, Person, Session
from ..settings import Settings
from . import reports

PAGE = 5_000
"""Rows read per statement."""
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
"""A cell a spreadsheet would run as a formula (OWASP's list): written with a leading apostrophe."""
NAMES = ("enrollments", "attendance", "audit", "report")
"""Every export is for staff, ADMIN and COORDINATOR (issue 14: "with an ADMIN or COORDINATOR bearer token"), the
audit log's included; paging the audit log in GraphQL (`auditLog`) stays an ADMIN's."""


@dataclass(frozen=True)
class ExportRequest:
    name: str
    span: reports.Period
    metrics: Sequence[reports.Metric] = ()
    group_by: Sequence[reports.Dimension] = ()


def safe_cell(value: Any) -> Any:
    """Text as a spreadsheet shows it and never runs: `=1+1` becomes `'=1+1`; numbers stay numbers."""
    if value is None:
        return ""
    if isinstance(value, enum.Enum):
        value = value.value
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, (date, Decimal)):
        return str(value)
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def request(name: str, first: date, last: date, timezone: str = "UTC", metrics: Sequence[str] = (),
            group_by: Sequence[str] = ()) -> ExportRequest:
    """A checked export request: a known name, a period as a report takes it (INVALID with the field)."""
    if name not in NAMES:
        raise DomainError(ErrorCode.NOT_FOUND, f"No export {name!r}; there are {', '.join(NAMES)}.", "name")
    span = reports.period(first, last, timezone)
    chosen, dims = [], []
    if name == "report":
        chosen = _members(reports.Metric, metrics, "metrics")
        dims = _members(reports.Dimension, group_by, "groupBy")
        if not chosen:
            raise DomainError(ErrorCode.INVALID, "Ask for at least one metric.", "metrics")
    return ExportRequest(name, span, chosen, dims)


def _enum_name(text: str) -> str:
    return text.strip().upper().replace("-", "_")


def _members(enum_cls, given: Sequence[str], field: str) -> list:
    """Each name of `given` as a member of `enum_cls` (fill-rate or FILL_RATE); INVALID on `field` naming the
    unknown one and the known ones."""
    members = []
    for text in given:
        try:
            members.append(enum_cls(_enum_name(text)))
        except ValueError:
            shown = text if len(text) <= 40 else text[:40] + "…"
            raise DomainError(ErrorCode.INVALID, f"{field} names {shown!r}, which is none of "
                              f"{', '.join(m.value for m in enum_cls)}.", field) from None
    return members


# --- the exports -------------------------------------------------------------------------------------

ENROLLMENT_HEADER = ["enrollment_id", "session_id", "session", "course_code", "session_starts_at", "session_timezone",
                     "learner_id", "learner", "email", "status", "waitlist_position", "enrolled_at"]
ATTENDANCE_HEADER = ["enrollment_id", "session_id", "session", "course_code", "session_starts_at", "learner_id",
                     "learner", "email", "enrollment_status", "attendance_status", "minutes_attended", "source",
                     "recorded_by", "recorded_at"]
AUDIT_HEADER = ["entry_id", "at", "actor", "action", "target_type", "target_id", "before", "after"]


def _in_period(span: reports.Period) -> list:
    return [Session.starts_at >= span.starts_at, Session.starts_at < span.ends_at]


def _enrollment_query(span: reports.Period):
    return (select(Enrollment.id, Enrollment.session_id, Session.title, Course.code, Session.starts_at,
                   Session.timezone, Enrollment.learner_id, Person.name, Person.email, Enrollment.status,
                   Enrollment.waitlist_position, Enrollment.created_at, Attendance.status.label("attendance_status"),
                   Attendance.minutes_attended, Attendance.source, Attendance.recorded_at)
            .join(Session, Session.id == Enrollment.session_id).join(Course, Course.id == Session.course_id)
            .join(Person, Person.id == Enrollment.learner_id)
            .outerjoin(Attendance, Attendance.enrollment_id == Enrollment.id)
            .where(*_in_period(span)))


async def count_rows(db: AsyncSession, req: ExportRequest) -> int | None:
    """How many rows the export will have (for a progress bar); None for a report."""
    if req.name in ("enrollments", "attendance"):
        return await db.scalar(select(func.count()).select_from(Enrollment)
                               .join(Session, Session.id == Enrollment.session_id).where(*_in_period(req.span)))
    if req.name == "audit":
        return await db.scalar(select(func.count()).select_from(AuditEntry).where(*_audit_period(req.span)))
    return None


async def _pages(db: AsyncSession, query, id_column) -> AsyncIterator[list]:
    """Keyset pages of PAGE rows by ascending id: each page one statement, nothing held between pages."""
    last = 0
    while True:
        rows = (await db.execute(query.where(id_column > last).order_by(id_column).limit(PAGE))).all()
        if not rows:
            return
        yield rows
        last = rows[-1][0]
        if len(rows) < PAGE:
            return


async def _enrollments(db: AsyncSession, req: ExportRequest) -> AsyncIterator[list[list]]:
    async for rows in _pages(db, _enrollment_query(req.span), Enrollment.id):
        yield [[to_global_id("Enrollment", r.id), to_global_id("Session", r.session_id), r.title, r.code,
                r.starts_at, r.timezone, to_global_id("Person", r.learner_id), r.name, r.email, r.status,
                r.waitlist_position, r.created_at] for r in rows]


async def _recorders(db: AsyncSession, session_ids: list[int]) -> dict[int, tuple[str, datetime]]:
    """Who recorded each enrolment's attendance last, and when: from the `attendance.record` audit entries
    of these sessions (each lists the enrolments it recorded). One statement per page."""
    found: dict[int, tuple[str, datetime]] = {}
    entries = await db.execute(select(AuditEntry.actor, AuditEntry.at, AuditEntry.after).where(
        AuditEntry.action == "attendance.record", AuditEntry.target_type == "Session",
        AuditEntry.target_id.in_(session_ids)).order_by(AuditEntry.id))
    for actor, at, after in entries:
        for key in (after or {}):
            if key.isdigit():
                found[int(key)] = (actor, at)
    return found


async def _attendance(db: AsyncSession, req: ExportRequest) -> AsyncIterator[list[list]]:
    async for rows in _pages(db, _enrollment_query(req.span), Enrollment.id):
        recorded = await _recorders(db, sorted({r.session_id for r in rows if r.attendance_status is not None}))
        yield [[to_global_id("Enrollment", r.id), to_global_id("Session", r.session_id), r.title, r.code,
                r.starts_at, to_global_id("Person", r.learner_id), r.name, r.email, r.status, r.attendance_status,
                r.minutes_attended, r.source, *(recorded.get(r.id) or (None, r.recorded_at))] for r in rows]


def _audit_period(span: reports.Period) -> list:
    return [AuditEntry.at >= span.starts_at, AuditEntry.at < span.ends_at]


def _json(value: Any) -> str | None:
    return None if value is None else json.dumps(value, sort_keys=True, ensure_ascii=False)


async def _audit(db: AsyncSession, req: ExportRequest) -> AsyncIterator[list[list]]:
    query = select(AuditEntry.id, AuditEntry.at, AuditEntry.actor, AuditEntry.action, AuditEntry.target_type,
                   AuditEntry.target_id, AuditEntry.before, AuditEntry.after).where(*_audit_period(req.span))
    async for rows in _pages(db, query, AuditEntry.id):
        yield [[r.id, r.at, r.actor, r.action, r.target_type,
                None if r.target_id is None else to_global_id(r.target_type, r.target_id),
                _json(r.before), _json(r.after)] for r in rows]


def report_header(req: ExportRequest) -> list[str]:
    return ([d.value.lower() for d in req.group_by] + [f"{d.value.lower()}_key" for d in req.group_by]
            + [f"{m.value.lower()}{suffix}" for m in req.metrics for suffix in ("", "_numerator", "_denominator")])


async def _report(db: AsyncSession, req: ExportRequest, settings: Settings | None) -> AsyncIterator[list[list]]:
    answer = await reports.run_report(db, req.metrics, req.group_by, req.span, settings=settings)
    lines = [[*(d.label for d in row.dimensions), *(d.key for d in row.dimensions),
              *(x for v in row.values for x in (v.value, v.numerator, v.denominator))] for row in answer.rows]
    total = [*(["total"] + [""] * (len(req.group_by) - 1) if req.group_by else []), *([""] * len(req.group_by)),
             *(x for v in answer.totals for x in (v.value, v.numerator, v.denominator))]
    yield [*lines, total]


def header(req: ExportRequest) -> list[str]:
    return {"enrollments": ENROLLMENT_HEADER, "attendance": ATTENDANCE_HEADER, "audit": AUDIT_HEADER}.get(
        req.name) or report_header(req)


def rows(db: AsyncSession, req: ExportRequest, settings: Settings | None = None) -> AsyncIterator[list[list]]:
    """The export's rows, page by page (the header apart: `header`)."""
    producers: dict[str, Callable[[], AsyncIterator[list[list]]]] = {
        "enrollments": lambda: _enrollments(db, req), "attendance": lambda: _attendance(db, req),
        "audit": lambda: _audit(db, req), "report": lambda: _report(db, req, settings)}
    return producers[req.name]()
