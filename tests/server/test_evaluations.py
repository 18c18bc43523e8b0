"""Evaluations through GraphQL over HTTP, on SQLite and PostgreSQL, with the real dispatcher and periodic jobs:
a session is completed, the outbox delivers `evaluation.requested` with each attended learner's own link token
(also to a channel that declares its kinds), the token alone submits, once; another learner's token and
enrolment are refused; the report's evaluation metrics equal a hand computation; who may do and see what;
every change audited and evented."""
from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass, field
from datetime import date, timedelta

import httpx
import pytest
from sqlalchemy import select

from podium.core import hookimpl
from podium.core.audit import Actor
from podium.core.db import changing
from podium.core.instants import utc_now
from podium.core.models import AuditEntry, OutboxMessage
from podium.core.services.scheduling import complete_past_sessions
from podium.server.app import create_app
from tests.dispatching import eventually, settings_from
from tests.server import graph as g
from tests.server import programs_world as w
from tests.server.conftest import ADMIN_TOKEN, Api

FORM = """mutation($i: CreateEvaluationFormInput!) { createEvaluationForm(input: $i) {
  form { id title questions { key kind text required } course { id evaluationForm { id } } }
  errors { code field message } } }"""
UPDATE_FORM = """mutation($i: UpdateEvaluationFormInput!) { updateEvaluationForm(input: $i) {
  form { id title questions { key kind required } } errors { code field message } } }"""
SUBMIT = """mutation($i: SubmitEvaluationInput!) { submitEvaluation(input: $i) { session { id }
  errors { code field message } } }"""
SCORE = """mutation($i: RecordAssessmentScoreInput!) { recordAssessmentScore(input: $i) {
  score { kind score source } enrollment { id assessmentScores { kind score } } errors { code field message } } }"""
ATTEND = """mutation($i: RecordAttendanceInput!) { recordAttendance(input: $i) { errors { code message } } }"""
SUMMARY = """query($id: ID!) { node(id: $id) { ... on Session { status evaluationSummary {
  requested responded responseRate averageRating nps learningGain
  questions { key kind answers average promoters detractors comments } } } } }"""
INVITATION = """query($t: String!) { evaluationInvitation(token: $t) { responded session { id }
  form { title questions { key kind } } } }"""
REPORT = """query($i: ReportInput!) { report(input: $i) {
  rows { dimensions { dimension key } values { metric value numerator denominator } }
  totals { metric value numerator denominator } } }"""
METRICS = ["AVERAGE_RATING", "NPS", "EVALUATION_RESPONSE_RATE", "LEARNING_GAIN"]
QUESTIONS = [{"key": "overall", "kind": "RATING_1_5", "text": "How was it overall?"},
             {"key": "recommend", "kind": "NPS_0_10", "text": "Would you recommend it?"},
             {"key": "useful", "kind": "YES_NO", "text": "Was it useful at work?", "required": False},
             {"key": "comment", "kind": "TEXT", "text": "Anything else?", "required": False}]


@dataclass
class OnlyEvaluations:
    """A channel that declares the kinds it wants: only evaluation requests come here."""

    name: str = "evaluations_only"
    kinds: frozenset = frozenset({"evaluation.requested"})
    delivered: list = field(default_factory=list)

    async def deliver(self, notification) -> None:
        self.delivered.append(notification)


class Channels:
    def __init__(self) -> None:
        self.everything, self.evaluations = w.Recorder(), OnlyEvaluations()

    @hookimpl
    def podium_notification_channels(self):
        return [self.everything, self.evaluations]


@pytest.fixture
async def running(database_url):
    """The app with its lifespan: the dispatcher and the periodic jobs, completing sessions at once."""
    settings = settings_from({"PODIUM_PLUGINS": ""}, database_url=database_url, admin_token=ADMIN_TOKEN,
                             reminder_hours=0, complete_sessions_every_seconds=0.2,
                             session_completion_grace_minutes=0, secret_key="evaluations-test-secret",
                             public_url="https://podium.example")
    channels = Channels()
    app = create_app(settings, extra_plugins=[("channels", channels)])
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://podium.test") as client:
            yield Api(client), channels, app.state.podium.sessions


async def _learner(api, name: str) -> tuple[str, str]:
    person = await g.person(api, name=name)
    return person, await g.token(api, person, "LEARNER")


async def _tokens(channel) -> dict[str, str]:
    """Learner email -> the token in their evaluation link."""
    return {n.to: re.search(r"evaluate\?token=([A-Za-z0-9_-]+)", n.text).group(1)
            for n in channel.delivered if n.kind == "evaluation.requested"}


