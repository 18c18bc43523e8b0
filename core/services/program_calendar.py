"""When each program stage opens and is due, and how those dates follow a rescheduled session.

Kept apart from programs.py so scheduling can call it without an import cycle.
Dates are computed on the anchor session's local wall clock, so "7 days before" stays 09:00
across a daylight-saving change.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ..events import emit
from ..ids import to_global_id
from ..instants import UTC, local_shift, wall_clock_gap
from ..models import ProgramLearner, ProgramStage, Session, StageKind
from ..settings import Settings
from .program_delivery import queue_moved_stages, queue_session_notices

DEFAULT_WINDOW_DAYS = 7


def days_from(anchor: Session, days: int) -> datetime:
    """The anchor's local start time, `days` later on the calendar of the anchor's timezone."""
    tz = ZoneInfo(anchor.timezone)
    local = anchor.starts_at.astimezone(tz).replace(tzinfo=None) + timedelta(days=days)
    return local.replace(tzinfo=tz).astimezone(UTC)


async def anchor_stage(db: AsyncSession, program_id: int) -> ProgramStage | None:
    """The program's first LIVE stage: its session is the anchor every offset counts from."""
    return await db.scalar(select(ProgramStage).where(ProgramStage.program_id == program_id,
                                                      ProgramStage.kind == StageKind.LIVE)
                           .order_by(ProgramStage.position, ProgramStage.id).limit(1))


async def follow_reschedule(db: AsyncSession, session: Session, before_starts_at: datetime,
                            settings: Settings) -> None:
    """Move the stages that depend on a rescheduled session, in the reschedule's transaction.

    Its LIVE stages take the new times; where it anchors a program, every self-paced and
    assessment stage moves by the same local-time shift. Learners are told through an event.
    """
    live_stages = (await db.scalars(select(ProgramStage).where(
        ProgramStage.session_id == session.id, ProgramStage.kind == StageKind.LIVE)
        .execution_options(populate_existing=True))).all()
    tz = ZoneInfo(session.timezone)
    delta = wall_clock_gap(before_starts_at, session.starts_at, tz)
    for program_id in sorted({s.program_id for s in live_stages}):
        moved = []
        for stage in (s for s in live_stages if s.program_id == program_id):
            moved.append(_move(stage, session.starts_at, session.ends_at))
        await queue_session_notices(db, program_id, session, settings)
        anchor = await anchor_stage(db, program_id)
        if anchor is not None and anchor.session_id == session.id:
            shifted = [_move(stage, local_shift(stage.opens_at, tz, delta), local_shift(stage.due_at, tz, delta))
                       for stage in await _dependents(db, program_id)]
            moved += shifted
            await queue_moved_stages(db, program_id, session, shifted)
        elif anchor is not None and any(s.position == anchor.position for s in live_stages
                                        if s.program_id == program_id):
            section = await _section_moved(db, program_id, anchor, before_starts_at, session.starts_at)
            moved += section
            await queue_moved_stages(db, program_id, session, section)
        learners = (await db.scalars(select(ProgramLearner.learner_id)
                                     .where(ProgramLearner.program_id == program_id)
                                     .order_by(ProgramLearner.learner_id))).all()
        emit(db, "program.rescheduled", {
            "program": to_global_id("Program", program_id),
            "session": to_global_id("Session", session.id),
            "stages": moved,
            "learners": [to_global_id("Person", lid) for lid in learners],
        }, f"program:{program_id}")
    await db.flush()


async def _dependents(db: AsyncSession, program_id: int) -> list[ProgramStage]:
    """The program's self-paced and assessment stages, whose dates count from the anchor."""
    return list((await db.scalars(select(ProgramStage).where(
        ProgramStage.program_id == program_id, ProgramStage.kind != StageKind.LIVE)
        .order_by(ProgramStage.position).execution_options(populate_existing=True))).all())


async def _section_moved(db: AsyncSession, program_id: int, anchor: ProgramStage, before_starts_at: datetime,
                         starts_at: datetime) -> list[dict]:
    """A parallel section other than the anchor's moved: its learners' own dates (see
    `journeys.learner_dates`) move with it; the stage rows, the anchor section's dates, stay."""
    tz = ZoneInfo(await db.scalar(select(Session.timezone).where(Session.id == anchor.session_id)))
    before, after = (wall_clock_gap(anchor.opens_at, at, tz) for at in (before_starts_at, starts_at))
    return [{"key": stage.key, "title": stage.title,
             "before": {"opensAt": _iso(local_shift(stage.opens_at, tz, before)),
                        "dueAt": _iso(local_shift(stage.due_at, tz, before))},
             "after": {"opensAt": _iso(local_shift(stage.opens_at, tz, after)),
                       "dueAt": _iso(local_shift(stage.due_at, tz, after))}}
            for stage in await _dependents(db, program_id)]


def _move(stage: ProgramStage, opens_at: datetime | None, due_at: datetime | None) -> dict:
    before = {"opensAt": _iso(stage.opens_at), "dueAt": _iso(stage.due_at)}
    stage.opens_at, stage.due_at = opens_at, due_at
    return {"key": stage.key, "title": stage.title, "before": before,
            "after": {"opensAt": _iso(opens_at), "dueAt": _iso(due_at)}}


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None

