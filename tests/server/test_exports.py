"""Exports over HTTP (CSV, streamed in keyset pages, formulas neutralised, staff only) and the audit log
for ADMINs, on both databases."""
from __future__ import annotations

import csv
import io
import itertools
from datetime import timedelta

from sqlalchemy import event

from podium.core.services import exports
from tests import builders as b
from tests.server import graph as g
from tests.server.conftest import ADMIN_TOKEN

_tokens = itertools.count(1)
RECORD = """mutation($i: RecordAttendanceInput!) { recordAttendance(input: $i) { errors { code field message } } }"""
AUDIT_LOG = """query($target: ID, $actor: ID, $action: String, $first: Int, $after: String, $from: DateTime) {
  auditLog(targetId: $target, actorId: $actor, action: $action, first: $first, after: $after, from: $from) {
  totalCount pageInfo { hasNextPage endCursor } edges { node { id at actor action targetType targetId before after } } } }"""


async def _token(api, role: str, **person) -> tuple[str, str]:
    # An address of its own: tests.builders and tests.server.graph count people apart, and this module uses both.
    person.setdefault("email", f"{role.lower()}-{next(_tokens)}@exports.example.com")
    person_id = await g.person(api, **person)
    token = (await api.data(g.TOKEN, {"i": {"personId": person_id, "role": role}}))["issueToken"]["token"]
    return person_id, token


async def _get(api, path: str, token: str | None = ADMIN_TOKEN):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return await api.client.get(path, headers=headers)


def _rows(response) -> list[dict]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    return list(csv.DictReader(io.StringIO(response.content.decode("utf-8"))))


async def _world(app, api):
    """A past session (attendance recorded by a coordinator) with learners named to attack spreadsheets."""
    sessions = app.state.podium.sessions
    course = await b.course(sessions, code="SAFE-1")
    teacher = await b.instructor(sessions)
    session = await b.session(sessions, course_id=course.id, instructor_ids=[teacher.id], starts_at=b.soon(days=2))
    names = ["=HYPERLINK(\"http://evil\")", "+1+2", "-3", "@SUM(A1)", "Zoë Ångström"]
    learners = [await b.person(sessions, name=name) for name in names]
    from podium.core.db import changing
    from podium.core.services import enrollment

    enrolled = []
    async with sessions() as db, changing(db):
        for learner in learners:
            enrolled.append((await enrollment.enroll(db, b.ADMIN, session.id, learner.id)).id)
    await b.time_passes(sessions, session.id)
    coordinator, token = await _token(api, "COORDINATOR")
    from podium.core.ids import to_global_id

    records = [{"enrollmentId": to_global_id("Enrollment", e), "status": s, "minutesAttended": m}
               for e, s, m in zip(enrolled, ["PRESENT", "LATE", "ABSENT", "PRESENT", "LEFT_EARLY"], [120, 100, None, 120, 60])]
    assert (await api.data(RECORD, {"i": {"sessionId": to_global_id("Session", session.id), "records": records}},
                           token=token))["recordAttendance"]["errors"] == []
    return session, coordinator, token, enrolled


async def test_the_attendance_export_is_the_compliance_record(app, api):
    session, coordinator, token, enrolled = await _world(app, api)
    day = b.soon(days=0).date()
    response = await _get(api, f"/exports/attendance.csv?from={day - timedelta(days=30)}&to={day + timedelta(days=30)}",
                          token)
    assert response.headers["content-disposition"].startswith('attachment; filename="podium-attendance-')
    rows = _rows(response)
    assert list(rows[0]) == exports.ATTENDANCE_HEADER
    assert len(rows) == 5
    by_name = {r["learner"]: r for r in rows}
    # Formulas arrive as text; plain names (UTF-8) as they are.
    assert set(by_name) == {"'=HYPERLINK(\"http://evil\")", "'+1+2", "'-3", "'@SUM(A1)", "Zoë Ångström"}
    late = by_name["'+1+2"]
    assert (late["attendance_status"], late["minutes_attended"], late["source"]) == ("LATE", "100", "MANUAL")
    assert late["enrollment_status"] == "ENROLLED" and late["course_code"] == "SAFE-1"
    from podium.core.ids import from_global_id

    assert {r["recorded_by"] for r in rows} == {f"api:person:{from_global_id(coordinator)[1]}"}
    assert all(r["recorded_at"] for r in rows)
    assert by_name["'-3"]["minutes_attended"] == ""


async def test_the_enrollments_export_pages_by_keyset(app, api, monkeypatch):
    await _world(app, api)
    monkeypatch.setattr(exports, "PAGE", 2)
    statements: list[str] = []
    engine = app.state.podium.engine.sync_engine
    listener = lambda conn, cursor, statement, *args: statements.append(statement)  # noqa: E731
    event.listen(engine, "before_cursor_execute", listener)
    day = b.soon(days=0).date()
    try:
        rows = _rows(await _get(api, f"/exports/enrollments.csv?from={day - timedelta(days=9)}&to={day + timedelta(days=9)}"))
    finally:
        event.remove(engine, "before_cursor_execute", listener)
    assert list(rows[0]) == exports.ENROLLMENT_HEADER and len(rows) == 5
    assert [r["enrollment_id"] for r in rows] == sorted((r["enrollment_id"] for r in rows),
                                                        key=lambda gid: int(__import__("base64").b64decode(gid).split(b":")[1]))
    pages = [s for s in statements if "FROM enrollment" in s and "LIMIT" in s]
    assert len(pages) == 3  # 2 + 2 + 1 rows, each page its own statement