async def _submit(api, answers, token=None, enrollment=None, bearer=None) -> dict:
    given = {"answers": answers, **({"token": token} if token else {}),
             **({"enrollmentId": enrollment} if enrollment else {})}
    return (await api.data(SUBMIT, {"i": given}, token=bearer))["submitEvaluation"]


def _values(values) -> dict:
    return {v["metric"]: (v["value"], v["numerator"], v["denominator"]) for v in values}


async def test_completed_session_to_requests_submissions_and_report(running):
    api, channels, sessions = running
    # Two courses with a form each; instructor A teaches session 1 (course 1), B session 2 (course 2).
    courses = [await g.course(api), await g.course(api)]
    for course in courses:
        made = (await api.data(FORM, {"i": {"courseId": course, "title": "Your view", "questions": QUESTIONS}}))
        assert made["createEvaluationForm"]["errors"] == [], made
    teacher_a = await g.instructor(api, email="teacher.a@example.com")
    teacher_b = await g.instructor(api, email="teacher.b@example.com")
    person_a = await g.person(api, email="teacher.a@example.com", name="Teacher A")
    instructor_token = await g.token(api, person_a, "INSTRUCTOR")
    one = await g.session(api, courses[0], [teacher_a], starts_at=g.at(days=3))
    two = await g.session(api, courses[1], [teacher_b], starts_at=g.at(days=4))
    learners = [await _learner(api, f"Learner {n}") for n in range(1, 7)]
    emails = await w.emails_of(sessions, [p for p, _ in learners])
    enrolments = [(await g.enroll(api, one if i < 4 else two, person))["enrollment"]["id"]
                  for i, (person, _) in enumerate(learners)]

    async def attend(session, records):
        done = await api.data(ATTEND, {"i": {"sessionId": session, "records": [
            {"enrollmentId": enrolments[i], "status": status} for i, status in records]}})
        assert done["recordAttendance"]["errors"] == []

    async def status(session):
        return (await api.data(SUMMARY, {"id": session}))["node"]["status"]

    # Session 1 under way: L1 PRESENT, L2 LATE, L3 ABSENT, L4 PRESENT; then it ends and is completed.
    await g.time_passes(sessions, one, ended=False)
    await attend(one, [(0, "PRESENT"), (1, "LATE"), (2, "ABSENT"), (3, "PRESENT")])
    await g.time_passes(sessions, one, two)
    # Session 2's attendance (L5 and L6 PRESENT) is recorded only once it is completed: they are asked at the
    # job's next tick.
    await eventually(lambda: _all_completed(status, one, two), what="both sessions completed")
    await attend(two, [(4, "PRESENT"), (5, "PRESENT")])

    # The periodic job completes both; the outbox tells the 5 who attended, each with their own token.
    await eventually(lambda: len([n for n in channels.evaluations.delivered]) >= 5, what="5 evaluation requests")
    tokens = await _tokens(channels.evaluations)
    assert sorted(tokens) == sorted(emails[i] for i in (0, 1, 3, 4, 5))        # not L3, who was ABSENT
    assert len(set(tokens.values())) == 5
    assert {n.kind for n in channels.evaluations.delivered} == {"evaluation.requested"}
    assert sorted(n.to for n in channels.everything.delivered if n.kind == "evaluation.requested") == sorted(tokens)
    first = next(n for n in channels.evaluations.delivered if n.to == emails[0])
    assert f"https://podium.example/evaluate?token={tokens[emails[0]]}" in first.html
    async with sessions() as db:  # the token is in no audit entry and no event: only in the message sent
        stored = [str((e.before, e.after)) for e in (await db.scalars(select(AuditEntry))).all()] + [
            str(m.payload) for m in (await db.scalars(select(OutboxMessage).where(OutboxMessage.kind == "event")))]
    assert not [t for t in tokens.values() if any(t in text for text in stored)]

    invitation = (await api.data(INVITATION, {"t": tokens[emails[0]]}, token=None))["evaluationInvitation"]
    assert invitation == {"responded": False, "session": {"id": one},
                          "form": {"title": "Your view", "questions": [{"key": q["key"], "kind": q["kind"]}
                                                                       for q in QUESTIONS]}}
    # a token copied with a space or a line end around it: the page finds what the submit would take
    copied = (await api.data(INVITATION, {"t": f" {tokens[emails[0]]}\n"}, token=None))["evaluationInvitation"]
    assert copied == invitation

    # L1 by their link alone (no bearer token): overall 5, recommend 10, useful yes, a comment.
    done = await _submit(api, [{"questionKey": "overall", "value": 5}, {"questionKey": "recommend", "value": 10},
                               {"questionKey": "useful", "yes": True}, {"questionKey": "comment", "text": "Great"}],
                         token=tokens[emails[0]])
    assert done == {"session": {"id": one}, "errors": []}
    again = await _submit(api, [{"questionKey": "overall", "value": 1}, {"questionKey": "recommend", "value": 0}],
                          token=tokens[emails[0]])
    assert again["session"] is None and [e["code"] for e in again["errors"]] == ["DUPLICATE"]
    assert (await api.data(INVITATION, {"t": tokens[emails[0]]}, token=None))["evaluationInvitation"]["responded"]
    # L2, signed in, with L4's link: refused; then by their own enrolment: overall 3, recommend 6.
    refused = await _submit(api, [{"questionKey": "overall", "value": 3}, {"questionKey": "recommend", "value": 6}],
                            token=tokens[emails[3]], bearer=learners[1][1])
    assert [(e["code"], e["field"]) for e in refused["errors"]] == [("FORBIDDEN", ["input", "token"])]
    mine = await _submit(api, [{"questionKey": "overall", "value": 3}, {"questionKey": "recommend", "value": 6}],
                         enrollment=enrolments[1], bearer=learners[1][1])
    assert mine["errors"] == []
    # L4 with L2's enrolment, anonymous with an enrolment, L3 (absent) with their own, an unknown token.
    for answers_of, enrollment, bearer, token, code in (
            (3, enrolments[1], learners[3][1], None, "FORBIDDEN"), (3, enrolments[3], None, None, "FORBIDDEN"),
            (2, enrolments[2], learners[2][1], None, "INVALID"), (3, None, None, "not-a-token", "INVALID")):
        answer = await _submit(api, [{"questionKey": "overall", "value": 4}, {"questionKey": "recommend", "value": 7}],
                               token=token, enrollment=enrollment, bearer=bearer)
        assert [e["code"] for e in answer["errors"]] == [code], (answers_of, answer)
    # L5: answers that do not fit are INVALID naming the question, and change nothing.
    for answers, field_path, named in (
            ([{"questionKey": "recommend", "value": 9}], ["input", "answers"], "overall"),
            ([{"questionKey": "overall", "value": 6}, {"questionKey": "recommend", "value": 9}],
             ["input", "answers", "0", "value"], "overall"),
            ([{"questionKey": "overall", "text": "4"}, {"questionKey": "recommend", "value": 9}],
             ["input", "answers", "0", "value"], "overall"),
            ([{"questionKey": "overall", "value": 4}, {"questionKey": "recommend", "value": 11}],
             ["input", "answers", "1", "value"], "recommend"),
            ([{"questionKey": "overall", "value": 4}, {"questionKey": "recommend", "value": 9},
              {"questionKey": "useful", "value": 1}], ["input", "answers", "2", "yes"], "useful"),
            ([{"questionKey": "overall", "value": 4}, {"questionKey": "nope", "value": 9}],
             ["input", "answers", "1", "questionKey"], "nope")):
        bad = await _submit(api, answers, token=tokens[emails[4]])
        assert [(e["code"], e["field"]) for e in bad["errors"]] == [("INVALID", field_path)], bad
        assert repr(named) in bad["errors"][0]["message"]
    # L5 sends the same answer four times at once: one is taken, three are DUPLICATE.
    tries = await asyncio.gather(*(_submit(api, [{"questionKey": "overall", "value": 4},
                                                 {"questionKey": "recommend", "value": 9}], token=tokens[emails[4]])
                                   for _ in range(4)))
    assert sorted(tuple(e["code"] for e in t["errors"]) for t in tries) == [(), ("DUPLICATE",), ("DUPLICATE",),
                                                                             ("DUPLICATE",)]
    # L4 and L6 do not answer.

    # Knowledge scores: L1 40 -> 85.5 (+45.5), L2 60 -> 55 (-5), L5 50 -> 75.25 (+25.25); L4 only PRE (no gain).
    for i, pre, post in ((0, "40", "85.5"), (1, "60", "55"), (4, "50", "75.25"), (3, "70", None)):
        for kind, score in (("PRE", pre), ("POST", post)):
            if score is not None:
                done = (await api.data(SCORE, {"i": {"enrollmentId": enrolments[i], "kind": kind, "score": score}}))
                assert done["recordAssessmentScore"]["errors"] == [], done
    done = (await api.data(SCORE, {"i": {"enrollmentId": enrolments[0], "kind": "POST", "score": "85.50",
                                         "source": "quizzer"}}))["recordAssessmentScore"]
    assert done["score"] == {"kind": "POST", "score": "85.50", "source": "quizzer"}
    assert done["enrollment"]["assessmentScores"] == [{"kind": "PRE", "score": "40.00"},
                                                      {"kind": "POST", "score": "85.50"}]  # before, then after

    # Session 1 by hand: asked L1, L2, L4 (3); answered L1, L2 (2): 2/3 = 0.6667. Ratings 5, 3: 8/2 = 4.00.
    # NPS answers 10 (promoter), 6 (detractor): 100 x (1 - 1) / 2 = 0.00. Gains 45.50, -5.00: 40.50/2 = 20.25.
    summary = (await api.data(SUMMARY, {"id": one}))["node"]
    assert summary["status"] == "COMPLETED"
    s = summary["evaluationSummary"]
    assert (s["requested"], s["responded"], s["responseRate"], s["averageRating"], s["nps"], s["learningGain"]) == (
        3, 2, "0.6667", "4.00", "0.00", "20.25")
    assert {q["key"]: (q["answers"], q["average"], q["promoters"], q["detractors"], q["comments"])
            for q in s["questions"]} == {"overall": (2, "4.00", 0, 0, []), "recommend": (2, "8.00", 1, 1, []),
                                         "useful": (1, "1.00", 0, 0, []), "comment": (1, None, 0, 0, ["Great"])}

    # The report, by hand. Totals: ratings 5, 3, 4 = 12/3 = 4.00; NPS 10, 6, 9: promoters 2, detractors 1 of
    # 3: 100 x (2 - 1) / 3 = 33.33; answered 3 of 5 asked = 0.6000; gains 45.50 - 5.00 + 25.25 = 65.75 over 3
    # learners = 21.9166... = 21.92.
    today = date.today()
    ask = {"metrics": METRICS, "from": (today - timedelta(days=3)).isoformat(),
           "to": (today + timedelta(days=1)).isoformat()}
    report = (await api.data(REPORT, {"i": {**ask, "groupBy": ["COURSE"]}}))["report"]
    assert _values(report["totals"]) == {"AVERAGE_RATING": ("4.00", "12", "3"), "NPS": ("33.33", "1", "3"),
                                         "EVALUATION_RESPONSE_RATE": ("0.6000", "3", "5"),
                                         "LEARNING_GAIN": ("21.92", "65.75", "3")}
    by_course = {row["dimensions"][0]["key"]: _values(row["values"]) for row in report["rows"]}
    # Course 1 is session 1 (above); course 2 is session 2: L5 alone answered, 4 and 9; 1 of 2 asked; +25.25.
    assert by_course == {
        courses[0]: {"AVERAGE_RATING": ("4.00", "8", "2"), "NPS": ("0.00", "0", "2"),
                     "EVALUATION_RESPONSE_RATE": ("0.6667", "2", "3"), "LEARNING_GAIN": ("20.25", "40.50", "2")},
        courses[1]: {"AVERAGE_RATING": ("4.00", "4", "1"), "NPS": ("100.00", "1", "1"),
                     "EVALUATION_RESPONSE_RATE": ("0.5000", "1", "2"), "LEARNING_GAIN": ("25.25", "25.25", "1")}}
    by_teacher = {row["dimensions"][0]["key"]: _values(row["values"])["NPS"][0] for row in
                  (await api.data(REPORT, {"i": {**ask, "groupBy": ["INSTRUCTOR"]}}))["report"]["rows"]}
    assert by_teacher == {teacher_a: "0.00", teacher_b: "100.00"}

    # Who may see results: staff, and an instructor for their own sessions only; learners never.
    coordinator = await g.token(api, await g.person(api), "COORDINATOR")
    assert (await api.data(SUMMARY, {"id": one}, token=coordinator))["node"]["evaluationSummary"]["requested"] == 3
    assert (await api.data(SUMMARY, {"id": one}, token=instructor_token))["node"]["evaluationSummary"]["responded"] == 2
    for token in (instructor_token, learners[0][1], None):
        refused = await api(SUMMARY, {"id": two if token == instructor_token else one}, token=token)
        assert [e["extensions"]["code"] for e in refused["errors"]] == ["FORBIDDEN"], refused
    for token in (instructor_token, learners[0][1]):
        refused = await api(REPORT, {"i": ask}, token=token)
        assert [e["extensions"]["code"] for e in refused["errors"]] == ["FORBIDDEN"]

    # Audited and evented: the form, the requests (per session), each answer, each score.
    async with sessions() as db:
        audit = [(a, actor) for a, actor in (await db.execute(select(AuditEntry.action, AuditEntry.actor)
                                                               .order_by(AuditEntry.id))).all()
                 if a.startswith(("evaluation", "assessment"))]
        events = [m.topic for m in (await db.scalars(select(OutboxMessage).where(OutboxMessage.kind == "event")
                                                      .order_by(OutboxMessage.id))).all()
                  if m.topic.startswith(("evaluation", "assessment"))]
    assert [a for a, _ in audit].count("evaluation_form.create") == 2
    assert ("evaluation.request", "periodic:complete_sessions") in audit
    assert [a for a, _ in audit].count("evaluation.request") == 2          # one per session, the late one included
    assert sorted(actor for a, actor in audit if a == "evaluation.submit") == sorted(
        f"api:person:{p}" for p in (g_pk(learners[0][0]), g_pk(learners[1][0]), g_pk(learners[4][0])))
    assert [a for a, _ in audit].count("assessment.record") == 8
    assert events.count("evaluation_form.created") == 2 and events.count("evaluation.requested") == 2
    assert events.count("evaluation.submitted") == 3 and events.count("assessment.recorded") == 8


