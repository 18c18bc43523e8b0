"""Crash: a `podium worker` killed with SIGKILL mid-batch loses nothing once started again."""
from __future__ import annotations

import collections
import os
import signal
import subprocess
import sys

from podium.core.db import changing
from podium.core.events import emit
from podium.core.models import OutboxStatus
from tests.dispatching import eventually, logbook, outbox_rows

MESSAGES = 500


def start_worker(database_url: str, log_path, cwd) -> subprocess.Popen:
    env = {**os.environ, "PODIUM_DATABASE_URL": database_url, "PODIUM_PLUGINS": "logbook",
           "PODIUM_LOGBOOK_PATH": str(log_path), "PODIUM_LOGBOOK_DELAY_SECONDS": "0.01",
           "PODIUM_OUTBOX_CONCURRENCY": "8", "PODIUM_OUTBOX_TIMEOUT_SECONDS": "1", "PODIUM_OUTBOX_LEASE_SECONDS": "2",
           "PODIUM_OUTBOX_POLL_SECONDS": "0.2", "PODIUM_OUTBOX_BACKOFF_SECONDS": "0.1"}
    return subprocess.Popen([sys.executable, "-m", "podium.server.cli", "worker", "--log-level", "warning"],
                            env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


async def test_sigkill_mid_batch_then_restart_delivers_every_message(sessions, database_url, tmp_path):
    async with sessions() as db, changing(db):
        expected = {emit(db, "test.tick", {"n": n}, ordering_key=f"tick:{n % 50}").id for n in range(MESSAGES)}
    log_path = tmp_path / "deliveries.jsonl"

    worker = start_worker(database_url, log_path, tmp_path)
    try:
        await eventually(lambda: len(logbook(log_path)) >= 100 or worker.poll() is not None, timeout=60,
                         what="the first worker to be under way")
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=10)
    finally:
        if worker.poll() is None:
            worker.kill()
    assert worker.returncode == -signal.SIGKILL, worker.stdout.read().decode()
    at_kill = logbook(log_path)
    assert 100 <= len(at_kill) < MESSAGES      # killed in the middle of the batch
    undelivered = [m for m in await outbox_rows(sessions, kind="plugin_event") if m.status is not OutboxStatus.DELIVERED]
    assert undelivered or len(await outbox_rows(sessions, kind="plugin_event")) < MESSAGES

    worker = start_worker(database_url, log_path, tmp_path)
    try:
        await eventually(lambda: {r["id"] for r in logbook(log_path)} >= expected, timeout=120,
                         what="every message after the restart")

        async def all_delivered():
            rows = [m for m in await outbox_rows(sessions) if not m.topic.startswith("periodic.")]
            return len(rows) == 2 * MESSAGES and all(m.status is OutboxStatus.DELIVERED for m in rows)
        await eventually(all_delivered, timeout=60, what="the outbox to be drained")
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=30) == 0     # a clean stop
    finally:
        if worker.poll() is None:
            worker.kill()

    lines = logbook(log_path)
    keys = collections.Counter(r["id"] for r in lines)
    assert set(keys) == expected                # every message, and nothing that was not sent
    duplicates = {k: n for k, n in keys.items() if n > 1}
    # A duplicate is the same message again (same idempotency key), from the killed worker's unrecorded deliveries.
    assert sum(duplicates.values()) - len(duplicates) <= 8   # at most what was in flight (concurrency 8)
    print(f"delivered {len(lines)} lines for {MESSAGES} messages; {len(duplicates)} redelivered after SIGKILL")
