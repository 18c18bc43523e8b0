"""The sessions page against its floor, measured in the same run on the same database file.

Builds (or reuses) a SQLite database of 10,000 sessions, 500 instructors, 200 rooms and 200,000
enrolments, then prints medians over >= 20 runs:
  in-process: the GraphQL page (100 sessions with course, room, instructors, seat counts) executed
              by the schema, vs one hand-written sqlite3 query + json.dumps of the same data;
  HTTP:       req/s of POST /graphql on one uvicorn worker vs a raw starlette + sqlite3 endpoint
              serving the same JSON on another.

    .venv/bin/python bench/sessions_page.py [--runs 20] [--db /tmp/podium-bench.db] [--rebuild]
"""
from __future__ import annotations

import argparse
import base64
import asyncio
import json
import os
import random
import socket
import sqlite3
import statistics
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx

SESSIONS, INSTRUCTORS, ROOMS, ENROLMENTS, LEARNERS, COURSES = 10_000, 500, 200, 200_000, 20_000, 60
PAGE_SIZE = 100
PAGE_FROM = "2027-06-01T00:00:00+00:00"
GOAL_IN_PROCESS, GOAL_HTTP = 12.0, 0.35

PAGE = """query SessionsPage($from: DateTime!) {
  sessions(first: 100, filter: {from: $from}) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { node {
      id title startsAt endsAt status capacity seatsTaken seatsLeft waitlistCount
      course { id code title }
      room { id name }
      instructors { id name }
    } }
  }
}"""


# --- the database --------------------------------------------------------------------------

