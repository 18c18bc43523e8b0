"""Crash: a real `podium serve` killed with SIGKILL while 300 clients enrol, each with its own
Idempotency-Key, then started again. The clients retry with their keys until they get an answer:
every learner is enrolled exactly once, no client is told ALREADY_ENROLLED about its own change
(a third of them also give up on their first answer, as a portal whose connection drops would),
every client's answer is the one stored with its change, and rules 1-3 hold. Both databases."""
from __future__ import annotations

import asyncio
import os
import random
import signal
import socket
import subprocess
import sys
import time
from collections import Counter

import httpx
from sqlalchemy import text

from podium.core.ids import to_global_id
from tests import builders as b
from tests.server import graph as g
from tests.server.rules import broken_rules

CLIENTS = 300
SESSIONS = 3
CAPACITY = 40
KILL_AFTER = 60  # answers received before the SIGKILL
TOKEN = "crash-test-admin-token-0123456789abcdef"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _start(database_url: str, port: int, cwd) -> subprocess.Popen:
    env = {**os.environ, "PODIUM_DATABASE_URL": database_url, "PODIUM_ADMIN_TOKEN": TOKEN, "PODIUM_PLUGINS": "",
           "PODIUM_OUTBOX_IN_SERVE": "false"}
    return subprocess.Popen([sys.executable, "-m", "podium.server.cli", "serve", "--port", str(port),
                             "--log-level", "warning"], env=env, cwd=cwd, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)


async def _until_ready(client: httpx.AsyncClient, server: subprocess.Popen) -> None:
    for _ in range(600):
        assert server.poll() is None, server.stderr.read().decode()[-2000:]
        try:
            if (await client.get("/healthz")).status_code == 200:
                return
        except httpx.TransportError:
            pass
        await asyncio.sleep(0.05)
    raise AssertionError("podium serve did not answer /healthz within 30 s")


class Client:
    """One portal user enrolling once: retries with its key until an answer arrives."""

    def __init__(self, n: int, session_id: str, learner_id: str) -> None:
        self.key = f"crash-enrol-{n}"
        self.impatient = n % 3 == 0  # gives up on its first answer at once: the answer is lost, the change is not
        self.body = {"query": g.ENROLL, "variables": {"i": {"sessionId": session_id, "learnerId": learner_id}}}
        self.answers: list[httpx.Response] = []
        self.attempts = 0

    async def send(self, client: httpx.AsyncClient) -> httpx.Response:
        while True:
            self.attempts += 1
            timeout = httpx.Timeout(60, read=0.02) if self.impatient and self.attempts == 1 else httpx.USE_CLIENT_DEFAULT
            try:
                answer = await client.post("/graphql", json=self.body, timeout=timeout, headers={
                    "Authorization": f"Bearer {TOKEN}", "Idempotency-Key": self.key})
            except httpx.TransportError:  # the server died under us, or is not back yet
                await asyncio.sleep(0.2 + random.random() * 0.3)
                continue
            if answer.status_code == 503:
                await asyncio.sleep(0.2 + random.random() * 0.3)
                continue
            self.answers.append(answer)
            return answer


async def test_sigkill_during_300_keyed_enrolments(sessions, database_url, tmp_path):
    course = await b.course(sessions)
    instructor = await b.instructor(sessions)
    session_ids = [to_global_id("Session", (await b.session(sessions, course_id=course.id,
                                                             instructor_ids=[instructor.id],
                                                             starts_at=b.soon(days=5 + n), capacity=CAPACITY)).id)
                   for n in range(SESSIONS)]
    learners = [to_global_id("Person", pk) for pk in await b.people(sessions, CLIENTS)]
    clients = [Client(n, session_ids[n % SESSIONS], learner) for n, learner in enumerate(learners)]

    port = _free_port()
    limits = httpx.Limits(max_connections=CLIENTS + 10, max_keepalive_connections=CLIENTS + 10)
    server = _start(database_url, port, tmp_path)
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", limits=limits, timeout=60) as client:
            await _until_ready(client, server)
            started = time.monotonic()
            running = [asyncio.create_task(c.send(client)) for c in clients]
            while sum(t.done() for t in running) < KILL_AFTER:
                await asyncio.sleep(0.005)
            server.send_signal(signal.SIGKILL)
            server.wait(timeout=10)
            answered_before_kill = sum(t.done() for t in running)
            server = _start(database_url, port, tmp_path)
            await asyncio.wait_for(asyncio.gather(*running), timeout=240)
            took = time.monotonic() - started
            # Every client asks once more: the stored answer again, whatever happened before.
            await asyncio.wait_for(asyncio.gather(*(c.send(client) for c in clients)), timeout=240)
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
    finally:
        if server.poll() is None:
            server.kill()

    assert answered_before_kill < CLIENTS  # killed in the middle of the storm
    first = [c.answers[0] for c in clients]
    assert Counter(a.status_code for a in first) == {200: CLIENTS}
    payloads = [a.json()["data"]["enroll"] for a in first]
    assert [p["errors"] for p in payloads if p["errors"]] == []  # never ALREADY_ENROLLED for its own change
    assert [c.key for c in clients if c.answers[1].content != c.answers[0].content] == []
    assert all(c.answers[1].headers.get("idempotent-replayed") == "true" for c in clients)
    replayed = sum(c.answers[0].headers.get("idempotent-replayed") == "true" for c in clients)
    assert replayed > 0  # some first answers were lost after their change committed

    async with sessions() as db:
        rows = (await db.execute(text("SELECT learner_id, id, status, waitlist_position FROM enrollment"))).all()
    per_learner = Counter(row.learner_id for row in rows)
    assert len(rows) == CLIENTS and set(per_learner.values()) == {1}  # every learner exactly once
    stored = {to_global_id("Enrollment", row.id): (row.status, row.waitlist_position) for row in rows}
    told = {p["enrollment"]["id"]: (p["enrollment"]["status"], p["enrollment"]["waitlistPosition"])
            for p in payloads}
    assert told == stored  # what each client was told is what the database holds
    assert Counter(status for status, _ in stored.values()) == {"ENROLLED": SESSIONS * CAPACITY,
                                                                 "WAITLISTED": CLIENTS - SESSIONS * CAPACITY}
    assert await broken_rules(sessions) == []
    print(f"{answered_before_kill} answered before SIGKILL; {replayed} clients got a stored answer after losing "
          f"the first; all answered {took:.1f} s after the start; {sum(c.attempts for c in clients)} requests for {CLIENTS} enrolments")
