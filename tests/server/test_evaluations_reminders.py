"""Evaluation reminders, on SQLite and PostgreSQL: a learner who has not answered
PODIUM_EVALUATION_REMINDER_AFTER_HOURS after being asked gets one `evaluation.reminded` notification (the
periodic job `remind_evaluations`, through the real dispatcher), with the very link of the request, which
then submits; one who answered gets none; later ticks send nothing more; two ticks at once remind once;
the oldest first, a bounded number a tick, none for a request older than twice the delay; 0 turns it off.

Time passes as elsewhere in these tests: the requests are moved back (`requested_at`), not the clock."""
from __future__ import annotations

import asyncio
import re
import secrets
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import func, select

from podium.core import hookimpl
from podium.core.audit import Actor
from podium.core.db import changing
from podium.core.ids import to_global_id
from podium.core.instants import utc_now
from podium.core.models import (
    AuditEntry, Enrollment, EnrollmentStatus, EvaluationRequest, PeriodicRun,
)
from podium.core.services import periodic
from podium.core.services.evaluations import evaluation_token, remind_evaluations, token_hash
from podium.server.app import create_app
from tests import builders as b
from tests.dispatching import eventually, outbox_rows, settings_from
from tests.server import graph as g
from tests.server import programs_world as w
from tests.server.conftest import ADMIN_TOKEN, Api
from tests.server.test_evaluations import ATTEND, FORM, INVITATION, QUESTIONS, SUBMIT

SECRET = "reminders-test-secret"
ACTOR = Actor.system("periodic:remind_evaluations")
ANSWERS = [{"questionKey": "overall", "value": 4}, {"questionKey": "recommend", "value": 8}]


class Channel:
    def __init__(self) -> None:
        self.recorder = w.Recorder()

    @hookimpl
    def podium_notification_channels(self):
        return [self.recorder]

    def sent(self, kind: str) -> dict[str, str]:
        """Recipient -> the token in their link, of the notifications of `kind`."""
        return {n.to: re.search(r"evaluate\?token=([A-Za-z0-9_-]+)", n.text).group(1)
                for n in self.recorder.delivered if n.kind == kind}

    def count(self, kind: str) -> int:
        return len([n for n in self.recorder.delivered if n.kind == kind])


@pytest.fixture
async def running(database_url):
    """The app with its dispatcher and periodic jobs: sessions completed and reminders looked for every 0.2 s."""
    settings = settings_from({"PODIUM_PLUGINS": ""}, database_url=database_url, admin_token=ADMIN_TOKEN,
                             reminder_hours=0, complete_sessions_every_seconds=0.2, session_completion_grace_minutes=0,
                             remind_evaluations_every_seconds=0.2, evaluation_reminder_after_hours=72,
                             secret_key=SECRET, public_url="https://podium.example")
    channel = Channel()
    app = create_app(settings, extra_plugins=[("channel", channel)])
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://podium.test") as client:
            yield Api(client), channel, app.state.podium.sessions


async def _finished_ticks(sessions) -> int:
    async with sessions() as db:
        return await db.scalar(select(func.count()).select_from(PeriodicRun).where(
            PeriodicRun.job == "remind_evaluations", PeriodicRun.finished_at.is_not(None)))


async def _more_ticks(sessions, n: int) -> None:
    """Wait until the reminder job has finished `n` more ticks."""
    start = await _finished_ticks(sessions)
    await eventually(lambda: _at_least(sessions, start + n), what=f"{n} more reminder ticks")


async def _at_least(sessions, n: int) -> bool:
    return await _finished_ticks(sessions) >= n


async def _requests_age(sessions, hours: float) -> None:
    """Every request was made `hours` earlier than it was: the delay passes."""
    async with sessions() as db, changing(db):
        for request in (await db.scalars(select(EvaluationRequest))).all():
            request.requested_at -= timedelta(hours=hours)


