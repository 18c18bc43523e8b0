"""EvaluationForm, its questions, a session's evaluation results, assessment scores."""
from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry
from strawberry.types import Info

from podium.core.models import AssessmentKind as CoreAssessmentKind
from podium.core.models import QuestionKind as CoreQuestionKind
from podium.core.services import evaluations as core

from ..relay import Node, global_id

if TYPE_CHECKING:
    from ..catalogue.types import Course

QuestionKind = strawberry.enum(CoreQuestionKind, name="QuestionKind", description=(
    "RATING_1_5: a whole number 1-5 (answered with `value`); NPS_0_10: how likely to recommend, 0-10 (`value`); "
    "TEXT: free text (`text`); YES_NO: `yes`."))
AssessmentKind = strawberry.enum(CoreAssessmentKind, name="AssessmentKind",
                                 description="A knowledge check before (PRE) or after (POST) the session.")


@strawberry.type(description="One question of an evaluation form.")
class EvaluationQuestion:
    key: str = strawberry.field(description="What answers name it by (lower-case letters, digits, _).")
    kind: QuestionKind
    text: str
    required: bool


@strawberry.type(description="A course's evaluation questionnaire, sent to every learner who attended (PRESENT or "
                              "LATE) one of its sessions once the session is completed. Readable by anyone, as the "
                              "catalogue is: a learner's page shows it.")
class EvaluationForm(Node):
    id: strawberry.ID
    pk: strawberry.Private[int]
    course_pk: strawberry.Private[int]
    title: str
    questions: list[EvaluationQuestion]
    updated_at: datetime

    @strawberry.field
    async def course(self, info: Info) -> Annotated["Course", strawberry.lazy("podium.schema.catalogue.types")]:
        return await info.context.loaders.courses.load(self.course_pk)


def form_from(row) -> EvaluationForm:
    return EvaluationForm(id=global_id("EvaluationForm", row.id), pk=row.id, course_pk=row.course_id, title=row.title,
                          questions=[EvaluationQuestion(key=q["key"], kind=CoreQuestionKind(q["kind"]), text=q["text"],
                                                        required=q["required"]) for q in row.questions],
                          updated_at=row.updated_at)


def _text(value) -> str | None:
    return None if value is None else str(value)


@strawberry.type(description="The answers to one question of a session's evaluations.")
class QuestionResult:
    key: str
    kind: QuestionKind
    text: str
    answers: int = strawberry.field(description="How many answered it.")
    average: str | None = strawberry.field(description="RATING_1_5 and NPS_0_10: the mean answer; YES_NO: the share "
                                           "of yes (0-1); two places. Null for TEXT, or with no answer.")
    promoters: int = strawberry.field(description="NPS_0_10: answers of 9 or 10 (0 for other kinds).")
    detractors: int = strawberry.field(description="NPS_0_10: answers of 0 to 6 (0 for other kinds).")
    comments: list[str] = strawberry.field(description="TEXT: the answers, newest first, at most 200.")


@strawberry.type(description="A session's evaluation results (README, \"Evaluations\", gives each formula).")
class EvaluationSummary:
    requested: int = strawberry.field(description="Learners asked (attended, when the session was completed).")
    responded: int = strawberry.field(description="Learners who answered.")
    response_rate: str | None = strawberry.field(description="responded / requested, four places; null when none "
                                                 "was asked.")
    average_rating: str | None = strawberry.field(description="The mean of every RATING_1_5 answer, two places.")
    nps: str | None = strawberry.field(description="Net promoter score: % promoters (9-10) - % detractors (0-6) of "
                                       "the NPS_0_10 answers, -100 to 100, two places.")
    learning_gain: str | None = strawberry.field(description="The mean of POST - PRE score (points of 0-100) of the "
                                                 "learners with both, two places.")
    questions: list[QuestionResult] = strawberry.field(description="Per question of the course's form, in its order.")


def summary_from(found: core.SessionEvaluation) -> EvaluationSummary:
    f = found.facts
    return EvaluationSummary(
        requested=f.requested, responded=f.responded, response_rate=_text(f.response_rate),
        average_rating=_text(f.average_rating), nps=_text(f.nps), learning_gain=_text(f.learning_gain),
        questions=[QuestionResult(key=q.key, kind=q.kind, text=q.text, answers=q.answers, average=_text(q.average),
                                  promoters=q.promoters, detractors=q.detractors, comments=q.comments)
                   for q in found.questions])


@strawberry.type(description="One answer of a learner's evaluation.")
class EvaluationAnswer:
    question_key: str
    kind: QuestionKind = strawberry.field(description="The question's kind when it was answered.")
    value: int | None = strawberry.field(description="RATING_1_5 and NPS_0_10: the answer.")
    yes: bool | None = strawberry.field(description="YES_NO: the answer.")
    text: str | None = strawberry.field(description="TEXT: the answer.")


@strawberry.type(description="A learner asked to evaluate a session, and their answers once given.")
class EvaluationResponse:
    requested_at: datetime
    responded_at: datetime | None = strawberry.field(description="Null: not answered (yet).")
    answers: list[EvaluationAnswer]


def response_from(request, answers) -> EvaluationResponse:
    return EvaluationResponse(requested_at=request.requested_at, responded_at=request.responded_at, answers=[
        EvaluationAnswer(question_key=a.question_key, kind=a.kind,
                         value=a.value if a.kind in (CoreQuestionKind.RATING_1_5, CoreQuestionKind.NPS_0_10) else None,
                         yes=bool(a.value) if a.kind is CoreQuestionKind.YES_NO else None, text=a.text)
        for a in answers])


@strawberry.type(description="A learner's knowledge score before or after a session.")
class AssessmentScore:
    kind: AssessmentKind
    score: str = strawberry.field(description='0-100, exact, two places: "87.50".')
    source: str = strawberry.field(description="Where it came from: MANUAL, or a system's name.")
    recorded_at: datetime


def score_from(row) -> AssessmentScore:
    return AssessmentScore(kind=row.kind, score=core.format_score(row.score_hundredths), source=row.source,
                           recorded_at=row.recorded_at)
