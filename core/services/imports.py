"""Import from spreadsheets: each row of a sheet through the same services as the API.

A row is keyed on its natural key (a course's code, a person's email, a resource's name; a session's
course code, start instant and lead instructor; an enrolment's session and email; an attendance
record's enrolment and part), so a second run of the same sheet finds every row as it is stored and
changes nothing. What a row does:

- nothing stored under its key: created, by the service the API's create mutation calls;
- stored and equal on every column the sheet gives: unchanged (nothing written, nothing audited);
- stored and different: updated where a service changes that field (a course's, a person's, a
  resource's fields, working hours and rate, a session's end (`rescheduleSession`), capacity and join
  link, an attendance record), otherwise refused, naming the column that differs;
- refused by a rule or limit: the row's line, column and the service's error code and message.

A blank cell is "not given": it is not compared, and a new row takes the service's default.

Each row is its own change, in a savepoint of its batch's transaction: a refused row writes nothing
(no audit entry, no event), the rows beside it go on. Batches of `batch_rows` rows are committed one
after the other; a dry run holds every row in one transaction, so each row is checked against the rows
before it, and rolls it back. Column layouts per kind: docs/import.md.
"""
from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import exists, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import selectinload

from .. import limits
from ..audit import Actor
from ..db import changing, changing_as_one
from ..errors import DomainError, ErrorCode
from ..instants import UTC
from ..models import (
    AttendanceStatus, Booking, BookingRole, Course, DeliveryMode, Enrollment, PartAttendance, Person, RateUnit,
    Resource, ResourceKind, Session, SessionPart, SessionStatus, Venue,
)
from ..money import parse_amount
from ..settings import Settings
from ..sheets import Row
from . import attendance, availability, budgets, catalogue, costs, enrollment, meetings, scheduling
from .conferencing import MANUAL as MANUAL_LINK

CREATED, UPDATED, UNCHANGED = "created", "updated", "unchanged"
LIST_SEPARATOR = ";"


# --- the columns of each kind ----------------------------------------------------------------

@dataclass(frozen=True)
class Kind:
    """A sheet's kind: its columns (`required` must be in the header), and which column each service
    field a refusal names is (by default the field in snake case)."""

    name: str
    required: tuple[str, ...]
    optional: tuple[str, ...]
    fields: dict[str, str] = field(default_factory=dict)
    one_of: tuple[tuple[str, ...], ...] = ()   # at least one of these groups of columns is in the header

    @property
    def columns(self) -> tuple[str, ...]:
        return self.required + self.optional


WHEN = ("starts_at", "ends_at", "date", "start_time", "end_time", "timezone")
"""A session's time: instants with an offset (`starts_at`, `ends_at`), or `date`, `start_time` and
`end_time` on the clock of `timezone`."""
FIND_SESSION = ("starts_at", "date", "start_time", "timezone", "instructor")
"""Which session an enrolment or attendance row is about: its course code, its start (an instant, or a
date and time on the clock of `timezone`) and, when several sessions of the course start then, its
lead instructor (email or name)."""

KINDS: dict[str, Kind] = {k.name: k for k in (
    Kind("courses", ("code", "title", "duration_minutes", "default_capacity"),
         ("description", "required_qualifications", "certification_validity_days", "minimum_parts_attended")),
    Kind("people", ("email", "name", "timezone"), ("phone",)),
    Kind("resources", ("name", "kind", "timezone"),
         ("capacity", "email", "qualifications", "features", "working_hours", "venue", "cost_rate", "cost_unit"),
         {"weekly": "working_hours", "workingHours": "working_hours", "venueId": "venue", "amount": "cost_rate",
          "unit": "cost_unit"}),
    Kind("sessions", ("course_code", "instructors"),
         WHEN + ("room", "equipment", "delivery_mode", "capacity", "title", "setup_minutes", "teardown_minutes",
                 "requires_approval", "join_url", "allow_outside_hours"),
         {"courseId": "course_code", "instructorIds": "instructors", "roomId": "room", "equipmentIds": "equipment",
          "sessionId": "starts_at", "parts": "starts_at"},
         (("starts_at", "ends_at", "timezone"), ("date", "start_time", "end_time", "timezone"))),
    Kind("enrollments", ("course_code", "email"), FIND_SESSION,
         {"learnerId": "email", "sessionId": "course_code", "enrollmentId": "email"},
         (("starts_at",), ("date", "start_time", "timezone"))),
    Kind("attendance", ("course_code", "email", "status"), FIND_SESSION + ("minutes", "part"),
         {"enrollmentId": "email", "minutesAttended": "minutes", "sessionId": "course_code", "records": "email"},
         (("starts_at",), ("date", "start_time", "timezone"))),
)}


REFUSAL_COLUMNS = ("refused_line", "refused_column", "refused_code", "refused_message")
"""What `podium import --refused FILE` adds to each refused row; ignored when that file is imported again."""


