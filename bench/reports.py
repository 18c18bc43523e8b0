"""Reports and exports against their floors, measured in the same run on the same database file.

Builds (or reuses) a SQLite database of 10,000 sessions in 2027 (60 courses, 500 instructors, 200
rooms in 20 venues), 200,000 enrolments (some waitlisted, some cancelled with their audit entries) and
150,000 attendance records, then prints:
  reports:    each report (by course, by month, by instructor: fill, waitlist, attendance, no-show,
              late cancellation, instructor and room utilisation, with totals) run in-process by
              core/services/reports.py, median of --runs, against one hand-written sqlite3 query per
              report computing the same numbers, and the ratio (goal <= 3);
  statements: the SQL statements each report runs (the same for 12, 60 and 500 groups);
  evaluations: the same for the evaluation metrics (average rating, NPS, response rate, learning gain) over
              ~105,000 requests, ~63,000 answered (two answers each) and ~42,000 learners' PRE and POST
              scores, against one hand-written query per report;
  export:     GET /exports/audit.csv of two days (172,800 rows) and of the whole log (1,000,000 rows)
              through the real route,
              each in a fresh process, bytes sent and the peak RSS of the process (flat: constant memory).

    .venv/bin/python bench/reports.py [--runs 20] [--db /tmp/podium-bench-reports.db] [--rebuild]
                                      [--evaluations-only]
"""
from __future__ import annotations

import argparse
import asyncio
import json
import random
import resource
import sqlite3
import statistics
import subprocess
import sys
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

SESSIONS, ENROLMENTS, ATTENDANCE, COURSES, INSTRUCTORS, ROOMS, VENUES = 10_000, 200_000, 150_000, 60, 500, 200, 20
LEARNERS = 20_000
AUDIT_ROWS = 1_000_000
GOAL = 3.0
LATE_HOURS = 48
TOKEN = "bench-admin-token-0123456789abcdefghijkl"
FIRST, LAST = date(2027, 1, 1), date(2027, 12, 31)


# --- the database --------------------------------------------------------------------------------

