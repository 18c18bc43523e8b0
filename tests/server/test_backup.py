"""`podium db backup` while a real `podium serve` takes enrolments; restore into a new path only."""
from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import subprocess
import sys
import time

import httpx

from podium.core.db import create_engine, create_sessionmaker
from podium.core.ids import to_global_id
from podium.core.migrate import upgrade
from tests import builders as b
from tests.server.conftest import ADMIN_TOKEN
from tests.server.graph import ENROLL
from tests.server.test_serve import free_port

LEARNERS = 200


def podium(*args: str, env: dict[str, str], **kw) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "podium.server.cli", *args], env=env, capture_output=True,
                          text=True, **kw)


async def _world(url: str) -> tuple[int, list[int]]:
    """A session with a seat for everyone, and its learners, made before the server starts."""
    engine = create_engine(url)
    sessions = create_sessionmaker(engine)
    try:
        course = await b.course(sessions)
        lead = await b.instructor(sessions)
        s = await b.session(sessions, course_id=course.id, instructor_ids=[lead.id], capacity=LEARNERS)
        return s.id, await b.people(sessions, LEARNERS)
    finally:
        await engine.dispose()


def _wait_until_up(server: subprocess.Popen, port: int) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and server.poll() is None:
        try:
            httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
            return
        except httpx.TransportError:
            time.sleep(0.2)
    raise AssertionError(server.stdout.read() if server.poll() is not None else "podium serve did not answer")


async def _enrol_everyone(port: int, session_id: int, learners: list[int], env: dict[str, str], backup: str):
    """200 enrols over 20 connections; when 50 are in, `podium db backup` runs, and the last 50 wait for it
    to finish, so the backup is taken while enrols are under way and before all of them."""
    queue = list(learners)
    done = 0
    fifty_in, backup_done = asyncio.Event(), asyncio.Event()
    headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}

    async def enrol(client: httpx.AsyncClient) -> None:
        nonlocal done
        while queue:
            learner = queue.pop()
            if len(queue) < 50:
                await backup_done.wait()
            variables = {"i": {"sessionId": to_global_id("Session", session_id),
                               "learnerId": to_global_id("Person", learner)}}
            answer = await client.post("/graphql", json={"query": ENROLL, "variables": variables}, headers=headers)
            body = answer.json()
            assert answer.status_code == 200 and body["data"]["enroll"]["errors"] == [], body
            done += 1
            if done >= 50:
                fifty_in.set()

    async def back_up() -> subprocess.CompletedProcess:
        await fifty_in.wait()
        try:
            return await asyncio.to_thread(podium, "db", "backup", backup, env=env, timeout=60)
        finally:
            backup_done.set()

    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=60) as client:
        *_, result = await asyncio.gather(*(enrol(client) for _ in range(20)), back_up())
    return result


def test_backup_while_200_enrols_run_holds_a_consistent_prefix(tmp_path):
    live, backup, restored = tmp_path / "podium.db", tmp_path / "backup.db", tmp_path / "restored.db"
    url = f"sqlite+aiosqlite:///{live}"
    upgrade(url)
    session_id, learners = asyncio.run(_world(url))
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("PODIUM_")},
           "PODIUM_DATABASE_URL": url, "PODIUM_ADMIN_TOKEN": ADMIN_TOKEN}
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "podium.server.cli", "serve", "--port", str(port)],
                              cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        _wait_until_up(server, port)
        result = asyncio.run(_enrol_everyone(port, session_id, learners, env, str(backup)))
    finally:
        server.terminate()
        server.wait(timeout=20)
    assert result.returncode == 0 and "integrity ok" in result.stdout, result.stdout + result.stderr

    copy = sqlite3.connect(backup)
    assert copy.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    enrolled = {row[0] for row in copy.execute("SELECT id FROM enrollment WHERE session_id = ?", (session_id,))}
    audited = {row[0] for row in copy.execute(
        "SELECT target_id FROM audit_entry WHERE action = 'enrollment.create' AND target_type = 'Enrollment'")}
    assert 50 <= len(enrolled) <= 150, len(enrolled)  # taken while enrols ran, not before or after them all
    assert audited == enrolled                        # every enrolment with its audit row, and no audit row alone
    announced = {json.loads(row[0])["payload"]["enrollment"] for row in copy.execute(
        "SELECT payload FROM outbox_message WHERE kind = 'event' AND topic = 'enrollment.changed'")}
    assert announced == {to_global_id("Enrollment", pk) for pk in enrolled}   # and its outbox event, no more
    seats = copy.execute("SELECT count(*) FROM enrollment WHERE session_id = ? AND status = 'ENROLLED'",
                         (session_id,)).fetchone()[0]
    assert seats == len(enrolled)
    copy.close()
    assert sqlite3.connect(live).execute("SELECT count(*) FROM enrollment").fetchone() == (LEARNERS,)

    # Restore: into a new path it works; over an existing database it is refused, with one line.
    into_new = podium("db", "restore", str(backup), env={**env, "PODIUM_DATABASE_URL": f"sqlite+aiosqlite:///{restored}"})
    assert into_new.returncode == 0, into_new.stderr
    back = sqlite3.connect(restored)
    assert back.execute("SELECT count(*) FROM enrollment").fetchone() == (len(enrolled),)
    assert back.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    back.close()
    over_live = podium("db", "restore", str(backup), env=env)
    assert over_live.returncode == 2 and len(over_live.stderr.strip().splitlines()) == 1, over_live.stderr
    assert "already holds a database" in over_live.stderr
    assert sqlite3.connect(live).execute("SELECT count(*) FROM enrollment").fetchone() == (LEARNERS,)
    again = podium("db", "backup", str(backup), env=env)
    assert again.returncode == 2 and "exists" in again.stderr   # a backup never overwrites a file


def test_on_postgresql_backup_names_pg_dump_and_exits_2(tmp_path):
    env = {**os.environ, "PODIUM_DATABASE_URL": "postgresql+asyncpg://podium:s3cret@db.example.com:5432/podium"}
    result = podium("db", "backup", str(tmp_path / "podium.dump"), env=env)
    assert result.returncode == 2
    assert "pg_dump --format=custom" in result.stderr and "postgresql://podium@db.example.com:5432/podium" in result.stderr
    assert "s3cret" not in result.stderr and not (tmp_path / "podium.dump").exists()