def check_header(kind: Kind, header: list[str]) -> list[str]:
    """What is wrong with a sheet's header for this kind (empty: nothing)."""
    problems = []
    missing = [c for c in kind.required if c not in header]
    if missing:
        problems.append(f"missing column(s) {', '.join(missing)}")
    if kind.one_of and not any(all(c in header for c in group) for group in kind.one_of):
        problems.append("give the time as " + " or as ".join(", ".join(group) for group in kind.one_of))
    unknown = [c for c in header if c not in kind.columns and c not in REFUSAL_COLUMNS]
    if unknown:
        problems.append(f"unknown column(s) {', '.join(unknown)} (a {kind.name} sheet has "
                        f"{', '.join(kind.columns)})")
    return problems


# --- what an import reports ---------------------------------------------------------------------

@dataclass(frozen=True)
class Refusal:
    """A refused row: its line, the column at fault (when one is), the domain error's code and message."""

    line: int
    column: str | None
    code: str
    message: str
    cells: dict[str, Any] = field(default_factory=dict, repr=False)   # the row as read


@dataclass
class ImportReport:
    kind: str
    dry_run: bool = False
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    refused: list[Refusal] = field(default_factory=list)
    warnings: dict[int, str] = field(default_factory=dict)   # budget id -> BUDGET_EXCEEDED message, once each

    @property
    def changes(self) -> int:
        return self.created + self.updated

    def summary(self) -> str:
        tail = " (dry run: nothing was written)" if self.dry_run else ""
        return (f"{self.kind}: {self.created:,} created, {self.updated:,} updated, {self.unchanged:,} unchanged, "
                f"{len(self.refused):,} refused{tail}")


class _DryRun(Exception):
    """Raised at the end of a dry run's transaction, so that it rolls back."""


class ImportStopped(Exception):
    """Something other than a refused row (the database lost, a bug) stopped the import in the batch
    starting at `first_line`: that batch was rolled back, the batches before it stay committed, and
    `report` counts those."""

    def __init__(self, first_line: int, report: "ImportReport", cause: BaseException) -> None:
        super().__init__(f"stopped in the rows from line {first_line} on (rolled back; the rows before are "
                         f"imported): {type(cause).__name__}: {cause}")
        self.first_line, self.report = first_line, report


CHUNK_ROWS = 25
"""Rows tried together in one savepoint (see `run_import`)."""


async def run_import(sessions: async_sessionmaker[AsyncSession], actor: Actor, kind: str, rows: list[Row], *,
                     settings: Settings | None = None, dry_run: bool = False, batch_rows: int = 200,
                     progress: Callable[[int], None] | None = None) -> ImportReport:
    """Import `rows` of a sheet of `kind` (its header checked with `check_header`), `batch_rows` rows per
    committed transaction (a dry run: all in one, rolled back).

    Within a batch, rows are tried `CHUNK_ROWS` at a time in one savepoint; when a row of a chunk is
    refused, the chunk is rolled back and done again with each row in a savepoint of its own, so the
    refused row writes nothing and the rows beside it stay. Rows of a clean chunk need no savepoint each:
    two statements fewer a row (on PostgreSQL, where each savepoint's new name is a new prepared
    statement, four round trips fewer)."""
    report = ImportReport(kind, dry_run=dry_run)
    ctx = _Context(actor, settings or Settings())
    ctx.repeated = _repeated(kind, rows)
    size = max(len(rows), 1) if dry_run else max(batch_rows, 1)
    for start in range(0, len(rows), size):
        batch = rows[start:start + size]
        try:
            counted = await _batch(sessions, ctx, KINDS[kind], batch, dry_run, progress)
        except Exception as error:  # noqa: BLE001 - whatever it is, say where the import stopped
            raise ImportStopped(batch[0].line, report, error) from error
        report.created += counted.created
        report.updated += counted.updated
        report.unchanged += counted.unchanged
        report.refused += counted.refused
        report.warnings.update(counted.warnings)
    return report


async def _batch(sessions: async_sessionmaker[AsyncSession], ctx: _Context, spec: Kind, batch: list[Row],
                 dry_run: bool, progress: Callable[[int], None] | None) -> ImportReport:
    """One transaction of rows, committed (rolled back in a dry run)."""
    handler = HANDLERS[spec.name]
    counted = ImportReport(spec.name)

    async def one(db: AsyncSession, row: Row) -> str:
        if row.stray is not None:
            raise DomainError(ErrorCode.INVALID, f"A value right of the last named column: {_shown(row.stray)}.")
        if row.line in ctx.repeated:
            first, column = ctx.repeated[row.line]
            raise DomainError(ErrorCode.DUPLICATE, f"Line {first} has the same {KEYS[spec.name][0]}: a key is on "
                              "one line of a sheet.", column)
        return await handler(ctx, db, row)

    async with sessions() as db:
        try:
            async with changing_as_one(db):
                if spec.name in PREFETCH:
                    await PREFETCH[spec.name](ctx, db, batch)
                for first in range(0, len(batch), CHUNK_ROWS):
                    chunk = batch[first:first + CHUNK_ROWS]
                    try:
                        async with changing(db):        # a savepoint of the batch's transaction
                            outcomes = [await one(db, row) for row in chunk]
                    except DomainError:
                        outcomes = []
                        for row in chunk:               # again, each row in its own savepoint
                            try:
                                async with changing(db):
                                    outcomes.append(await one(db, row))
                            except DomainError as error:
                                counted.refused.append(_refusal(spec, row, error))
                    for outcome in outcomes:
                        setattr(counted, outcome, getattr(counted, outcome) + 1)
                    if progress is not None:
                        progress(len(chunk))
                if ctx.priced:   # as scheduleSession's payload: budgets left over (warnings, that change nothing)
                    for warning in await budgets.exceeded_budgets(db, sorted(ctx.priced), currency=ctx.settings.currency):
                        counted.warnings[warning.budget_id] = f"{warning.code.value}: {warning.message}"
                if dry_run:
                    raise _DryRun
        except _DryRun:
            pass
        finally:
            ctx.people.clear()
            ctx.emails.clear()
            ctx.priced.clear()
    return counted