def build_database(path: Path) -> None:
    """Schema by the migrations, rows by bulk Core inserts (the services would take an hour for this)."""
    from sqlalchemy import create_engine, insert

    from podium.core.migrate import upgrade
    from podium.core.models import Base

    final, path = path, path.with_suffix(".building")
    path.unlink(missing_ok=True)
    upgrade(f"sqlite+aiosqlite:///{path}")
    rng = random.Random(7)
    t = Base.metadata.tables
    now = datetime(2026, 11, 1, tzinfo=timezone.utc)
    engine = create_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        conn.execute(insert(t["course"]), [
            {"id": i, "code": f"C-{i:03d}", "title": f"Course {i}", "duration_minutes": 120, "default_capacity": 20,
             "required_qualifications": [], "created_at": now} for i in range(1, COURSES + 1)])
        conn.execute(insert(t["resource"]), [
            {"id": i, "kind": "INSTRUCTOR", "name": f"Instructor {i}", "timezone": "Europe/London",
             "email": f"instructor{i}@example.com", "capacity": None, "features": [], "created_at": now} for i in range(1, INSTRUCTORS + 1)]
            + [{"id": INSTRUCTORS + i, "kind": "ROOM", "name": f"Room {i}", "timezone": "Europe/London",
                "capacity": 30, "email": None, "features": [], "created_at": now} for i in range(1, ROOMS + 1)])
        conn.execute(insert(t["person"]), [
            {"id": i, "name": f"Learner {i}", "email": f"learner{i}@example.com", "timezone": "Europe/London",
             "external_ids": {}, "created_at": now} for i in range(1, LEARNERS + 1)])
        sessions, bookings, enrolments = [], [], []
        start = datetime(2027, 1, 4, 8, tzinfo=timezone.utc)
        per_session = ENROLMENTS // SESSIONS
        for sid in range(1, SESSIONS + 1):
            starts = start + timedelta(hours=2 * (sid // 5)) + timedelta(minutes=rng.choice((0, 30)))
            ends = starts + timedelta(hours=2)
            capacity = rng.randint(12, 25)
            sessions.append({"id": sid, "course_id": rng.randint(1, COURSES), "title": f"Session {sid}",
                             "starts_at": starts, "ends_at": ends, "timezone": "Europe/London",
                             "delivery_mode": "IN_PERSON", "status": "SCHEDULED", "capacity": capacity,
                             "setup_minutes": 0, "teardown_minutes": 0, "requires_approval": False, "sequence": 0,
                             "created_at": now, "updated_at": now})
            lead = (sid * 7) % INSTRUCTORS + 1
            held = [(lead, "LEAD_INSTRUCTOR"), (INSTRUCTORS + sid % ROOMS + 1, "ROOM")]
            if sid % 4 == 0:
                held.append(((sid * 7 + 250) % INSTRUCTORS + 1, "CO_FACILITATOR"))
            bookings += [{"resource_id": r, "session_id": sid, "role": role, "starts_at": starts, "ends_at": ends,
                          "active": True, "source": "podium"} for r, role in held]
            for n, learner in enumerate(rng.sample(range(1, LEARNERS + 1), per_session)):
                waitlisted = n >= capacity
                enrolments.append({"session_id": sid, "learner_id": learner,
                                   "status": "WAITLISTED" if waitlisted else "ENROLLED",
                                   "waitlist_position": n - capacity + 1 if waitlisted else None,
                                   "created_at": now, "updated_at": now})
        conn.execute(insert(t["session"]), sessions)
        conn.execute(insert(t["booking"]), bookings)
        conn.execute(insert(t["enrollment"]), enrolments)
    engine.dispose()
    with sqlite3.connect(path) as db:
        db.execute("ANALYZE")
    path.rename(final)  # only a whole database is ever reused


# --- the floor: one hand-written query and json.dumps ----------------------------------------

FLOOR_SQL = """
WITH page AS (
  SELECT s.id, s.title, s.starts_at, s.ends_at, s.status, s.capacity, s.course_id
  FROM session s WHERE s.ends_at > ? ORDER BY s.starts_at, s.id LIMIT 100)
SELECT p.id, p.title, p.starts_at, p.ends_at, p.status, p.capacity,
  c.id, c.code, c.title,
  (SELECT count(*) FROM enrollment e WHERE e.session_id = p.id AND e.status = 'ENROLLED'),
  (SELECT count(*) FROM enrollment e WHERE e.session_id = p.id AND e.status = 'WAITLISTED'),
  (SELECT json_group_array(json_object('id', r.id, 'name', r.name, 'role', b.role)) FROM booking b
     JOIN resource r ON r.id = b.resource_id WHERE b.session_id = p.id),
  (SELECT count(*) FROM session s2 WHERE s2.ends_at > ?)
FROM page p JOIN course c ON c.id = p.course_id ORDER BY p.starts_at, p.id
"""


def _gid(type_name: str, pk: int) -> str:
    """The same opaque global ID the API serves (base64 of "Type:id")."""
    return base64.b64encode(f"{type_name}:{pk}".encode()).decode()


def _instant(text: str) -> str:
    return datetime.fromisoformat(text).replace(tzinfo=timezone.utc).isoformat()


def floor_page(db: sqlite3.Connection, after: str) -> str:
    """The same JSON the GraphQL page returns, from one query."""
    edges, total = [], 0
    for row in db.execute(FLOOR_SQL, (after, after)):
        booked = json.loads(row[11])
        teachers = sorted((b for b in booked if b["role"] != "ROOM"), key=lambda b: b["role"] != "LEAD_INSTRUCTOR")
        room = next((b for b in booked if b["role"] == "ROOM"), None)
        taken, total = row[9], row[12]
        edges.append({"node": {
            "id": _gid("Session", row[0]), "title": row[1], "startsAt": _instant(row[2]), "endsAt": _instant(row[3]),
            "status": row[4], "capacity": row[5], "seatsTaken": taken, "seatsLeft": max(row[5] - taken, 0),
            "waitlistCount": row[10], "course": {"id": _gid("Course", row[6]), "code": row[7], "title": row[8]},
            "room": room and {"id": _gid("Resource", room["id"]), "name": room["name"]},
            "instructors": [{"id": _gid("Resource", b["id"]), "name": b["name"]} for b in teachers]}})
    return json.dumps({"data": {"sessions": {"totalCount": total, "pageInfo": {"hasNextPage": True, "endCursor": "x"},
                                             "edges": edges}}})


def floor_app():
    """The raw starlette + sqlite3 endpoint the HTTP figure is measured against."""
    from starlette.applications import Starlette
    from starlette.responses import Response
    from starlette.routing import Route

    from podium.server.app import tune_garbage_collection

    tune_garbage_collection()  # the same garbage-collector settings as `podium serve`: the comparison is of the work
    db = sqlite3.connect(os.environ["PODIUM_BENCH_DB"], check_same_thread=False)
    after = _sqlite_instant(PAGE_FROM)

    async def page(request):
        await request.body()
        return Response(floor_page(db, after), media_type="application/json")

    return Starlette(routes=[Route("/graphql", page, methods=["POST"])])


def _sqlite_instant(iso: str) -> str:
    return datetime.fromisoformat(iso).astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f")


# --- measuring -----------------------------------------------------------------------------------

def median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


async def in_process(path: Path, runs: int) -> tuple[float, float]:
    from podium.core.db import create_engine, create_sessionmaker
    from podium.core.events import EventBus
    from podium.schema import schema
    from podium.schema.context import Context
    from podium.server.app import tune_garbage_collection

    engine = create_engine(f"sqlite+aiosqlite:///{path}")
    sessions = create_sessionmaker(engine, EventBus())
    variables = {"from": PAGE_FROM}
    floor_db = sqlite3.connect(path)
    after = _sqlite_instant(PAGE_FROM)

    async def graphql_once() -> str:
        context = Context(sessions)
        try:
            result = await schema.execute(PAGE, variable_values=variables, context_value=context)
        finally:
            await context.close()
        assert not result.errors, result.errors
        return json.dumps({"data": result.data})

    a, b = json.loads(await graphql_once()), json.loads(floor_page(floor_db, after))
    ours, floor = a["data"]["sessions"], b["data"]["sessions"]
    assert len(ours["edges"]) == PAGE_SIZE and ours["totalCount"] == floor["totalCount"]
    assert ours["edges"] == floor["edges"], "the floor serves the same data"
    for _ in range(5):
        await graphql_once()
        floor_page(floor_db, after)
    tune_garbage_collection()  # as `podium serve` does at start-up
    page_times, floor_times = [], []
    for _ in range(runs):
        t0 = time.perf_counter()
        await graphql_once()
        t1 = time.perf_counter()
        floor_page(floor_db, after)
        t2 = time.perf_counter()
        page_times.append(t1 - t0)
        floor_times.append(t2 - t1)
    await engine.dispose()
    return median_ms(page_times), median_ms(floor_times)


def serve(target: str, port: int, path: Path) -> subprocess.Popen:
    # Rate limits off: this measures what serving a page costs, not how many a client may ask for.
    env = {**os.environ, "PODIUM_DATABASE_URL": f"sqlite+aiosqlite:///{path}", "PODIUM_BENCH_DB": str(path),
           "PODIUM_RATE_LIMIT_POINTS": "0", "PODIUM_ANONYMOUS_RATE_LIMIT_POINTS": "0"}
    process = subprocess.Popen([sys.executable, "-m", "uvicorn", "--factory", target, "--host", "127.0.0.1",
                                "--port", str(port), "--workers", "1", "--log-level", "warning", "--no-access-log"],
                               env=env, cwd=Path(__file__).resolve().parent)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            httpx.get(f"http://127.0.0.1:{port}/", timeout=1)
            return process
        except httpx.TransportError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError(f"{target} did not start")


async def requests_per_second(url: str, requests: int, concurrency: int) -> float:
    body = json.dumps({"query": PAGE, "variables": {"from": PAGE_FROM}})
    headers = {"content-type": "application/json"}
    async with httpx.AsyncClient(limits=httpx.Limits(max_connections=concurrency)) as client:
        queue = list(range(requests))

        async def worker():
            while queue:
                queue.pop()
                response = await client.post(url, content=body, headers=headers)
                assert response.status_code == 200 and b'"errors"' not in response.content, response.text[:300]

        await asyncio.gather(*(worker() for _ in range(concurrency)))  # warm-up
        queue = list(range(requests))
        t0 = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return requests / (time.perf_counter() - t0)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


async def over_http(path: Path, runs: int, requests: int, concurrency: int) -> tuple[float, float]:
    ports = free_port(), free_port()
    podium = serve("podium.server.app:create_app", ports[0], path)
    floor = serve("sessions_page:floor_app", ports[1], path)
    try:
        ours, theirs = [], []
        for _ in range(runs):
            ours.append(await requests_per_second(f"http://127.0.0.1:{ports[0]}/graphql", requests, concurrency))
            theirs.append(await requests_per_second(f"http://127.0.0.1:{ports[1]}/graphql", requests, concurrency))
        return statistics.median(ours), statistics.median(theirs)
    finally:
        for process in (podium, floor):
            process.terminate()
            process.wait(timeout=20)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--db", type=Path, default=Path("/tmp/podium-bench-sessions.db"))
    parser.add_argument("--rebuild", action="store_true")
    parser.add_argument("--requests", type=int, default=50, help="HTTP requests per run")
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--skip-http", action="store_true")
    args = parser.parse_args()
    args.runs = max(args.runs, 20)
    if args.rebuild or not args.db.exists():
        t0 = time.perf_counter()
        build_database(args.db)
        print(f"built {args.db}: {SESSIONS} sessions, {INSTRUCTORS} instructors, {ROOMS} rooms, "
              f"{ENROLMENTS} enrolments in {time.perf_counter() - t0:.1f} s")
    page, floor = asyncio.run(in_process(args.db, args.runs))
    ratio = page / floor
    print(f"in-process  page {page:7.2f} ms   floor {floor:6.2f} ms   ratio {ratio:5.1f}x   "
          f"(goal <= {GOAL_IN_PROCESS:.0f}x: {'met' if ratio <= GOAL_IN_PROCESS else 'NOT met'})")
    if not args.skip_http:
        ours, theirs = asyncio.run(over_http(args.db, args.runs, args.requests, args.concurrency))
        ratio = ours / theirs
        print(f"HTTP        page {ours:7.1f} req/s   floor {theirs:7.1f} req/s   ratio {ratio:5.2f}x   "
              f"(goal >= {GOAL_HTTP}x: {'met' if ratio >= GOAL_HTTP else 'NOT met'})")


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    main()
