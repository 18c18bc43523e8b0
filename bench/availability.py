"""The availability search: does its cost grow with history, or only with the window searched?

For each database (SQLite in a temporary file; PostgreSQL when it answers, at PODIUM_TEST_PG_DSN or
127.0.0.1:5432), builds 30 instructors and 15 rooms (Monday to Friday 09:00-17:00, some time off) and
bookings of one hour spread evenly over two years of history and the four weeks searched, then times
`availability` over those four weeks (every instructor and room a candidate, 60 learners in 3 timezones,
30-minute grid, 2-hour slots) through the GraphQL app in-process, with 1,000 bookings and again with
100,000. Prints each median and their ratio (goal <= 3x), and the SQL statements of one search.

    .venv/bin/python bench/availability.py [--runs 15] [--sqlite-only]
"""
from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import tempfile
import time
import uuid
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import httpx

INSTRUCTORS, ROOMS, FEW, MANY = 30, 15, 1_000, 100_000
WINDOW_FROM = datetime(2027, 3, 1, tzinfo=timezone.utc)  # a Monday
WINDOW_DAYS, HISTORY_DAYS = 28, 730
GOAL = 3.0
TOKEN = "bench-admin-token-0123456789abcdefghijkl"
PG_ADMIN_DSN = os.environ.get("PODIUM_TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")

SEARCH = """query($i: AvailabilityInput!) { availability(input: $i) { totalCount
  slots { startsAt endsAt learnersInWindow instructors { id } rooms { id } } } }"""


def to_global_id(kind: str, pk: int) -> str:
    from podium.core.ids import to_global_id as encode
    return encode(kind, pk)


def hour_blocks(rng: random.Random) -> list[datetime]:
    """Every one-hour block 09:00-17:00 UTC on weekdays, over the history and the window, shuffled."""
    first = WINDOW_FROM.date() - timedelta(days=HISTORY_DAYS)
    blocks = []
    for n in range(HISTORY_DAYS + WINDOW_DAYS):
        day = first + timedelta(days=n)
        if day.weekday() < 5:
            blocks += [datetime(day.year, day.month, day.day, hour, tzinfo=timezone.utc) for hour in range(9, 17)]
    rng.shuffle(blocks)
    return blocks


def bookings(resource_ids: list[int], rng: random.Random) -> list[dict]:
    """MANY one-hour bookings, none of a resource overlapping another; the first FEW are an even sample."""
    per_resource = {rid: hour_blocks(rng) for rid in resource_ids}
    rows = []
    for n in range(MANY):
        rid = resource_ids[n % len(resource_ids)]
        start = per_resource[rid].pop()
        rows.append({"resource_id": rid, "session_id": None, "role": "ROOM", "active": True, "source": "bench",
                     "starts_at": start, "ends_at": start + timedelta(hours=1)})
    return rows


async def build(url: str) -> tuple[list[int], list[int], list[dict]]:
    from sqlalchemy import insert

    from podium.core.db import create_engine
    from podium.core.models import Base

    t = Base.metadata.tables
    now = datetime(2026, 11, 1, tzinfo=timezone.utc)
    engine = create_engine(url)
    instructor_ids = list(range(1, INSTRUCTORS + 1))
    room_ids = list(range(INSTRUCTORS + 1, INSTRUCTORS + ROOMS + 1))
    async with engine.begin() as conn:
        await conn.execute(insert(t["resource"]), [
            {"id": i, "kind": "INSTRUCTOR", "name": f"Instructor {i}", "timezone": "Europe/London",
             "email": f"i{i}@example.com", "capacity": None, "features": [], "created_at": now}
            for i in instructor_ids]
            + [{"id": i, "kind": "ROOM", "name": f"Room {i}", "timezone": "Europe/London", "capacity": 20,
                "email": None, "features": [], "created_at": now} for i in room_ids])
        await conn.execute(insert(t["time_off"]), [
            {"resource_id": i, "starts_at": WINDOW_FROM + timedelta(days=i % 20),
             "ends_at": WINDOW_FROM + timedelta(days=i % 20 + 3), "reason": "Leave", "created_at": now}
            for i in instructor_ids[::3]])
    await engine.dispose()
    return instructor_ids, room_ids, bookings(instructor_ids + room_ids, random.Random(13))


