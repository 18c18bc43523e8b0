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
from ..instants import UTC
from ..models import ProgramLearner, ProgramStage, Session, StageKind
from ..settings import Settings
from .program_delivery import queue_moved_stages, queue_session_notices

DEFAULT_WINDOW_DAYS = 7


def days_from(anchor: Session, days: int) -> datetime:
    """The anchor's local start time, `days` later on the calendar of the anchor's timezone."""
    tz = ZoneInfo(anchor.timezone)
    local = anchor.starts_at.astimezone(tz).replace(tzinfo=None) + timedelta(days=days)
    return local.replace(tzinfo=tz).astimezone(UTC)


def _local_shift(instant: datetime | None, tz: ZoneInfo, delta: timedelta) -> datetime | None:
    if instant is None:
        return None
    local = instant.astimezone(tz).replace(tzinfo=None) + delta
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
    delta = (session.starts_at.astimezone(tz).replace(tzinfo=None)
             - before_starts_at.astimezone(tz).replace(tzinfo=None))
    for program_id in sorted({s.program_id for s in live_stages}):
        moved = []
        for stage in (s for s in live_stages if s.program_id == program_id):
            moved.append(_move(stage, session.starts_at, session.ends_at))
        await queue_session_notices(db, program_id, session, settings)
        anchor = await anchor_stage(db, program_id)
        if anchor is not None and anchor.session_id == session.id:
            dependents = (await db.scalars(select(ProgramStage).where(
                ProgramStage.program_id == program_id, ProgramStage.kind != StageKind.LIVE)
                .order_by(ProgramStage.position).execution_options(populate_existing=True))).all()
            shifted = [_move(stage, _local_shift(stage.opens_at, tz, delta), _local_shift(stage.due_at, tz, delta))
                       for stage in dependents]
            moved += shifted
            await queue_moved_stages(db, program_id, session, shifted)
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


def _move(stage: ProgramStage, opens_at: datetime | None, due_at: datetime | None) -> dict:
    before = {"opensAt": _iso(stage.opens_at), "dueAt": _iso(stage.due_at)}
    stage.opens_at, stage.due_at = opens_at, due_at
    return {"key": stage.key, "title": stage.title, "before": before,
            "after": {"opensAt": _iso(opens_at), "dueAt": _iso(due_at)}}


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None

