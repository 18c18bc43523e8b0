"""The evaluation fields of Course, Session and Enrollment."""
from __future__ import annotations

from strawberry.types import Info

from podium.core.errors import ErrorCode

from ..errors import ClientError
from ..permissions import is_staff
from .types import AssessmentScore, EvaluationForm, EvaluationResponse, EvaluationSummary


async def course_evaluation_form(info: Info, course_pk: int) -> EvaluationForm | None:
    return await info.context.loaders.course_evaluation_forms.load(course_pk)


async def session_evaluation_summary(info: Info, session_pk: int) -> EvaluationSummary:
    """Staff, and the session's own instructors; FORBIDDEN for anyone else (a page of sessions: one check)."""
    if not await info.context.loaders.evaluation_results_access.load(session_pk):
        raise ClientError("Only the session's instructors, an admin or a coordinator may see its evaluations.",
                          ErrorCode.FORBIDDEN)
    return await info.context.loaders.evaluation_summaries.load(session_pk)


async def enrollment_assessment_scores(info: Info, enrollment_pk: int) -> list[AssessmentScore]:
    return await info.context.loaders.assessment_scores.load(enrollment_pk)


async def enrollment_evaluation(info: Info, enrollment_pk: int, learner_pk: int) -> EvaluationResponse | None:
    """One learner's answers: for staff and the learner; an instructor sees the session's summary, not who
    answered what."""
    caller = info.context.caller
    if not is_staff(caller) and caller.person_id != learner_pk:
        return None
    return await info.context.loaders.evaluation_responses.load(enrollment_pk)