def build_database(path: Path) -> None:
    """Schema by the migrations, rows by bulk Core inserts."""
    from sqlalchemy import create_engine, insert

    from podium.core.migrate import upgrade
    from podium.core.models import Base

    final, path = path, path.with_suffix(".building")
    path.unlink(missing_ok=True)
    upgrade(f"sqlite+aiosqlite:///{path}")
    rng = random.Random(11)
    t = Base.metadata.tables
    now = datetime(2026, 11, 1, tzinfo=timezone.utc)
    engine = create_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        conn.execute(insert(t["course"]), [
            {"id": i, "code": f"C-{i:03d}", "title": f"Course {i}", "duration_minutes": 120, "default_capacity": 20,
             "required_qualifications": [], "created_at": now} for i in range(1, COURSES + 1)])
        conn.execute(insert(t["venue"]), [{"id": i, "name": f"Venue {i}", "timezone": "Europe/London"}
                                          for i in range(1, VENUES + 1)])
        zones = ["Europe/London", "America/New_York"]
        conn.execute(insert(t["resource"]), [
            {"id": i, "kind": "INSTRUCTOR", "name": f"Instructor {i}", "timezone": zones[i % 2],
             "email": f"instructor{i}@example.com", "capacity": None, "features": [], "created_at": now}
            for i in range(1, INSTRUCTORS + 1)]
            + [{"id": INSTRUCTORS + i, "kind": "ROOM", "name": f"Room {i}", "timezone": "Europe/London",
                "capacity": 30, "email": None, "features": [], "venue_id": i % VENUES + 1, "created_at": now}
               for i in range(1, ROOMS + 1)])
        conn.execute(insert(t["person"]), [
            {"id": i, "name": f"Learner {i}", "email": f"learner{i}@example.com", "timezone": "Europe/London",
             "external_ids": {}, "created_at": now} for i in range(1, LEARNERS + 1)])
        conn.execute(insert(t["evaluation_form"]), [
            {"id": i, "course_id": i, "title": "How did it go?", "created_at": now, "updated_at": now,
             "questions": [{"key": "overall", "kind": "RATING_1_5", "text": "Overall?", "required": True},
                           {"key": "recommend", "kind": "NPS_0_10", "text": "Recommend?", "required": True}]}
            for i in range(1, COURSES + 1)])
        sessions, bookings, enrolments, attendance, audit = [], [], [], [], []
        requests, answers, scores = [], [], []
        start = datetime(2027, 1, 4, 8, tzinfo=timezone.utc)
        per_session = ENROLMENTS // SESSIONS
        eid = 0
        for sid in range(1, SESSIONS + 1):
            starts = start + timedelta(minutes=50 * sid) + timedelta(minutes=rng.choice((0, 30)))
            ends = starts + timedelta(hours=2)
            capacity = rng.randint(14, 22)
            sessions.append({"id": sid, "course_id": rng.randint(1, COURSES), "title": f"Session {sid}",
                             "starts_at": starts, "ends_at": ends, "timezone": "Europe/London",
                             "delivery_mode": rng.choice(["IN_PERSON", "VIRTUAL", "HYBRID"]), "status": "SCHEDULED",
                             "capacity": capacity, "setup_minutes": 0, "teardown_minutes": 0,
                             "requires_approval": False, "sequence": 0, "created_at": now, "updated_at": now})
            held = [((sid * 7) % INSTRUCTORS + 1, "LEAD_INSTRUCTOR"), (INSTRUCTORS + sid % ROOMS + 1, "ROOM")]
            if sid % 4 == 0:
                held.append(((sid * 7 + 250) % INSTRUCTORS + 1, "CO_FACILITATOR"))
            bookings += [{"resource_id": r, "session_id": sid, "role": role, "starts_at": starts, "ends_at": ends,
                          "active": True, "source": "podium"} for r, role in held]
            for n, learner in enumerate(rng.sample(range(1, LEARNERS + 1), per_session)):
                eid += 1
                status = "CANCELLED" if n % 10 == 9 else "WAITLISTED" if n >= capacity else "ENROLLED"
                enrolments.append({"id": eid, "session_id": sid, "learner_id": learner, "status": status,
                                   "waitlist_position": n - capacity + 1 if status == "WAITLISTED" else None,
                                   "created_at": now, "updated_at": now})
                if status == "CANCELLED":
                    audit.append({"at": starts - timedelta(hours=rng.choice((2, 24, 72, 200))), "actor": "bench",
                                  "action": "enrollment.cancel", "target_type": "Enrollment", "target_id": eid,
                                  "before": {"status": "ENROLLED"}, "after": {"status": "CANCELLED"}})
                elif status == "ENROLLED" and len(attendance) < ATTENDANCE:
                    attendance.append({"enrollment_id": eid, "status": rng.choice(
                        ["PRESENT"] * 6 + ["LATE", "ABSENT", "LEFT_EARLY", "EXCUSED"]), "minutes_attended": 100,
                        "source": "MANUAL", "recorded_at": ends})
                    if attendance[-1]["status"] in ("PRESENT", "LATE"):  # asked; three in five answer
                        rid = len(requests) + 1
                        answered = rng.random() < 0.6
                        requests.append({"id": rid, "enrollment_id": eid, "session_id": sid, "nonce": f"n{rid}",
                                         "token_hash": f"{rid:064x}", "requested_at": ends,
                                         "responded_at": ends + timedelta(days=1) if answered else None})
                        if answered:
                            answers += [{"request_id": rid, "question_key": "overall", "kind": "RATING_1_5",
                                         "value": rng.randint(1, 5)},
                                        {"request_id": rid, "question_key": "recommend", "kind": "NPS_0_10",
                                         "value": rng.randint(0, 10)}]
                        if rng.random() < 0.4:
                            pre = rng.randint(2000, 8000)
                            scores += [{"enrollment_id": eid, "kind": "PRE", "score_hundredths": pre,
                                        "source": "bench", "recorded_at": ends},
                                       {"enrollment_id": eid, "kind": "POST", "recorded_at": ends, "source": "bench",
                                        "score_hundredths": min(10_000, pre + rng.randint(-500, 3000))}]
        conn.execute(insert(t["session"]), sessions)
        conn.execute(insert(t["booking"]), bookings)
        conn.execute(insert(t["enrollment"]), enrolments)
        conn.execute(insert(t["attendance"]), attendance)
        conn.execute(insert(t["audit_entry"]), audit)
        conn.execute(insert(t["evaluation_request"]), requests)
        conn.execute(insert(t["evaluation_answer"]), answers)
        conn.execute(insert(t["assessment_score"]), scores)
        filler = AUDIT_ROWS - len(audit)
        for chunk in range(0, filler, 100_000):
            conn.execute(insert(t["audit_entry"]), [
                {"at": now + timedelta(seconds=chunk + i), "actor": "api:person:1", "action": "session.update",
                 "target_type": "Session", "target_id": (chunk + i) % SESSIONS + 1, "before": {"title": "Before"},
                 "after": {"title": "=After, with \"quotes\""}} for i in range(min(100_000, filler - chunk))])
    engine.dispose()
    with sqlite3.connect(path) as db:
        db.execute("ANALYZE")
    path.rename(final)


