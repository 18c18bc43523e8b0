"""The sessions page runs the same few SQL statements for 10 sessions as for 100."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import event

from podium.core.db import changing
from podium.core.models import DeliveryMode
from podium.core.services import enrollment
from tests import builders as b
from tests.builders import ADMIN
from tests.server.conftest import ADMIN_TOKEN

PAGE = """query($first: Int) { sessions(first: $first) { totalCount pageInfo { hasNextPage endCursor }
  edges { cursor node { id title startsAt endsAt status capacity seatsTaken seatsLeft waitlistCount
    course { id code title } room { id name capacity } instructors { id name email } } } } }"""


async def _build(sessions_factory, how_many: int) -> None:
    course = await b.course(sessions_factory)
    rooms = [await b.room(sessions_factory, capacity=40) for _ in range(3)]
    teachers = [await b.instructor(sessions_factory) for _ in range(4)]
    learners = await b.people(sessions_factory, 6)
    for n in range(how_many):
        s = await b.session(sessions_factory, course_id=course.id, instructor_ids=[teachers[n % 4].id, teachers[(n + 1) % 4].id],
                            room_id=rooms[n % 3].id, mode=DeliveryMode.IN_PERSON, capacity=3,
                            starts_at=b.soon(days=2) + timedelta(hours=3 * n))
        async with sessions_factory() as db, changing(db):
            for learner in learners[: n % 6]:
                await enrollment.enroll(db, ADMIN, s.id, learner)


async def _statements_for_page(app, api, first: int) -> tuple[int, dict]:
    statements: list[str] = []

    def count(conn, cursor, statement, *args):
        statements.append(statement)

    engine = app.state.podium.engine.sync_engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        body = await api.data(PAGE, {"first": first}, token=ADMIN_TOKEN)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    return len([s for s in statements if not s.lstrip().upper().startswith(("BEGIN", "COMMIT", "ROLLBACK"))]), body


async def test_ten_and_a_hundred_sessions_cost_the_same_statements(app, api):
    await _build(app.state.podium.sessions, 100)
    few, small = await _statements_for_page(app, api, 10)
    many, large = await _statements_for_page(app, api, 100)
    assert len(small["sessions"]["edges"]) == 10 and len(large["sessions"]["edges"]) == 100
    assert few == many <= 6, (few, many)

    nodes = [e["node"] for e in large["sessions"]["edges"]]
    assert all(len(n["instructors"]) == 2 and n["room"] and n["course"]["code"] for n in nodes)
    assert [n["seatsTaken"] for n in nodes[:7]] == [0, 1, 2, 3, 3, 3, 0]
    assert [n["waitlistCount"] for n in nodes[:7]] == [0, 0, 0, 0, 1, 2, 0]
    assert all(n["seatsLeft"] == n["capacity"] - n["seatsTaken"] for n in nodes)


async def test_pages_are_cut_in_sql_by_keyset_not_in_python(app, api):
    """Walking 100 sessions 10 at a time: each page's query asks the database for 11 rows after the
    cursor's (startsAt, id), skipping none (no OFFSET beyond 0), and the pages join up in order without a gap or a repeat."""
    await _build(app.state.podium.sessions, 100)
    page_queries: list[tuple[str, object]] = []

    def keep(conn, cursor, statement, parameters, *args):
        if "FROM session" in statement and "LIMIT" in statement.upper():
            page_queries.append((statement, parameters))

    engine = app.state.podium.engine.sync_engine
    seen, after = [], None
    event.listen(engine, "before_cursor_execute", keep)
    try:
        while True:
            body = await api.data("query($after: String) { sessions(first: 10, after: $after) { "
                                  "pageInfo { hasNextPage endCursor } edges { node { id startsAt } } } }",
                                  {"after": after}, token=ADMIN_TOKEN)
            page = body["sessions"]
            seen += [e["node"] for e in page["edges"]]
            if not page["pageInfo"]["hasNextPage"]:
                break
            after = page["pageInfo"]["endCursor"]
    finally:
        event.remove(engine, "before_cursor_execute", keep)
    assert len(seen) == 100 and len({n["id"] for n in seen}) == 100
    assert [n["startsAt"] for n in seen] == sorted(n["startsAt"] for n in seen)
    assert len(page_queries) == 10
    for number, (statement, parameters) in enumerate(page_queries):
        values = list(parameters.values()) if isinstance(parameters, dict) else list(parameters)
        if "OFFSET" in statement.upper():                              # SQLite's dialect writes LIMIT ? OFFSET 0
            assert values[-1] == 0, (statement, parameters)
        assert 11 in values, (statement, parameters)                  # first + 1: is there a next page?
        if number:                                                     # after a cursor: the keyset condition
            assert "starts_at >" in statement and "session.id >" in statement, statement