async def _all_completed(status, *session_ids) -> bool:
    return all([await status(s) == "COMPLETED" for s in session_ids])


def g_pk(global_id: str) -> int:
    from podium.core.ids import from_global_id

    return from_global_id(global_id)[1]


async def test_forms_and_scores_who_may_and_bad_input(api, app):
    """Forms and scores are staff's (ADMIN, COORDINATOR); an instructor and a learner are FORBIDDEN; bad forms
    and scores are INVALID with the field and change nothing; a form's change is audited and evented."""
    course = await g.course(api)
    coordinator = await g.token(api, await g.person(api), "COORDINATOR")
    learner_id = await g.person(api)
    learner = await g.token(api, learner_id, "LEARNER")
    await g.instructor(api, email="forms.teacher@example.com")
    instructor = await g.token(api, await g.person(api, email="forms.teacher@example.com"), "INSTRUCTOR")
    given = {"courseId": course, "title": "Feedback", "questions": QUESTIONS[:2]}
    for token in (instructor, learner):
        refused = (await api.data(FORM, {"i": given}, token=token))["createEvaluationForm"]
        assert refused["form"] is None and [e["code"] for e in refused["errors"]] == ["FORBIDDEN"]
    for questions, field_path in (
            ([], ["input", "questions"]),
            ([{"key": "Overall", "kind": "RATING_1_5", "text": "?"}], ["input", "questions", "0", "key"]),
            ([{"key": "a", "kind": "TEXT", "text": "?"}, {"key": "a", "kind": "YES_NO", "text": "?"}],
             ["input", "questions", "1", "key"]),
            ([{"key": "a", "kind": "TEXT", "text": "  "}], ["input", "questions", "0", "text"]),
            ([{"key": f"q{n}", "kind": "TEXT", "text": "?"} for n in range(51)], ["input", "questions"])):
        bad = (await api.data(FORM, {"i": {**given, "questions": questions}}))["createEvaluationForm"]
        assert [(e["code"], e["field"]) for e in bad["errors"]] == [("INVALID", field_path)], bad
    made = (await api.data(FORM, {"i": given}, token=coordinator))["createEvaluationForm"]
    assert made["errors"] == [] and made["form"]["course"] == {"id": course, "evaluationForm": {"id": made["form"]["id"]}}
    assert [q["required"] for q in made["form"]["questions"]] == [True, True]
    second = (await api.data(FORM, {"i": given}))["createEvaluationForm"]
    assert [(e["code"], e["field"]) for e in second["errors"]] == [("DUPLICATE", ["input", "courseId"])]
    form = made["form"]["id"]
    refused = (await api.data(UPDATE_FORM, {"i": {"formId": form, "title": "x"}}, token=instructor))
    assert [e["code"] for e in refused["updateEvaluationForm"]["errors"]] == ["FORBIDDEN"]
    changed = (await api.data(UPDATE_FORM, {"i": {"formId": form, "title": "Tell us", "questions": QUESTIONS}},
                              token=coordinator))["updateEvaluationForm"]
    assert changed["errors"] == [] and changed["form"]["title"] == "Tell us"
    assert [q["key"] for q in changed["form"]["questions"]] == ["overall", "recommend", "useful", "comment"]
    public = (await api.data("query($id: ID!) { node(id: $id) { ... on Course { evaluationForm { title } } } }",
                             {"id": course}, token=None))["node"]
    assert public == {"evaluationForm": {"title": "Tell us"}}          # the questions are no secret

    session = await g.session(api, course, [await g.instructor(api)])
    enrollment = (await g.enroll(api, session, learner_id))["enrollment"]["id"]
    for token in (instructor, learner):
        refused = (await api.data(SCORE, {"i": {"enrollmentId": enrollment, "kind": "PRE", "score": "50"}},
                                  token=token))["recordAssessmentScore"]
        assert [e["code"] for e in refused["errors"]] == ["FORBIDDEN"]
    for score in ("-1", "100.01", "87.555", "abc", "NaN", "Infinity", ""):
        bad = (await api.data(SCORE, {"i": {"enrollmentId": enrollment, "kind": "PRE", "score": score}}))
        assert [(e["code"], e["field"]) for e in bad["recordAssessmentScore"]["errors"]] == [
            ("INVALID", ["input", "score"])], (score, bad)
    done = (await api.data(SCORE, {"i": {"enrollmentId": enrollment, "kind": "PRE", "score": "0.1"}},
                           token=coordinator))["recordAssessmentScore"]
    assert done["score"] == {"kind": "PRE", "score": "0.10", "source": "MANUAL"}
    # a learner's own link-less submit before the session happened: INVALID, nothing recorded
    answers = [{"questionKey": "overall", "value": 2}, {"questionKey": "recommend", "value": 3}]
    early = (await api.data(SUBMIT, {"i": {"enrollmentId": enrollment, "answers": answers}}, token=learner))
    assert [e["code"] for e in early["submitEvaluation"]["errors"]] == ["INVALID"]
    both = (await api.data(SUBMIT, {"i": {"enrollmentId": enrollment, "token": "x", "answers": answers}},
                           token=learner))
    assert [e["code"] for e in both["submitEvaluation"]["errors"]] == ["INVALID"]
    # The session happens, the learner is PRESENT, it is completed (as the job does) before anyone was asked:
    # signed in, they answer with their enrolment at once, and count as asked.
    sessions = app.state.podium.sessions
    await g.time_passes(sessions, session, ended=False)
    done = await api.data(ATTEND, {"i": {"sessionId": session, "records": [{"enrollmentId": enrollment,
                                                                            "status": "PRESENT"}]}})
    assert done["recordAttendance"]["errors"] == []
    await g.time_passes(sessions, session)
    async with sessions() as db, changing(db):
        assert await complete_past_sessions(db, Actor.system("test"), utc_now()) == [g_pk(session)]
    mine = (await api.data(SUBMIT, {"i": {"enrollmentId": enrollment, "answers": answers}}, token=learner))
    assert mine["submitEvaluation"] == {"session": {"id": session}, "errors": []}
    summary = (await api.data(SUMMARY, {"id": session}))["node"]["evaluationSummary"]
    assert (summary["requested"], summary["responded"], summary["averageRating"], summary["nps"]) == (
        1, 1, "2.00", "-100.00")
    own = """query($id: ID!) { node(id: $id) { ... on Enrollment {
      evaluation { respondedAt answers { questionKey kind value yes } } } } }"""
    seen = (await api.data(own, {"id": enrollment}, token=learner))["node"]["evaluation"]
    assert seen["respondedAt"] and seen["answers"] == [
        {"questionKey": "overall", "kind": "RATING_1_5", "value": 2, "yes": None},
        {"questionKey": "recommend", "kind": "NPS_0_10", "value": 3, "yes": None}]

    async with app.state.podium.sessions() as db:
        audit = [a for a in (await db.scalars(select(AuditEntry.action).order_by(AuditEntry.id))).all()
                 if a.startswith(("evaluation", "assessment"))]
        events = [t for t in (await db.scalars(select(OutboxMessage.topic).where(OutboxMessage.kind == "event")
                                               .order_by(OutboxMessage.id))).all()
                  if t.startswith(("evaluation", "assessment"))]
    assert audit == ["evaluation_form.create", "evaluation_form.update", "assessment.record", "evaluation.submit"]
    assert events == ["evaluation_form.created", "evaluation_form.updated", "assessment.recorded",
                      "evaluation.submitted"]


