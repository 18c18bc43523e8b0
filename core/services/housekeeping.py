"""The core's own periodic jobs (services/periodic.py runs each tick once across all processes):
sessions completed once they have ended, unanswered evaluations reminded once, and pruning of what is past
its time."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete

from ..audit import Actor
from ..db import changing
from ..idempotency import prune as prune_idempotency_keys
from ..models import PeriodicRun, SchedulePlan
from ..outbox import prune_delivered
from .evaluations import recorded_late, remind_evaluations, request_evaluations
from .periodic import Tick, periodic
from .scheduling import complete_past_sessions

COMPLETE_BATCH = 500
"""Sessions completed per tick at most (one transaction); a backlog goes on at the next tick."""


@periodic("complete_sessions", setting="complete_sessions_every_seconds",
          does="SCHEDULED sessions that ended PODIUM_SESSION_COMPLETION_GRACE_MINUTES ago become COMPLETED")
async def complete_sessions(tick: Tick) -> str:
    async with tick.sessions() as db, changing(db):
        actor = Actor.system("periodic:complete_sessions")
        completed = await complete_past_sessions(
            db, actor, tick.now, grace=timedelta(minutes=tick.settings.session_completion_grace_minutes),
            limit=COMPLETE_BATCH)
        # in the same transaction: every attended learner of a course with a form is asked, exactly once; and
        # those whose attendance was recorded since their session was completed
        late = [sid for sid in await recorded_late(db, tick.now) if sid not in completed]
        asked = await request_evaluations(db, actor, completed + late, tick.settings.secret_key)
        summary = f"{len(completed)} session(s) completed" + (f", {asked} evaluation(s) requested" if asked else "")
        await tick.finish(db, summary)
    return summary


REMIND_BATCH = 500
"""Evaluation reminders per tick at most (one transaction), oldest requests first; more go at the next tick."""


def reminders_every(settings, _plugins) -> float | None:
    """PODIUM_REMIND_EVALUATIONS_EVERY_SECONDS; off when PODIUM_EVALUATION_REMINDER_AFTER_HOURS is 0."""
    return settings.remind_evaluations_every_seconds if settings.evaluation_reminder_after_hours > 0 else None


@periodic("remind_evaluations", setting="remind_evaluations_every_seconds", every=reminders_every,
          does="learners who have not answered their evaluation PODIUM_EVALUATION_REMINDER_AFTER_HOURS after it "
               "was requested are reminded, once")
async def remind_unanswered_evaluations(tick: Tick) -> str:
    async with tick.sessions() as db, changing(db):
        reminded = await remind_evaluations(db, Actor.system("periodic:remind_evaluations"), tick.now,
                                            tick.settings.evaluation_reminder_after_hours, REMIND_BATCH)
        summary = f"{reminded} evaluation reminder(s)"
        await tick.finish(db, summary)
    return summary


@periodic("prune", setting="prune_every_seconds",
          does="delivered outbox messages past PODIUM_OUTBOX_RETENTION_DAYS, idempotency keys past 24 hours, "
               "finished periodic runs past the retention and schedule plans expired unapplied are deleted "
               "(never the audit log)")
async def prune(tick: Tick) -> str:
    before = tick.now - timedelta(days=tick.settings.outbox_retention_days)
    messages = await prune_delivered(tick.sessions, before)
    async with tick.sessions() as db, changing(db):
        keys = await prune_idempotency_keys(db, tick.now)
        runs = (await db.execute(delete(PeriodicRun).where(PeriodicRun.finished_at < before))).rowcount
        plans = (await db.execute(delete(SchedulePlan).where(SchedulePlan.expires_at < tick.now,
                                                             SchedulePlan.applied_at.is_(None)))).rowcount
        summary = (f"pruned {messages} delivered message(s), {keys} idempotency key(s), {runs} periodic run(s), "
                   f"{plans} expired schedule plan(s)")
        await tick.finish(db, summary)
    return summary
