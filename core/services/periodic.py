"""Periodic jobs, each tick done once however many processes run (`podium serve` with its dispatcher,
any number of `podium worker`s).

A job's ticks are the multiples of its interval (a setting) since the epoch. Tick N of job J is an outbox
message (kind `plugin_call`, topic `periodic.J`) due at N x interval, with the idempotency key
`periodic:J:<interval>:N`: every process plans the current tick at start and each tick plans the next,
and the unique key keeps one message per tick. The outbox lease lets one process at a time hold it; a
process that dies holding it loses it when the lease runs out, and another takes it. The job's ticks share
an ordering key, so a tick waits while the one before it is under way (or backing off after a failure).

Holding the message is not yet doing the work once (a process may die after the work and before the
dispatcher records the delivery), so each tick also has a `periodic_run` row, keyed (job, due time):
taking the tick writes it (or, when a dead process left it unfinished, takes it over: attempts + 1),
and the job marks it finished in the transaction of its last change. A tick whose row is finished is
not run again. `session completion` changes sessions and finishes its row in one transaction, so it is
exactly once; the pruning jobs delete what is past its time, which may safely happen twice.
"""
from __future__ import annotations

import logging
import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ..db import changing
from ..instants import UTC, utc_now
from ..models import OutboxMessage, OutboxStatus, PeriodicRun
from ..outbox import PLUGIN_CALL_KIND, QueuedMessage, enqueue, import_core_services, plugin_call
from ..settings import Settings

log = logging.getLogger("podium.periodic")

TOPIC_PREFIX = "periodic."


@dataclass
class Tick:
    """What a job's run gets: the database, the settings, and its tick (due time, and `now` as it began)."""

    job: "PeriodicJob"
    sessions: async_sessionmaker[AsyncSession]
    settings: Settings
    plugins: Any
    due_at: datetime
    now: datetime
    owner: str
    finished: bool = field(default=False)

    async def finish(self, db: AsyncSession, summary: str) -> None:
        """Mark the tick done inside the job's own (last) transaction: if that commits, the tick never runs again."""
        await db.execute(update(PeriodicRun).where(
            PeriodicRun.job == self.job.name, PeriodicRun.due_at == self.due_at, PeriodicRun.finished_at.is_(None))
            .values(finished_at=utc_now(), summary=summary, owner=self.owner)
            .execution_options(synchronize_session=False))
        self.finished = True


@dataclass(frozen=True)
class PeriodicJob:
    name: str
    variable: str                                # the setting that says how often, for the docs and the list
    does: str                                    # one line for `podium outbox list` and the docs
    run: Callable[[Tick], Awaitable[str]]        # the work; returns a one-line summary
    every: Callable[[Settings, Any], float | None]  # its interval in seconds from settings and plugins; None: off

    @property
    def topic(self) -> str:
        return TOPIC_PREFIX + self.name


JOBS: dict[str, PeriodicJob] = {}


def seconds_of(setting: str, unit: float = 1.0) -> Callable[[Settings, Any], float | None]:
    """The interval from a core setting in `unit`s of seconds; 0 turns the job off."""
    return lambda settings, _plugins: float(getattr(settings, setting)) * unit or None


def periodic(name: str, *, setting: str, does: str, every: Callable[[Settings, Any], float | None] | None = None):
    """Register a periodic job: `run(tick)` does the work and returns a summary; it may call
    `tick.finish(db, summary)` in its last transaction (else it is marked finished after it returns).
    Its interval is the core setting `setting` in seconds, unless `every(settings, plugins)` says otherwise
    (`setting` then names the variable it reads). Jobs are registered where their work is defined."""
    def register(run: Callable[[Tick], Awaitable[str]]):
        variable = setting if setting.startswith("PODIUM_") else f"PODIUM_{setting.upper()}"
        job = PeriodicJob(name, variable, does, run, every or seconds_of(setting))
        JOBS[name] = job
        plugin_call(job.topic, on_dead=_plan_current)(perform_tick)
        return run
    return register