PAGE = """query($course: ID!) { node(id: $course) { ... on Course { sessions(first: 20) { edges { node {
  evaluationSummary { requested responded averageRating questions { key answers comments } } } } } } } }"""


async def test_a_page_of_summaries_costs_the_same_statements_for_2_sessions_as_for_8(app, api):
    """An instructor's page of their sessions' summaries: one access check and three statements of results,
    whatever the number of sessions (DataLoaders)."""
    from sqlalchemy import event

    from podium.core.ids import to_global_id
    from tests import builders as b

    sessions = app.state.podium.sessions
    course = await b.course(sessions)
    assert (await api.data(FORM, {"i": {"courseId": to_global_id("Course", course.id), "title": "T",
                                        "questions": QUESTIONS}}))["createEvaluationForm"]["errors"] == []
    teacher = await b.instructor(sessions, email="page.teacher@example.com")
    token = await g.token(api, await g.person(api, email="page.teacher@example.com"), "INSTRUCTOR")
    engine = app.state.podium.engine.sync_engine

    async def statements() -> tuple[int, list]:
        seen: list[str] = []
        listener = lambda _conn, _cursor, statement, *args: seen.append(statement)  # noqa: E731
        event.listen(engine, "before_cursor_execute", listener)
        try:
            page = (await api.data(PAGE, {"course": to_global_id("Course", course.id)}, token=token))
        finally:
            event.remove(engine, "before_cursor_execute", listener)
        edges = page["node"]["sessions"]["edges"]
        return len([s for s in seen if not s.lstrip().upper().startswith(("BEGIN", "COMMIT", "ROLLBACK"))]), edges

    for day in (3, 4):
        await b.session(sessions, course_id=course.id, instructor_ids=[teacher.id], starts_at=b.soon(days=day))
    few, edges = await statements()
    assert len(edges) == 2 and all(e["node"]["evaluationSummary"]["requested"] == 0 for e in edges)
    for day in range(5, 11):
        await b.session(sessions, course_id=course.id, instructor_ids=[teacher.id], starts_at=b.soon(days=day))
    many, edges = await statements()
    assert len(edges) == 8 and few == many, (few, many)


