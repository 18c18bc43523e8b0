"""Periodic jobs through the real dispatcher: session completion after its grace, once, evented and audited;
pruning; ticks planned twice run once; two dispatchers share the ticks without doing one twice."""
from __future__ import annotations

import asyncio
from collections import Counter
from datetime import timedelta

from sqlalchemy import func, select

from podium.core.db import changing
from podium.core.instants import utc_now
from podium.core.models import AuditEntry, OutboxMessage, OutboxStatus, PeriodicRun, SchedulePlan, Session, SessionStatus
from podium.core.services import periodic
from podium.core.services.scheduling import cancel_session
from tests import builders as b
from tests.dispatching import dispatching, eventually, outbox_rows, settings_from

NO_PLUGINS = {"PODIUM_PLUGINS": ""}


async def past_session(sessions, ended_minutes_ago: float) -> int:
    course, teacher = await b.course(sessions), await b.instructor(sessions)
    ends = utc_now() - timedelta(minutes=ended_minutes_ago)
    made = await b.session(sessions, course_id=course.id, instructor_ids=[teacher.id], starts_at=ends - timedelta(hours=1),
                           minutes=60)
    return made.id


async def status(sessions, session_id: int) -> SessionStatus:
    async with sessions() as db:
        return await db.scalar(select(Session.status).where(Session.id == session_id))


async def completed_events(sessions) -> Counter:
    rows = await outbox_rows(sessions, kind="event", topic="session.completed")
    return Counter(m.payload["payload"]["session"] for m in rows)


async def runs(sessions, job: str) -> list[PeriodicRun]:
    async with sessions() as db:
        return list((await db.scalars(select(PeriodicRun).where(PeriodicRun.job == job)
                                      .order_by(PeriodicRun.due_at))).all())


async def test_an_ended_session_is_completed_after_its_grace_once_evented_and_audited(sessions):
    long_ago, just_now, cancelled = (await past_session(sessions, 31), await past_session(sessions, 5),
                                     await past_session(sessions, 120))
    async with sessions() as db, changing(db):
        await cancel_session(db, b.ADMIN, cancelled)
    settings = settings_from(NO_PLUGINS, plugins=(), complete_sessions_every_seconds=0.2,
                             session_completion_grace_minutes=30)
    async with dispatching(sessions, settings) as dispatcher:
        await periodic.start_periodic(sessions, settings, dispatcher.plugins)
        dispatcher.wake()
        await eventually(lambda: _at_least(sessions, "complete_sessions", 3), what="three ticks of session completion")
    assert await status(sessions, long_ago) is SessionStatus.COMPLETED
    assert await status(sessions, just_now) is SessionStatus.SCHEDULED      # still inside its 30 minutes of grace
    assert await status(sessions, cancelled) is SessionStatus.CANCELLED     # a cancelled session stays so
    events = await completed_events(sessions)
    assert list(events.values()) == [1] and len(events) == 1                # one event, for that session only
    async with sessions() as db:
        audit = (await db.execute(select(AuditEntry.actor, AuditEntry.before, AuditEntry.after).where(
            AuditEntry.action == "session.complete"))).all()
    assert [(actor, before["status"], after["status"]) for actor, before, after in audit] == [
        ("periodic:complete_sessions", "SCHEDULED", "COMPLETED")]
    done = await runs(sessions, "complete_sessions")
    assert done[0].summary == "1 session(s) completed" and all(r.summary == "0 session(s) completed" for r in done[1:])


async def _at_least(sessions, job: str, n: int) -> bool:
    return len([r for r in await runs(sessions, job) if r.finished_at is not None]) >= n


async def test_starting_many_times_plans_each_tick_once(sessions):
    settings = settings_from(NO_PLUGINS, plugins=())
    now = utc_now()
    planned = await asyncio.gather(*(periodic.start_periodic(sessions, settings, None, now) for _ in range(5)))
    jobs = ["complete_sessions", "lms_sync", "prune", "remind_evaluations"]  # no venue source: no room calendars
    assert sorted(planned[0]) == jobs
    ticks = await outbox_rows(sessions, kind="plugin_call")
    assert sorted(m.topic for m in ticks) == [f"periodic.{job}" for job in jobs]
    assert sorted(await periodic.start_periodic(
        sessions, settings_from(NO_PLUGINS, plugins=(), program_sync_hours=0, evaluation_reminder_after_hours=0),
        None, now)) == ["complete_sessions", "prune"]                   # 0: LMS sync and evaluation reminders off


