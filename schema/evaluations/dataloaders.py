"""Forms by course, results by session, scores by enrolment: one statement (three for results) per tick."""
from __future__ import annotations

from collections import defaultdict

from sqlalchemy import select

from podium.core.models import AssessmentKind
from podium.core.models import AssessmentScore as ScoreRow
from podium.core.models import Booking
from podium.core.models import EvaluationAnswer as AnswerRow
from podium.core.models import EvaluationForm as FormRow
from podium.core.models import EvaluationRequest as RequestRow
from podium.core.services.evaluations import session_evaluations

from ..permissions import is_staff, taught_session_ids, teaches
from .types import form_from, response_from, score_from, summary_from

KIND_ORDER = list(AssessmentKind)


def loaders(context) -> dict:
    async def forms(ids: list[int]) -> list:
        async with context.reading() as db:
            rows = (await db.scalars(select(FormRow).where(FormRow.id.in_(ids)))).all()
        found = {row.id: form_from(row) for row in rows}
        return [found.get(i) for i in ids]

    async def course_forms(ids: list[int]) -> list:
        async with context.reading() as db:
            rows = (await db.scalars(select(FormRow).where(FormRow.course_id.in_(ids)))).all()
        found = {row.course_id: form_from(row) for row in rows}
        return [found.get(i) for i in ids]

    async def summaries(ids: list[int]) -> list:
        async with context.reading() as db:
            found = await session_evaluations(db, ids)
        return [summary_from(found[i]) for i in ids]

    async def scores(ids: list[int]) -> list:
        async with context.reading() as db:
            rows = (await db.scalars(select(ScoreRow).where(ScoreRow.enrollment_id.in_(ids)))).all()
        held = defaultdict(list)
        for row in sorted(rows, key=lambda r: KIND_ORDER.index(r.kind)):  # PRE, then POST (not by the text)
            held[row.enrollment_id].append(score_from(row))
        return [held[i] for i in ids]

    async def results_access(ids: list[int]) -> list[bool]:
        """Whether the caller may see each session's results: staff, or one of its instructors (one statement)."""
        caller = context.caller
        if is_staff(caller):
            return [True] * len(ids)
        if not teaches(caller):
            return [False] * len(ids)
        async with context.reading() as db:
            taught = set((await db.scalars(taught_session_ids(caller).where(Booking.session_id.in_(ids)))).all())
        return [i in taught for i in ids]

    async def responses(ids: list[int]) -> list:
        async with context.reading() as db:
            requests = (await db.scalars(select(RequestRow).where(RequestRow.enrollment_id.in_(ids)))).all()
            answers = (await db.scalars(select(AnswerRow).where(AnswerRow.request_id.in_([r.id for r in requests]))
                                        .order_by(AnswerRow.id))).all() if requests else []
        held = defaultdict(list)
        for answer in answers:
            held[answer.request_id].append(answer)
        found = {r.enrollment_id: response_from(r, held[r.id]) for r in requests}
        return [found.get(i) for i in ids]

    return {"evaluation_results_access": results_access, "evaluation_responses": responses, "evaluation_forms": forms, "course_evaluation_forms": course_forms,
            "evaluation_summaries": summaries,
            "assessment_scores": scores}
