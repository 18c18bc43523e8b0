"""`podium import`: spreadsheets through the API's services, on SQLite and PostgreSQL, as an operator runs it.

The sheets are made here (CSV with the standard library, XLSX with openpyxl); nothing big is committed.
"""
from __future__ import annotations

import asyncio
import csv
import re
import time
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from openpyxl import Workbook
from sqlalchemy import func, select
from typer.testing import CliRunner

from podium.core.db import changing
from podium.core.instants import UTC
from podium.core.models import AuditEntry, Booking, BudgetScope, Enrollment, OutboxMessage, Person, Resource, Session
from podium.core.services import budgets, catalogue
from podium.core.sheets import read_sheet
from podium.server.cli import app
from tests import builders as b

LONDON = ZoneInfo("Europe/London")
REFUSED = re.compile(r"^refused line (\d+), column (\w+): (\w+): (.*)$", re.M)
TABLES = (Person, Resource, Session, Booking, Enrollment, AuditEntry, OutboxMessage)


def invoke(*args: str):
    """The command runs its own event loop, so it runs in a thread beside the tests' loop."""
    return asyncio.to_thread(CliRunner().invoke, app, ["import", *args])


def write_csv(path, rows: list[list], bom: bool = False):
    with path.open("w", newline="", encoding="utf-8-sig" if bom else "utf-8") as handle:
        csv.writer(handle).writerows(rows)
    return str(path)


def write_xlsx(path, rows: list[list]):
    book = Workbook(write_only=True)
    sheet = book.create_sheet("sheet 1")
    for row in rows:
        sheet.append(row)
    book.save(path)
    return str(path)


async def counts(sessions) -> dict[str, int]:
    async with sessions() as db:
        return {t.__tablename__: await db.scalar(select(func.count()).select_from(t)) for t in TABLES}


def refusals(output: str) -> list[tuple[int, str, str, str]]:
    return [(int(line), column, code, message) for line, column, code, message in REFUSED.findall(output)]


def weekdays_from(first: date, how_many: int) -> list[date]:
    days, day = [], first
    while len(days) < how_many:
        if day.weekday() < 5:
            days.append(day)
        day += timedelta(days=1)
    return days


def london(day: date, hour: int) -> str:
    """A wall-clock hour in London as ISO 8601 with its offset (what a sheet must give)."""
    return datetime(day.year, day.month, day.day, hour, tzinfo=LONDON).isoformat()


