"""Batched loads of programs (with their stages) and templates."""
from __future__ import annotations

from collections import defaultdict

from sqlalchemy import select

from podium.core.ids import to_global_id
from podium.core.models import Program as ProgramRow
from podium.core.models import ProgramStage as StageRow
from podium.core.services import programs as program_service

from ..permissions import visible_programs
from .types import Program, ProgramTemplate, stage_from, template_from


async def build_programs(db, rows) -> list[Program]:
    """Whole programs from their rows: one more statement for all their stages."""
    ids = [r.id for r in rows]
    stages = defaultdict(list)
    for stage in (await db.scalars(select(StageRow).where(StageRow.program_id.in_(ids))
                                   .order_by(StageRow.position, StageRow.id))).all():
        stages[stage.program_id].append(stage_from(stage))
    return [Program(id=to_global_id("Program", r.id), pk=r.id, title=r.title, template_key=r.template_key,
                    course_pk=r.course_id, lms_course_ref=r.lms_course_ref, lms_connector=r.lms_connector,
                    created_at=r.created_at, status=r.status, cancelled_at=r.cancelled_at,
                    cancel_reason=r.cancel_reason, stages=stages[r.id]) for r in rows]


def loaders(context) -> dict:
    async def programs(ids: list[int]) -> list[Program | None]:
        async with context.reading() as db:
            rows = (await db.scalars(select(ProgramRow).where(ProgramRow.id.in_(ids)))).all()
            found = {p.pk: p for p in await build_programs(db, rows)}
        return [found.get(i) for i in ids]

    async def program_templates(keys: list[str]) -> list[ProgramTemplate | None]:
        async with context.reading() as db:
            found = {t.key: template_from(t) for t in await program_service.list_templates(db)}
        return [found.get(k) for k in keys]

    async def session_programs(ids: list[int]) -> list[int | None]:
        """The first-created program each session is a live stage of, among those the caller may see."""
        if not context.caller.signed_in:
            return [None for _ in ids]
        query = visible_programs(context.caller, select(StageRow.session_id, ProgramRow.id)
                                 .join(ProgramRow, ProgramRow.id == StageRow.program_id)
                                 .where(StageRow.session_id.in_(ids)).order_by(ProgramRow.id))
        async with context.reading() as db:
            rows = (await db.execute(query)).all()
        first: dict[int, int] = {}
        for session_id, program_id in rows:
            first.setdefault(session_id, program_id)
        return [first.get(i) for i in ids]

    return {"programs": programs, "program_templates": program_templates, "session_programs": session_programs}
