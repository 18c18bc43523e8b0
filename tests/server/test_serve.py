"""`podium serve --demo` on a fresh directory: migrates SQLite, loads the demo, answers /healthz."""
from __future__ import annotations

import asyncio
import os
import re
import socket
import sqlite3
import subprocess
import sys
import time

import httpx
from sqlalchemy import select

from podium.core.db import create_engine, create_sessionmaker
from podium.core.models import Program, ProgramStage, StageKind
from podium.core.services.journeys import readiness


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_serve_with_demo_on_a_fresh_sqlite(tmp_path):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PODIUM_")}
    server = subprocess.Popen([sys.executable, "-m", "podium.server.cli", "serve", "--demo", "--port", str(port)],
                              cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 90
        answer = None
        while time.monotonic() < deadline and server.poll() is None:
            try:
                answer = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
                break
            except httpx.TransportError:
                time.sleep(0.3)
        assert answer is not None, server.stdout.read() if server.poll() is not None else "no answer"
        assert (answer.status_code, answer.json()) == (200, {"status": "ok"})
    finally:
        server.terminate()
        server.wait(timeout=20)
    db = sqlite3.connect(tmp_path / "podium.db")
    sessions, waitlisted = db.execute(
        "SELECT (SELECT count(*) FROM session), (SELECT count(*) FROM enrollment WHERE status = 'WAITLISTED')").fetchone()
    assert sessions == 50 and waitlisted > 0
    # uvicorn re-raises the SIGTERM it caught once shutdown is complete, hence -15 rather than 0.
    output = server.stdout.read()
    assert server.returncode == -15 and "Application shutdown complete" in output, output
    assert re.search(r"outbox dispatcher \S+ stopped", output), output
    ready, missing = asyncio.run(_demo_readiness(f"sqlite+aiosqlite:///{tmp_path / 'podium.db'}"))
    assert ready and missing, "the demo program's live sessions show ready and not-ready learners"
    assert missing <= {("Pre-work",)}


async def _demo_readiness(url: str) -> tuple[int, set]:
    """How many of the demo program's learners are ready for its live sessions, and what the rest miss."""
    engine = create_engine(url)
    try:
        async with create_sessionmaker(engine)() as db:
            (program_id,) = (await db.scalars(select(Program.id))).all()
            sessions = (await db.scalars(select(ProgramStage.session_id).where(
                ProgramStage.program_id == program_id, ProgramStage.kind == StageKind.LIVE))).all()
            entries = [e for s in sessions for e in await readiness(db, program_id, s)]
    finally:
        await engine.dispose()
    return sum(e.ready for e in entries), {e.missing_stages for e in entries if not e.ready}
