"""Periodic jobs across real `podium worker` processes: each tick once, counted in the database; a past
session COMPLETED once with one `session.completed` event, also when the worker holding its tick is SIGKILLed."""
from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import select

from podium.core.db import create_engine, create_sessionmaker
from podium.core.ids import from_global_id
from podium.core.instants import utc_now
from podium.core.models import AuditEntry, OutboxMessage, OutboxStatus, PeriodicRun, Session, SessionStatus
from podium.core.services import periodic
from tests import builders as b
from tests.dispatching import eventually, outbox_rows

TICK_SECONDS = 1.0
TICKS = 20
WORKERS = 3
JOBS = ("complete_sessions", "lms_sync", "prune", "remind_evaluations")
"""Every job whose interval can be a second; `room_calendars` (the venues plugin reads calendars at most
every minute) runs on the same ticks: tests/plugins/venues/test_calendar_schedule.py."""


def start_worker(database_url: str, tmp_path, n: int, **env) -> subprocess.Popen:
    """`podium worker` as its own OS process, with one-second ticks and short outbox timings."""
    env = {**os.environ, "PODIUM_DATABASE_URL": database_url, "PODIUM_PLUGINS": "logbook",
           "PODIUM_LOGBOOK_PATH": str(tmp_path / "logbook.jsonl"),
           "PODIUM_COMPLETE_SESSIONS_EVERY_SECONDS": str(TICK_SECONDS), "PODIUM_PRUNE_EVERY_SECONDS": str(TICK_SECONDS),
           "PODIUM_REMIND_EVALUATIONS_EVERY_SECONDS": str(TICK_SECONDS),
           "PODIUM_PROGRAM_SYNC_HOURS": repr(TICK_SECONDS / 3600), "PODIUM_SESSION_COMPLETION_GRACE_MINUTES": "0", "PODIUM_OUTBOX_POLL_SECONDS": "0.1",
           "PODIUM_OUTBOX_BACKOFF_SECONDS": "0.1", **env}
    log = open(tmp_path / f"worker-{n}.log", "wb")
    return subprocess.Popen([sys.executable, "-m", "podium.server.cli", "worker", "--log-level", "warning"],
                            env=env, cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT)


def stop(workers: list[subprocess.Popen], tmp_path) -> None:
    """SIGTERM each live worker; each must stop cleanly (exit 0)."""
    for worker in workers:
        if worker.poll() is None:
            worker.send_signal(signal.SIGTERM)
    try:
        for n, worker in enumerate(workers):
            if worker.returncode != -signal.SIGKILL:
                code = worker.wait(timeout=60)
                assert code == 0, (tmp_path / f"worker-{n}.log").read_text()
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()


async def runs(sessions, job: str) -> list[PeriodicRun]:
    async with sessions() as db:
        return list((await db.scalars(select(PeriodicRun).where(PeriodicRun.job == job)
                                      .order_by(PeriodicRun.due_at))).all())


async def finished(sessions, job: str) -> int:
    return len([r for r in await runs(sessions, job) if r.finished_at is not None])


async def sessions_ending(sessions, ends: list) -> list[int]:
    """One virtual session per moment, each with its own instructor (so none clashes), ending then."""
    course = await b.course(sessions)
    ids = []
    for end in ends:
        teacher = await b.instructor(sessions)
        made = await b.session(sessions, course_id=course.id, instructor_ids=[teacher.id],
                               starts_at=end - timedelta(hours=1), minutes=60)
        ids.append(made.id)
    return ids


async def completion_record(sessions, session_ids: list[int]) -> tuple[dict, Counter, Counter]:
    """Each session's status, and per session: `session.completed` events and `session.complete` audit rows."""
    async with sessions() as db:
        statuses = dict((await db.execute(select(Session.id, Session.status).where(Session.id.in_(session_ids)))).all())
        audit = Counter((await db.scalars(select(AuditEntry.target_id).where(
            AuditEntry.action == "session.complete"))).all())
    events = Counter(from_global_id(m.payload["payload"]["session"])[1]
                     for m in await outbox_rows(sessions, kind="event", topic="session.completed"))
    return statuses, events, audit