# --- ticks: keyed by job, interval and slot ---------------------------------------------------

def slot_of(moment: datetime, every: float) -> int:
    return math.floor(moment.timestamp() / every)


def slot_start(slot: int, every: float) -> datetime:
    return datetime.fromtimestamp(slot * every, UTC)


def tick_key(job: PeriodicJob, every: float, slot: int) -> str:
    return f"periodic:{job.name}:{every:g}:{slot}"


async def plan_tick(db: AsyncSession, job: PeriodicJob, every: float, slot: int) -> None:
    """The message for this tick, unless it exists (the key is the tick's): planning twice plans once.
    One ordering key per job: a tick waits while an earlier one is under way, so a job never overlaps itself."""
    await enqueue(db, kind=PLUGIN_CALL_KIND, topic=job.topic, idempotency_key=tick_key(job, every, slot),
                  ordering_key=TOPIC_PREFIX + job.name, payload={"job": job.name, "every": every, "slot": slot,
                           "due_at": slot_start(slot, every).isoformat()},
                  deliver_after=slot_start(slot, every))


async def start_periodic(sessions: async_sessionmaker[AsyncSession], settings: Settings, plugins: Any,
                         now: datetime | None = None) -> list[str]:
    """Plan the current tick (due at once) of every job that is on; returns their names. `podium serve`
    (with its dispatcher) and `podium worker` call it at start, so the chains start with the first
    process and survive restarts."""
    import_core_services()
    now = now or utc_now()
    planned = []
    async with sessions() as db, changing(db):
        for job in JOBS.values():
            every = job.every(settings, plugins)
            if every is not None:
                await plan_tick(db, job, every, slot_of(now, every))
                planned.append(job.name)
    return planned


async def _take(db: AsyncSession, job: PeriodicJob, due_at: datetime, owner: str, now: datetime) -> bool:
    """Write the tick's run row; False when it is already finished. An unfinished one was left by a
    process that died or failed holding the tick: taken over, attempts + 1."""
    insert = pg_insert if db.bind.dialect.name == "postgresql" else sqlite_insert
    inserted = await db.execute(insert(PeriodicRun).values(
        job=job.name, due_at=due_at, owner=owner, attempts=1, started_at=now)
        .on_conflict_do_nothing(index_elements=["job", "due_at"]))
    if inserted.rowcount:
        return True
    finished = await db.scalar(select(PeriodicRun.finished_at).where(
        PeriodicRun.job == job.name, PeriodicRun.due_at == due_at).with_for_update())
    if finished is not None:
        return False
    await db.execute(update(PeriodicRun).where(PeriodicRun.job == job.name, PeriodicRun.due_at == due_at).values(
        owner=owner, attempts=PeriodicRun.attempts + 1, started_at=now).execution_options(synchronize_session=False))
    return True


async def perform_tick(dispatcher, message: QueuedMessage) -> None:
    """Plan the next tick, take this one, run the job, mark it finished."""
    job = JOBS[message.payload["job"]]
    every = job.every(dispatcher.settings, dispatcher.plugins)
    if every != message.payload["every"]:
        return  # planned under another interval, or the job is off now: start-up planned the current chain
    now = utc_now()
    slot = message.payload["slot"]
    due_at = slot_start(slot, every)
    async with dispatcher.sessions() as db, changing(db):
        # the next tick first, so a failing job never ends its chain; a late tick does not make a
        # backlog: the next is the one after it or the current one, whichever is later
        await plan_tick(db, job, every, max(slot + 1, slot_of(now, every)))
        if not await _take(db, job, due_at, dispatcher.owner, now):
            return
    tick = Tick(job, dispatcher.sessions, dispatcher.settings, dispatcher.plugins, due_at, now, dispatcher.owner)
    summary = await job.run(tick)
    if not tick.finished:
        async with dispatcher.sessions() as db, changing(db):
            await tick.finish(db, summary)
    log.info("periodic %s (tick %s): %s", job.name, due_at.isoformat(), summary)


