"""Evaluations, Kirkpatrick levels 1 and 2: a course's evaluation form, requests sent to the learners who
attended a session once it is completed, their answers (once per learner and session), and knowledge
scores before and after (PRE/POST) that give the learning gain. Results are aggregated in SQL, per
session (`evaluation_facts_sql`) and, grouped, by the report (core/services/reports.py).

The link's token: when a session is completed (the periodic job `complete_sessions`), every ENROLLED
learner whose derived attendance is PRESENT or LATE gets an `evaluation_request` row with a random
nonce; the token is an HMAC of that nonce under PODIUM_SECRET_KEY (as calendar feeds' addresses are), and
only its SHA-256 is stored. The `evaluation.requested` event fans out, in the outbox, into one notification
per learner carrying their link; the token alone signs the learner in to `submitEvaluation`. A learner who
has not answered PODIUM_EVALUATION_REMINDER_AFTER_HOURS later is reminded once (the periodic job
`remind_evaluations`): an `evaluation.reminded` event, fanned out the same way, with the same link.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, case, exists, func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from .. import limits
from ..audit import Actor, person_actor, record_change
from ..errors import DomainError, ErrorCode
from ..events import emit
from ..ids import to_global_id
from ..instants import utc_now
from ..models import (
    AssessmentKind, AssessmentScore, Attendance, Course, Enrollment, EnrollmentStatus, EvaluationAnswer,
    EvaluationForm, EvaluationRequest, QuestionKind, Role, Session, SessionStatus,
)
from .journeys import ATTENDED
from .locks import session_ordering_key
from .records import get_or_404, snapshot

MAX_QUESTIONS = 50
"""Questions on one form."""
ANSWER_TEXT = 5000
"""Characters of a TEXT answer."""
QUESTION_KEY = re.compile(r"[a-z][a-z0-9_]{0,63}")
"""A question's key: what answers name it by, stable across edits of its text."""
RANGES = {QuestionKind.RATING_1_5: (1, 5), QuestionKind.NPS_0_10: (0, 10), QuestionKind.YES_NO: (0, 1)}
PROMOTER, DETRACTOR = 9, 6
"""NPS: 9 and 10 are promoters, 0 to 6 detractors, 7 and 8 passives."""
SCORE_PLACES = Decimal("0.01")
"""Scores are 0-100 with at most two decimals, stored in hundredths."""


# --- the link's token ---------------------------------------------------------------------------

