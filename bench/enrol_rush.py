"""A registration rush against its floor, measured in the same run on the same machine.

600 learners, each with their own bearer token, enrol in one popular session over 50 concurrent
connections: `podium serve` (GraphQL `enroll`, the in-serve outbox dispatcher running) against a raw
floor doing the same transaction per request (token check, lock, seat count, insert, audit row,
outbox row): Starlette + sqlite3 with the same `synchronous` as Podium's default on SQLite, Starlette
+ asyncpg on PostgreSQL (with as many worker processes as Podium). Each round starts from a fresh
copy of the same world, warms both servers up on another session, then rushes. After every round the
rules are checked on what was written: no overbooking (ENROLLED <= capacity), a FIFO waitlist with
positions 1..n in enrolment order, every enrolment with its audit row and its outbox row.

    .venv/bin/python bench/enrol_rush.py [--rounds 3] [--learners 600] [--connections 50]
                                         [--skip-postgresql] [--pg-dsn postgresql://postgres@127.0.0.1:5432/postgres]

Targets 127.0.0.1 only; every server it starts is stopped; the whole run stops after --max-seconds.
"""
from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import hashlib
import json
import os
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx

HERE = Path(__file__).resolve().parent
LEARNERS, CONNECTIONS, WARM_UP = 600, 50, 100
SESSION, WARM_UP_SESSION = 1, 2
GOAL_RATIO, GOAL_P99, GOAL_SCALING = 0.35, 1.0, 1.6
ENROLL = """mutation Enrol($i: EnrollInput!) { enroll(input: $i) {
  enrollment { id status waitlistPosition } errors { code field message } } }"""


def gid(type_name: str, pk: int) -> str:
    return base64.b64encode(f"{type_name}:{pk}".encode()).decode()


def token_of(learner: int) -> str:
    return f"pdm_bench_{learner:06d}_{'x' * 24}"