async def test_an_unanswered_learner_is_reminded_once_with_the_link_that_submits(running):
    api, channel, sessions = running
    course = await g.course(api)
    made = await api.data(FORM, {"i": {"courseId": course, "title": "Your view", "questions": QUESTIONS}})
    assert made["createEvaluationForm"]["errors"] == []
    session = await g.session(api, course, [await g.instructor(api)], starts_at=g.at(days=3))
    learners = [await g.person(api, name=f"Learner {n}") for n in range(3)]
    emails = await w.emails_of(sessions, learners)
    enrolments = [(await g.enroll(api, session, person))["enrollment"]["id"] for person in learners]
    await g.time_passes(sessions, session, ended=False)
    attended = await api.data(ATTEND, {"i": {"sessionId": session, "records": [
        {"enrollmentId": e, "status": "PRESENT"} for e in enrolments]}})
    assert attended["recordAttendance"]["errors"] == []
    await g.time_passes(sessions, session)
    await eventually(lambda: channel.count("evaluation.requested") == 3, what="3 evaluation requests")
    asked = channel.sent("evaluation.requested")

    # L0 answers at once; a few ticks later no one is reminded: the delay has not passed.
    done = (await api.data(SUBMIT, {"i": {"token": asked[emails[0]], "answers": ANSWERS}}, token=None))
    assert done["submitEvaluation"]["errors"] == []
    await _more_ticks(sessions, 3)
    assert channel.count("evaluation.reminded") == 0

    # 73 hours later: L1 and L2, who have not answered, are reminded once, each with their own link again.
    await _requests_age(sessions, 73)
    await eventually(lambda: channel.count("evaluation.reminded") == 2, what="2 reminders")
    reminded = channel.sent("evaluation.reminded")
    assert reminded == {emails[1]: asked[emails[1]], emails[2]: asked[emails[2]]}
    letter = next(n for n in channel.recorder.delivered if n.kind == "evaluation.reminded" and n.to == emails[1])
    assert f"https://podium.example/evaluate?token={asked[emails[1]]}" in letter.html
    assert letter.subject.startswith("Reminder:")

    # Further ticks (and more time) send nothing more.
    await _requests_age(sessions, 10)
    await _more_ticks(sessions, 3)
    assert channel.count("evaluation.reminded") == 2
    events = await outbox_rows(sessions, kind="event", topic="evaluation.reminded")
    assert [m.payload["payload"] for m in events] == [{"session": session, "enrollments": enrolments[1:]}]
    async with sessions() as db:
        audit = (await db.execute(select(AuditEntry.actor, AuditEntry.target_type, AuditEntry.after)
                                  .where(AuditEntry.action == "evaluation.remind"))).all()
        marked = (await db.execute(select(EvaluationRequest.enrollment_id, EvaluationRequest.reminded_at)
                                   .order_by(EvaluationRequest.enrollment_id))).all()
    assert [tuple(a) for a in audit] == [("periodic:remind_evaluations", "Session", {"enrollments": enrolments[1:]})]
    assert [reminded_at is not None for _, reminded_at in marked] == [False, True, True]

    # The reminder's link is the learner's: it shows their evaluation and submits it, once.
    invitation = (await api.data(INVITATION, {"t": reminded[emails[1]]}, token=None))["evaluationInvitation"]
    assert invitation["responded"] is False and invitation["session"] == {"id": session}
    by_reminder = await api.data(SUBMIT, {"i": {"token": reminded[emails[1]], "answers": ANSWERS}}, token=None)
    assert by_reminder["submitEvaluation"] == {"session": {"id": session}, "errors": []}
    again = await api.data(SUBMIT, {"i": {"token": reminded[emails[1]], "answers": ANSWERS}}, token=None)
    assert [e["code"] for e in again["submitEvaluation"]["errors"]] == ["DUPLICATE"]


# --- the rule itself, on the service ---------------------------------------------------------------