def evaluation_token(secret_key: str | None, nonce: str) -> str:
    """The secret of a learner's evaluation link (43 URL-safe characters)."""
    digest = hmac.new((secret_key or "").encode(), f"evaluation:{nonce}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def evaluation_url(template: str | None, public_url: str | None, token: str) -> str | None:
    """The link a learner follows: PODIUM_EVALUATION_URL with `{token}` replaced, else
    `<PODIUM_PUBLIC_URL>/evaluate?token=<token>`; None when neither is set (the message gives the token)."""
    if template:
        return template.replace("{token}", token)
    return f"{public_url.rstrip('/')}/evaluate?token={token}" if public_url else None


# --- forms ----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class QuestionInput:
    key: str
    kind: QuestionKind
    text: str
    required: bool = True


def _questions(given: list[QuestionInput]) -> list[dict[str, Any]]:
    questions = limits.items(given, "questions", MAX_QUESTIONS)
    if not questions:
        raise DomainError(ErrorCode.INVALID, "A form asks at least one question.", "questions")
    seen: set[str] = set()
    out = []
    for i, question in enumerate(questions):
        key = (question.key or "").strip()
        if not QUESTION_KEY.fullmatch(key):
            raise DomainError(ErrorCode.INVALID, f"Question {i + 1}: a key is 1 to 64 lower-case letters, digits "
                              "and _, starting with a letter.", f"questions.{i}.key")
        if key in seen:
            raise DomainError(ErrorCode.INVALID, f"Two questions have the key {key!r}.", f"questions.{i}.key")
        seen.add(key)
        out.append({"key": key, "kind": QuestionKind(question.kind).value,
                    "text": limits.text(question.text, f"questions.{i}.text", limits.NOTE),
                    "required": bool(question.required)})
    return out


def _form_event(db: AsyncSession, form: EvaluationForm, what: str, before: dict | None) -> None:
    emit(db, f"evaluation_form.{what}", {"form": to_global_id("EvaluationForm", form.id),
                                         "course": to_global_id("Course", form.course_id),
                                         "before": before, "after": snapshot(form)})


async def create_form(db: AsyncSession, actor: Actor, *, course_id: int, title: str,
                      questions: list[QuestionInput]) -> EvaluationForm:
    """A course's form; a course has at most one (a second is DUPLICATE: change the first)."""
    course = await get_or_404(db, Course, course_id, "courseId")
    if await db.scalar(select(EvaluationForm.id).where(EvaluationForm.course_id == course.id)) is not None:
        raise DomainError(ErrorCode.DUPLICATE, "This course has an evaluation form already; update it.", "courseId")
    form = EvaluationForm(course_id=course.id, title=limits.text(title, "title"), questions=_questions(questions))
    db.add(form)
    await db.flush()
    record_change(db, actor, "evaluation_form.create", "EvaluationForm", form.id, None, snapshot(form))
    _form_event(db, form, "created", None)
    return form


async def update_form(db: AsyncSession, actor: Actor, form_id: int, *, title: str | None = None,
                      questions: list[QuestionInput] | None = None) -> EvaluationForm:
    """Answers already given keep their kind and key: a changed form changes no result."""
    form = await get_or_404(db, EvaluationForm, form_id, "formId", lock=True)
    before = snapshot(form)
    if title is not None:
        form.title = limits.text(title, "title")
    if questions is not None:
        form.questions = _questions(questions)
    await db.flush()
    after = snapshot(form)
    if {k: v for k, v in after.items() if k != "updated_at"} != {k: v for k, v in before.items() if k != "updated_at"}:
        record_change(db, actor, "evaluation_form.update", "EvaluationForm", form.id, before, after)
        _form_event(db, form, "updated", before)
    return form


# --- requests: when a session is completed ----------------------------------------------------------

def _attended() -> ColumnElement[bool]:
    """The learners an evaluation is asked of: a seat held, and attended (PRESENT or LATE, as derived)."""
    return and_(Enrollment.status == EnrollmentStatus.ENROLLED, Attendance.status.in_(ATTENDED))


def _new_request(enrollment_id: int, session_id: int, secret_key: str | None) -> dict[str, Any]:
    nonce = secrets.token_urlsafe(32)
    return {"enrollment_id": enrollment_id, "session_id": session_id, "nonce": nonce,
            "token_hash": token_hash(evaluation_token(secret_key, nonce)), "requested_at": utc_now()}


LATE_ATTENDANCE = timedelta(days=14)
"""Attendance recorded after a session was completed still gets its learner asked, at the next tick of
`complete_sessions`, for this long after the session ended."""


async def recorded_late(db: AsyncSession, now: datetime) -> list[int]:
    """COMPLETED sessions that ended within LATE_ATTENDANCE of `now`, of a course with a form, with an attended
    learner not yet asked (their attendance was recorded after the completion). One statement (ix_session_ends_at)."""
    asked = exists().where(EvaluationRequest.enrollment_id == Enrollment.id)
    return list((await db.scalars(
        select(Session.id).where(Session.status == SessionStatus.COMPLETED, Session.ends_at >= now - LATE_ATTENDANCE,
                                 exists().where(EvaluationForm.course_id == Session.course_id),
                                 exists().where(Enrollment.session_id == Session.id,
                                                Attendance.enrollment_id == Enrollment.id, _attended(), ~asked))
        .order_by(Session.id))).all())


async def request_evaluations(db: AsyncSession, actor: Actor, session_ids: list[int], secret_key: str | None) -> int:
    """Ask every attended learner of these (completed) sessions whose course has a form, once per enrolment:
    one audited change and one `evaluation.requested` event per session. Returns how many were asked."""
    if not session_ids:
        return 0
    asked = exists().where(EvaluationRequest.enrollment_id == Enrollment.id)
    rows = (await db.execute(
        select(Enrollment.id, Enrollment.session_id)
        .join(Session, Session.id == Enrollment.session_id)
        .join(EvaluationForm, EvaluationForm.course_id == Session.course_id)
        .join(Attendance, Attendance.enrollment_id == Enrollment.id)
        .where(Enrollment.session_id.in_(session_ids), _attended(), ~asked)
        .order_by(Enrollment.session_id, Enrollment.id))).all()
    if not rows:
        return 0
    # A learner asked meanwhile by their own submit (submitEvaluation by enrolment, committed after this read)
    # keeps that request: theirs is not made again, and this change goes on (it failed on the unique enrolment).
    made = []
    for start in range(0, len(rows), REQUEST_CHUNK):
        chunk = [_new_request(eid, sid, secret_key) for eid, sid in rows[start:start + REQUEST_CHUNK]]
        made += (await db.execute(_insert_new_requests(db, chunk).returning(
            EvaluationRequest.enrollment_id, EvaluationRequest.session_id))).all()
    _per_session(db, actor, "evaluation.request", "evaluation.requested", made)
    return len(made)


def _per_session(db: AsyncSession, actor: Actor, action: str, event: str, asked: list[tuple[int, int]]) -> None:
    """(enrolment, session) pairs asked or reminded: one audited change `action` and one `event` per session,
    naming the enrolments, never a token (the event's fan-out derives each learner's link:
    core/notifications.py)."""
    per_session: dict[int, list[int]] = {}
    for enrollment_id, session_id in sorted(asked, key=lambda r: (r[1], r[0])):
        per_session.setdefault(session_id, []).append(enrollment_id)
    for session_id, enrollment_ids in per_session.items():
        enrollments = [to_global_id("Enrollment", e) for e in enrollment_ids]
        record_change(db, actor, action, "Session", session_id, None, {"enrollments": enrollments})
        emit(db, event, {"session": to_global_id("Session", session_id), "enrollments": enrollments},
             session_ordering_key(session_id))


REQUEST_CHUNK = 1000
"""Requests inserted by one statement (six values each: well inside SQLite's 32,766 parameters)."""


def _insert_new_requests(db: AsyncSession, values: list[dict[str, Any]]):
    """INSERT of evaluation requests that leaves out an enrolment asked already (its unique enrolment_id), on
    either database."""
    insert_row = pg_insert if db.bind.dialect.name == "postgresql" else sqlite_insert
    return insert_row(EvaluationRequest).values(values).on_conflict_do_nothing(index_elements=["enrollment_id"])


# --- reminders: once, to whom has not answered --------------------------------------------------------

def reminder_window(now: datetime, after_hours: int) -> tuple[datetime, datetime]:
    """Requests made in (start, end] are due a reminder at `now`: at least `after_hours` old, and less than
    twice that. An older one (reminders turned on since, or the job stopped for that long) gets none: a
    reminder weeks after the session would only be noise."""
    after = timedelta(hours=after_hours)
    return now - 2 * after, now - after


async def remind_evaluations(db: AsyncSession, actor: Actor, now: datetime, after_hours: int, limit: int) -> int:
    """One reminder to each learner whose request is unanswered and due (`reminder_window`), the oldest
    `limit` first: `reminded_at` is set by one conditional UPDATE (of two ticks at once, the second finds it
    set and reminds no one), with one audited change (`evaluation.remind`) and one `evaluation.reminded` event
    per session, which fans out as `evaluation.requested` does, with the same link. Returns how many."""
    if after_hours <= 0:
        return 0
    start, end = reminder_window(now, after_hours)
    unanswered = (EvaluationRequest.reminded_at.is_(None), EvaluationRequest.responded_at.is_(None))
    due = (select(EvaluationRequest.id)
           .where(EvaluationRequest.requested_at > start, EvaluationRequest.requested_at <= end, *unanswered)
           .order_by(EvaluationRequest.requested_at, EvaluationRequest.id).limit(limit))
    reminded = (await db.execute(
        update(EvaluationRequest).where(EvaluationRequest.id.in_(due.scalar_subquery()), *unanswered)
        .values(reminded_at=now).returning(EvaluationRequest.enrollment_id, EvaluationRequest.session_id)
        .execution_options(synchronize_session=False))).all()
    _per_session(db, actor, "evaluation.remind", "evaluation.reminded", [tuple(row) for row in reminded])
    return len(reminded)


# --- answers ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class AnswerInput:
    question_key: str
    value: int | None = None
    yes: bool | None = None
    text: str | None = None


@dataclass(frozen=True)
class Submitter:
    """Who submits: a signed-in caller (`person_id`, None for the bootstrap admin token), or no one
    (`signed_in` False), when the link's token alone says who."""

    signed_in: bool
    person_id: int | None = None


def _answers(form: EvaluationForm, given: list[AnswerInput]) -> list[dict[str, Any]]:
    """Each answer checked against its question: INVALID naming the question when unknown, twice, of the
    wrong kind, out of range, or a required one missing."""
    questions = {q["key"]: q for q in form.questions}
    answers = limits.items(given, "answers", MAX_QUESTIONS)
    out: dict[str, dict[str, Any]] = {}
    for i, answer in enumerate(answers):
        key, where = answer.question_key, f"answers.{i}"
        question = questions.get(key)
        if question is None:
            raise DomainError(ErrorCode.INVALID, f"The form has no question {key!r}.", f"{where}.questionKey")
        if key in out:
            raise DomainError(ErrorCode.INVALID, f"Question {key!r} is answered twice.", f"{where}.questionKey")
        kind = QuestionKind(question["kind"])
        given_fields = [name for name in ("value", "yes", "text") if getattr(answer, name) is not None]
        wanted = {QuestionKind.TEXT: "text", QuestionKind.YES_NO: "yes"}.get(kind, "value")
        if given_fields != [wanted]:
            raise DomainError(ErrorCode.INVALID, f"Question {key!r} is {kind.value}: answer it with `{wanted}` "
                              "alone.", f"{where}.{wanted}")
        row = {"question_key": key, "kind": kind, "value": None, "text": None}
        if kind is QuestionKind.TEXT:
            try:
                row["text"] = limits.text(answer.text, f"{where}.text", ANSWER_TEXT, required=question["required"],
                                          multiline=True)
            except DomainError as error:
                raise DomainError(error.code, f"Question {key!r}: {error.message}", error.field) from None
            if row["text"] is None:
                continue  # an empty optional comment is no answer
        elif kind is QuestionKind.YES_NO:
            row["value"] = 1 if answer.yes else 0
        else:
            low, high = RANGES[kind]
            if not isinstance(answer.value, int) or not low <= answer.value <= high:
                raise DomainError(ErrorCode.INVALID, f"Question {key!r} is {kind.value}: a whole number from {low} "
                                  f"to {high}.", f"{where}.value")
            row["value"] = answer.value
        out[key] = row
    missing = [q["key"] for q in form.questions if q["required"] and q["key"] not in out]
    if missing:
        raise DomainError(ErrorCode.INVALID, f"Question {missing[0]!r} is required and not answered.", "answers")
    return list(out.values())


MAX_TOKEN = 128
"""Characters of a link's token looked up at most (a real one has 43)."""


async def request_for_token(db: AsyncSession, token: str | None) -> EvaluationRequest | None:
    """The request behind a link's token (spaces around it, as a copied link may have, ignored); None for an
    unknown one. What the evaluation page (`evaluationInvitation`) and the submit both read."""
    token = (token or "").strip()
    if not 0 < len(token) <= MAX_TOKEN:
        return None
    return await db.scalar(select(EvaluationRequest).where(EvaluationRequest.token_hash == token_hash(token)))


async def _request_by_token(db: AsyncSession, token: str, submitter: Submitter) -> EvaluationRequest:
    found = await request_for_token(db, token)
    if found is None:
        raise DomainError(ErrorCode.INVALID, "This evaluation link is not known.", "token")
    learner = await db.scalar(select(Enrollment.learner_id).where(Enrollment.id == found.enrollment_id))
    if submitter.signed_in and submitter.person_id != learner:
        raise DomainError(ErrorCode.FORBIDDEN, "This evaluation link is another learner's.", "token")
    return found


async def _request_by_enrollment(db: AsyncSession, enrollment_id: int, submitter: Submitter,
                                 secret_key: str | None) -> EvaluationRequest:
    """The learner's own enrolment: its request, made now if the session was completed and they attended
    since (attendance recorded after the completion)."""
    enrollment = await get_or_404(db, Enrollment, enrollment_id, "enrollmentId")
    if not submitter.signed_in or submitter.person_id != enrollment.learner_id:
        raise DomainError(ErrorCode.FORBIDDEN, "You may evaluate only your own enrolments.", "enrollmentId")
    found = await db.scalar(select(EvaluationRequest).where(EvaluationRequest.enrollment_id == enrollment.id))
    if found is not None:
        return found
    status = await db.scalar(select(Session.status).where(Session.id == enrollment.session_id))
    attended = await db.scalar(select(Attendance.id).join(Enrollment, Enrollment.id == Attendance.enrollment_id)
                               .where(Attendance.enrollment_id == enrollment.id, _attended()))
    if status is not SessionStatus.COMPLETED or attended is None:
        raise DomainError(ErrorCode.INVALID, "Only a learner who attended a completed session evaluates it.",
                          "enrollmentId")
    # Two first submits at once (two tabs) both find no request: the second insert waits for the first and
    # does nothing, and both go on with the one request (whose responded_at then takes one submit only).
    await db.execute(_insert_new_requests(db, [_new_request(enrollment.id, enrollment.session_id, secret_key)]))
    return await db.scalar(select(EvaluationRequest).where(EvaluationRequest.enrollment_id == enrollment.id))


async def submit_evaluation(db: AsyncSession, submitter: Submitter, *, token: str | None = None,
                            enrollment_id: int | None = None, answers: list[AnswerInput],
                            secret_key: str | None = None) -> EvaluationRequest:
    """One response per learner and session: a second is DUPLICATE. By the link's `token` (no sign-in
    needed; a signed-in caller must be its learner) or the caller's own `enrollment_id`."""
    if (token is None) == (enrollment_id is None):
        raise DomainError(ErrorCode.INVALID, "Give the link's token or your enrollmentId, one of them.", "token")
    request = (await _request_by_token(db, token, submitter) if token is not None
               else await _request_by_enrollment(db, enrollment_id, submitter, secret_key))
    form = await db.scalar(select(EvaluationForm).join(Session, Session.course_id == EvaluationForm.course_id)
                           .where(Session.id == request.session_id))
    if form is None:
        raise DomainError(ErrorCode.INVALID, "The course has no evaluation form any more.", "token")
    if request.responded_at is not None:
        raise DomainError(ErrorCode.DUPLICATE, "This session was evaluated already: once per learner.")
    rows = _answers(form, answers)
    # The one accepted answer sets responded_at; of two at once, the second finds it set.
    now = utc_now()
    done = await db.execute(update(EvaluationRequest).where(EvaluationRequest.id == request.id,
                                                            EvaluationRequest.responded_at.is_(None))
                            .values(responded_at=now).execution_options(synchronize_session=False))
    if not done.rowcount:
        raise DomainError(ErrorCode.DUPLICATE, "This session was evaluated already: once per learner.")
    if rows:
        await db.execute(insert(EvaluationAnswer), [{**row, "request_id": request.id} for row in rows])
    learner = await db.scalar(select(Enrollment.learner_id).where(Enrollment.id == request.enrollment_id))
    actor = Actor(label=person_actor(learner), person_id=learner, role=Role.LEARNER)
    given = {row["question_key"]: row["text"] if row["kind"] is QuestionKind.TEXT else row["value"] for row in rows}
    record_change(db, actor, "evaluation.submit", "Enrollment", request.enrollment_id, None,
                  {"session_id": request.session_id, "answers": given, "responded_at": now.isoformat()})
    emit(db, "evaluation.submitted", {"session": to_global_id("Session", request.session_id),
                                      "enrollment": to_global_id("Enrollment", request.enrollment_id),
                                      "learner": to_global_id("Person", learner), "answers": given},
         session_ordering_key(request.session_id))
    return request


# --- knowledge scores (level 2) -----------------------------------------------------------------------

def parse_score(text: Any, field: str = "score") -> int:
    """A score 0-100 with at most two decimals, as exact text ("87.5"), in hundredths."""
    try:
        score = Decimal(str(text).strip()) if isinstance(text, (str, int, Decimal)) else None
    except InvalidOperation:
        score = None
    if score is None or not score.is_finite() or not 0 <= score <= 100:
        raise DomainError(ErrorCode.INVALID, "A score is a number from 0 to 100, e.g. \"87.5\".", field)
    if score != score.quantize(SCORE_PLACES):
        raise DomainError(ErrorCode.INVALID, "A score has at most two decimals.", field)
    return int(score * 100)


def format_score(hundredths: int) -> str:
    return str((Decimal(hundredths) / 100).quantize(SCORE_PLACES))


async def record_score(db: AsyncSession, actor: Actor, *, enrollment_id: int, kind: AssessmentKind, score: Any,
                       source: str | None = None) -> AssessmentScore:
    """A learner's PRE or POST knowledge score on an enrolment; recording it again replaces it (audited
    with before and after). The enrolment's row is locked, so two records of one score at once queue (the second
    replaces the first) instead of both inserting it."""
    enrollment = await get_or_404(db, Enrollment, enrollment_id, "enrollmentId", lock=True)
    if enrollment.status is not EnrollmentStatus.ENROLLED:
        raise DomainError(ErrorCode.INVALID, "Scores are recorded for a learner holding a seat.", "enrollmentId")
    kind = AssessmentKind(kind)
    hundredths = parse_score(score)
    source = limits.text(source, "source", limits.CODE, required=False) or "MANUAL"
    row = await db.scalar(select(AssessmentScore).where(AssessmentScore.enrollment_id == enrollment.id,
                                                        AssessmentScore.kind == kind).with_for_update())
    before = snapshot(row) if row is not None else None
    if row is None:
        row = AssessmentScore(enrollment_id=enrollment.id, kind=kind)
        db.add(row)
    row.score_hundredths, row.source = hundredths, source
    row.recorded_at = utc_now()
    await db.flush()
    after = snapshot(row)
    record_change(db, actor, "assessment.record", "Enrollment", enrollment.id, before, after)
    emit(db, "assessment.recorded", {"enrollment": to_global_id("Enrollment", enrollment.id),
                                     "session": to_global_id("Session", enrollment.session_id),
                                     "learner": to_global_id("Person", enrollment.learner_id), "kind": kind.value,
                                     "score": format_score(hundredths), "source": source,
                                     "before": None if before is None else format_score(before["score_hundredths"])},
         session_ordering_key(enrollment.session_id))
    return row


# --- results, in SQL ----------------------------------------------------------------------------------

def _total(expression):
    return func.coalesce(func.sum(expression), 0)


def evaluation_facts_sql(*session_where: ColumnElement[bool]) -> Select:
    """Per session (those `session_where` picks): requested, responded, rating_sum, ratings, promoters,
    detractors, nps_answers, gain_sum (hundredths of a point) and gains (learners with both scores).
    Three GROUP BYs joined on the session: no row is counted twice."""
    requests = (select(EvaluationRequest.session_id, func.count().label("requested"),
                       func.count(EvaluationRequest.responded_at).label("responded"))
                .join(Session, Session.id == EvaluationRequest.session_id).where(*session_where)
                .group_by(EvaluationRequest.session_id).subquery("evaluation_requests"))
    rating = EvaluationAnswer.kind == QuestionKind.RATING_1_5
    nps = EvaluationAnswer.kind == QuestionKind.NPS_0_10
    answers = (select(EvaluationRequest.session_id,
                      _total(case((rating, EvaluationAnswer.value), else_=0)).label("rating_sum"),
                      _total(case((rating, 1), else_=0)).label("ratings"),
                      _total(case((and_(nps, EvaluationAnswer.value >= PROMOTER), 1), else_=0)).label("promoters"),
                      _total(case((and_(nps, EvaluationAnswer.value <= DETRACTOR), 1), else_=0)).label("detractors"),
                      _total(case((nps, 1), else_=0)).label("nps_answers"))
               .join(EvaluationRequest, EvaluationRequest.id == EvaluationAnswer.request_id)
               .join(Session, Session.id == EvaluationRequest.session_id).where(*session_where)
               .group_by(EvaluationRequest.session_id).subquery("evaluation_answers"))
    pre, post = aliased(AssessmentScore), aliased(AssessmentScore)
    gains = (select(Enrollment.session_id, _total(post.score_hundredths - pre.score_hundredths).label("gain_sum"),
                    func.count().label("gains"))
             .join(Session, Session.id == Enrollment.session_id)
             .join(pre, and_(pre.enrollment_id == Enrollment.id, pre.kind == AssessmentKind.PRE))
             .join(post, and_(post.enrollment_id == Enrollment.id, post.kind == AssessmentKind.POST))
             .where(Enrollment.status == EnrollmentStatus.ENROLLED, *session_where)
             .group_by(Enrollment.session_id).subquery("assessment_gains"))
    return (select(Session.id.label("session_id"),
                   func.coalesce(requests.c.requested, 0).label("requested"),
                   func.coalesce(requests.c.responded, 0).label("responded"),
                   func.coalesce(answers.c.rating_sum, 0).label("rating_sum"),
                   func.coalesce(answers.c.ratings, 0).label("ratings"),
                   func.coalesce(answers.c.promoters, 0).label("promoters"),
                   func.coalesce(answers.c.detractors, 0).label("detractors"),
                   func.coalesce(answers.c.nps_answers, 0).label("nps_answers"),
                   func.coalesce(gains.c.gain_sum, 0).label("gain_sum"),
                   func.coalesce(gains.c.gains, 0).label("gains"))
            .outerjoin(requests, requests.c.session_id == Session.id)
            .outerjoin(answers, answers.c.session_id == Session.id)
            .outerjoin(gains, gains.c.session_id == Session.id)
            .where(*session_where))


FACTS = ("requested", "responded", "rating_sum", "ratings", "promoters", "detractors", "nps_answers", "gain_sum",
         "gains")


@dataclass(frozen=True)
class EvaluationFacts:
    requested: int = 0
    responded: int = 0
    rating_sum: int = 0
    ratings: int = 0
    promoters: int = 0
    detractors: int = 0
    nps_answers: int = 0
    gain_sum: int = 0  # hundredths of a point
    gains: int = 0

    @property
    def response_rate(self) -> Decimal | None:
        return ratio(self.responded, self.requested, Decimal("0.0001"))

    @property
    def average_rating(self) -> Decimal | None:
        return ratio(self.rating_sum, self.ratings)

    @property
    def nps(self) -> Decimal | None:
        return ratio(100 * (self.promoters - self.detractors), self.nps_answers)

    @property
    def learning_gain(self) -> Decimal | None:
        return ratio(self.gain_sum, 100 * self.gains)


def ratio(numerator: int, denominator: int, places: Decimal = Decimal("0.01")) -> Decimal | None:
    """numerator / denominator rounded half to even; None when there is nothing to divide by."""
    if not denominator:
        return None
    return (Decimal(numerator) / Decimal(denominator)).quantize(places, rounding=ROUND_HALF_EVEN)


@dataclass
class QuestionSummary:
    key: str
    kind: QuestionKind
    text: str
    answers: int = 0
    value_sum: int = 0
    promoters: int = 0
    detractors: int = 0
    comments: list[str] = field(default_factory=list)

    @property
    def average(self) -> Decimal | None:
        return ratio(self.value_sum, self.answers) if self.kind is not QuestionKind.TEXT else None


@dataclass
class SessionEvaluation:
    facts: EvaluationFacts
    questions: list[QuestionSummary]


MAX_COMMENTS = 200
"""TEXT answers a session summary lists per question, newest first."""


async def session_evaluations(db: AsyncSession, session_ids: list[int]) -> dict[int, SessionEvaluation]:
    """Each session's facts and per-question results, in three statements whatever the number of sessions."""
    if not session_ids:
        return {}
    facts = {row.session_id: EvaluationFacts(*(int(getattr(row, f)) for f in FACTS)) for row in
             (await db.execute(evaluation_facts_sql(Session.id.in_(session_ids)))).all()}
    forms = dict((await db.execute(select(Session.id, EvaluationForm.questions)
                                   .join(EvaluationForm, EvaluationForm.course_id == Session.course_id)
                                   .where(Session.id.in_(session_ids)))).all())
    out = {sid: SessionEvaluation(facts.get(sid, EvaluationFacts()),
                                  [QuestionSummary(q["key"], QuestionKind(q["kind"]), q["text"])
                                   for q in forms.get(sid) or []]) for sid in session_ids}
    per = {(sid, q.key): q for sid, summary in out.items() for q in summary.questions}
    rows = (await db.execute(
        select(EvaluationRequest.session_id, EvaluationAnswer.question_key, EvaluationAnswer.kind,
               func.count().label("answers"), _total(EvaluationAnswer.value).label("value_sum"),
               _total(case((EvaluationAnswer.value >= PROMOTER, 1), else_=0)).label("promoters"),
               _total(case((EvaluationAnswer.value <= DETRACTOR, 1), else_=0)).label("detractors"))
        .join(EvaluationRequest, EvaluationRequest.id == EvaluationAnswer.request_id)
        .where(EvaluationRequest.session_id.in_(session_ids), EvaluationAnswer.kind != QuestionKind.TEXT)
        .group_by(EvaluationRequest.session_id, EvaluationAnswer.question_key, EvaluationAnswer.kind))).all()
    for row in rows:
        question = per.get((row.session_id, row.question_key))
        # answers given under another kind (the form changed since) are not this question's: a 5 of a
        # RATING_1_5 is no NPS detractor
        if question is not None and question.kind is not QuestionKind.TEXT and row.kind is question.kind:
            question.answers, question.value_sum = int(row.answers), int(row.value_sum)
            if question.kind is QuestionKind.NPS_0_10:
                question.promoters, question.detractors = int(row.promoters), int(row.detractors)
    comments = (await db.execute(
        select(EvaluationRequest.session_id, EvaluationAnswer.question_key, EvaluationAnswer.text)
        .join(EvaluationRequest, EvaluationRequest.id == EvaluationAnswer.request_id)
        .where(EvaluationRequest.session_id.in_(session_ids), EvaluationAnswer.kind == QuestionKind.TEXT)
        .order_by(EvaluationAnswer.id.desc()))).all()
    for sid, key, text in comments:
        question = per.get((sid, key))
        if question is not None and question.kind is QuestionKind.TEXT:
            question.answers += 1
            if len(question.comments) < MAX_COMMENTS:
                question.comments.append(text)
    return out