async def test_three_workers_run_each_periodic_tick_once_over_twenty_ticks(sessions, database_url, tmp_path):
    """Twenty sessions end a second apart while three workers run: every tick of every job has one run row
    with one attempt, every tick message was delivered once, and every session was completed exactly once."""
    first = utc_now() + timedelta(seconds=3)
    session_ids = await sessions_ending(sessions, [first + timedelta(seconds=k * TICK_SECONDS) for k in range(TICKS)])
    workers = [start_worker(database_url, tmp_path, n) for n in range(WORKERS)]
    try:
        for job in JOBS:
            await eventually(lambda: _enough(sessions, job), timeout=180, interval=0.5,
                             what=f"{TICKS} ticks of {job}")
        await eventually(lambda: _all_completed(sessions, session_ids), timeout=120, interval=0.5,
                         what="every session completed")
    finally:
        stop(workers, tmp_path)

    owners = Counter()
    for job in JOBS:
        done = await runs(sessions, job)
        assert len(done) >= TICKS
        assert all(r.finished_at is not None and r.attempts == 1 for r in done), [
            (r.due_at, r.attempts, r.owner) for r in done if r.finished_at is None or r.attempts != 1]
        ticks = await outbox_rows(sessions, topic=f"periodic.{job}")
        delivered = [m for m in ticks if m.status is OutboxStatus.DELIVERED]
        assert all(m.attempts == 1 for m in delivered)       # each tick message handed out once
        assert {r.due_at for r in done} == {periodic.slot_start(m.payload["slot"], TICK_SECONDS) for m in delivered}
        slots = sorted(m.payload["slot"] for m in delivered)
        gaps = [(a, b) for a, b in zip(slots, slots[1:]) if b != a + 1]
        owners.update(r.owner.split(":")[-2] for r in done)
        print(f"{job}: {len(done)} ticks run once each, by {len(set(r.owner for r in done))} worker(s); "
              f"ticks skipped for lateness: {gaps}")
    assert len(owners) >= 2, owners                           # the work was shared, not one worker's alone

    statuses, events, audit = await completion_record(sessions, session_ids)
    assert set(statuses.values()) == {SessionStatus.COMPLETED}
    assert events == Counter({sid: 1 for sid in session_ids})
    assert audit == Counter({sid: 1 for sid in session_ids})


async def _all_completed(sessions, session_ids: list[int]) -> bool:
    statuses, _, _ = await completion_record(sessions, session_ids)
    return set(statuses.values()) == {SessionStatus.COMPLETED}


async def _enough(sessions, job: str) -> bool:
    return await finished(sessions, job) >= TICKS


async def test_a_sigkilled_workers_tick_is_taken_over_and_the_session_completed_once(postgresql_sessions, tmp_path):
    """A worker takes the tick and blocks on the session's row lock (held by this test); it is SIGKILLed there.
    Once its lease runs out another worker runs the tick: the session is COMPLETED, with one event and one
    audit row, and the tick's run row shows the second attempt by another worker."""
    sessions, database_url = postgresql_sessions
    (session_id,) = await sessions_ending(sessions, [utc_now() - timedelta(minutes=1)])
    engine = create_engine(database_url)
    holder = await engine.connect()
    transaction = await holder.begin()
    await holder.execute(select(Session.id).where(Session.id == session_id).with_for_update())
    timings = {"PODIUM_OUTBOX_TIMEOUT_SECONDS": "5", "PODIUM_OUTBOX_LEASE_SECONDS": "6"}
    workers = [start_worker(database_url, tmp_path, n, **timings) for n in range(WORKERS)]
    try:
        taken = await eventually(lambda: _taken(sessions), timeout=120, interval=0.02,
                                 what="a worker to take the first tick")
        pid = int(taken.owner.split(":")[-2])
        (victim,) = [w for w in workers if w.pid == pid]
        victim.send_signal(signal.SIGKILL)
        assert victim.wait(timeout=10) == -signal.SIGKILL
        await transaction.rollback()                          # the row lock goes; the victim's transaction died
        await holder.close()

        async def completed_by_another():
            run = await _run_of(sessions, taken.due_at)
            return run if run.finished_at is not None else None
        run = await eventually(completed_by_another, timeout=120, interval=0.2, what="the tick taken over")
        await eventually(lambda: _enough_after(sessions, taken.due_at, 3), timeout=120, interval=0.5,
                         what="three more ticks")
    finally:
        stop(workers, tmp_path)
        await engine.dispose()

    assert run.attempts == 2 and run.owner != taken.owner and run.summary == "1 session(s) completed"
    statuses, events, audit = await completion_record(sessions, [session_id])
    assert statuses == {session_id: SessionStatus.COMPLETED}
    assert events == Counter({session_id: 1}) and audit == Counter({session_id: 1})
    later = [r for r in await runs(sessions, "complete_sessions") if r.due_at > taken.due_at]
    assert later and all(r.attempts == 1 and r.finished_at is not None and str(pid) not in r.owner for r in later)
    assert all(r.summary == "0 session(s) completed" for r in later)