async def _requests(sessions, ages_hours: list[float], answered: frozenset[int] = frozenset()) -> list[int]:
    """Learners of one session asked `ages_hours` ago (those at `answered` positions have answered); their
    enrolment ids, in that order."""
    course, teacher = await b.course(sessions), await b.instructor(sessions)
    session = await b.session(sessions, course_id=course.id, instructor_ids=[teacher.id])
    learners = await b.people(sessions, len(ages_hours))
    now, ids = utc_now(), []
    async with sessions() as db, changing(db):
        for i, (learner, age) in enumerate(zip(learners, ages_hours)):
            enrollment = Enrollment(session_id=session.id, learner_id=learner, status=EnrollmentStatus.ENROLLED)
            db.add(enrollment)
            await db.flush()
            nonce = secrets.token_urlsafe(32)
            db.add(EvaluationRequest(enrollment_id=enrollment.id, session_id=session.id, nonce=nonce,
                                     token_hash=token_hash(evaluation_token(SECRET, nonce)),
                                     requested_at=now - timedelta(hours=age),
                                     responded_at=now if i in answered else None))
            ids.append(enrollment.id)
    return ids


async def _remind(sessions, after_hours: int = 72, limit: int = 500) -> int:
    async with sessions() as db, changing(db):
        return await remind_evaluations(db, ACTOR, utc_now(), after_hours, limit)


async def _reminded(sessions) -> list[int]:
    async with sessions() as db:
        return list((await db.scalars(select(EvaluationRequest.enrollment_id).where(
            EvaluationRequest.reminded_at.is_not(None)).order_by(EvaluationRequest.enrollment_id))).all())


async def test_due_between_the_delay_and_twice_it_unanswered_and_once(sessions):
    # 1 h (not yet), 73 h, 100 h (due), 150 h (over twice 72: too late), 80 h but answered
    fresh, due, later, stale, answered = await _requests(sessions, [1, 73, 100, 150, 80], answered=frozenset({4}))
    assert await _remind(sessions) == 2
    assert await _reminded(sessions) == [due, later]
    assert await _remind(sessions) == 0                                   # the next tick: nothing more
    events = await outbox_rows(sessions, kind="event", topic="evaluation.reminded")
    assert [m.payload["payload"]["enrollments"] for m in events] == [[to_global_id("Enrollment", due),
                                                                       to_global_id("Enrollment", later)]]
    assert {fresh, stale, answered}.isdisjoint(await _reminded(sessions))


async def test_the_oldest_first_a_bounded_number_a_tick(sessions):
    newest, middle, oldest = await _requests(sessions, [80, 90, 100])
    assert await _remind(sessions, limit=2) == 2
    assert await _reminded(sessions) == [middle, oldest]
    assert await _remind(sessions, limit=2) == 1
    assert await _reminded(sessions) == [newest, middle, oldest]


async def test_two_ticks_at_once_remind_once(sessions):
    """The first tick has marked the requests and not committed; the second, meanwhile, finds the same ones
    due (PostgreSQL: waits on their rows, then finds them marked; SQLite: waits for the write lock)."""
    await _requests(sessions, [73, 74, 75])
    marked, release = asyncio.Event(), asyncio.Event()

    async def first() -> int:
        async with sessions() as db, changing(db):
            done = await remind_evaluations(db, ACTOR, utc_now(), 72, 500)
            marked.set()
            await release.wait()
        return done

    one = asyncio.create_task(first())
    await marked.wait()
    two = asyncio.create_task(_remind(sessions))
    await asyncio.sleep(0.3)
    assert not two.done()                                                  # held until the first commits
    release.set()
    assert sorted(await asyncio.gather(one, two)) == [0, 3]
    assert len(await outbox_rows(sessions, kind="event", topic="evaluation.reminded")) == 1
    async with sessions() as db:
        assert len((await db.scalars(select(AuditEntry.id).where(AuditEntry.action == "evaluation.remind"))).all()) == 1


async def test_zero_turns_reminders_off(sessions):
    await _requests(sessions, [73])
    assert await _remind(sessions, after_hours=0) == 0
    assert await _reminded(sessions) == []
    now = utc_now()
    on = await periodic.start_periodic(sessions, settings_from({"PODIUM_PLUGINS": ""}, plugins=()), None, now)
    off = await periodic.start_periodic(sessions, settings_from({"PODIUM_PLUGINS": "",
                                                                 "PODIUM_EVALUATION_REMINDER_AFTER_HOURS": "0"},
                                                                plugins=()), None, now)
    assert "remind_evaluations" in on and "remind_evaluations" not in off