# --- the floors: one hand-written query per report ------------------------------------------------

DIMENSION_SQL = {
    "COURSE": ("s.course_id", ""),
    "MONTH": ("strftime('%Y-%m', s.starts_at)", ""),
    "INSTRUCTOR": ("t.resource_id", "LEFT JOIN booking t ON t.session_id = s.id AND t.active "
                                    "AND t.role IN ('LEAD_INSTRUCTOR', 'CO_FACILITATOR')"),
}
FLOOR_SQL = """
WITH cancels AS (SELECT target_id AS eid, max(at) AS at FROM audit_entry
                 WHERE target_type = 'Enrollment' AND action = 'enrollment.cancel' GROUP BY target_id),
e AS (SELECT en.session_id,
        sum(en.status = 'ENROLLED') AS enrolled, sum(en.status = 'WAITLISTED') AS waitlisted,
        sum(en.status = 'ENROLLED' AND s.starts_at <= :now) AS started,
        sum(en.status = 'ENROLLED' AND s.starts_at <= :now AND a.status IN ('PRESENT', 'LATE')) AS attended,
        sum(en.status = 'ENROLLED' AND s.starts_at <= :now AND a.status = 'ABSENT') AS absent,
        sum(en.status = 'CANCELLED' AND c.at IS NOT NULL) AS cancelled,
        sum(en.status = 'CANCELLED' AND (julianday(s.starts_at) - julianday(c.at)) * 24 < :late) AS late
      FROM enrollment en JOIN session s ON s.id = en.session_id
      LEFT JOIN attendance a ON a.enrollment_id = en.id LEFT JOIN cancels c ON c.eid = en.id
      WHERE s.starts_at >= :start AND s.starts_at < :end AND s.status IN ('SCHEDULED', 'COMPLETED')
      GROUP BY en.session_id),
b AS (SELECT session_id,
        sum(CASE WHEN role IN ('LEAD_INSTRUCTOR', 'CO_FACILITATOR') THEN (julianday(ends_at) - julianday(starts_at)) * 86400 END) AS isec,
        sum(CASE WHEN role = 'ROOM' THEN (julianday(ends_at) - julianday(starts_at)) * 86400 END) AS rsec
      FROM booking WHERE active AND session_id IS NOT NULL GROUP BY session_id)
SELECT {key} AS k, sum(s.capacity), sum(e.enrolled), sum(e.waitlisted), sum(e.started), sum(e.attended),
  sum(e.absent), sum(e.cancelled), sum(e.late), {isec}, sum(b.rsec)
FROM session s LEFT JOIN e ON e.session_id = s.id LEFT JOIN b ON b.session_id = s.id {join}
WHERE s.starts_at >= :start AND s.starts_at < :end AND s.status IN ('SCHEDULED', 'COMPLETED')
{group}
"""


def floor_report(db: sqlite3.Connection, dimension: str, now: datetime) -> tuple[list, tuple]:
    key, join = DIMENSION_SQL[dimension]
    isec = ("sum((julianday(t.ends_at) - julianday(t.starts_at)) * 86400)" if dimension == "INSTRUCTOR"
            else "sum(b.isec)")
    params = {"now": now.strftime("%Y-%m-%d %H:%M:%S.%f"), "late": LATE_HOURS,
              "start": "2027-01-01 00:00:00.000000", "end": "2028-01-01 00:00:00.000000"}
    rows = db.execute(FLOOR_SQL.format(key=key, isec=isec, join=join, group="GROUP BY k"), params).fetchall()
    totals = db.execute(FLOOR_SQL.format(key="NULL", isec="sum(b.isec)", join="", group=""), params).fetchone()
    names = dict(db.execute("SELECT id, code FROM course")) if dimension == "COURSE" else {}
    return [(names.get(r[0], r[0]), *_rates(r[1:])) for r in rows], _rates(totals[1:])


