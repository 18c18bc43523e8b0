"""`podium report` and `podium export` against a real database, as an operator runs them."""
from __future__ import annotations

import asyncio
import csv
import io
import json
from datetime import timedelta

from openpyxl import load_workbook
from typer.testing import CliRunner

from podium.core.db import changing
from podium.core.models import AttendanceStatus
from podium.core.services import attendance, enrollment
from podium.server.cli import app
from tests import builders as b


def invoke(*args: str):
    """The command runs its own event loop, so it runs in a thread beside the tests' loop."""
    return asyncio.to_thread(CliRunner().invoke, app, list(args))


async def _past_session(sessions) -> None:
    course = await b.course(sessions, code="CLI-1", title="Command lines")
    teacher = await b.instructor(sessions)
    session = await b.session(sessions, course_id=course.id, instructor_ids=[teacher.id], starts_at=b.soon(days=2))
    learners = await b.people(sessions, 4)
    async with sessions() as db, changing(db):
        ids = [(await enrollment.enroll(db, b.ADMIN, session.id, learner)).id for learner in learners]
    await b.time_passes(sessions, session.id)
    async with sessions() as db, changing(db):
        await attendance.record_attendance(db, b.ADMIN, session.id, [
            attendance.AttendanceRecord(e, s) for e, s in zip(ids, [AttendanceStatus.PRESENT, AttendanceStatus.LATE,
                                                                    AttendanceStatus.ABSENT, AttendanceStatus.PRESENT])])


async def test_podium_report_prints_a_table_csv_and_json(database_url, sessions, monkeypatch):
    monkeypatch.setenv("PODIUM_DATABASE_URL", database_url)
    await _past_session(sessions)
    first = str(b.soon(days=-20).date())
    table = await invoke("report", "fill-rate", "attendance-rate", "--by", "course", "--from", first)
    assert table.exit_code == 0, table.output
    assert "CLI-1 Command lines" in table.output and "0.2000" in table.output and "0.7500" in table.output
    assert "total" in table.output
    as_csv = await invoke("report", "attendance-rate", "--by", "course", "--from", first, "--format", "csv")
    assert list(csv.reader(io.StringIO(as_csv.output))) == [
        ["course", "attendance_rate"], ["CLI-1 Command lines", "0.7500"], ["total", "0.7500"]]
    as_json = json.loads((await invoke("report", "no-show-rate", "--from", first, "--format", "json")).output)
    assert as_json["totals"]["NO_SHOW_RATE"] == {"value": "0.2500", "numerator": "1", "denominator": "4"}
    refused = await invoke("report", "fill-rate", "--from", "2027-02-01", "--to", "2027-01-01")
    assert refused.exit_code == 2 and "from is after to" in refused.output
    unknown = await invoke("report", "happiness", "--from", "2027-02-01")
    assert unknown.exit_code == 2


async def test_podium_export_writes_csv_and_xlsx(database_url, sessions, monkeypatch, tmp_path):
    monkeypatch.setenv("PODIUM_DATABASE_URL", database_url)
    await _past_session(sessions)
    first, last = str(b.soon(days=-20).date()), str(b.soon(days=20).date())
    target = tmp_path / "attendance.csv"
    done = await invoke("export", "attendance", "--from", first, "--to", last, "--output", str(target))
    assert done.exit_code == 0 and "4 rows written" in done.output, done.output
    rows = list(csv.DictReader(target.open(encoding="utf-8")))
    assert sorted(r["attendance_status"] for r in rows) == ["ABSENT", "LATE", "PRESENT", "PRESENT"]
    assert {r["recorded_by"] for r in rows} == {"test-admin"}
    book = tmp_path / "audit.xlsx"
    done = await invoke("export", "audit", "--from", first, "--to", str(b.soon(days=1).date()), "--format", "xlsx",
                        "--output", str(book))
    assert done.exit_code == 0, done.output
    sheet = load_workbook(book, read_only=True).active
    lines = list(sheet.iter_rows(values_only=True))
    assert lines[0][:4] == ("entry_id", "at", "actor", "action")
    assert "attendance.record" in {line[3] for line in lines[1:]}
    refused = await invoke("export", "payroll", "--from", first)
    assert refused.exit_code == 2 and "No export 'payroll'" in refused.output
