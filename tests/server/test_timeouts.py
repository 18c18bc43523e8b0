"""A request over PODIUM_REQUEST_TIMEOUT_SECONDS is answered TIMEOUT and its SQL is stopped; SIGTERM
stops `podium serve` within its graceful timeout whatever a request is doing."""
from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import asyncpg
import httpx
import pytest
from sqlalchemy import text

from podium.core.db import is_sqlite
from podium.core.settings import Settings
from podium.schema.scheduling import queries
from podium.server.app import create_app
from podium.server.shutdown import GRACEFUL_SECONDS, WATCHDOG_MARGIN_SECONDS
from tests.conftest import PG_ADMIN_DSN
from tests.server import graph as g
from tests.server.conftest import ADMIN_TOKEN, Api
from tests.server.test_serve import free_port

BOOKINGS = """query($id: ID!) { node(id: $id) { ... on Resource {
  bookings(from: "2030-01-01T00:00:00+00:00", to: "2030-01-02T00:00:00+00:00") { startsAt } } } }"""
# Minutes of work for SQLite, unless something stops it; PostgreSQL sleeps.
SLOW_SQLITE = ("WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 4000000000) "
               "SELECT count(*) FROM c")
SLOW_POSTGRES = "SELECT pg_sleep(600) AS podium_slow_statement"


async def _pg_sleepers() -> int:
    conn = await asyncpg.connect(PG_ADMIN_DSN)
    try:
        return await conn.fetchval("SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%podium_slow_statement%'"
                                   " AND pid <> pg_backend_pid()")
    finally:
        await conn.close()


async def test_a_request_over_the_timeout_is_stopped_with_its_sql(database_url, monkeypatch):
    slow = SLOW_SQLITE if is_sqlite(database_url) else SLOW_POSTGRES
    ran: list[str] = []

    async def slow_bookings(info, resource, from_, to):
        async with info.context.reading() as db:
            ran.append("started")
            await db.execute(text(slow))
        ran.append("finished")
        return []

    app = create_app(Settings(database_url=database_url, admin_token=ADMIN_TOKEN, request_timeout_seconds=1))
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://podium.test") as client:
            api = Api(client)
            room = await g.room(api)
            monkeypatch.setattr(queries, "resource_bookings", slow_bookings)
            # Returns once the app is done with the request, connection closed: minutes if the SQL ran on.
            response = await asyncio.wait_for(api.raw(BOOKINGS, {"id": room}), 120)
            assert response.status_code == 503, response.text
            assert [e["extensions"]["code"] for e in response.json()["errors"]] == ["TIMEOUT"]
            assert ran == ["started"]
            if not is_sqlite(database_url):
                for _ in range(100):  # the cancel reaches the server at once; the backend may take a moment
                    if await _pg_sleepers() == 0:
                        break
                    await asyncio.sleep(0.1)
                assert await _pg_sleepers() == 0
            monkeypatch.undo()
            assert (await api.data("{ courses { totalCount } }"))["courses"]["totalCount"] == 0  # serving on
    finally:
        await app.state.podium.engine.dispose()


def test_sigterm_stops_serve_even_while_a_request_blocks_it(tmp_path):
    """The request blocks the event loop itself (the worst case): uvicorn cannot finish its graceful
    shutdown, so the watchdog ends the process once the graceful timeout and its margin are over."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PODIUM_")}
    env.update(PODIUM_ADMIN_TOKEN=ADMIN_TOKEN, PYTHONPATH=str(Path(__file__).resolve().parents[2]),
               PODIUM_DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'podium.db'}")
    server = subprocess.Popen([sys.executable, "-m", "tests.server.slow_serve", "serve", "--port", str(port)],
                              cwd=Path(__file__).resolve().parents[2], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while server.poll() is None and time.monotonic() < deadline:
            try:
                httpx.get(f"{base}/healthz", timeout=2)
                break
            except httpx.TransportError:
                time.sleep(0.3)
        headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
        room = httpx.post(f"{base}/graphql", headers=headers, timeout=30, json={
            "query": g.RESOURCE, "variables": {"i": {"kind": "ROOM", "name": "R", "timezone": "UTC", "capacity": 5}}},
        ).json()["data"]["createResource"]["resource"]["id"]
        threading.Thread(target=lambda: _ignore_errors(lambda: httpx.post(
            f"{base}/graphql", headers=headers, timeout=120, json={"query": BOOKINGS, "variables": {"id": room}})),
            daemon=True).start()
        while True:  # until the event loop is blocked: /healthz stops answering
            try:
                httpx.get(f"{base}/healthz", timeout=1)
                time.sleep(0.1)
            except httpx.TimeoutException:
                break
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=GRACEFUL_SECONDS + WATCHDOG_MARGIN_SECONDS + 15)
        except subprocess.TimeoutExpired:
            pytest.fail("podium serve was still running after SIGTERM and its graceful timeout")
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
    output = server.stdout.read()
    assert server.returncode == 1, output
    assert "did not stop within the graceful timeout" in output, output


def _ignore_errors(call) -> None:
    try:
        call()
    except httpx.HTTPError:
        pass