async def test_a_question_whose_kind_changed_counts_only_the_answers_of_its_kind(api, app):
    """A RATING_1_5 question answered 5, then made NPS_0_10 and answered 0: the question's result counts the
    NPS answer alone (the 5 was no NPS detractor, and 5 and 0 average nothing), while the session's
    averageRating keeps the rating given under the old kind (answers keep their kind)."""
    course = await g.course(api)
    form = (await api.data(FORM, {"i": {"courseId": course, "title": "F", "questions": [
        {"key": "overall", "kind": "RATING_1_5", "text": "?"}]}}))["createEvaluationForm"]["form"]["id"]
    session = await g.session(api, course, [await g.instructor(api)])
    learners = [await _learner(api, f"Kind {n}") for n in (1, 2)]
    enrolments = [(await g.enroll(api, session, person))["enrollment"]["id"] for person, _ in learners]
    sessions = app.state.podium.sessions
    await g.time_passes(sessions, session, ended=False)
    assert (await api.data(ATTEND, {"i": {"sessionId": session, "records": [
        {"enrollmentId": e, "status": "PRESENT"} for e in enrolments]}}))["recordAttendance"]["errors"] == []
    await g.time_passes(sessions, session)
    async with sessions() as db, changing(db):
        await complete_past_sessions(db, Actor.system("test"), utc_now())
    first = await _submit(api, [{"questionKey": "overall", "value": 5}], enrollment=enrolments[0],
                          bearer=learners[0][1])
    assert first["errors"] == []
    changed = (await api.data(UPDATE_FORM, {"i": {"formId": form, "questions": [
        {"key": "overall", "kind": "NPS_0_10", "text": "?"}]}}))["updateEvaluationForm"]
    assert changed["errors"] == []
    second = await _submit(api, [{"questionKey": "overall", "value": 0}], enrollment=enrolments[1],
                           bearer=learners[1][1])
    assert second["errors"] == []
    summary = (await api.data(SUMMARY, {"id": session}))["node"]["evaluationSummary"]
    assert (summary["averageRating"], summary["nps"]) == ("5.00", "-100.00")
    assert [(q["key"], q["kind"], q["answers"], q["average"], q["promoters"], q["detractors"])
            for q in summary["questions"]] == [("overall", "NPS_0_10", 1, "0.00", 0, 1)]