def _rates(values) -> tuple:
    capacity, enrolled, waitlisted, started, attended, absent, cancelled, late, isec, rsec = (v or 0 for v in values)
    def ratio(a, b):
        return round(a / b, 4) if b else None
    return (ratio(enrolled, capacity), waitlisted, ratio(attended, started), ratio(absent, started),
            ratio(late, enrolled + cancelled), isec, rsec)


EVALUATION_FLOOR_SQL = """
WITH r AS (SELECT session_id, count(*) AS asked, count(responded_at) AS answered
           FROM evaluation_request GROUP BY session_id),
a AS (SELECT q.session_id, sum(CASE WHEN x.kind = 'RATING_1_5' THEN x.value END) AS rsum,
        sum(x.kind = 'RATING_1_5') AS rn, sum(x.kind = 'NPS_0_10' AND x.value >= 9) AS p,
        sum(x.kind = 'NPS_0_10' AND x.value <= 6) AS d, sum(x.kind = 'NPS_0_10') AS n
      FROM evaluation_answer x JOIN evaluation_request q ON q.id = x.request_id GROUP BY q.session_id),
g AS (SELECT en.session_id, sum(post.score_hundredths - pre.score_hundredths) AS gain, count(*) AS gains
      FROM enrollment en JOIN assessment_score pre ON pre.enrollment_id = en.id AND pre.kind = 'PRE'
      JOIN assessment_score post ON post.enrollment_id = en.id AND post.kind = 'POST'
      WHERE en.status = 'ENROLLED' GROUP BY en.session_id)
SELECT {key} AS k, sum(r.asked), sum(r.answered), sum(a.rsum), sum(a.rn), sum(a.p), sum(a.d), sum(a.n),
  sum(g.gain), sum(g.gains)
FROM session s LEFT JOIN r ON r.session_id = s.id LEFT JOIN a ON a.session_id = s.id
LEFT JOIN g ON g.session_id = s.id {join}
WHERE s.starts_at >= :start AND s.starts_at < :end AND s.status IN ('SCHEDULED', 'COMPLETED')
{group}
"""


def floor_evaluations(db: sqlite3.Connection, dimension: str) -> list:
    """(key, average rating, NPS) per group: the hand-written floor of the evaluation report."""
    key, join = DIMENSION_SQL[dimension]
    params = {"start": "2027-01-01 00:00:00.000000", "end": "2028-01-01 00:00:00.000000"}
    rows = db.execute(EVALUATION_FLOOR_SQL.format(key=key, join=join, group="GROUP BY k"), params).fetchall()
    db.execute(EVALUATION_FLOOR_SQL.format(key="NULL", join="", group=""), params).fetchone()
    return [(r[0], round(r[3] / r[4], 2) if r[4] else None, round(100 * (r[5] - r[6]) / r[7], 2) if r[7] else None)
            for r in rows]


# --- the reports ----------------------------------------------------------------------------------

METRICS = ["FILL_RATE", "WAITLIST_DEMAND", "ATTENDANCE_RATE", "NO_SHOW_RATE", "LATE_CANCELLATION_RATE",
           "INSTRUCTOR_UTILISATION", "ROOM_UTILISATION"]


EVALUATION_METRICS = ["AVERAGE_RATING", "NPS", "EVALUATION_RESPONSE_RATE", "LEARNING_GAIN"]


