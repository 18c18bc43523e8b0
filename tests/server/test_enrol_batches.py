"""Enrols into one session that arrive together are written together (core/services/enrol_batches.py):
every learner still gets the seat or the waitlist position of their turn, their own audit row and
event, and their own refusal; a failed batch leaves the others to be written alone."""
from __future__ import annotations

import asyncio

from sqlalchemy import text

from podium.core.ids import to_global_id
from podium.core.services import enrollment
from tests import builders as b
from tests.server.test_enroll_statements import ENROL, _learner_with_token


async def _enrol(api, session_id: int, learner_id: int, token: str) -> dict:
    body = await api.data(ENROL, {"i": {"sessionId": to_global_id("Session", session_id),
                                        "learnerId": to_global_id("Person", learner_id)}}, token=token)
    return body["enroll"]


async def _written(sessions, session_id: int) -> tuple[list[tuple], int, int, int]:
    async with sessions() as db:
        rows = (await db.execute(text("SELECT id, status, waitlist_position, created_at FROM enrollment "
                                      "WHERE session_id = :s ORDER BY id"), {"s": session_id})).all()
        audits = await db.scalar(text("SELECT count(*) FROM audit_entry WHERE action = 'enrollment.create'"))
        events = await db.scalar(text("SELECT count(*) FROM outbox_message WHERE topic = 'enrollment.changed'"))
    return rows, audits, events, len({r[3] for r in rows})


async def test_40_learners_at_once_fill_10_seats_then_a_fifo_waitlist_written_in_fewer_transactions(app, api):
    sessions = app.state.podium.sessions
    course = await b.course(sessions)
    s = await b.session(sessions, course_id=course.id, instructor_ids=[(await b.instructor(sessions)).id], capacity=10)
    learners = [await _learner_with_token(sessions) for _ in range(40)]
    answers = await asyncio.gather(*(_enrol(api, s.id, lid, token) for lid, token in learners))
    assert all(a["errors"] == [] for a in answers), answers
    rows, audits, events, transactions = await _written(sessions, s.id)
    assert len(rows) == 40 and audits == 40 and events == 40
    assert [r[1] for r in rows] == ["ENROLLED"] * 10 + ["WAITLISTED"] * 30   # seats first, by id (rule 3)
    assert [r[2] for r in rows[10:]] == list(range(1, 31))
    by_id = {to_global_id("Enrollment", r[0]): r for r in rows}
    assert all((by_id[a["enrollment"]["id"]][1], by_id[a["enrollment"]["id"]][2])
               == (a["enrollment"]["status"], a["enrollment"]["waitlistPosition"]) for a in answers)
    assert transactions < 40  # some were written together (one transaction stamps one time)


async def test_a_refused_learner_in_a_batch_is_refused_alone(app, api):
    sessions = app.state.podium.sessions
    course = await b.course(sessions)
    s = await b.session(sessions, course_id=course.id, instructor_ids=[(await b.instructor(sessions)).id], capacity=3)
    learners = [await _learner_with_token(sessions) for _ in range(6)]
    twice = learners[2]
    answers = await asyncio.gather(*(_enrol(api, s.id, lid, token) for lid, token in [*learners, twice, twice]))
    refused = [a for a in answers if a["errors"]]
    assert [e["code"] for a in refused for e in a["errors"]] == ["ALREADY_ENROLLED", "ALREADY_ENROLLED"]
    rows, audits, events, _ = await _written(sessions, s.id)
    assert len(rows) == 6 and audits == 6 and events == 6
    assert [r[1] for r in rows] == ["ENROLLED"] * 3 + ["WAITLISTED"] * 3


async def test_when_a_batch_fails_the_others_are_written_alone(app, api, monkeypatch):
    sessions = app.state.podium.sessions
    course = await b.course(sessions)
    s = await b.session(sessions, course_id=course.id, instructor_ids=[(await b.instructor(sessions)).id], capacity=5)
    learners = [await _learner_with_token(sessions) for _ in range(12)]
    real = enrollment.enroll_many
    failed = []

    async def fail_the_first_batch_of_several(db, session_id, asks, joining=None):
        def join():  # the lock is held and others joined: the connection goes
            joined = joining()
            if joined and not failed:
                failed.append(len(asks) + len(joined))
                raise ConnectionResetError("the database went away")
            return joined

        return await real(db, session_id, asks, join if joining else None)

    monkeypatch.setattr(enrollment, "enroll_many", fail_the_first_batch_of_several)
    answers = await asyncio.gather(*(api.client.post("/graphql", json={"query": ENROL, "variables": {"i": {
        "sessionId": to_global_id("Session", s.id), "learnerId": to_global_id("Person", lid)}}},
        headers={"Authorization": f"Bearer {token}"}) for lid, token in learners))
    assert failed, "no batch of several formed"
    codes = [a.status_code for a in answers]
    assert codes.count(503) == 1 and codes.count(200) == 11   # only the batch's writer saw the failure
    rows, audits, events, _ = await _written(sessions, s.id)
    assert len(rows) == 11 and audits == 11 and events == 11
    assert [r[1] for r in rows] == ["ENROLLED"] * 5 + ["WAITLISTED"] * 6
    assert [r[2] for r in rows[5:]] == list(range(1, 7))


async def test_a_batch_takes_at_most_its_limit_and_the_rest_make_the_next(app, api, monkeypatch):
    from podium.core.services import enrol_batches

    sessions = app.state.podium.sessions
    course = await b.course(sessions)
    s = await b.session(sessions, course_id=course.id, instructor_ids=[(await b.instructor(sessions)).id], capacity=4)
    learners = [await _learner_with_token(sessions) for _ in range(15)]
    sizes = []
    real = enrollment.enroll_many

    async def counting(db, session_id, asks, joining=None):
        def join():
            joined = joining()
            sizes.append(len(asks) + len(joined))
            return joined

        if joining is None:
            sizes.append(len(asks))
        return await real(db, session_id, asks, join if joining else None)

    monkeypatch.setattr(enrol_batches, "BATCH_LIMIT", 3)
    monkeypatch.setattr(enrollment, "enroll_many", counting)
    answers = await asyncio.gather(*(_enrol(api, s.id, lid, token) for lid, token in learners))
    assert all(a["errors"] == [] for a in answers)
    assert sum(sizes) == 15 and max(sizes) == 3
    rows, audits, events, _ = await _written(sessions, s.id)
    assert [r[1] for r in rows] == ["ENROLLED"] * 4 + ["WAITLISTED"] * 11
    assert [r[2] for r in rows[4:]] == list(range(1, 12)) and audits == 15 and events == 15