async def test_simultaneous_first_submits_by_enrolment_take_one_and_refuse_the_rest(api, app):
    """A learner who attended a session completed before anyone was asked submits by their enrolment from four
    tabs at once: the request is made once, one submit is taken and three are DUPLICATE (on PostgreSQL the
    four each made the request and three failed on its unique enrolment as INTERNAL errors)."""
    course = await g.course(api)
    assert (await api.data(FORM, {"i": {"courseId": course, "title": "F", "questions": QUESTIONS[:1]}})
            )["createEvaluationForm"]["errors"] == []
    session = await g.session(api, course, [await g.instructor(api)])
    person, token = await _learner(api, "Four Tabs")
    enrollment = (await g.enroll(api, session, person))["enrollment"]["id"]
    sessions = app.state.podium.sessions
    await g.time_passes(sessions, session, ended=False)
    assert (await api.data(ATTEND, {"i": {"sessionId": session, "records": [
        {"enrollmentId": enrollment, "status": "PRESENT"}]}}))["recordAttendance"]["errors"] == []
    await g.time_passes(sessions, session)
    async with sessions() as db, changing(db):
        assert await complete_past_sessions(db, Actor.system("test"), utc_now()) == [g_pk(session)]
    answers = [{"questionKey": "overall", "value": 4}]
    results = await asyncio.gather(*(api(SUBMIT, {"i": {"enrollmentId": enrollment, "answers": answers}}, token=token)
                                     for _ in range(4)))
    assert all("errors" not in r for r in results), results
    codes = sorted(tuple(e["code"] for e in r["data"]["submitEvaluation"]["errors"]) for r in results)
    assert codes == [(), ("DUPLICATE",), ("DUPLICATE",), ("DUPLICATE",)]
    summary = (await api.data(SUMMARY, {"id": session}))["node"]["evaluationSummary"]
    assert (summary["requested"], summary["responded"], summary["averageRating"]) == (1, 1, "4.00")