async def test_people_and_sessions_sheets_import_all_but_three_bad_rows_and_a_rerun_changes_nothing(
        database_url, sessions, monkeypatch, tmp_path):
    monkeypatch.setenv("PODIUM_DATABASE_URL", database_url)
    # Instructors and rooms keep the default hours (Monday to Friday, 09:00-17:00 London); the sessions do too.
    resources = write_xlsx(tmp_path / "resources.xlsx", [["Name", "Kind", "Timezone", "Capacity", "Email"]]
                           + [[f"Trainer {k}", "INSTRUCTOR", "Europe/London", None, f"t{k}@example.com"] for k in range(10)]
                           + [[f"Room {k}", "ROOM", "Europe/London", 30, None] for k in range(10)]
                           + [["Room S", "room", "Europe/London", 30, None]])
    done = await invoke(resources, "--kind", "resources")
    assert done.exit_code == 0 and "resources: 21 created, 0 updated, 0 unchanged, 0 refused" in done.output, done.output
    courses = write_csv(tmp_path / "courses.csv", [["code", "title", "duration_minutes", "default_capacity"],
                                                   ["FA-1", "First aid", 180, 20], ["FS-2", "Fire safety", 60, 20]])
    assert (await invoke(courses, "--kind", "courses")).exit_code == 0

    # 5,000 people, as a CSV saved by a spreadsheet (UTF-8 with a byte order mark).
    people = write_csv(tmp_path / "people.csv", [["Email", "Name", "Timezone"]] + [
        [f"Learner.{n}@Example.com", f"Learner {n}", "Europe/Paris" if n % 3 else "Europe/London"]
        for n in range(5000)], bom=True)
    started = time.perf_counter()
    done = await invoke(people, "--kind", "people")
    people_seconds = time.perf_counter() - started
    assert done.exit_code == 0 and "people: 5,000 created, 0 updated, 0 unchanged, 0 refused" in done.output, done.output
    assert people_seconds < 60, people_seconds
    print(f"\n5,000 people imported in {people_seconds:.1f} s ({database_url.split(':')[0]})")

    # 500 sessions: 497 good ones (10 trainers, each in their own room, 09:00-12:00 on 50 weekdays) and 3 bad.
    days = weekdays_from(date.today() + timedelta(days=21), 51)
    good = [["FA-1", london(days[i // 10], 9), london(days[i // 10], 12), "Europe/London", f"t{i % 10}@example.com",
             f"Room {i % 10}"] for i in range(497)]
    naive = ["FA-1", datetime(days[50].year, days[50].month, days[50].day, 9), london(days[50], 12),
             "Europe/London", "t0@example.com", "Room 0"]           # a date-time cell: no offset
    unknown = ["FA-1", london(days[50], 9), london(days[50], 12), "Europe/London", "ghost@example.com", "Room 1"]
    clash = ["FS-2", london(days[0], 10), london(days[0], 11), "Europe/London", "Trainer 3", "Room S"]  # row 3's trainer
    rows = good[:40] + [naive] + good[40:250] + [unknown] + good[250:400] + [clash] + good[400:]
    sheet = write_xlsx(tmp_path / "sessions.xlsx",
                       [["course_code", "starts_at", "ends_at", "timezone", "instructors", "room"]] + rows)
    expected = [(42, "starts_at", "INVALID_TIME_RANGE"), (253, "instructors", "NOT_FOUND"),
                (404, "starts_at", "RESOURCE_CONFLICT")]

    # A dry run of part of it checks each row against the rows before it (the clash with line 5 is found) and
    # writes nothing at all.
    part = write_xlsx(tmp_path / "part.xlsx", [["course_code", "starts_at", "ends_at", "timezone", "instructors",
                                                "room"]] + good[:40] + [naive, unknown, clash] + good[40:60])
    before = await counts(sessions)
    dry = await invoke(part, "--kind", "sessions", "--dry-run")
    assert dry.exit_code == 1, dry.output
    assert "sessions: 60 created, 0 updated, 0 unchanged, 3 refused (dry run: nothing was written)" in dry.output
    assert [r[:3] for r in refusals(dry.output)] == [(42, "starts_at", "INVALID_TIME_RANGE"),
                                                     (43, "instructors", "NOT_FOUND"),
                                                     (44, "starts_at", "RESOURCE_CONFLICT")]
    assert await counts(sessions) == before

    started = time.perf_counter()
    done = await invoke(sheet, "--kind", "sessions")
    sessions_seconds = time.perf_counter() - started
    print(f"500 sessions (3 refused) imported in {sessions_seconds:.1f} s")
    assert done.exit_code == 1, done.output
    assert "sessions: 497 created, 0 updated, 0 unchanged, 3 refused" in done.output
    refused = refusals(done.output)
    assert [r[:3] for r in refused] == expected
    assert "has no UTC offset" in refused[0][3]
    assert "No instructor 'ghost@example.com'" in refused[1][3]
    assert "Already booked at that time: Trainer 3." in refused[2][3]
    after = await counts(sessions)
    assert after["session"] == 497 and after["person"] == 5000
    async with sessions() as db:
        audited = await db.scalar(select(func.count()).where(AuditEntry.action == "session.schedule",
                                                             AuditEntry.actor == "cli:import sessions.xlsx"))
        assert audited == 497
        assert await db.scalar(select(func.count()).where(OutboxMessage.topic == "session.scheduled")) == 497
        first = await db.scalar(select(Session).order_by(Session.id).limit(1))
        assert first.starts_at == datetime.fromisoformat(london(days[0], 9)).astimezone(UTC)

    # Second runs: every good row is found as stored; nothing is written, the same 3 rows are refused.
    again = await invoke(people, "--kind", "people")
    assert again.exit_code == 0 and "people: 0 created, 0 updated, 5,000 unchanged, 0 refused" in again.output
    again = await invoke(sheet, "--kind", "sessions")
    assert "sessions: 0 created, 0 updated, 497 unchanged, 3 refused" in again.output
    assert refusals(again.output) == refused
    assert await counts(sessions) == after


async def test_enrollments_attendance_and_changed_rows(database_url, sessions, monkeypatch, tmp_path):
    monkeypatch.setenv("PODIUM_DATABASE_URL", database_url)
    await invoke(write_csv(tmp_path / "c.csv", [["code", "title", "duration_minutes", "default_capacity"],
                                                ["EX-1", "Excel", 120, 2]]), "--kind", "courses")
    await invoke(write_csv(tmp_path / "r.csv", [["name", "kind", "timezone", "email", "capacity", "working_hours",
                                                 "cost_rate", "cost_unit"],
                                                ["Ada", "instructor", "Europe/London", "ada@example.com", "",
                                                 "MON-SUN 08:00-20:00", "100", "HOURLY"],
                                                ["Lab", "room", "Europe/London", "", 10, "mon-sun 08:00-20:00", "", ""]]),
                 "--kind", "resources")
    async with sessions() as db, changing(db):
        await budgets.create_budget(db, b.ADMIN, name="Training", period_from=date.today(),
                                    period_to=date.today() + timedelta(days=60), timezone="Europe/London", amount="150",
                                    scope=BudgetScope.EVERYTHING, currency="EUR")
    people = write_csv(tmp_path / "people.csv", [["email", "name", "timezone", "phone"]] + [
        [f"p{n}@example.com", f"P {n}", "Europe/London", ""] for n in range(3)])
    assert (await invoke(people, "--kind", "people")).exit_code == 0

    # A session on the wall clock of its timezone (date, start_time, end_time), and one in a DST gap.
    day = weekdays_from(date.today() + timedelta(days=10), 1)[0]
    spring = date(date.today().year + 1, 3, 31)
    spring -= timedelta(days=(spring.weekday() + 1) % 7)               # the last Sunday of March: 01:00 -> 02:00
    late = day + timedelta(days=70)                                     # after the budget's period
    sheet = write_csv(tmp_path / "s.csv", [
        ["course_code", "date", "start_time", "end_time", "timezone", "instructors", "room", "capacity",
         "allow_outside_hours"],
        ["EX-1", day.isoformat(), "10:00", "12:00", "Europe/London", "Ada", "Lab", "", ""],
        ["EX-1", spring.isoformat(), "01:30", "03:00", "Europe/London", "Ada", "Lab", "", ""],
        ["EX-1", late.isoformat(), "20:00", "21:00", "Europe/London", "Ada", "Lab", "", "no"],
        ["EX-1", late.isoformat(), "20:30", "21:30", "Europe/London", "Ada", "Lab", "", "yes"]])
    done = await invoke(sheet, "--kind", "sessions")
    assert "sessions: 2 created, 0 updated, 0 unchanged, 2 refused" in done.output and done.exit_code == 1, done.output
    # As scheduleSession's payload says: Ada at 100/hour for 2 hours is over a budget of 150 (it still schedules).
    assert "warning: BUDGET_EXCEEDED: Budget 'Training' is over by 50.00 EUR" in done.output
    [(line, column, code, message), outside] = refusals(done.output)
    assert (line, column, code) == (3, "start_time", "INVALID_TIME_RANGE") and "does not exist" in message
    assert outside[:3] == (4, "start_time", "OUTSIDE_AVAILABILITY")     # Ada and the lab close at 20:00

    # Enrolments: the course has 2 seats; the third learner waits; an unknown email is refused.
    enrol = write_csv(tmp_path / "e.csv", [["course_code", "date", "start_time", "timezone", "email"]] + [
        ["EX-1", day.isoformat(), "10:00", "Europe/London", f"p{n}@example.com"] for n in (0, 1, 2, 9)])
    done = await invoke(enrol, "--kind", "enrollments", "--refused", str(tmp_path / "refused.csv"))
    assert "enrollments: 3 created, 0 updated, 0 unchanged, 1 refused" in done.output, done.output
    assert [r[:3] for r in refusals(done.output)] == [(5, "email", "NOT_FOUND")]
    # The refused rows come back as a sheet to fix: once p9 is a person, that file imports as it is.
    with (tmp_path / "refused.csv").open(encoding="utf-8-sig") as handle:
        assert list(csv.reader(handle)) == [
            ["course_code", "date", "start_time", "timezone", "email", "refused_line", "refused_column",
             "refused_code", "refused_message"],
            ["EX-1", day.isoformat(), "10:00", "Europe/London", "p9@example.com", "5", "email", "NOT_FOUND",
             "No person with email p9@example.com."]]
    await invoke(write_csv(tmp_path / "p9.csv", [["email", "name", "timezone"], ["p9@example.com", "P 9", "UTC"]]),
                 "--kind", "people")
    done = await invoke(str(tmp_path / "refused.csv"), "--kind", "enrollments")
    assert "enrollments: 1 created, 0 updated, 0 unchanged, 0 refused" in done.output, done.output
    assert "enrollments: 0 created, 0 updated, 4 unchanged, 0 refused" in (await invoke(enrol, "--kind", "enrollments")).output

    # A changed end moves the session (rescheduleSession), a changed capacity changes it; another room is refused.
    later = write_csv(tmp_path / "s2.csv", [
        ["course_code", "date", "start_time", "end_time", "timezone", "instructors", "room", "capacity"],
        ["EX-1", day.isoformat(), "10:00", "12:30", "Europe/London", "ada@example.com", "Lab", 3]])
    done = await invoke(later, "--kind", "sessions")
    assert "sessions: 0 created, 1 updated, 0 unchanged, 0 refused" in done.output, done.output
    async with sessions() as db:
        session = await db.scalar(select(Session).order_by(Session.starts_at).limit(1))
        assert session.capacity == 3 and session.ends_at.astimezone(LONDON).hour == 12
        assert await db.scalar(select(func.count()).where(Enrollment.status == "ENROLLED")) == 3   # promoted
    moved = write_csv(tmp_path / "s3.csv", [["course_code", "starts_at", "ends_at", "timezone", "instructors"],
                                            ["EX-1", session.starts_at.isoformat(), session.ends_at.isoformat(),
                                             "Europe/London", "Ada"]])
    done = await invoke(moved, "--kind", "sessions")
    assert [r[:3] for r in refusals(done.output)] == [(2, "room", "INVALID")], done.output

    # A virtual session's hand-entered link: changed through updateSession, then unchanged.
    for link, outcome in (("https://meet.example.com/a", "1 created, 0 updated, 0 unchanged"),
                          ("https://meet.example.com/b", "0 created, 1 updated, 0 unchanged"),
                          ("https://meet.example.com/b", "0 created, 0 updated, 1 unchanged")):
        virtual = write_csv(tmp_path / "v.csv", [
            ["course_code", "date", "start_time", "end_time", "timezone", "instructors", "delivery_mode", "join_url"],
            ["EX-1", late.isoformat(), "09:00", "10:00", "Europe/London", "Ada", "virtual", link]])
        done = await invoke(virtual, "--kind", "sessions")
        assert f"sessions: {outcome}, 0 refused" in done.output, done.output

    # Attendance once the session has started: per learner, a re-run is unchanged, a changed status updates.
    starts = (await b.time_passes(sessions, session.id)).isoformat()
    marks = [["course_code", "starts_at", "email", "status", "minutes"],
             ["EX-1", starts, "p0@example.com", "present", 150], ["EX-1", starts, "p1@example.com", "ABSENT", ""]]
    done = await invoke(write_csv(tmp_path / "a.csv", marks), "--kind", "attendance")
    assert "attendance: 2 created, 0 updated, 0 unchanged, 0 refused" in done.output, done.output
    marks[2][3] = "LATE"
    done = await invoke(write_csv(tmp_path / "a.csv", marks), "--kind", "attendance")
    assert "attendance: 0 created, 1 updated, 1 unchanged, 0 refused" in done.output, done.output

    # A person whose name changed is updated through updatePerson, audited as the import; a second line of the
    # same email is refused (else it would undo the first, and every run would change both again).
    renamed = write_csv(tmp_path / "people2.csv", [["email", "name", "timezone"], ["P0@example.com", "Pat", "Europe/London"],
                                                   ["p0@example.com", "Pete", "Europe/London"]])
    done = await invoke(renamed, "--kind", "people")
    assert "people: 0 created, 1 updated, 0 unchanged, 1 refused" in done.output, done.output
    assert [r[:3] for r in refusals(done.output)] == [(3, "email", "DUPLICATE")]
    async with sessions() as db:
        entry = await db.scalar(select(AuditEntry).where(AuditEntry.action == "person.update"))
        assert entry.actor == "cli:import people2.csv" and entry.after["name"] == "Pat"


async def test_a_sheet_that_is_not_of_its_kind_is_refused_whole(database_url, sessions, monkeypatch, tmp_path):
    monkeypatch.setenv("PODIUM_DATABASE_URL", database_url)
    wrong = write_csv(tmp_path / "p.csv", [["email", "name", "timezone", "shoe_size"], ["a@example.com", "A", "UTC", 9]])
    done = await invoke(wrong, "--kind", "people")
    assert done.exit_code == 2 and "unknown column(s) shoe_size" in done.output
    missing = write_csv(tmp_path / "q.csv", [["email", "name"], ["a@example.com", "A"]])
    done = await invoke(missing, "--kind", "people")
    assert done.exit_code == 2 and "missing column(s) timezone" in done.output
    assert (await invoke(str(tmp_path / "none.csv"), "--kind", "people")).exit_code == 2
    assert (await invoke(wrong, "--kind", "pets")).exit_code == 2
    assert (await counts(sessions))["person"] == 0


def test_sheets_are_read_with_the_line_numbers_a_person_sees(tmp_path):
    path = tmp_path / "x.csv"
    path.write_text('\ufeffName,Note\n\nAnn,"two\nlines"\nBob,  \n,\n', encoding="utf-8")
    header, rows = read_sheet(path)
    assert header == ["name", "note"]
    assert [(r.line, r.cells) for r in rows] == [(3, {"name": "Ann", "note": "two\nlines"}),
                                                 (5, {"name": "Bob", "note": None})]
    path.write_text('Name;Note;\nAnn;"a, b; c"\n', encoding="utf-8")   # Excel's CSV where 1,5 is a number
    header, rows = read_sheet(path)
    assert header == ["name", "note"] and rows[0].cells == {"name": "Ann", "note": "a, b; c"}
    book = write_xlsx(tmp_path / "x.xlsx", [[], ["Course code", "Capacity"], ["A-1", 20], [], ["B-2", 7.5]])
    header, rows = read_sheet(book)
    assert header == ["course_code", "capacity"]
    assert [(r.line, r.cells) for r in rows] == [(3, {"course_code": "A-1", "capacity": 20}),
                                                 (5, {"course_code": "B-2", "capacity": 7.5})]


async def test_courses_and_resources_are_updated_through_their_services(database_url, sessions, monkeypatch, tmp_path):
    monkeypatch.setenv("PODIUM_DATABASE_URL", database_url)
    courses = [["code", "title", "duration_minutes", "default_capacity", "required_qualifications"],
               ["SAF-1", "Safety", 60, 10, "First aid; Fire marshal"], ["SAF-2", "Safety 2", 0, 10, ""]]
    done = await invoke(write_csv(tmp_path / "c.csv", courses), "--kind", "courses")
    assert "courses: 1 created, 0 updated, 0 unchanged, 1 refused" in done.output, done.output
    assert [r[:3] for r in refusals(done.output)] == [(3, "duration_minutes", "INVALID")]
    courses[1][4] = "Fire marshal;First aid"                            # the same set, another order: unchanged
    courses[2][2] = 90
    done = await invoke(write_csv(tmp_path / "c.csv", courses), "--kind", "courses")
    assert "courses: 1 created, 0 updated, 1 unchanged, 0 refused" in done.output, done.output
    courses[1][3] = 12
    done = await invoke(write_csv(tmp_path / "c.csv", courses), "--kind", "courses")
    assert "courses: 0 created, 1 updated, 1 unchanged, 0 refused" in done.output, done.output

    async with sessions() as db, changing(db):
        await catalogue.create_venue(db, b.ADMIN, name="Campus", timezone="Europe/Berlin")
    # A workbook: the rate of the hall is a number cell (40.5, read as the decimal it shows), Bea's is text.
    resources = [["name", "kind", "timezone", "email", "qualifications", "working_hours", "capacity", "venue",
                  "cost_rate", "cost_unit"],
                 ["Bea", "instructor", "Europe/Berlin", "bea@example.com", "First aid:2030-01-31", None, None, None,
                  "600", "daily"],
                 ["Hall", "room", "Europe/Berlin", None, None, "MON-FRI 08:00-12:00 13:00-18:00", 40, "Campus",
                  40.5, "HOURLY"]]
    path = write_xlsx(tmp_path / "r.xlsx", resources)
    assert "resources: 2 created" in (await invoke(path, "--kind", "resources")).output
    assert "resources: 0 created, 0 updated, 2 unchanged" in (await invoke(path, "--kind", "resources")).output
    resources[1][4] = "First aid:2031-01-31; Fire marshal"
    resources[2][5] = "MON-SAT 08:00-18:00"
    resources[2][1] = "ROOM"
    resources[2][8] = 45
    path = write_xlsx(tmp_path / "r.xlsx", resources + [["Bea", "room", "Europe/Berlin", None, None, None, 5]]
                      + [["Kit", "equipment", "UTC", None, None, None, None, None, "12.345", "PER_SESSION"],
                         ["Van", "equipment", "UTC", None, None, None, None, "Nowhere"]])
    done = await invoke(path, "--kind", "resources")
    assert "resources: 0 created, 2 updated, 0 unchanged, 3 refused" in done.output, done.output
    assert [r[:3] for r in refusals(done.output)] == [(4, "name", "DUPLICATE"), (5, "cost_rate", "INVALID"),
                                                      (6, "venue", "NOT_FOUND")]
    async with sessions() as db:
        actions = (await db.scalars(select(AuditEntry.action).where(AuditEntry.actor == "cli:import r.xlsx")
                                    .order_by(AuditEntry.id))).all()
        assert actions == ["resource.create", "resource.cost_rate", "resource.create", "resource.cost_rate",
                           "resource.update", "resource.working_hours", "resource.cost_rate"]
        hall = await db.scalar(select(Resource).where(Resource.name == "Hall"))
        assert hall.weekly_hours == [[day, 8 * 60, 18 * 60] for day in range(6)]
        assert (hall.cost_rate_minor, hall.cost_rate_unit.value, hall.venue_id is not None) == (4500, "HOURLY", True)
        bea = await db.scalar(select(Resource).where(Resource.name == "Bea"))
        assert (bea.cost_rate_minor, bea.cost_rate_unit.value) == (60000, "DAILY")
    wrong_kind = write_csv(tmp_path / "k.csv", [["name", "kind", "timezone"], ["Hall", "equipment", "UTC"]])
    done = await invoke(wrong_kind, "--kind", "resources")
    assert [r[:3] for r in refusals(done.output)] == [(2, "kind", "INVALID")]