async def run_evaluation_reports(url: str, runs: int) -> None:
    from sqlalchemy import event

    from podium.core.db import create_engine, create_sessionmaker
    from podium.core.services import reports
    from podium.core.settings import Settings

    engine = create_engine(url)
    sessions = create_sessionmaker(engine)
    settings = Settings(database_url=url)
    span = reports.period(FIRST, LAST)
    floor_db = sqlite3.connect(url.split("///", 1)[1])
    counts = floor_db.execute("SELECT (SELECT count(*) FROM evaluation_request), (SELECT count(*) FROM "
                              "evaluation_answer), (SELECT count(*) FROM assessment_score)").fetchone()
    print(f"evaluations: {counts[0]:,} requests, {counts[1]:,} answers, {counts[2]:,} scores")
    statements: list[str] = []
    event.listen(engine.sync_engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
    print(f"{'evaluations':<16}{'groups':>8}{'podium ms':>12}{'floor ms':>11}{'ratio':>8}{'statements':>12}")
    worst = 0.0
    for dimension in ("COURSE", "MONTH", "INSTRUCTOR"):
        ours, floors = [], []
        for _ in range(runs):
            statements.clear()
            began = time.perf_counter()
            async with sessions() as db:
                answer = await reports.run_report(db, [reports.Metric(m) for m in EVALUATION_METRICS],
                                                  [reports.Dimension(dimension)], span, settings=settings)
            ours.append(time.perf_counter() - began)
            count = len([s for s in statements if not s.lstrip().upper().startswith(("BEGIN", "COMMIT", "ROLLBACK"))])
            began = time.perf_counter()
            floor_rows = floor_evaluations(floor_db, dimension)
            floors.append(time.perf_counter() - began)
        mine = sorted(float(row.values[0].value or 0) for row in answer.rows)
        floor = sorted(float(row[1] or 0) for row in floor_rows)
        assert len(mine) == len(floor) and all(abs(a - b) <= 0.01 for a, b in zip(mine, floor)), dimension
        ratio = statistics.median(ours) / statistics.median(floors)
        worst = max(worst, ratio)
        print(f"by {dimension.lower():<13}{len(answer.rows):>8}{statistics.median(ours) * 1000:>12.1f}"
              f"{statistics.median(floors) * 1000:>11.1f}{ratio:>7.2f}x{count:>12}")
    print(f"worst ratio {worst:.2f}x (goal <= {GOAL}x): {'ok' if worst <= GOAL else 'MISSED'}")
    await engine.dispose()


async def run_reports(url: str, runs: int) -> None:
    from sqlalchemy import event

    from podium.core.db import create_engine, create_sessionmaker
    from podium.core.services import reports
    from podium.core.settings import Settings

    engine = create_engine(url)
    sessions = create_sessionmaker(engine)
    settings = Settings(database_url=url, late_cancel_hours=LATE_HOURS)
    span = reports.period(FIRST, LAST)
    now = datetime(2027, 7, 1, tzinfo=timezone.utc)
    floor_db = sqlite3.connect(url.split("///", 1)[1])
    statements: list[str] = []
    event.listen(engine.sync_engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
    print(f"{'report':<16}{'groups':>8}{'podium ms':>12}{'floor ms':>11}{'ratio':>8}{'statements':>12}")
    worst = 0.0
    for dimension in ("COURSE", "MONTH", "INSTRUCTOR"):
        ours, floors = [], []
        for _ in range(runs):
            statements.clear()
            began = time.perf_counter()
            async with sessions() as db:
                answer = await reports.run_report(db, [reports.Metric(m) for m in METRICS],
                                                  [reports.Dimension(dimension)], span, settings=settings, now=now)
            ours.append(time.perf_counter() - began)
            count = len([s for s in statements if not s.lstrip().upper().startswith(("BEGIN", "COMMIT", "ROLLBACK"))])
            began = time.perf_counter()
            floor_rows, _floor_totals = floor_report(floor_db, dimension, now)
            floors.append(time.perf_counter() - began)
        _check(answer, floor_rows, dimension)
        ratio = statistics.median(ours) / statistics.median(floors)
        worst = max(worst, ratio)
        print(f"by {dimension.lower():<13}{len(answer.rows):>8}{statistics.median(ours) * 1000:>12.1f}"
              f"{statistics.median(floors) * 1000:>11.1f}{ratio:>7.2f}x{count:>12}")
    print(f"worst ratio {worst:.2f}x (goal <= {GOAL}x): {'ok' if worst <= GOAL else 'MISSED'}")
    await engine.dispose()


def _check(answer, floor_rows, dimension: str) -> None:
    """The report and the floor agree on the fill rate of every group (the floor is no cheaper by being wrong)."""
    ours = sorted(float(row.values[0].value or 0) for row in answer.rows)
    floor = sorted(float(row[1] or 0) for row in floor_rows)
    assert len(ours) == len(floor) and all(abs(a - b) <= 0.0001 for a, b in zip(ours, floor)), \
        (dimension, ours[:5], floor[:5])


# --- the export -----------------------------------------------------------------------------------

async def export_once(url: str, rows: int) -> None:
    """GET /exports/audit.csv through the real app and route, the bytes counted and dropped as they stream."""
    from podium.core.settings import Settings
    from podium.server.app import create_app

    app = create_app(Settings(database_url=url, admin_token=TOKEN, outbox_in_serve=False))
    # Whole days of filler entries (one a second from 2026-11-01); the whole log for AUDIT_ROWS.
    last = (datetime(2026, 11, 1) + timedelta(seconds=rows - 1)).date()
    query = (f"from=2026-11-01&to={last}" if rows < AUDIT_ROWS else "from=2026-01-01&to=2028-12-31").encode()
    before_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    scope = {"type": "http", "method": "GET", "path": "/exports/audit.csv", "raw_path": b"/exports/audit.csv",
             "query_string": query, "headers": [(b"authorization", f"Bearer {TOKEN}".encode())],
             "scheme": "http", "server": ("bench", 80), "client": ("127.0.0.1", 1), "http_version": "1.1",
             "root_path": "", "app": app}
    sent = {"bytes": 0, "lines": 0, "status": None}

    async def receive():
        await asyncio.sleep(3600)
        return {"type": "http.disconnect"}

    async def send(message):
        if message["type"] == "http.response.start":
            sent["status"] = message["status"]
        elif message["type"] == "http.response.body":
            body = message.get("body", b"")
            sent["bytes"] += len(body)
            sent["lines"] += body.count(b"\r\n")

    began = time.perf_counter()
    await app(scope, receive, send)
    elapsed = time.perf_counter() - began
    await app.state.podium.engine.dispose()
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"status": sent["status"], "rows": sent["lines"] - 1, "bytes": sent["bytes"],
                      "seconds": round(elapsed, 1), "rss_before_mb": round(before_mb, 1),
                      "peak_rss_mb": round(peak_mb, 1)}))