async def test_two_dispatchers_run_every_tick_once(sessions):
    """Two dispatchers (as two processes would) over ten ticks: one run row per tick, one attempt each,
    every tick message delivered once."""
    settings = settings_from(NO_PLUGINS, plugins=(), complete_sessions_every_seconds=0.2, prune_every_seconds=0.2)
    async with dispatching(sessions, settings) as dispatcher, dispatching(sessions, settings):
        await periodic.start_periodic(sessions, settings, dispatcher.plugins)
        await eventually(lambda: _at_least(sessions, "complete_sessions", 10), what="ten ticks")
        await eventually(lambda: _at_least(sessions, "prune", 10), what="ten ticks")
    for job in ("complete_sessions", "prune"):
        done = [r for r in await runs(sessions, job) if r.finished_at is not None]
        assert all(r.attempts == 1 for r in done)
        ticks = [m for m in await outbox_rows(sessions, topic=f"periodic.{job}") if m.status is OutboxStatus.DELIVERED]
        assert all(m.attempts == 1 for m in ticks)
        assert len({m.payload["slot"] for m in ticks}) == len(ticks)
        assert {r.due_at for r in done} <= {periodic.slot_start(m.payload["slot"], 0.2) for m in ticks}


async def test_the_prune_job_deletes_delivered_rows_past_retention_and_nothing_else(sessions):
    now = utc_now()
    async with sessions() as db:
        for n, (state, age) in enumerate([("DELIVERED", 40), ("DELIVERED", 2), ("DEAD", 40), ("PENDING", 40)]):
            when = now - timedelta(days=age)
            db.add(OutboxMessage(kind="plugin_event", topic="session.scheduled", target="x", payload={},
                                 idempotency_key=f"seed-{n}", status=OutboxStatus(state), attempts=1, created_at=when,
                                 deliver_after=now + timedelta(days=1),
                                 delivered_at=when if state == "DELIVERED" else None))
        db.add(PeriodicRun(job="prune", due_at=now - timedelta(days=40), owner="gone", started_at=now - timedelta(days=40),
                           finished_at=now - timedelta(days=40), summary="old"))
        db.add(AuditEntry(at=now - timedelta(days=400), actor="system:test", action="outbox.retry",
                          target_type="OutboxMessage", target_id=1))
        for reason, expires, applied in (("expired", -1, None), ("applied", -1, now), ("live", 1, None)):
            db.add(SchedulePlan(kind="PROPOSAL", status="OPTIMAL", solve_seconds=0.1, created_by="test",
                                expires_at=now + timedelta(hours=expires), applied_at=applied, reason=reason))
        await db.commit()
    settings = settings_from(NO_PLUGINS, plugins=(), outbox_retention_days=30)
    async with dispatching(sessions, settings) as dispatcher:
        await periodic.start_periodic(sessions, settings, dispatcher.plugins)
        dispatcher.wake()
        await eventually(lambda: _ran_once(sessions), what="the prune job")
    seeds = sorted(m.idempotency_key for m in await outbox_rows(sessions) if m.idempotency_key.startswith("seed-"))
    assert seeds == ["seed-1", "seed-2", "seed-3"]
    (ran,) = await runs(sessions, "prune")     # the old run is gone with the rest
    assert ran.summary == ("pruned 1 delivered message(s), 0 idempotency key(s), 1 periodic run(s), "
                           "1 expired schedule plan(s)")
    async with sessions() as db:
        assert sorted((await db.scalars(select(SchedulePlan.reason))).all()) == ["applied", "live"]
        assert await db.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.actor == "system:test")) == 1


async def _ran_once(sessions) -> bool:
    return any(r.summary != "old" and r.finished_at is not None for r in await runs(sessions, "prune"))


async def test_podium_outbox_list_shows_each_job_its_last_and_next_tick(sessions, database_url):
    from typer.testing import CliRunner

    from podium.server.cli import app

    settings = settings_from(NO_PLUGINS, plugins=())
    ended = await past_session(sessions, 45)
    async with dispatching(sessions, settings) as dispatcher:
        await periodic.start_periodic(sessions, settings, dispatcher.plugins)
        dispatcher.wake()
        await eventually(lambda: _at_least(sessions, "complete_sessions", 1), what="a tick of session completion")
        await eventually(lambda: _at_least(sessions, "prune", 1), what="a tick of prune")
    assert await status(sessions, ended) is SessionStatus.COMPLETED
    result = await asyncio.to_thread(CliRunner().invoke, app, ["outbox", "list"],
                                     env={"PODIUM_DATABASE_URL": database_url})
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    at = lines.index("  complete_sessions every 60s (PODIUM_COMPLETE_SESSIONS_EVERY_SECONDS): SCHEDULED sessions "
                     "that ended PODIUM_SESSION_COMPLETION_GRACE_MINUTES ago become COMPLETED")
    assert lines[at + 1].startswith("    last tick ") and lines[at + 1].endswith(": 1 session(s) completed")
    assert lines[at + 2].startswith("    next tick due ")
    assert any(line.startswith("  prune every 3600s (PODIUM_PRUNE_EVERY_SECONDS)") for line in lines)
    assert any(" PENDING plugin_call periodic.complete_sessions -> - attempts=0 due " in line for line in lines)