async def test_exports_are_for_admins_and_coordinators_the_audit_log_too(app, api):
    await _world(app, api)
    path = "/exports/{}.csv?from=2026-01-01&to=2027-12-31"
    _, learner = await _token(api, "LEARNER")
    await g.instructor(api, email="teach@example.com")
    _, teacher = await _token(api, "INSTRUCTOR", email="teach@example.com")
    _, coordinator = await _token(api, "COORDINATOR")
    for name in exports.NAMES:
        for token in (learner, teacher):
            response = await _get(api, path.format(name) + "&metrics=fill-rate", token)
            assert response.status_code == 403 and response.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"
        response = await _get(api, path.format(name), None)
        assert response.status_code == 401
        assert (await _get(api, path.format(name) + "&metrics=fill-rate", ADMIN_TOKEN)).status_code == 200
    for name in exports.NAMES:  # "with an ADMIN or COORDINATOR bearer token" (issue 14), the audit log's included
        answer = await _get(api, path.format(name) + "&metrics=fill-rate", coordinator)
        assert answer.status_code == 200, (name, answer.text[:200])
    audit = await _get(api, path.format("audit"), coordinator)
    assert audit.status_code == 200 and len(audit.text.splitlines()) > 1  # the header and the world's changes
    assert (await _get(api, path.format("audit"), "not-a-token-of-anyone-0123456789abcdef")).status_code == 401


async def test_bad_export_requests_are_refused_with_the_field(api):
    cases = [("/exports/attendance.csv?from=2027-02-01&to=2027-01-01", 400, "INVALID", "from"),
             ("/exports/attendance.csv?from=2027-01-01&to=2033-01-01", 400, "INVALID", "to"),
             ("/exports/attendance.csv?from=yesterday&to=2027-01-01", 400, "INVALID", "from"),
             ("/exports/attendance.csv?to=2027-01-01", 400, "INVALID", "from"),
             ("/exports/report.csv?from=2027-01-01&to=2027-02-01", 400, "INVALID", "metrics"),
             ("/exports/report.csv?from=2027-01-01&to=2027-02-01&metrics=joy", 400, "INVALID", "metrics"),
             ("/exports/report.csv?from=2027-01-01&to=2027-02-01&metrics=nps&groupBy=weather", 400, "INVALID",
              "groupBy"),
             ("/exports/payroll.csv?from=2027-01-01&to=2027-02-01", 404, "NOT_FOUND", "name")]
    for path, status, code, field in cases:
        response = await _get(api, path)
        assert response.status_code == status, (path, response.text)
        assert response.json()["errors"][0]["extensions"] == {"code": code, "field": field}, path


async def test_the_report_export_is_the_report(app, api):
    await _world(app, api)
    day = b.soon(days=0).date()
    rows = _rows(await _get(api, f"/exports/report.csv?from={day - timedelta(days=9)}&to={day + timedelta(days=9)}"
                                 "&metrics=fill-rate,attendance-rate&groupBy=course"))
    assert rows[0]["course"].startswith("SAFE-1 Course ") and rows[1]["course"] == "total"
    assert rows[0]["fill_rate"] == rows[1]["fill_rate"] == "0.2500"  # 5 of 20 seats
    assert rows[0]["attendance_rate"] == "0.6000"  # PRESENT, LATE, PRESENT of 5
    assert (rows[0]["attendance_rate_numerator"], rows[0]["attendance_rate_denominator"]) == ("3", "5")


async def test_the_audit_log_is_an_admins_paged_by_keyset(app, api):
    session, coordinator, token, enrolled = await _world(app, api)
    from podium.core.ids import from_global_id, to_global_id

    target = to_global_id("Session", session.id)
    data = (await api.data(AUDIT_LOG, {"target": target}))["auditLog"]
    actions = [e["node"]["action"] for e in data["edges"]]
    assert actions[0] == "attendance.record" and "session.schedule" in actions  # newest first
    recorded = data["edges"][0]["node"]
    assert recorded["targetId"] == target and recorded["actor"] == f"api:person:{from_global_id(coordinator)[1]}"
    assert '"status": "LATE"' in recorded["after"]
    mine = (await api.data(AUDIT_LOG, {"actor": coordinator}))["auditLog"]
    assert [e["node"]["action"] for e in mine["edges"]] == ["attendance.record"]
    # Keyset pages: two at a time, every entry once, newest first.
    seen, after = [], None
    while True:
        page = (await api.data(AUDIT_LOG, {"first": 2, "after": after}))["auditLog"]
        seen += [e["node"]["id"] for e in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert seen == sorted(seen, reverse=True) and len(seen) == len(set(seen)) == page["totalCount"]
    body = await api(AUDIT_LOG, {"action": "enrollment.create"}, token=token)
    assert body["data"] is None and body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    body = await api(AUDIT_LOG, {"from": "2027-01-01T00:00:00"})
    assert body["errors"][0]["extensions"]["code"] == "INVALID_TIME_RANGE"
    enrolments = (await api.data(AUDIT_LOG, {"action": "enrollment.create"}))["auditLog"]
    assert enrolments["totalCount"] == 5
