"""Live updates across processes: two `podium serve` processes on one database and one Redis (our own
redis-server, restarted mid-test); a subscriber on one hears every change made through the other."""
from __future__ import annotations

import asyncio
import json
import time
import uuid
from datetime import timedelta

import httpx
import pytest
import websockets

from tests.server import graph as g
from tests.server.conftest import ADMIN_TOKEN, Api
from tests.server.scale_out import RedisServer, Serve, next_message

SESSIONS = 5
PER_SESSION = 10
CAPACITY = 25
WATCH = "subscription($id: ID!) { sessionChanged(sessionId: $id) { id seatsTaken startsAt } }"
RESCHEDULE = """mutation($i: RescheduleSessionInput!) { rescheduleSession(input: $i) { errors { code } } }"""


@pytest.fixture
def redis_server(tmp_path):
    server = RedisServer(tmp_path)
    server.start()
    yield server
    server.stop()


class Subscriber:
    """One WebSocket to process A, subscribed to sessionChanged for each session; keeps every push."""

    def __init__(self, ws, session_ids: list[str]) -> None:
        self.ws, self.session_ids = ws, session_ids
        self.pushes: dict[str, list[dict]] = {s: [] for s in session_ids}
        self.arrived = asyncio.Condition()
        self.task: asyncio.Task | None = None

    async def start(self) -> None:
        deadline = time.monotonic() + 30
        await self.ws.send(json.dumps({"type": "connection_init", "payload": {"Authorization": f"Bearer {ADMIN_TOKEN}"}}))
        assert (await next_message(self.ws, deadline))["type"] == "connection_ack"
        for n, session in enumerate(self.session_ids):
            await self.ws.send(json.dumps({"id": str(n), "type": "subscribe", "payload": {
                "query": WATCH, "variables": {"id": session}}}))
        self.task = asyncio.create_task(self._collect())

    async def _collect(self) -> None:
        while True:
            message = await next_message(self.ws, time.monotonic() + 600)
            assert message["type"] == "next", message
            pushed = message["payload"]["data"]["sessionChanged"]
            async with self.arrived:
                self.pushes[pushed["id"]].append(pushed)
                self.arrived.notify_all()

    async def until(self, session: str, check, seconds: float = 60, since: int = 0) -> None:
        """Wait for a push of `session` (from the `since`th on) that passes `check`."""
        async with self.arrived:
            try:
                await asyncio.wait_for(self.arrived.wait_for(
                    lambda: any(check(p) for p in self.pushes[session][since:])), seconds)
            except TimeoutError:
                raise AssertionError(f"{session}: no such push within {seconds}s; got {self.pushes[session]}") from None

    def seat_counts(self, session: str, since: int = 0) -> list[int]:
        """The seat counts pushed, repeats of one state (a re-read after a reconnection) counted once."""
        counts = [p["seatsTaken"] for p in self.pushes[session][since:]]
        return [c for i, c in enumerate(counts) if i == 0 or c != counts[i - 1]]