def run_exports(db_path: Path) -> None:
    print(f"{'export':<28}{'rows':>10}{'MB sent':>10}{'seconds':>9}{'RSS before MB':>15}{'peak RSS MB':>13}")
    peaks = []
    for rows in (100_000, AUDIT_ROWS):
        out = subprocess.run([sys.executable, __file__, "--db", str(db_path), "--export-rows", str(rows)],
                             capture_output=True, text=True, check=True)
        result = json.loads(out.stdout.strip().splitlines()[-1])
        peaks.append(result["peak_rss_mb"])
        print(f"{'GET /exports/audit.csv':<28}{result['rows']:>10,}{result['bytes'] / 1e6:>10.1f}"
              f"{result['seconds']:>9}{result['rss_before_mb']:>15}{result['peak_rss_mb']:>13}")
    print(f"peak RSS for the whole log against the small export: {peaks[1] - peaks[0]:+.1f} MB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--db", type=Path, default=Path("/tmp/podium-bench-reports.db"))
    parser.add_argument("--rebuild", action="store_true")
    parser.add_argument("--export-rows", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--exports-only", action="store_true", help="Only the export measurement.")
    parser.add_argument("--evaluations-only", action="store_true", help="Only the evaluation reports.")
    args = parser.parse_args()
    url = f"sqlite+aiosqlite:///{args.db}"
    if args.export_rows:
        asyncio.run(export_once(url, args.export_rows))
        return
    if args.db.exists() and not args.rebuild and not _has_evaluations(args.db):
        print(f"{args.db} was built before evaluations: building it again")
        args.rebuild = True
    if args.rebuild or not args.db.exists():
        began = time.perf_counter()
        build_database(args.db)
        print(f"built {args.db} in {time.perf_counter() - began:.0f} s")
    print(f"{SESSIONS:,} sessions, {ENROLMENTS:,} enrolments, {ATTENDANCE:,} attendance records, "
          f"{AUDIT_ROWS:,} audit entries; median of {args.runs} runs")
    if args.evaluations_only:
        asyncio.run(run_evaluation_reports(url, args.runs))
        return
    if not args.exports_only:
        asyncio.run(run_reports(url, args.runs))
        asyncio.run(run_evaluation_reports(url, args.runs))
    run_exports(args.db)


def _has_evaluations(path: Path) -> bool:
    try:
        with sqlite3.connect(path) as db:
            return bool(db.execute("SELECT count(*) FROM evaluation_request").fetchone()[0])
    except sqlite3.Error:
        return False


if __name__ == "__main__":
    main()