def sqlite_instant(moment: datetime) -> str:
    """How SQLAlchemy stores an aware UTC instant in SQLite."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f")


# --- the world: one popular session, a warm-up session, learners with tokens -------------------

async def build_world(url: str, learners: int, capacity: int) -> None:
    """Schema by the migrations, rows by bulk Core inserts."""
    from sqlalchemy import insert

    from podium.core.db import create_engine
    from podium.core.migrate import upgrade
    from podium.core.models import Base

    await asyncio.to_thread(upgrade, url)  # alembic runs its own event loop
    t = Base.metadata.tables
    now = datetime.now(timezone.utc)
    starts = (now + timedelta(days=30)).replace(minute=0, second=0, microsecond=0)
    engine = create_engine(url)
    people = learners + WARM_UP
    async with engine.begin() as conn:
        await conn.execute(insert(t["course"]), [{"id": 1, "code": "RUSH-1", "title": "A popular course",
                                                  "duration_minutes": 120, "default_capacity": capacity,
                                                  "required_qualifications": [], "created_at": now}])
        await conn.execute(insert(t["session"]), [
            {"id": sid, "course_id": 1, "title": title, "starts_at": starts, "ends_at": starts + timedelta(hours=2),
             "timezone": "Europe/London", "delivery_mode": "IN_PERSON", "status": "SCHEDULED", "capacity": cap,
             "setup_minutes": 0, "teardown_minutes": 0, "requires_approval": False, "sequence": 0,
             "created_at": now, "updated_at": now}
            for sid, title, cap in ((SESSION, "The rush", capacity), (WARM_UP_SESSION, "Warm-up", WARM_UP // 2))])
        await conn.execute(insert(t["person"]), [
            {"id": i, "name": f"Learner {i}", "email": f"learner{i}@example.com", "timezone": "Europe/London",
             "external_ids": {}, "created_at": now} for i in range(1, people + 1)])
        await conn.execute(insert(t["api_token"]), [
            {"id": i, "token_hash": hashlib.sha256(token_of(i).encode()).hexdigest(), "person_id": i,
             "role": "LEARNER", "created_at": now, "expires_at": now + timedelta(days=30)}
            for i in range(1, people + 1)])
    await engine.dispose()


# --- the floors: the same transaction, by hand --------------------------------------------------

def _answer(enrollment_id: int, status: str, position: int | None) -> bytes:
    return json.dumps({"data": {"enroll": {"enrollment": {"id": gid("Enrollment", enrollment_id), "status": status,
                                                          "waitlistPosition": position}, "errors": []}}},
                      separators=(",", ":")).encode()


def _event(enrollment_id: int, session_id: int, learner_id: int, status: str, position: int | None,
           now: datetime) -> tuple[str, str]:
    event_id = str(uuid.uuid4())
    return event_id, json.dumps({"id": event_id, "type": "enrollment.changed", "occurred_at": now.isoformat(),
                                 "payload": {"enrollment": gid("Enrollment", enrollment_id),
                                             "session": gid("Session", session_id),
                                             "learner": gid("Person", learner_id), "before": {"status": None},
                                             "after": {"status": status, "waitlistPosition": position},
                                             "reason": "enrolled"}})


def _request_of(body: bytes) -> tuple[int, int]:
    variables = json.loads(body)["variables"]["i"]
    decode = lambda value: int(base64.b64decode(value).decode().split(":", 1)[1])  # noqa: E731
    return decode(variables["sessionId"]), decode(variables["learnerId"])


def floor_app():
    """POST /graphql doing the enrolment by hand: sqlite3 (synchronous as Podium's default) or asyncpg."""
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    from podium.core.settings import Settings
    from podium.server.app import tune_garbage_collection

    url = os.environ["PODIUM_DATABASE_URL"]
    tune_garbage_collection()  # as `podium serve` does: the comparison is of the work
    unauthorised = Response(b'{"errors":[{"message":"bad token"}]}', 401, media_type="application/json")

    def bearer_hash(request: Request) -> str:
        return hashlib.sha256(request.headers["authorization"].partition(" ")[2].encode()).hexdigest()

    if url.startswith("sqlite"):
        db = sqlite3.connect(url.split("///", 1)[1], isolation_level=None, check_same_thread=False)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA foreign_keys=ON")
        db.execute(f"PRAGMA synchronous={Settings.sqlite_synchronous}")
        db.execute("PRAGMA busy_timeout=60000")

        async def enrol(request: Request) -> Response:
            session_id, learner_id = _request_of(await request.body())
            now = datetime.now(timezone.utc)
            stamp = sqlite_instant(now)
            caller = db.execute("SELECT t.role, p.id FROM api_token t JOIN person p ON p.id = t.person_id "
                                "WHERE t.token_hash = ? AND t.revoked_at IS NULL AND t.expires_at > ?",
                                (bearer_hash(request), stamp)).fetchone()
            if caller is None or caller[1] != learner_id:
                return unauthorised
            db.execute("BEGIN IMMEDIATE")
            try:
                capacity, status = db.execute("SELECT capacity, status FROM session WHERE id = ?",
                                              (session_id,)).fetchone()
                taken = db.execute("SELECT count(*) FROM enrollment WHERE session_id = ? AND status = 'ENROLLED'",
                                   (session_id,)).fetchone()[0]
                position = None
                if taken >= capacity:
                    position = db.execute("SELECT count(*) FROM enrollment WHERE session_id = ? AND "
                                          "status = 'WAITLISTED'", (session_id,)).fetchone()[0] + 1
                state = "ENROLLED" if position is None else "WAITLISTED"
                enrollment_id = db.execute(
                    "INSERT INTO enrollment (session_id, learner_id, status, waitlist_position, created_at, "
                    "updated_at) VALUES (?, ?, ?, ?, ?, ?)",
                    (session_id, learner_id, state, position, stamp, stamp)).lastrowid
                db.execute("INSERT INTO audit_entry (at, actor, action, target_type, target_id, before, after) "
                           "VALUES (?, ?, 'enrollment.create', 'Enrollment', ?, NULL, ?)",
                           (stamp, f"api:person:{learner_id}", enrollment_id,
                            json.dumps({"status": state, "waitlist_position": position})))
                event_id, payload = _event(enrollment_id, session_id, learner_id, state, position, now)
                db.execute("INSERT INTO outbox_message (kind, topic, ordering_key, payload, idempotency_key, status, "
                           "attempts, deliver_after, created_at) VALUES ('event', 'enrollment.changed', ?, ?, ?, "
                           "'PENDING', 0, ?, ?)", (f"session:{session_id}", payload, event_id, stamp, stamp))
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
            return Response(_answer(enrollment_id, state, position), media_type="application/json")

        return Starlette(routes=[Route("/graphql", enrol, methods=["POST"])])

    import asyncpg

    dsn = url.replace("postgresql+asyncpg://", "postgresql://")
    pool: list[asyncpg.Pool] = []

    @contextlib.asynccontextmanager
    async def lifespan(app):
        pool.append(await asyncpg.create_pool(dsn, min_size=10, max_size=30))  # Podium's pool: 10 + 20 overflow
        yield
        await pool[0].close()

    async def enrol_pg(request: Request) -> Response:
        session_id, learner_id = _request_of(await request.body())
        now = datetime.now(timezone.utc)
        async with pool[0].acquire() as conn:
            caller = await conn.fetchrow("SELECT t.role, p.id FROM api_token t JOIN person p ON p.id = t.person_id "
                                         "WHERE t.token_hash = $1 AND t.revoked_at IS NULL AND t.expires_at > $2",
                                         bearer_hash(request), now)
            if caller is None or caller[1] != learner_id:
                return unauthorised
            async with conn.transaction():
                capacity = await conn.fetchval("SELECT capacity FROM session WHERE id = $1 FOR UPDATE", session_id)
                taken = await conn.fetchval("SELECT count(*) FROM enrollment WHERE session_id = $1 AND "
                                            "status = 'ENROLLED'", session_id)
                position = None
                if taken >= capacity:
                    position = await conn.fetchval("SELECT count(*) FROM enrollment WHERE session_id = $1 AND "
                                                   "status = 'WAITLISTED'", session_id) + 1
                state = "ENROLLED" if position is None else "WAITLISTED"
                enrollment_id = await conn.fetchval(
                    "INSERT INTO enrollment (session_id, learner_id, status, waitlist_position, created_at, "
                    "updated_at) VALUES ($1, $2, $3, $4, $5, $5) RETURNING id",
                    session_id, learner_id, state, position, now)
                await conn.execute("INSERT INTO audit_entry (at, actor, action, target_type, target_id, before, after) "
                                   "VALUES ($1, $2, 'enrollment.create', 'Enrollment', $3, NULL, $4)",
                                   now, f"api:person:{learner_id}", enrollment_id,
                                   json.dumps({"status": state, "waitlist_position": position}))
                event_id, payload = _event(enrollment_id, session_id, learner_id, state, position, now)
                await conn.execute("INSERT INTO outbox_message (kind, topic, ordering_key, payload, idempotency_key, "
                                   "status, attempts, deliver_after, created_at) VALUES ('event', "
                                   "'enrollment.changed', $1, $2, $3, 'PENDING', 0, $4, $4)",
                                   f"session:{session_id}", payload, event_id, now)
        return Response(_answer(enrollment_id, state, position), media_type="application/json")

    return Starlette(routes=[Route("/graphql", enrol_pg, methods=["POST"])], lifespan=lifespan)


# --- servers ----------------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start(kind: str, url: str, workers: int, log: Path) -> tuple[subprocess.Popen, int]:
    port = free_port()
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("PODIUM_")},
           "PODIUM_DATABASE_URL": url, "PODIUM_RATE_LIMIT_POINTS": "0", "PODIUM_ANONYMOUS_RATE_LIMIT_POINTS": "0"}
    if kind == "podium":
        command = [sys.executable, "-m", "podium.server.cli", "serve", "--port", str(port), "--workers", str(workers),
                   "--log-level", "warning"]
    else:
        command = [sys.executable, "-m", "uvicorn", "--factory", "enrol_rush:floor_app", "--host", "127.0.0.1",
                   "--port", str(port), "--workers", str(workers), "--log-level", "warning", "--no-access-log"]
    process = subprocess.Popen(command, env=env, cwd=HERE, stdout=log.open("ab"), stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and process.poll() is None:
        try:
            httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
            return process, port
        except httpx.TransportError:
            time.sleep(0.2)
    stop(process)
    raise RuntimeError(f"{kind} did not start; see {log}")


def cpu_seconds(pid: int) -> float:
    """CPU time used so far by a process and its descendants (the uvicorn workers), from /proc."""
    ticks = os.sysconf("SC_CLK_TCK")
    children: dict[int, list[int]] = {}
    stats: dict[int, list[str]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            stats[int(entry.name)] = fields
            children.setdefault(int(fields[1]), []).append(int(entry.name))
    total, stack = 0.0, [pid]
    while stack:
        current = stack.pop()
        if current in stats:
            total += (int(stats[current][11]) + int(stats[current][12])) / ticks
        stack.extend(children.get(current, []))
    return total


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


# --- the rush ---------------------------------------------------------------------------------------

@dataclass
class Rush:
    rate: float            # enrols per second
    p99: float             # seconds
    answers: list[dict]
    cpu_ms: float = 0.0    # the server's CPU time per enrol (its processes, dispatcher included)
    rules: str = ""


class Connection:
    """One keep-alive HTTP/1.1 connection: a client this small costs the shared CPU almost nothing, so
    what is measured is the server (httpx at 50 connections spent more CPU than the floor it drove)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def post(self, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        self.writer.write(f"POST {path} HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-length: {len(body)}\r\n{head}\r\n"
                          .encode() + body)
        status = int((await self.reader.readline()).split()[1])
        length, close = None, False
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            name, value = name.strip().lower(), value.strip()
            if name == "content-length":
                length = int(value)
            elif name == "connection" and value.lower() == "close":
                close = True
        if length is None:
            raise RuntimeError("a response without content-length")
        content = await self.reader.readexactly(length)
        if close:
            self.close()
        return status, content

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.reader = self.writer = None


async def rush(port: int, session_id: int, learners: range, connections: int, deadline: float) -> Rush:
    queue = list(learners)
    latencies: list[float] = []
    answers: list[dict] = []

    async def learner_loop() -> None:
        connection = Connection(port)
        try:
            while queue:
                learner = queue.pop(0)
                body = json.dumps({"query": ENROLL, "variables": {"i": {
                    "sessionId": gid("Session", session_id), "learnerId": gid("Person", learner)}}}).encode()
                t0 = time.perf_counter()
                status, content = await asyncio.wait_for(connection.post("/graphql", body, {
                    "content-type": "application/json", "authorization": f"Bearer {token_of(learner)}"}),
                    max(deadline - time.monotonic(), 0.1))
                latencies.append(time.perf_counter() - t0)
                answer = json.loads(content) if status == 200 else {}
                if status != 200 or answer.get("errors") or answer["data"]["enroll"]["errors"]:
                    raise RuntimeError(f"learner {learner}: HTTP {status} {content[:300]!r}")
                answers.append(answer["data"]["enroll"]["enrollment"])
        finally:
            connection.close()

    t0 = time.perf_counter()
    await asyncio.gather(*(learner_loop() for _ in range(connections)))
    elapsed = time.perf_counter() - t0
    latencies.sort()
    return Rush(len(learners) / elapsed, latencies[max(int(len(latencies) * 0.99) - 1, 0)], answers)


# --- the rules, checked on what was written ----------------------------------------------------------

async def written(url: str) -> tuple[int, list[tuple], set[int], set[str]]:
    """(capacity, enrolments (id, status, position) in id order, audited enrolment ids, enrolment ids in outbox events)."""
    if url.startswith("sqlite"):
        db = sqlite3.connect(url.split("///", 1)[1])
        try:
            capacity = db.execute("SELECT capacity FROM session WHERE id = ?", (SESSION,)).fetchone()[0]
            rows = db.execute("SELECT id, status, waitlist_position FROM enrollment WHERE session_id = ? ORDER BY id",
                              (SESSION,)).fetchall()
            audited = {r[0] for r in db.execute("SELECT target_id FROM audit_entry WHERE action = 'enrollment.create' "
                                                "AND target_type = 'Enrollment'")}
            payloads = [r[0] for r in db.execute("SELECT payload FROM outbox_message WHERE kind = 'event' "
                                                 "AND topic = 'enrollment.changed'")]
        finally:
            db.close()
    else:
        import asyncpg

        conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
        try:
            capacity = await conn.fetchval("SELECT capacity FROM session WHERE id = $1", SESSION)
            rows = [tuple(r) for r in await conn.fetch("SELECT id, status, waitlist_position FROM enrollment "
                                                       "WHERE session_id = $1 ORDER BY id", SESSION)]
            audited = {r[0] for r in await conn.fetch("SELECT target_id FROM audit_entry WHERE "
                                                      "action = 'enrollment.create' AND target_type = 'Enrollment'")}
            payloads = [r[0] for r in await conn.fetch("SELECT payload::text FROM outbox_message WHERE kind = 'event' "
                                                       "AND topic = 'enrollment.changed'")]
        finally:
            await conn.close()
    in_outbox = {json.loads(p)["payload"]["enrollment"] for p in payloads}
    return capacity, rows, audited, in_outbox


async def check_rules(url: str, answers: list[dict], learners: int) -> str:
    capacity, rows, audited, in_outbox = await written(url)
    enrolled = [r for r in rows if r[1] == "ENROLLED"]
    waitlisted = [r for r in rows if r[1] == "WAITLISTED"]
    problems = []
    if len(rows) != learners or len(answers) != learners:
        problems.append(f"{len(rows)} enrolments written and {len(answers)} answered for {learners} learners")
    if len(enrolled) > capacity:
        problems.append(f"rule 1: {len(enrolled)} ENROLLED in a session of {capacity}")
    if len(enrolled) < min(capacity, learners):
        problems.append(f"rule 1: only {len(enrolled)} seats taken of {capacity} with {learners} learners asking")
    if [r[2] for r in waitlisted] != list(range(1, len(waitlisted) + 1)):
        problems.append("rule 3: waitlist positions are not 1..n in enrolment order")
    if enrolled and waitlisted and max(r[0] for r in enrolled) > min(r[0] for r in waitlisted):
        problems.append("rule 3: a later enrolment took a seat while an earlier one waits")
    by_id = {gid("Enrollment", r[0]): r for r in rows}
    if any(by_id[a["id"]][1] != a["status"] or by_id[a["id"]][2] != a["waitlistPosition"] for a in answers):
        problems.append("an answer differs from what was written")
    missing_audit = {r[0] for r in rows} - audited
    missing_outbox = {gid("Enrollment", r[0]) for r in rows} - in_outbox
    if missing_audit:
        problems.append(f"rule 6: {len(missing_audit)} enrolments without their audit row")
    if missing_outbox:
        problems.append(f"rule 7: {len(missing_outbox)} enrolments without their outbox row")
    if problems:
        raise AssertionError("; ".join(problems))
    return (f"rules hold: {len(enrolled)} enrolled <= capacity {capacity}, waitlist 1..{len(waitlisted)} FIFO, "
            f"{len(rows)} audit rows, {len(rows)} outbox rows")


# --- databases per round --------------------------------------------------------------------------------

class Databases:
    """A fresh copy of the built world for each server of each round."""

    def __init__(self, backend: str, workdir: Path, pg_dsn: str, learners: int, capacity: int) -> None:
        self.backend, self.workdir, self.pg_dsn = backend, workdir, pg_dsn
        self.learners, self.capacity = learners, capacity
        self.made: list[str] = []
        self.template = f"podium_rush_template_{os.getpid()}"

    async def _admin(self, statement: str) -> None:
        import asyncpg

        conn = await asyncpg.connect(self.pg_dsn)
        try:
            await conn.execute(statement)
        finally:
            await conn.close()

    def _pg_url(self, name: str) -> str:
        return self.pg_dsn.replace("postgresql://", "postgresql+asyncpg://").rsplit("/", 1)[0] + f"/{name}"

    async def build(self) -> None:
        if self.backend == "sqlite":
            await build_world(f"sqlite+aiosqlite:///{self.workdir / 'world.db'}", self.learners, self.capacity)
        else:
            await self._admin(f'DROP DATABASE IF EXISTS "{self.template}"')
            await self._admin(f'CREATE DATABASE "{self.template}"')
            await build_world(self._pg_url(self.template), self.learners, self.capacity)

    async def fresh(self) -> str:
        name = f"podium_rush_{os.getpid()}_{len(self.made)}"
        if self.backend == "sqlite":
            path = self.workdir / f"{name}.db"
            shutil.copy(self.workdir / "world.db", path)
            url = f"sqlite+aiosqlite:///{path}"
        else:
            await self._admin(f'CREATE DATABASE "{name}" TEMPLATE "{self.template}"')
            url = self._pg_url(name)
        self.made.append(name)
        return url

    async def drop_all(self) -> None:
        if self.backend == "postgresql":
            for name in [*self.made, self.template]:
                await self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def one_server(kind: str, url: str, workers: int, args, log: Path) -> Rush:
    process, port = start(kind, url, workers, log)
    try:
        deadline = time.monotonic() + args.request_seconds
        await rush(port, WARM_UP_SESSION, range(args.learners + 1, args.learners + WARM_UP + 1), args.connections,
                   deadline)
        cpu = cpu_seconds(process.pid)
        result = await rush(port, SESSION, range(1, args.learners + 1), args.connections, deadline)
        await asyncio.sleep(args.drain_seconds)  # the dispatcher's work for these enrols is part of their cost
        result.cpu_ms = (cpu_seconds(process.pid) - cpu) * 1000 / args.learners
    finally:
        stop(process)
    result.rules = await check_rules(url, result.answers, args.learners)
    return result


async def configuration(name: str, backend: str, workers: int, args, workdir: Path) -> dict:
    databases = Databases(backend, workdir, args.pg_dsn, args.learners, args.capacity)
    await databases.build()
    ours, floors = [], []
    try:
        for number in range(1, args.rounds + 1):
            if time.monotonic() > args.stop_at:
                print(f"  {name}: out of time after {number - 1} rounds")
                break
            podium = await one_server("podium", await databases.fresh(), workers, args, workdir / "podium.log")
            floor = await one_server("floor", await databases.fresh(), workers, args, workdir / "floor.log")
            ours.append(podium)
            floors.append(floor)
            print(f"  {name} round {number}: podium {podium.rate:7.1f}/s p99 {podium.p99 * 1000:6.0f} ms "
                  f"CPU {podium.cpu_ms:5.1f} ms/enrol | floor {floor.rate:7.1f}/s p99 {floor.p99 * 1000:6.0f} ms "
                  f"CPU {floor.cpu_ms:5.1f} ms/enrol | ratio {podium.rate / floor.rate:4.2f}"
                  f"\n    podium: {podium.rules}\n    floor:  {floor.rules}", flush=True)
    finally:
        await databases.drop_all()
    rate, floor_rate = statistics.median(r.rate for r in ours), statistics.median(r.rate for r in floors)
    return {"name": name, "rate": rate, "p99": statistics.median(r.p99 for r in ours), "floor": floor_rate,
            "cpu": statistics.median(r.cpu_ms for r in ours), "floor_cpu": statistics.median(r.cpu_ms for r in floors),
            "floor_p99": statistics.median(r.p99 for r in floors), "ratio": rate / floor_rate}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--learners", type=int, default=LEARNERS)
    parser.add_argument("--capacity", type=int, default=200, help="seats in the popular session")
    parser.add_argument("--connections", type=int, default=CONNECTIONS)
    parser.add_argument("--skip-postgresql", action="store_true")
    parser.add_argument("--only", choices=("sqlite", "postgresql"), help="one backend only")
    parser.add_argument("--pg-dsn", default=os.environ.get("PODIUM_TEST_PG_DSN",
                                                           "postgresql://postgres@127.0.0.1:5432/postgres"))
    parser.add_argument("--request-seconds", type=float, default=120, help="time limit of one rush")
    parser.add_argument("--drain-seconds", type=float, default=2.0,
                        help="after a rush, time for the outbox dispatcher to finish, counted in the CPU per enrol")
    parser.add_argument("--max-seconds", type=float, default=1200, help="no new round starts after this")
    args = parser.parse_args()
    if "127.0.0.1" not in args.pg_dsn and "localhost" not in args.pg_dsn:
        parser.error("the benchmark targets 127.0.0.1 only")
    args.stop_at = time.monotonic() + args.max_seconds
    plan = [("SQLite, 1 worker", "sqlite", 1)]
    if not args.skip_postgresql and args.only != "sqlite":
        plan += [("PostgreSQL, 1 worker", "postgresql", 1), ("PostgreSQL, 2 workers", "postgresql", 2)]
    if args.only == "postgresql":
        plan = plan[1:]
    print(f"{args.learners} learners rush one session of {args.capacity} seats over {args.connections} connections, "
          f"{args.rounds} rounds each (medians below)", flush=True)
    results = []
    with tempfile.TemporaryDirectory(prefix="podium-rush-") as workdir:
        for name, backend, workers in plan:
            results.append(asyncio.run(configuration(name, backend, workers, args, Path(workdir))))
    print()
    for r in results:
        print(f"{r['name']:<22} podium {r['rate']:7.1f} enrols/s p99 {r['p99'] * 1000:6.0f} ms   "
              f"floor {r['floor']:7.1f} enrols/s p99 {r['floor_p99'] * 1000:6.0f} ms   ratio {r['ratio']:4.2f}   "
              f"(server CPU per enrol: podium {r['cpu']:.1f} ms, floor {r['floor_cpu']:.1f} ms)")
    by_name = {r["name"]: r for r in results}
    sqlite_one = by_name.get("SQLite, 1 worker")
    if sqlite_one:
        met = sqlite_one["ratio"] >= GOAL_RATIO and sqlite_one["p99"] <= GOAL_P99
        print(f"goal SQLite 1 worker: ratio >= {GOAL_RATIO} and p99 <= {GOAL_P99:g} s: {'met' if met else 'NOT met'}")
    one, two = by_name.get("PostgreSQL, 1 worker"), by_name.get("PostgreSQL, 2 workers")
    if one and two:
        scaling = two["rate"] / one["rate"]
        print(f"goal PostgreSQL 2 workers >= {GOAL_SCALING}x 1 worker: {scaling:.2f}x: "
              f"{'met' if scaling >= GOAL_SCALING else 'NOT met'}")


if __name__ == "__main__":
    sys.path.insert(0, str(HERE.parent))
    main()