async def add_bookings(url: str, rows: list[dict]) -> None:
    from sqlalchemy import insert

    from podium.core.db import create_engine
    from podium.core.models import Base

    engine = create_engine(url)
    async with engine.begin() as conn:
        for chunk in range(0, len(rows), 10_000):
            await conn.execute(insert(Base.metadata.tables["booking"]), rows[chunk:chunk + 10_000])
    await engine.dispose()


async def timed(url: str, search: dict, runs: int) -> tuple[float, int, int]:
    """Median seconds of `runs` searches (after one warm-up), the slots found, and one search's statements."""
    from sqlalchemy import event

    from podium.core.settings import Settings
    from podium.server.app import create_app

    app = create_app(Settings(database_url=url, admin_token=TOKEN, rate_limit_points=0, outbox_in_serve=False))
    statements = []
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://bench") as client:
            async def once() -> dict:
                response = await client.post("/graphql", json={"query": SEARCH, "variables": {"i": search}},
                                             headers={"Authorization": f"Bearer {TOKEN}"})
                body = response.json()
                assert response.status_code == 200 and "errors" not in body, body
                return body["data"]["availability"]

            found = await once()
            times = []
            for _ in range(runs):
                started = time.perf_counter()
                await once()
                times.append(time.perf_counter() - started)
            engine = app.state.podium.engine.sync_engine
            counter = lambda *args: statements.append(1)  # noqa: E731
            event.listen(engine, "before_cursor_execute", counter)
            await once()
            event.remove(engine, "before_cursor_execute", counter)
    finally:
        await app.state.podium.engine.dispose()
    return statistics.median(times), found["totalCount"], len(statements)


async def measure(name: str, url: str, runs: int) -> float:
    from podium.core.migrate import upgrade

    await asyncio.to_thread(upgrade, url)
    instructors, rooms, rows = await build(url)
    search = {"from": WINDOW_FROM.isoformat(), "to": (WINDOW_FROM + timedelta(days=WINDOW_DAYS)).isoformat(),
              "instructorCandidates": [to_global_id("Resource", i) for i in instructors],
              "roomCandidates": [to_global_id("Resource", r) for r in rooms],
              "learnerTimezones": ["Europe/London"] * 30 + ["America/New_York"] * 20 + ["Asia/Kolkata"] * 10,
              "durationMinutes": 120, "granularityMinutes": 30, "first": 50}
    window_end = WINDOW_FROM + timedelta(days=WINDOW_DAYS)
    in_window = lambda part: sum(WINDOW_FROM <= r["starts_at"] < window_end for r in part)  # noqa: E731
    await add_bookings(url, rows[:FEW])
    few, few_slots, few_statements = await timed(url, search, runs)
    await add_bookings(url, rows[FEW:])
    many, many_slots, many_statements = await timed(url, search, runs)
    ratio = many / few
    print(f"{name}: {FEW:,} bookings ({in_window(rows[:FEW]):,} in the window): median {few * 1000:.1f} ms, "
          f"{few_slots} slots, {few_statements} SQL statements")
    print(f"{name}: {MANY:,} bookings ({in_window(rows):,} in the window): median {many * 1000:.1f} ms, "
          f"{many_slots} slots, {many_statements} SQL statements")
    print(f"{name}: ratio {ratio:.2f}x (goal <= {GOAL:.0f}x) {'OK' if ratio <= GOAL else 'OVER GOAL'}")
    return ratio


async def postgres_database() -> str | None:
    import asyncpg

    try:
        conn = await asyncpg.connect(PG_ADMIN_DSN, timeout=5)
    except Exception:  # noqa: BLE001 - not reachable: SQLite only
        return None
    name = f"podium_bench_{uuid.uuid4().hex[:8]}"
    await conn.execute(f'CREATE DATABASE "{name}"')
    await conn.close()
    return name


async def drop_postgres(name: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(PG_ADMIN_DSN, timeout=5)
    await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await conn.close()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--sqlite-only", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        await measure("SQLite", f"sqlite+aiosqlite:///{Path(folder) / 'bench.db'}", args.runs)
    if args.sqlite_only:
        return
    name = await postgres_database()
    if name is None:
        print("PostgreSQL: not answering; skipped")
        return
    try:
        url = PG_ADMIN_DSN.replace("postgresql://", "postgresql+asyncpg://").rsplit("/", 1)[0] + f"/{name}"
        await measure("PostgreSQL", url, args.runs)
    finally:
        await drop_postgres(name)


if __name__ == "__main__":
    asyncio.run(main())