async def test_a_subscriber_on_one_process_hears_every_change_made_through_another(database_url, redis_server,
                                                                                     tmp_path):
    env = {"PODIUM_DATABASE_URL": database_url, "PODIUM_REDIS_URL": redis_server.url,
           "PODIUM_REDIS_PREFIX": f"test-{uuid.uuid4().hex[:8]}", "PODIUM_PLUGINS": "webhook"}
    a, b = Serve(tmp_path, env, name="a"), Serve(tmp_path, env, name="b")
    try:
        await asyncio.gather(a.until_up(), b.until_up())
        async with httpx.AsyncClient(base_url=b.base, timeout=60) as client, \
                websockets.connect(f"ws://127.0.0.1:{a.port}/graphql", subprotocols=["graphql-transport-ws"]) as ws:
            api = Api(client)
            course, lead = await g.course(api), await g.instructor(api)
            sessions = [await g.session(api, course, [lead], capacity=CAPACITY, starts_at=g.at(days=7 + n))
                        for n in range(SESSIONS)]
            learners = [await g.person(api) for _ in range(2 * PER_SESSION)]
            subscriber = Subscriber(ws, sessions)
            await subscriber.start()

            # Each subscription is listening once a change made through B reaches it through A (a
            # subscribe is acknowledged by nothing but its first push): move each session by a minute.
            for n, session in enumerate(sessions):
                for minute in range(1, 60):
                    starts_at = g.at(days=7 + n) + timedelta(minutes=minute)
                    data = await api.data(RESCHEDULE, {"i": {"sessionId": session, "startsAt": starts_at.isoformat(),
                                                             "endsAt": (starts_at + timedelta(hours=1)).isoformat()}})
                    assert data["rescheduleSession"]["errors"] == []
                    try:
                        await subscriber.until(session, lambda p: p["seatsTaken"] == 0, seconds=2)
                        break
                    except AssertionError:
                        continue
            started = {s: len(subscriber.pushes[s]) for s in sessions}

            # 50 enrolments through B, in turns over the sessions; each reaches A's subscriber, in order.
            for n in range(PER_SESSION):
                for session in sessions:
                    assert (await g.enroll(api, session, learners[n]))["errors"] == []
                    await subscriber.until(session, lambda p, n=n: p["seatsTaken"] == n + 1, since=started[session])
            for session in sessions:
                assert subscriber.seat_counts(session, started[session]) == list(range(1, PER_SESSION + 1))

            # 50 more as fast as B takes them, while Redis is stopped and started again: A's subscriber
            # reconnects, re-reads, and ends on every session's final seat count, never going back.
            async def rush() -> None:
                for n in range(PER_SESSION, 2 * PER_SESSION):
                    for session in sessions:
                        assert (await g.enroll(api, session, learners[n]))["errors"] == []
                        if n == PER_SESSION + 3 and session == sessions[0]:
                            redis_server.stop()
                        if n == PER_SESSION + 6 and session == sessions[0]:
                            redis_server.start()

            before_rush = {s: len(subscriber.pushes[s]) for s in sessions}
            await rush()
            for session in sessions:
                await subscriber.until(session, lambda p: p["seatsTaken"] == 2 * PER_SESSION, since=before_rush[session])
                counts = subscriber.seat_counts(session, before_rush[session])
                assert counts == sorted(counts) and counts[-1] == 2 * PER_SESSION, counts
            subscriber.task.cancel()
        assert "Redis subscription lost" in a.output() and "Redis subscription restored" in a.output()
    finally:
        a.stop()
        b.stop()


async def test_two_workers_without_redis_warn_and_both_log_json_with_request_ids(tmp_path):
    server = Serve(tmp_path, {"PODIUM_LOG_FORMAT": "json", "PODIUM_PLUGINS": "webhook"}, workers=2)
    sent = [f"probe-{n}" for n in range(30)]
    try:
        await server.until_up()
        for request_id in sent:  # a connection each, so the kernel hands them to either worker
            async with httpx.AsyncClient(base_url=server.base, timeout=30) as client:
                answer = await client.get("/readyz", headers={"X-Request-ID": request_id})
                assert answer.headers["X-Request-ID"] == request_id
    finally:
        server.stop()
    lines = [line for line in server.output().splitlines() if line.strip()]
    banner = [line for line in lines if line.startswith("Podium on http://")]
    entries = [json.loads(line) for line in lines if line not in banner]  # every other line is JSON
    assert len(banner) == 1
    [warning] = [e for e in entries if e["level"] == "WARNING" and e["logger"] == "podium.server"]
    assert "2 workers without PODIUM_REDIS_URL" in warning["message"] and "per worker" in warning["message"]
    started = {e["pid"] for e in entries if e["logger"] == "podium.outbox" and "started" in e["message"]}
    assert len(started) == 2, "Podium's INFO lines come from both worker processes"
    answered = {e["request_id"]: e["pid"] for e in entries if e["logger"] == "uvicorn.access" and e["request_id"]}
    assert set(sent) <= set(answered), "each request's access line names its request id"
    assert {answered[r] for r in sent} <= started
