"""How fast `podium import` takes a team's sheets: the real command (a subprocess of .venv/bin/podium)
against a fresh SQLite file and, when it answers, a fresh PostgreSQL database.

    .venv/bin/python bench/import_sheets.py [--people 5000] [--sessions 500] [--no-postgresql]

Per backend it prints the wall time of: 5,000 people as a dry run (nothing written), created, the same
sheet again (0 changes), 500 sessions created (10 instructors and 10 rooms on weekdays, each session through
scheduleSession's rules), and the sessions again. Each time includes the command's start (about 1 s).
"""
from __future__ import annotations

import argparse
import asyncio
import csv
import os
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parents[1]
PODIUM = ROOT / ".venv/bin/podium"
PG_ADMIN = os.environ.get("PODIUM_TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")
LONDON = ZoneInfo("Europe/London")


def write(path: Path, rows: list[list]) -> str:
    with path.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows(rows)
    return str(path)


def sheets(folder: Path, people: int, sessions: int) -> dict[str, str]:
    days, day = [], date.today() + timedelta(days=14)
    while len(days) < sessions // 10 + 1:
        if day.weekday() < 5:
            days.append(day)
        day += timedelta(days=1)

    def at(d: date, hour: int) -> str:
        return datetime(d.year, d.month, d.day, hour, tzinfo=LONDON).isoformat()

    return {
        "resources": write(folder / "resources.csv", [["name", "kind", "timezone", "capacity", "email"]]
                           + [[f"Trainer {k}", "INSTRUCTOR", "Europe/London", "", f"t{k}@example.com"] for k in range(10)]
                           + [[f"Room {k}", "ROOM", "Europe/London", 30, ""] for k in range(10)]),
        "courses": write(folder / "courses.csv", [["code", "title", "duration_minutes", "default_capacity"],
                                                  ["FA-1", "First aid", 180, 20]]),
        "people": write(folder / "people.csv", [["email", "name", "timezone"]] + [
            [f"learner.{n}@example.com", f"Learner {n}", "Europe/London"] for n in range(people)]),
        "sessions": write(folder / "sessions.csv", [["course_code", "starts_at", "ends_at", "timezone", "instructors",
                                                     "room"]] + [
            ["FA-1", at(days[i // 10], 9), at(days[i // 10], 12), "Europe/London", f"t{i % 10}@example.com",
             f"Room {i % 10}"] for i in range(sessions)]),
    }


def run(url: str, kind: str, path: str, *extra: str) -> tuple[float, str]:
    started = time.perf_counter()
    done = subprocess.run([str(PODIUM), "import", path, "--kind", kind, *extra], capture_output=True, text=True,
                          env={**os.environ, "PODIUM_DATABASE_URL": url})
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        sys.exit(f"podium import {kind} failed ({done.returncode}): {done.stdout}{done.stderr}")
    return seconds, done.stdout.strip().splitlines()[0]


def measure(label: str, url: str, files: dict[str, str]) -> None:
    subprocess.run([str(PODIUM), "db", "upgrade"], check=True, capture_output=True,
                   env={**os.environ, "PODIUM_DATABASE_URL": url})
    run(url, "resources", files["resources"])
    run(url, "courses", files["courses"])
    for title, kind, extra in (("people, dry run", "people", ("--dry-run",)), ("people", "people", ()),
                               ("people again", "people", ()), ("sessions", "sessions", ()),
                               ("sessions again", "sessions", ())):
        seconds, summary = run(url, kind, files[kind], *extra)
        print(f"{label:<11} {title:<16} {seconds:6.1f} s   {summary}")


async def pg(statement: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(PG_ADMIN, timeout=5)
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--people", type=int, default=5000)
    parser.add_argument("--sessions", type=int, default=500)
    parser.add_argument("--no-postgresql", action="store_true")
    args = parser.parse_args()
    print(f"load average before: {os.getloadavg()[0]:.1f}")
    with tempfile.TemporaryDirectory() as folder:
        files = sheets(Path(folder), args.people, args.sessions)
        measure("SQLite", f"sqlite+aiosqlite:///{folder}/bench.db", files)
        if args.no_postgresql:
            return
        name = f"podium_bench_{uuid.uuid4().hex[:8]}"
        try:
            asyncio.run(pg(f'CREATE DATABASE "{name}"'))
        except Exception as exc:  # noqa: BLE001 - not answering: SQLite only
            print(f"PostgreSQL not measured: {exc}")
            return
        try:
            url = PG_ADMIN.replace("postgresql://", "postgresql+asyncpg://").rsplit("/", 1)[0] + f"/{name}"
            measure("PostgreSQL", url, files)
        finally:
            asyncio.run(pg(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


if __name__ == "__main__":
    main()