def _repeated(kind: str, rows: list[Row]) -> dict[int, tuple[int, str]]:
    """Rows whose key an earlier row of the sheet has: line -> (that line, the key's column). Two lines of
    one key would make the second undo the first, and a re-run change both again."""
    what, key = KEYS[kind]
    first: dict[tuple, int] = {}
    repeated = {}
    for row in rows:
        try:
            found = key(row)
        except DomainError:
            continue                       # the row is refused for its own reason
        if found is None:
            continue
        column, value = found
        if value in first:
            repeated[row.line] = (first[value], column)
        else:
            first[value] = row.line
    return repeated


def _folded(row: Row, column: str) -> str:
    return (_text(row, column) or "").strip().lower()


def _time_column(row: Row) -> str:
    return "starts_at" if row.cells.get("starts_at") is not None or row.cells.get("date") is None else "start_time"


KEYS: dict[str, tuple[str, Callable[[Row], tuple[str, tuple] | None]]] = {
    "courses": ("code", lambda row: ("code", (_folded(row, "code"),))),
    "people": ("email", lambda row: ("email", (_folded(row, "email"),))),
    "resources": ("name", lambda row: ("name", ((_text(row, "name") or "").strip(),))),
    "sessions": ("course, start and lead instructor", lambda row: (_time_column(row), (
        _folded(row, "course_code"), _start(row), ((_names(row, "instructors") or [""])[0]).lower()))),
    "enrollments": ("session and email", lambda row: ("email", (
        _folded(row, "course_code"), _start(row), _folded(row, "instructor"), _folded(row, "email")))),
    "attendance": ("session, email and part", lambda row: ("email", (
        _folded(row, "course_code"), _start(row), _folded(row, "instructor"), _folded(row, "email"),
        _integer(row, "part")))),
}
"""What keys a row of each kind (for the report), and the key itself, read from the row alone."""


def _refusal(spec: Kind, row: Row, error: DomainError) -> Refusal:
    message = error.message
    if error.conflicts:
        message += " " + "; ".join(
            f"{c.resource_name} is booked {c.starts_at.isoformat()} to {c.ends_at.isoformat()}"
            + (f" (session {c.session_id})" if c.session_id else " (outside calendar)") for c in error.conflicts[:3])
    return Refusal(row.line, _column(spec, row, error.field), error.code.value, message, row.cells)


def _column(spec: Kind, row: Row, name: str | None) -> str | None:
    """The sheet's column a service's field name is about: `records.0.status` -> `status`,
    `startsAt` -> `starts_at` (or `start_time` when the row gives date and times)."""
    if name is None:
        return None
    if name in row.cells:
        return name
    leaf = re.sub(r"^records\.\d+\.", "", name)
    leaf = re.sub(r"\.\d+(\.\w+)?$", "", leaf)  # qualifications.0.name -> qualifications
    column = spec.fields.get(leaf) or re.sub(r"(?<!^)([A-Z])", r"_\1", leaf).lower()
    if column in ("starts_at", "ends_at") and row.cells.get("starts_at") is None and row.cells.get("date") is not None:
        column = "start_time" if column == "starts_at" else "end_time"
    return column if column in spec.columns else name


# --- reading cells -----------------------------------------------------------------------------

def _shown(value: Any) -> str:
    text = value.isoformat() if isinstance(value, (date, time)) else str(value)
    return repr(text if len(text) <= 60 else text[:60] + "…")


def _text(row: Row, column: str) -> str | None:
    value = row.cells.get(column)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise DomainError(ErrorCode.INVALID, f"{column} is text, not {_shown(value)}.", column)
    return str(value)


