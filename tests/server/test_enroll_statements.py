"""An enrol is a short write: one statement to lock the session, one to read everything the rules
check, three inserts (the enrolment, its audit row, its outbox row; on PostgreSQL one INSERT with the
other two as data-modifying CTEs, so the session's row lock is held for fewer round trips), and no
read after the commit, whether it takes a seat or joins the waitlist, and however full the session
already is."""
from __future__ import annotations

from sqlalchemy import event

from podium.core.db import changing
from podium.core.ids import to_global_id
from podium.core.models import Role
from podium.core.services.access import issue_token
from tests import builders as b
from tests.builders import ADMIN

ENROL = """mutation($i: EnrollInput!) { enroll(input: $i) {
  enrollment { id status waitlistPosition } errors { code field message } } }"""
WRITE = ("INSERT INTO enrollment", "INSERT INTO audit_entry", "INSERT INTO outbox_message")


async def _learner_with_token(sessions) -> tuple[int, str]:
    learner = await b.person(sessions)
    async with sessions() as db, changing(db):
        _, token = await issue_token(db, ADMIN, person_id=learner.id, role=Role.LEARNER)
    return learner.id, token


async def _enrol_counting(app, api, session_id: int, learner_id: int, token: str) -> tuple[list[str], dict]:
    """The SQL statements of one learner's own enrol over HTTP (transaction control left out), and the answer."""
    statements: list[str] = []

    def keep(conn, cursor, statement, *args):
        if not statement.lstrip().upper().startswith(("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE")):
            statements.append(" ".join(statement.split()))

    engine = app.state.podium.engine.sync_engine
    event.listen(engine, "before_cursor_execute", keep)
    try:
        body = await api.data(ENROL, {"i": {"sessionId": to_global_id("Session", session_id),
                                            "learnerId": to_global_id("Person", learner_id)}}, token=token)
    finally:
        event.remove(engine, "before_cursor_execute", keep)
    return statements, body["enroll"]


async def test_an_enrol_runs_six_statements_four_on_postgresql_seat_or_waitlist_and_nothing_after_its_commit(app, api):
    sessions = app.state.podium.sessions
    postgresql = app.state.podium.engine.dialect.name == "postgresql"
    course = await b.course(sessions)
    lead = await b.instructor(sessions)
    s = await b.session(sessions, course_id=course.id, instructor_ids=[lead.id], capacity=3)
    answers = []
    for n in range(8):
        learner, token = await _learner_with_token(sessions)
        statements, answer = await _enrol_counting(app, api, s.id, learner, token)
        assert answer["errors"] == [], answer
        answers.append((answer["enrollment"]["status"], answer["enrollment"]["waitlistPosition"]))
        # the token, the session's lock, everything the rules check, then the three rows: the last statement
        assert len(statements) == (4 if postgresql else 6), (n, statements)
        assert statements[0].startswith("SELECT api_token.token_hash, api_token.role")
        assert "FOR UPDATE" in statements[1] or not postgresql
        assert statements[1].startswith("SELECT session.id")
        if postgresql:  # WITH rows_0 AS (INSERT INTO enrollment …), rows_1 AS (INSERT INTO audit_entry …)
            #             INSERT INTO outbox_message …
            assert statements[3].startswith("WITH rows_0 AS (INSERT INTO enrollment"), statements[3]
            assert [w in statements[3] for w in WRITE] == [True] * 3, statements[3]
        else:
            assert [st.split(" (")[0] for st in statements[3:]] == list(WRITE), statements[3:]
    assert answers == [("ENROLLED", None)] * 3 + [("WAITLISTED", p) for p in range(1, 6)]


async def test_a_refused_enrol_writes_nothing(app, api):
    sessions = app.state.podium.sessions
    course = await b.course(sessions)
    lead = await b.instructor(sessions)
    s = await b.session(sessions, course_id=course.id, instructor_ids=[lead.id], capacity=3)
    learner, token = await _learner_with_token(sessions)
    await _enrol_counting(app, api, s.id, learner, token)
    statements, answer = await _enrol_counting(app, api, s.id, learner, token)
    assert [e["code"] for e in answer["errors"]] == ["ALREADY_ENROLLED"] and answer["enrollment"] is None
    assert len(statements) == 3 and not any(st.startswith(("INSERT", "UPDATE")) for st in statements), statements