async def test_simultaneous_scores_of_one_enrolment_queue_each_replacing_the_last(api, app):
    """Four PRE scores of one enrolment at once: each is recorded in turn, replacing the one before (audited
    with it); on PostgreSQL three were INTERNAL errors on the unique (enrolment, kind)."""
    course = await g.course(api)
    session = await g.session(api, course, [await g.instructor(api)])
    enrollment = (await g.enroll(api, session, await g.person(api)))["enrollment"]["id"]
    results = await asyncio.gather(*(api(SCORE, {"i": {"enrollmentId": enrollment, "kind": "PRE",
                                                       "score": str(10 + n)}}) for n in range(4)))
    assert all("errors" not in r and r["data"]["recordAssessmentScore"]["errors"] == [] for r in results), results
    async with app.state.podium.sessions() as db:
        changes = (await db.execute(select(AuditEntry.before, AuditEntry.after)
                                    .where(AuditEntry.action == "assessment.record").order_by(AuditEntry.id))).all()
    assert [b is None for b, _ in changes] == [True, False, False, False]
    assert [b["score_hundredths"] for b, _ in changes[1:]] == [a["score_hundredths"] for _, a in changes[:-1]]


async def test_a_learner_asking_by_their_own_submit_meanwhile_does_not_stop_the_periodic_requests(api, app):
    """The periodic job reads who is still to be asked while a learner's first submit by enrolment (their request
    made then) is not yet committed: the job's insert leaves that learner's request alone and asks the others
    (on PostgreSQL it failed on the unique enrolment, and the whole tick with it)."""
    from podium.core.services import evaluations

    course = await g.course(api)
    assert (await api.data(FORM, {"i": {"courseId": course, "title": "F", "questions": QUESTIONS[:1]}})
            )["createEvaluationForm"]["errors"] == []
    session = await g.session(api, course, [await g.instructor(api)])
    learners = [await _learner(api, f"Race {n}") for n in (1, 2)]
    enrolments = [(await g.enroll(api, session, person))["enrollment"]["id"] for person, _ in learners]
    sessions = app.state.podium.sessions
    await g.time_passes(sessions, session, ended=False)
    assert (await api.data(ATTEND, {"i": {"sessionId": session, "records": [
        {"enrollmentId": e, "status": "PRESENT"} for e in enrolments]}}))["recordAttendance"]["errors"] == []
    await g.time_passes(sessions, session)
    async with sessions() as db, changing(db):
        assert await complete_past_sessions(db, Actor.system("test"), utc_now()) == [g_pk(session)]

    async def periodic_requests() -> int:
        async with sessions() as db, changing(db):
            return await evaluations.request_evaluations(db, Actor.system("test"), [g_pk(session)], "secret")

    async with sessions() as db:
        async with changing(db):
            await evaluations.submit_evaluation(
                db, evaluations.Submitter(signed_in=True, person_id=g_pk(learners[0][0])),
                enrollment_id=g_pk(enrolments[0]), answers=[evaluations.AnswerInput("overall", value=5)])
            job = asyncio.create_task(periodic_requests())
            await asyncio.sleep(0.3)  # the job has read who is to be asked (PostgreSQL) or waits for the lock
        assert await job == 1  # the other learner
    summary = (await api.data(SUMMARY, {"id": session}))["node"]["evaluationSummary"]
    assert (summary["requested"], summary["responded"], summary["averageRating"]) == (2, 1, "5.00")