def _integer(row: Row, column: str) -> int | None:
    value = row.cells.get(column)
    if value is None:
        return None
    if isinstance(value, str) and re.fullmatch(r"[+-]?\d{1,9}", value):
        return int(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    raise DomainError(ErrorCode.INVALID, f"{column} must be a whole number, not {_shown(value)}.", column)


def _boolean(row: Row, column: str) -> bool | None:
    value = row.cells.get(column)
    if value is None or isinstance(value, bool):
        return value
    words = {"true": True, "yes": True, "1": True, "false": False, "no": False, "0": False}
    if str(value).lower() in words:
        return words[str(value).lower()]
    raise DomainError(ErrorCode.INVALID, f"{column} is true or false, not {_shown(value)}.", column)


def _names(row: Row, column: str) -> list[str] | None:
    """A list in one cell: items separated by semicolons."""
    value = _text(row, column)
    if value is None:
        return None
    return [item.strip() for item in value.split(LIST_SEPARATOR) if item.strip()]


def _choice(row: Row, column: str, enum_cls: type) -> Any:
    value = _text(row, column)
    if value is None:
        return None
    try:
        return enum_cls(value.strip().upper().replace(" ", "_").replace("-", "_"))
    except ValueError:
        raise DomainError(ErrorCode.INVALID, f"{column} is one of {', '.join(e.value for e in enum_cls)}, not "
                          f"{_shown(value)}.", column) from None


NAIVE = ("{column} {value} has no UTC offset, so the instant it means is unknown: write it with its offset "
         "(2027-03-02T09:00:00+01:00, or Z for UTC), or give date, start_time and end_time with a timezone "
         "column.")


def _instant(row: Row, column: str) -> datetime | None:
    """A cell that is an instant: ISO 8601 text with an offset. A time without one (a spreadsheet's
    date-time cell never has one) is refused: Podium does not guess a zone."""
    value = row.cells.get(column)
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            raise DomainError(ErrorCode.INVALID_TIME_RANGE, f"{column} {_shown(value)} is not an ISO 8601 time such "
                              "as 2027-03-02T09:00:00+01:00.", column) from None
    if not isinstance(value, datetime):
        raise DomainError(ErrorCode.INVALID_TIME_RANGE, f"{column} {_shown(value)} is not a date and time.", column)
    if value.tzinfo is None or value.utcoffset() is None:
        raise DomainError(ErrorCode.INVALID_TIME_RANGE, NAIVE.format(column=column, value=_shown(value)), column)
    return value.astimezone(UTC)


def _local(row: Row, column: str, parse: Callable[[str], Any], kind: type, example: str) -> Any:
    value = row.cells.get(column)
    if value is None:
        raise DomainError(ErrorCode.INVALID_TIME_RANGE, f"{column} must not be empty.", column)
    if isinstance(value, datetime) and kind is date and value.time() == time(0):
        return value.date()
    if isinstance(value, str):
        try:
            value = parse(value)
        except ValueError:
            raise DomainError(ErrorCode.INVALID_TIME_RANGE, f"{column} {_shown(value)} is not like {example}.",
                              column) from None
    if not isinstance(value, kind) or isinstance(value, datetime):
        raise DomainError(ErrorCode.INVALID_TIME_RANGE, f"{column} {_shown(value)} is not like {example}.", column)
    return value


def _on_clock(row: Row, day: date, column: str, zone: str) -> datetime:
    """A wall-clock time of `zone` on `day` as an instant; a time the clock skips (daylight saving) is
    refused, one it shows twice is the first."""
    at = _local(row, column, time.fromisoformat, time, "09:30")
    if at.tzinfo is not None:
        raise DomainError(ErrorCode.INVALID_TIME_RANGE, f"{column} is a wall-clock time; the zone is the "
                          "timezone column's.", column)
    tz = ZoneInfo(zone)
    local = datetime.combine(day, at).replace(tzinfo=tz)
    instant = local.astimezone(UTC)
    if instant.astimezone(tz).replace(tzinfo=None) != local.replace(tzinfo=None):
        raise DomainError(ErrorCode.INVALID_TIME_RANGE, f"{day.isoformat()} {at.isoformat('minutes')} does not "
                          f"exist in {zone} (the clocks change then).", column)
    return instant


def _timezone(row: Row) -> str | None:
    value = _text(row, "timezone")
    return None if value is None else limits.timezone(value)


def _start(row: Row) -> datetime:
    """The start a row names: `starts_at`, or `date` and `start_time` on the clock of `timezone`."""
    if row.cells.get("starts_at") is not None or row.cells.get("date") is None:
        instant = _instant(row, "starts_at")
        if instant is None:
            raise DomainError(ErrorCode.INVALID_TIME_RANGE, "starts_at must not be empty.", "starts_at")
        return instant
    zone = _timezone(row)
    if zone is None:
        raise DomainError(ErrorCode.INVALID, "timezone must not be empty: it is the clock of date and start_time.",
                          "timezone")
    return _on_clock(row, _local(row, "date", date.fromisoformat, date, "2027-03-02"), "start_time", zone)


def _span(row: Row) -> tuple[datetime, datetime]:
    if row.cells.get("starts_at") is not None or row.cells.get("date") is None:
        starts_at = _start(row)
        ends_at = _instant(row, "ends_at")
        if ends_at is None:
            raise DomainError(ErrorCode.INVALID_TIME_RANGE, "ends_at must not be empty.", "ends_at")
        return starts_at, ends_at
    starts_at = _start(row)
    day = _local(row, "date", date.fromisoformat, date, "2027-03-02")
    return starts_at, _on_clock(row, day, "end_time", _timezone(row))


# --- the rows of each kind ---------------------------------------------------------------------

@dataclass
class _Context:
    """What rows of one import share: the actor, the settings, and names already looked up (courses and
    resources, which a sessions, enrollments or attendance import does not change)."""

    actor: Actor
    settings: Settings
    courses: dict[str, int] = field(default_factory=dict)
    resources: dict[tuple[ResourceKind, str], int] = field(default_factory=dict)
    # A batch's people, read in one statement before its rows: email -> (id, name, timezone, phone), or
    # None when no one has that email; an email leaves once a row of it ran (a later row reads afresh).
    people: dict[str, tuple[int, str, str, str | None] | None] = field(default_factory=dict)
    emails: dict[int, str] = field(default_factory=dict)     # a batch's rows' emails (line -> normalised)
    repeated: dict[int, tuple[int, str]] = field(default_factory=dict)   # see `_repeated`
    priced: set[int] = field(default_factory=set)    # sessions a batch scheduled or changed (budget warnings)


def _given(values: dict[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in values.items() if value is not None}


def _different(stored: Any, wanted: dict[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in wanted.items() if getattr(stored, name) != value}


async def _course(ctx: _Context, db: AsyncSession, row: Row) -> str:
    code = limits.text(_text(row, "code"), "code", limits.CODE)
    course = await db.scalar(select(Course).where(Course.code == code).execution_options(populate_existing=True))
    values = _given({"title": _text(row, "title"), "description": _text(row, "description"),
                     "duration_minutes": _integer(row, "duration_minutes"),
                     "default_capacity": _integer(row, "default_capacity"),
                     "required_qualifications": _names(row, "required_qualifications"),
                     "certification_validity_days": _integer(row, "certification_validity_days"),
                     "minimum_parts_attended": _integer(row, "minimum_parts_attended")})
    if course is None:
        await catalogue.create_course(db, ctx.actor, code=code, **{"title": None, "duration_minutes": None,
                                                                   "default_capacity": None, **values})
        return CREATED
    wanted = dict(values)
    if "title" in wanted:
        wanted["title"] = limits.text(wanted["title"], "title")
    if "description" in wanted:
        wanted["description"] = limits.text(wanted["description"], "description", limits.DESCRIPTION,
                                            multiline=True)
    if "required_qualifications" in wanted:
        wanted["required_qualifications"] = sorted(set(wanted["required_qualifications"]))
    changes = _different(course, wanted)
    if not changes:
        return UNCHANGED
    await catalogue.update_course(db, ctx.actor, course.id, **changes)
    return UPDATED


async def _prefetch_people(ctx: _Context, db: AsyncSession, batch: list[Row]) -> None:
    emails = set()
    for row in batch:
        try:
            ctx.emails[row.line] = limits.email(_text(row, "email"))
        except DomainError:
            continue   # the row itself says so
        emails.add(ctx.emails[row.line])
    ctx.people = dict.fromkeys(emails)
    for email in range(0, len(emails), 1000):
        chunk = sorted(emails)[email:email + 1000]
        for person_id, found, name, zone, phone in (await db.execute(select(
                Person.id, Person.email, Person.name, Person.timezone, Person.phone)
                .where(Person.email.in_(chunk)))).all():
            ctx.people[found] = (person_id, name, zone, phone)


async def _person(ctx: _Context, db: AsyncSession, row: Row) -> str:
    email = ctx.emails.get(row.line) or limits.email(_text(row, "email"))
    name, zone, phone = _text(row, "name"), _text(row, "timezone"), _text(row, "phone")
    if email in ctx.people:
        known = ctx.people.pop(email)
        stored = None if known is None else dict(zip(("id", "name", "timezone", "phone"), known))
    else:
        person = await db.scalar(select(Person).where(Person.email == email).execution_options(populate_existing=True))
        stored = None if person is None else {"id": person.id, "name": person.name, "timezone": person.timezone,
                                              "phone": person.phone}
    if stored is None:
        await catalogue.create_person(db, ctx.actor, name=name, email=email, timezone=zone, phone=phone)
        return CREATED
    wanted = _given({"name": None if name is None else limits.text(name, "name"),
                     "timezone": None if zone is None else limits.timezone(zone), "phone": limits.phone(phone)})
    changes = {k: v for k, v in wanted.items() if stored[k] != v}
    if not changes:
        return UNCHANGED
    await catalogue.update_person(db, ctx.actor, stored["id"], **changes)
    return UPDATED


_HOURS = re.compile(r"^(?P<days>[A-Za-z]{3,9})(?:\s*-\s*(?P<last>[A-Za-z]{3,9}))?\s+(?P<ranges>.+)$")


def _weekday(word: str, column: str) -> int:
    from ..working_hours import WEEKDAYS

    for index, name in enumerate(WEEKDAYS):
        if len(word) >= 3 and name.startswith(word.upper()):
            return index
    raise DomainError(ErrorCode.INVALID, f"{_shown(word)} is not a weekday (MON, TUE, … SUN).", column)


def _working_hours(row: Row) -> list[tuple[str, str, str]] | None:
    """`MON-FRI 09:00-17:00; SAT 09:00-12:00 13:00-15:00` as (weekday, start, end) triples; `none`: no
    weekly hours."""
    from ..working_hours import WEEKDAYS

    value = _text(row, "working_hours")
    if value is None:
        return None
    if value.strip().lower() == "none":
        return []
    triples = []
    for item in value.split(LIST_SEPARATOR):
        if not item.strip():
            continue
        found = _HOURS.match(item.strip())
        if not found:
            raise DomainError(ErrorCode.INVALID, f"working_hours {_shown(item.strip())} is not like "
                              "MON-FRI 09:00-17:00.", "working_hours")
        first = _weekday(found["days"], "working_hours")
        last = _weekday(found["last"], "working_hours") if found["last"] else first
        for text in found["ranges"].split():
            start, _, end = text.partition("-")
            triples += [(WEEKDAYS[day], start, end) for day in range(first, last + 1)]
    return triples


def _qualifications(row: Row) -> list[tuple[str, date | None]] | None:
    """`First aid; Forklift:2027-12-31`: names, each with the date it is valid until after a colon."""
    items = _names(row, "qualifications")
    if items is None:
        return None
    found = []
    for item in items:
        name, _, until = item.partition(":")
        try:
            found.append((name.strip(), date.fromisoformat(until.strip()) if until.strip() else None))
        except ValueError:
            raise DomainError(ErrorCode.INVALID, f"qualifications: {_shown(until.strip())} is not a date like "
                              "2027-12-31.", "qualifications") from None
    return found


async def _resource(ctx: _Context, db: AsyncSession, row: Row) -> str:
    from .. import working_hours

    name = limits.text(_text(row, "name"), "name")
    kind = _choice(row, "kind", ResourceKind)
    if kind is None:
        raise DomainError(ErrorCode.INVALID, "kind must not be empty (INSTRUCTOR, ROOM or EQUIPMENT).", "kind")
    found = (await db.scalars(select(Resource).where(Resource.name == name).options(
        selectinload(Resource.qualifications)).execution_options(populate_existing=True))).all()
    if len(found) > 1:
        raise DomainError(ErrorCode.INVALID, f"{len(found)} resources are named {name!r}: give them different names "
                          "in Podium to import them by name.", "name")
    values = _given({"timezone": _text(row, "timezone"), "capacity": _integer(row, "capacity"),
                     "email": _text(row, "email"), "features": _names(row, "features"),
                     "qualifications": _qualifications(row)})
    venue = _text(row, "venue")
    if venue is not None:
        values["venue_id"] = await _venue_id(db, venue)
    hours = _working_hours(row)
    rate, unit = _amount(row, "cost_rate"), _choice(row, "cost_unit", RateUnit)
    if not found:
        made = await catalogue.create_resource(db, ctx.actor, kind=kind, name=name, weekly_hours=hours,
                                               **{"timezone": None, **values})
        if rate is not None:
            await costs.set_cost_rate(db, ctx.actor, made.id, rate, unit, currency=ctx.settings.currency)
        return CREATED
    resource = found[0]
    if resource.kind is not kind:
        raise DomainError(ErrorCode.INVALID, f"{name!r} is a {resource.kind.value.lower()} in Podium, not a "
                          f"{kind.value.lower()}.", "kind")
    wanted = dict(values)
    if "timezone" in wanted:
        wanted["timezone"] = limits.timezone(wanted["timezone"])
    if "email" in wanted:
        wanted["email"] = limits.email(wanted["email"])
    changes = _different(resource, {k: v for k, v in wanted.items() if k != "qualifications"})
    if "qualifications" in wanted:
        stored = {(q.name, q.valid_until) for q in resource.qualifications}
        if stored != {(n, until) for n, until in wanted["qualifications"]}:
            changes["qualifications"] = wanted["qualifications"]
    weekly_changed = False
    if hours is not None:
        checked = [list(entry) for entry in working_hours.weekly_hours(hours, "workingHours")]
        weekly_changed = resource.weekly_hours != checked
    rate_changed = rate is not None and (
        parse_amount(rate, ctx.settings.currency, "amount") != resource.cost_rate_minor
        or unit != resource.cost_rate_unit)
    if not changes and not weekly_changed and not rate_changed:
        return UNCHANGED
    if changes:
        await catalogue.update_resource(db, ctx.actor, resource.id, **changes)
    if weekly_changed:
        await availability.set_working_hours(db, ctx.actor, resource.id, hours)
    if rate_changed:
        await costs.set_cost_rate(db, ctx.actor, resource.id, rate, unit, currency=ctx.settings.currency)
        ctx.priced.update((await db.scalars(select(Booking.session_id).where(
            Booking.resource_id == resource.id, Booking.active, Booking.session_id.is_not(None)))).all())
    return UPDATED


async def _venue_id(db: AsyncSession, name: str) -> int:
    ids = (await db.scalars(select(Venue.id).where(Venue.name == name).limit(2))).all()
    if not ids:
        raise DomainError(ErrorCode.NOT_FOUND, f"No venue {name!r} in Podium (podium venues import, or "
                          "createVenue, makes venues).", "venue")
    if len(ids) > 1:
        raise DomainError(ErrorCode.INVALID, f"More than one venue is named {name!r}.", "venue")
    return ids[0]


def _amount(row: Row, column: str) -> str | None:
    """Money as the decimal the cell shows ("90", "12.5"): a number cell is read through its shortest
    decimal form, never computed with as a float."""
    value = row.cells.get(column)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise DomainError(ErrorCode.INVALID, f"{column} must be a decimal amount such as 12.50.", column)
    return repr(value) if isinstance(value, float) else str(value)


async def _course_id(ctx: _Context, db: AsyncSession, row: Row) -> int:
    code = limits.text(_text(row, "course_code"), "course_code", limits.CODE)
    if code not in ctx.courses:
        course_id = await db.scalar(select(Course.id).where(Course.code == code))
        if course_id is None:
            raise DomainError(ErrorCode.NOT_FOUND, f"No course with code {code!r}.", "course_code")
        ctx.courses[code] = course_id
    return ctx.courses[code]


async def _resource_id(ctx: _Context, db: AsyncSession, kind: ResourceKind, ref: str, column: str) -> int:
    """A resource of `kind` by name, or an instructor by email."""
    key = (kind, ref.lower() if "@" in ref else ref)
    if key not in ctx.resources:
        query = select(Resource.id).where(Resource.kind == kind)
        query = query.where(Resource.email == ref.lower()) if "@" in ref else query.where(Resource.name == ref)
        ids = (await db.scalars(query.limit(2))).all()
        if not ids:
            raise DomainError(ErrorCode.NOT_FOUND, f"No {kind.value.lower()} {ref!r} in Podium.", column)
        if len(ids) > 1:
            raise DomainError(ErrorCode.INVALID, f"More than one {kind.value.lower()} is {ref!r}: use one that "
                              "names only one.", column)
        ctx.resources[key] = ids[0]
    return ctx.resources[key]


async def _sessions_at(db: AsyncSession, course_id: int, starts_at: datetime, lead_id: int | None) -> list[Session]:
    """The sessions of a course (not cancelled) that start at this instant, led by this instructor if given."""
    query = select(Session).where(Session.course_id == course_id, Session.starts_at == starts_at,
                                  Session.status != SessionStatus.CANCELLED)
    if lead_id is not None:
        query = query.where(exists(select(Booking.id).where(
            Booking.session_id == Session.id, Booking.resource_id == lead_id,
            Booking.role == BookingRole.LEAD_INSTRUCTOR)))
    return list((await db.scalars(query.order_by(Session.id).execution_options(populate_existing=True))).all())


async def _session(ctx: _Context, db: AsyncSession, row: Row) -> str:
    course_id = await _course_id(ctx, db, row)
    starts_at, ends_at = _span(row)
    zone = _timezone(row)
    instructors = _names(row, "instructors") or []
    if not instructors:
        raise DomainError(ErrorCode.INVALID, "A session needs at least one instructor.", "instructors")
    instructor_ids = [await _resource_id(ctx, db, ResourceKind.INSTRUCTOR, ref, "instructors") for ref in instructors]
    room = _text(row, "room")
    room_id = None if room is None else await _resource_id(ctx, db, ResourceKind.ROOM, room, "room")
    equipment_ids = [await _resource_id(ctx, db, ResourceKind.EQUIPMENT, ref, "equipment")
                     for ref in _names(row, "equipment") or []]
    mode = _choice(row, "delivery_mode", DeliveryMode) or (DeliveryMode.IN_PERSON if room_id else DeliveryMode.VIRTUAL)
    fields = {"capacity": _integer(row, "capacity"), "title": _text(row, "title"),
              "setup_minutes": _integer(row, "setup_minutes"), "teardown_minutes": _integer(row, "teardown_minutes"),
              "requires_approval": _boolean(row, "requires_approval"), "join_url": _text(row, "join_url")}
    found = await _sessions_at(db, course_id, starts_at, instructor_ids[0])
    if not found:
        if zone is None:
            raise DomainError(ErrorCode.INVALID, "timezone must not be empty: it is the session's clock.", "timezone")
        made = await scheduling.schedule_session(
            db, ctx.actor, course_id=course_id, starts_at=starts_at, ends_at=ends_at, timezone=zone,
            delivery_mode=mode, instructor_ids=instructor_ids, room_id=room_id, equipment_ids=equipment_ids,
            settings=ctx.settings, allow_outside_hours=bool(_boolean(row, "allow_outside_hours")),
            **{"setup_minutes": 0, "teardown_minutes": 0, "requires_approval": False, **_given(fields)})
        ctx.priced.add(made.id)
        return CREATED
    return await _same_session(ctx, db, row, found[0], ends_at, zone, mode, instructor_ids, room_id, equipment_ids,
                               fields)


async def _same_session(ctx: _Context, db: AsyncSession, row: Row, session: Session, ends_at: datetime,
                        zone: str | None, mode: DeliveryMode, instructor_ids: list[int], room_id: int | None,
                        equipment_ids: list[int], fields: dict[str, Any]) -> str:
    """A row whose session is stored: unchanged, its end moved (`reschedule_session`), its capacity
    (`change_capacity`) and hand-entered link (`update_session`) changed, or refused naming the first other
    column that differs."""
    bookings = [b for b in await scheduling.session_bookings(db, session.id) if b.active or
                session.status is not SessionStatus.SCHEDULED]
    by_role: dict[BookingRole, list[int]] = {}
    for booking in bookings:
        ids = by_role.setdefault(booking.role, [])
        if booking.resource_id not in ids:
            ids.append(booking.resource_id)
    stored = {"timezone": session.timezone, "delivery_mode": session.delivery_mode,
              "instructors": by_role.get(BookingRole.LEAD_INSTRUCTOR, []) + by_role.get(BookingRole.CO_FACILITATOR, []),
              "room": (by_role.get(BookingRole.ROOM) or [None])[0], "equipment": sorted(by_role.get(BookingRole.EQUIPMENT, [])),
              "title": session.title, "setup_minutes": session.setup_minutes,
              "teardown_minutes": session.teardown_minutes, "requires_approval": session.requires_approval}
    wanted = {"timezone": zone, "instructors": instructor_ids, "room": room_id, "equipment": sorted(equipment_ids),
              **{k: v for k, v in fields.items() if k not in ("capacity", "join_url")}}
    if row.cells.get("delivery_mode") is not None:
        wanted["delivery_mode"] = mode
    for name, value in wanted.items():
        if name in ("room", "equipment", "instructors") or value is not None:
            if stored[name] != value and not (name == "title" and value is not None
                                              and limits.text(value, "title") == stored[name]):
                raise DomainError(ErrorCode.INVALID, f"The session stored for this course, start and lead instructor "
                                  f"has another {name.replace('_', ' ')}; the import changes only a session's end, "
                                  "capacity and join link (change the rest with the API).", name)
    changed = False
    if ends_at != session.ends_at:
        await scheduling.reschedule_session(db, ctx.actor, session.id, session.starts_at, ends_at,
                                            settings=ctx.settings,
                                            allow_outside_hours=bool(_boolean(row, "allow_outside_hours")))
        changed = True
    if fields["capacity"] is not None and fields["capacity"] != session.capacity:
        await enrollment.change_capacity(db, ctx.actor, session.id, fields["capacity"])
        changed = True
    link = fields["join_url"]
    if link is not None and (session.meeting_provider != MANUAL_LINK or meetings.manual_link(link) != session.meeting_join_url):
        await scheduling.update_session(db, ctx.actor, session.id, join_url=link)
        changed = True
    if changed:
        ctx.priced.add(session.id)
    return UPDATED if changed else UNCHANGED


async def _find_session(ctx: _Context, db: AsyncSession, row: Row) -> Session:
    course_id = await _course_id(ctx, db, row)
    starts_at = _start(row)
    lead = _text(row, "instructor")
    lead_id = None if lead is None else await _resource_id(ctx, db, ResourceKind.INSTRUCTOR, lead, "instructor")
    found = await _sessions_at(db, course_id, starts_at, lead_id)
    column = _time_column(row)
    if not found:
        raise DomainError(ErrorCode.NOT_FOUND, f"No session of {_text(row, 'course_code')!r} starts "
                          f"{starts_at.isoformat()}" + (f" led by {lead!r}." if lead else "."), column)
    if len(found) > 1:
        raise DomainError(ErrorCode.INVALID, f"{len(found)} sessions of {_text(row, 'course_code')!r} start "
                          f"{starts_at.isoformat()}: give the instructor column (the lead instructor).", "instructor")
    return found[0]


async def _learner(db: AsyncSession, row: Row) -> int:
    email = limits.email(_text(row, "email"))
    person_id = await db.scalar(select(Person.id).where(Person.email == email))
    if person_id is None:
        raise DomainError(ErrorCode.NOT_FOUND, f"No person with email {email}.", "email")
    return person_id


async def _enrollment(ctx: _Context, db: AsyncSession, row: Row) -> str:
    session = await _find_session(ctx, db, row)
    learner_id = await _learner(db, row)
    status = await db.scalar(select(Enrollment.status).where(Enrollment.session_id == session.id,
                                                             Enrollment.learner_id == learner_id))
    if status is not None and status in enrollment.ACTIVE:
        return UNCHANGED
    await enrollment.enroll(db, ctx.actor, session.id, learner_id)
    return CREATED


async def _attendance(ctx: _Context, db: AsyncSession, row: Row) -> str:
    status = _choice(row, "status", AttendanceStatus)
    if status is None:
        raise DomainError(ErrorCode.INVALID, "status must not be empty.", "status")
    minutes, part = _integer(row, "minutes"), _integer(row, "part")
    session = await _find_session(ctx, db, row)
    learner_id = await _learner(db, row)
    enrollment_id = await db.scalar(select(Enrollment.id).where(Enrollment.session_id == session.id,
                                                                Enrollment.learner_id == learner_id))
    if enrollment_id is None:
        raise DomainError(ErrorCode.NOT_FOUND, "This person has no enrolment in that session.", "email")
    parts = (await db.execute(select(SessionPart.id, SessionPart.position).where(
        SessionPart.session_id == session.id))).all()
    targets = [pid for pid, position in parts if part is None or position == part]
    existing = {r.part_id: r for r in (await db.scalars(select(PartAttendance).where(
        PartAttendance.enrollment_id == enrollment_id, PartAttendance.part_id.in_(targets))
        .execution_options(populate_existing=True))).all()}
    if targets and all(pid in existing and existing[pid].status is status and existing[pid].minutes_attended == minutes
                       and existing[pid].source == attendance.MANUAL for pid in targets):
        return UNCHANGED
    await attendance.record_attendance(db, ctx.actor, session.id, [
        attendance.AttendanceRecord(enrollment_id, status, minutes, part)])
    return UPDATED if existing else CREATED


PREFETCH = {"people": _prefetch_people}

HANDLERS: dict[str, Callable[[_Context, AsyncSession, Row], Awaitable[str]]] = {
    "courses": _course, "people": _person, "resources": _resource, "sessions": _session,
    "enrollments": _enrollment, "attendance": _attendance,
}