async def test_on_sqlite_a_worker_sigkilled_holding_a_tick_loses_it_and_sessions_are_completed_once(
        sqlite_sessions, tmp_path):
    """SQLite has no row lock to hold a worker inside its tick, so the test watches the outbox and SIGKILLs the
    worker the moment it holds a `complete_sessions` tick (a session having just ended), wherever it is in it:
    before its run row, mid-transaction, or after its commit and before its delivery was recorded. Another
    worker delivers the tick once the lease runs out; every session is COMPLETED with one event and one
    audit row."""
    sessions, database_url, path = sqlite_sessions
    timings = {"PODIUM_OUTBOX_TIMEOUT_SECONDS": "2", "PODIUM_OUTBOX_LEASE_SECONDS": "3"}
    workers = [start_worker(database_url, tmp_path, n, **timings) for n in range(WORKERS)]
    ended, caught = [], None
    try:
        await eventually(lambda: _finished_any(sessions), timeout=120, interval=0.2, what="the workers to tick")
        watcher = sqlite3.connect(path, timeout=30)
        try:
            for _ in range(15):                              # a tick holds for milliseconds: try a few
                ended += await sessions_ending(sessions, [utc_now() - timedelta(minutes=1)])
                caught = _holder_of_next_tick(watcher, deadline=time.monotonic() + 3 * TICK_SECONDS)
                if caught is not None:
                    break
        finally:
            watcher.close()
        assert caught is not None, "no tick caught while held"
        message_id, owner = caught
        pid = int(owner.split(":")[-2])
        (victim,) = [w for w in workers if w.pid == pid]
        victim.send_signal(signal.SIGKILL)
        assert victim.wait(timeout=10) == -signal.SIGKILL
        await eventually(lambda: _delivered(sessions, message_id), timeout=120, interval=0.2,
                         what="the killed worker's tick delivered by another")
        await eventually(lambda: _all_completed(sessions, ended), timeout=120, interval=0.2,
                         what="every session completed")
    finally:
        stop(workers, tmp_path)

    statuses, events, audit = await completion_record(sessions, ended)
    assert set(statuses.values()) == {SessionStatus.COMPLETED}
    assert events == Counter({sid: 1 for sid in ended}) and audit == Counter({sid: 1 for sid in ended})
    async with sessions() as db:
        tick = await db.get(OutboxMessage, message_id)
        run = await db.scalar(select(PeriodicRun).where(
            PeriodicRun.job == "complete_sessions",
            PeriodicRun.due_at == periodic.slot_start(tick.payload["slot"], TICK_SECONDS)))
    # where the kill landed: before the run row (another wrote it), before its commit (taken over,
    # attempt 2), or after it (finished by the victim; the tick was then delivered by another, not run again)
    assert run is not None and run.finished_at is not None
    print(f"killed {owner} holding tick #{message_id}: run row attempts={run.attempts}, "
          f"finished by {'the victim' if run.owner == owner else 'another worker'}")
    assert all(r.finished_at is not None for r in await runs(sessions, "complete_sessions"))


def _holder_of_next_tick(watcher: sqlite3.Connection, deadline: float) -> tuple[int, str] | None:
    """(message id, lease owner) of a `complete_sessions` tick a worker holds right now, polled until `deadline`."""
    while time.monotonic() < deadline:
        row = watcher.execute("SELECT id, lease_owner FROM outbox_message WHERE topic = 'periodic.complete_sessions' "
                              "AND status = 'PENDING' AND lease_owner IS NOT NULL").fetchone()
        if row is not None:
            return row
        time.sleep(0.001)
    return None


async def _finished_any(sessions) -> bool:
    return await finished(sessions, "complete_sessions") > 0


async def _delivered(sessions, message_id: int) -> bool:
    async with sessions() as db:
        return await db.scalar(select(OutboxMessage.status).where(OutboxMessage.id == message_id)) \
            is OutboxStatus.DELIVERED


@pytest.fixture
async def sqlite_sessions(template_databases, tmp_path):
    """Sessions on a fresh copy of the migrated SQLite database, its URL and its file."""
    import shutil
    from pathlib import Path

    target = tmp_path / "podium.db"
    shutil.copy(Path(template_databases["sqlite"].split("///", 1)[1]), target)
    url = f"sqlite+aiosqlite:///{target}"
    engine = create_engine(url)
    yield create_sessionmaker(engine), url, str(target)
    await engine.dispose()


async def _taken(sessions) -> PeriodicRun | None:
    for run in await runs(sessions, "complete_sessions"):
        if run.finished_at is None:
            return run
    return None


async def _run_of(sessions, due_at) -> PeriodicRun:
    async with sessions() as db:
        return await db.scalar(select(PeriodicRun).where(PeriodicRun.job == "complete_sessions",
                                                         PeriodicRun.due_at == due_at))


async def _enough_after(sessions, due_at, n: int) -> bool:
    return len([r for r in await runs(sessions, "complete_sessions")
                if r.due_at > due_at and r.finished_at is not None]) >= n


@pytest.fixture
async def postgresql_sessions(template_databases):
    """Sessions on a clean PostgreSQL database, and its URL (this test needs row locks that block)."""
    from sqlalchemy import text

    from podium.core.models import Base

    if "postgresql" not in template_databases:
        raise AssertionError("PostgreSQL is not answering on 127.0.0.1:5432")
    url = template_databases["postgresql"]
    engine = create_engine(url)
    tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    async with engine.begin() as conn:
        await conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    yield create_sessionmaker(engine), url
    await engine.dispose()