async def _plan_current(dispatcher, message: QueuedMessage, error: str) -> None:
    """A tick that failed its last attempt is DEAD (shown by `podium outbox list`), but its chain goes on:
    normally its next tick was planned before the job ran; if even that failed, it is planned now."""
    job = JOBS[message.payload["job"]]
    every = job.every(dispatcher.settings, dispatcher.plugins)
    if every is None:
        return
    async with dispatcher.sessions() as db, changing(db):
        await plan_tick(db, job, every, max(message.payload["slot"] + 1, slot_of(utc_now(), every)))


# --- what operators see --------------------------------------------------------------------------

@dataclass(frozen=True)
class JobState:
    job: PeriodicJob
    every: float | None                          # as the running processes planned it (from the latest tick)
    last: PeriodicRun | None                     # the latest finished run
    running: PeriodicRun | None                  # a run taken and not finished (under way, or its process died)
    next_due: datetime | None                    # the planned tick's due time
    failing: OutboxMessage | None                # a tick message that failed (pending again or DEAD)


async def periodic_overview(db: AsyncSession) -> list[JobState]:
    """Each job: its interval, its last finished run, one under way, its next tick and a failing one."""
    import_core_services()
    states = []
    for job in sorted(JOBS.values(), key=lambda job: job.name):
        runs = select(PeriodicRun).where(PeriodicRun.job == job.name)
        last = await db.scalar(runs.where(PeriodicRun.finished_at.is_not(None)).order_by(PeriodicRun.due_at.desc()))
        running = await db.scalar(runs.where(PeriodicRun.finished_at.is_(None)).order_by(PeriodicRun.due_at.desc()))
        ticks = (OutboxMessage.kind == PLUGIN_CALL_KIND, OutboxMessage.topic == job.topic)
        next_due = await db.scalar(select(func.max(OutboxMessage.deliver_after)).where(
            *ticks, OutboxMessage.status == OutboxStatus.PENDING))
        failing = await db.scalar(select(OutboxMessage).where(
            *ticks, OutboxMessage.last_error.is_not(None), OutboxMessage.status != OutboxStatus.DELIVERED)
            .order_by(OutboxMessage.id.desc()).limit(1))
        latest = await db.scalar(select(OutboxMessage.payload).where(*ticks).order_by(OutboxMessage.id.desc()).limit(1))
        states.append(JobState(job, latest["every"] if latest else None, last, running, next_due, failing))
    return states


def describe(state: JobState) -> list[str]:
    """Lines for `podium outbox list`."""
    job = state.job
    every = f"every {state.every:g}s" if state.every is not None else "never planned"
    lines = [f"{job.name} {every} ({job.variable}): {job.does}"]
    if state.last is not None:
        lines.append(f"  last tick {state.last.due_at:%Y-%m-%d %H:%M:%S}Z by {state.last.owner}"
                     f"{f' (attempt {state.last.attempts})' if state.last.attempts > 1 else ''}: {state.last.summary}")
    else:
        lines.append("  not run yet")
    if state.running is not None and (state.last is None or state.running.due_at > state.last.due_at):
        lines.append(f"  tick {state.running.due_at:%Y-%m-%d %H:%M:%S}Z taken by {state.running.owner}, "
                     f"attempt {state.running.attempts}, not finished")
    if state.next_due is not None:
        lines.append(f"  next tick due {state.next_due:%Y-%m-%d %H:%M:%S}Z")
    else:
        lines.append("  no tick planned: start `podium worker` or `podium serve` (with its dispatcher)")
    if state.failing is not None:
        lines.append(f"  #{state.failing.id} {state.failing.status.value} after {state.failing.attempts} "
                     f"attempt(s): {state.failing.last_error}")
    return lines
