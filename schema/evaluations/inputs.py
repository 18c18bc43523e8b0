"""Inputs of the evaluation operations."""
from __future__ import annotations

import strawberry

from .types import AssessmentKind, QuestionKind


@strawberry.input
class EvaluationQuestionInput:
    key: str = strawberry.field(description="1-64 lower-case letters, digits and _, from a letter; unique on the form.")
    kind: QuestionKind
    text: str
    required: bool = True


@strawberry.input(description="A course's evaluation form; a course has at most one.")
class CreateEvaluationFormInput:
    course_id: strawberry.ID
    title: str
    questions: list[EvaluationQuestionInput] = strawberry.field(description="1 to 50, in the order asked.")


@strawberry.input(description="Only what is given changes; answers already given keep their question's kind.")
class UpdateEvaluationFormInput:
    form_id: strawberry.ID
    title: str | None = None
    questions: list[EvaluationQuestionInput] | None = strawberry.field(default=None, description="The whole new list.")


@strawberry.input(description="One answer: `value` for RATING_1_5 (1-5) and NPS_0_10 (0-10), `yes` for YES_NO, "
                               "`text` for TEXT; only that one.")
class EvaluationAnswerInput:
    question_key: str
    value: int | None = None
    yes: bool | None = None
    text: str | None = None


@strawberry.input(description="The link's token (no sign-in needed) or the caller's own enrollmentId: one of them.")
class SubmitEvaluationInput:
    token: str | None = None
    enrollment_id: strawberry.ID | None = None
    answers: list[EvaluationAnswerInput]


@strawberry.input
class RecordAssessmentScoreInput:
    enrollment_id: strawberry.ID
    kind: AssessmentKind
    score: str = strawberry.field(description='0 to 100, at most two decimals, as exact text: "87.5".')
    source: str | None = strawberry.field(default=None, description="Where it came from (default MANUAL), e.g. the "
                                          "quiz tool's name.")
