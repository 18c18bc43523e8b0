"""createEvaluationForm, updateEvaluationForm, recordAssessmentScore (staff), submitEvaluation (the learner,
by the link's token without signing in, or by their own enrolment); the rules are core/services/evaluations.py's."""
from __future__ import annotations

import strawberry
from strawberry.types import Info

from podium.core.models import AssessmentKind as CoreAssessmentKind
from podium.core.models import QuestionKind as CoreQuestionKind
from podium.core.services import evaluations as core

from ..changes import attempt, attempt_then_load
from ..enrollment.types import Enrollment
from ..errors import UserError
from ..permissions import check_staff
from ..relay import decode_id
from ..scheduling.types import Session
from .inputs import (
    CreateEvaluationFormInput, EvaluationQuestionInput, RecordAssessmentScoreInput, SubmitEvaluationInput,
    UpdateEvaluationFormInput,
)
from .types import AssessmentScore, EvaluationForm, score_from


@strawberry.type
class EvaluationFormPayload:
    form: EvaluationForm | None
    errors: list[UserError]


@strawberry.type
class SubmitEvaluationPayload:
    session: Session | None = strawberry.field(description="The session evaluated; null when refused.")
    errors: list[UserError] = strawberry.field(description="DUPLICATE: answered already (once per learner and "
                                               "session); FORBIDDEN: another learner's link or enrolment; INVALID: an "
                                               "unknown link, or an answer that does not fit its question (named).")


@strawberry.type
class RecordAssessmentScorePayload:
    enrollment: Enrollment | None
    score: AssessmentScore | None
    errors: list[UserError]


def _questions(given: list[EvaluationQuestionInput]) -> list[core.QuestionInput]:
    return [core.QuestionInput(key=q.key, kind=CoreQuestionKind(q.kind), text=q.text, required=q.required)
            for q in given]


@strawberry.type
class EvaluationMutations:
    @strawberry.mutation(description="A course's evaluation form; ADMIN and COORDINATOR only. A course has one: "
                                     "a second is DUPLICATE.")
    async def create_evaluation_form(self, info: Info, input: CreateEvaluationFormInput) -> EvaluationFormPayload:
        async def work(db, actor):
            check_staff(info.context.caller)
            return (await core.create_form(db, actor, course_id=decode_id(input.course_id, "Course", "courseId"),
                                           title=input.title, questions=_questions(input.questions))).id

        form, errors, _ = await attempt_then_load(info, work, "evaluation_forms")
        return EvaluationFormPayload(form=form, errors=errors)

    @strawberry.mutation(description="Change a form's title or questions; ADMIN and COORDINATOR only.")
    async def update_evaluation_form(self, info: Info, input: UpdateEvaluationFormInput) -> EvaluationFormPayload:
        async def work(db, actor):
            check_staff(info.context.caller)
            return (await core.update_form(
                db, actor, decode_id(input.form_id, "EvaluationForm", "formId"), title=input.title,
                questions=None if input.questions is None else _questions(input.questions))).id

        form, errors, _ = await attempt_then_load(info, work, "evaluation_forms")
        return EvaluationFormPayload(form=form, errors=errors)

    @strawberry.mutation(description="A learner's evaluation of a session they attended, once per learner and "
                                     "session. With the link's token no bearer token is needed (a signed-in caller "
                                     "must be the link's learner); with enrollmentId, the caller's own enrolment.")
    async def submit_evaluation(self, info: Info, input: SubmitEvaluationInput) -> SubmitEvaluationPayload:
        caller = info.context.caller

        async def work(db, actor):
            enrollment_id = (None if input.enrollment_id is None
                             else decode_id(input.enrollment_id, "Enrollment", "enrollmentId"))
            answers = [core.AnswerInput(question_key=a.question_key, value=a.value, yes=a.yes, text=a.text)
                       for a in input.answers]
            request = await core.submit_evaluation(
                db, core.Submitter(signed_in=caller.signed_in, person_id=caller.person_id), token=input.token,
                enrollment_id=enrollment_id, answers=answers, secret_key=info.context.plugins.settings.secret_key)
            return request.session_id

        session, errors, _ = await attempt_then_load(info, work, "sessions")
        return SubmitEvaluationPayload(session=session, errors=errors)

    @strawberry.mutation(description="A learner's PRE or POST knowledge score (0-100, exact) on an enrolment; "
                                     "again replaces it. ADMIN and COORDINATOR only.")
    async def record_assessment_score(self, info: Info, input: RecordAssessmentScoreInput
                                      ) -> RecordAssessmentScorePayload:
        async def work(db, actor):
            check_staff(info.context.caller)
            row = await core.record_score(db, actor, enrollment_id=decode_id(input.enrollment_id, "Enrollment",
                                                                             "enrollmentId"),
                                          kind=CoreAssessmentKind(input.kind), score=input.score, source=input.source)
            return row.enrollment_id, score_from(row)

        done, errors, _ = await attempt(info, work)
        if done is None:
            return RecordAssessmentScorePayload(enrollment=None, score=None, errors=errors)
        return RecordAssessmentScorePayload(enrollment=await info.context.loaders.enrollments.load(done[0]),
                                            score=done[1], errors=[])
