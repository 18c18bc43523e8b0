"""Rosters on a sessions page and bookings on a resources page: the same few SQL statements for
10 parents as for 100 (each asks for its own page, they are fetched together)."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import event

from podium.core.db import changing
from podium.core.models import DeliveryMode
from podium.core.services import enrollment
from tests import builders as b
from tests.builders import ADMIN

ROSTERS = """query($first: Int) { sessions(first: $first) { edges { node { title capacity
  enrollments(first: 5) { totalCount pageInfo { hasNextPage }
    edges { node { learner { name } status waitlistPosition } } } } } } }"""
BOOKINGS = """query($first: Int, $from: DateTime!, $to: DateTime!) { resources(kind: ROOM, first: $first) {
  edges { node { name bookings(from: $from, to: $to) { role startsAt session { title } } } } } }"""


async def _statements(app, api, query: str, variables: dict) -> tuple[int, dict]:
    statements: list[str] = []

    def count(conn, cursor, statement, *args):
        statements.append(statement)

    engine = app.state.podium.engine.sync_engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        body = await api.data(query, variables)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    return len([s for s in statements if not s.lstrip().upper().startswith(("BEGIN", "COMMIT", "ROLLBACK"))]), body


async def test_a_hundred_rosters_cost_what_ten_do(app, api):
    sessions = app.state.podium.sessions
    course = await b.course(sessions)
    teacher = await b.instructor(sessions)
    learners = await b.people(sessions, 8)
    for n in range(100):
        s = await b.session(sessions, course_id=course.id, instructor_ids=[teacher.id], capacity=3,
                            title=f"S{n}", starts_at=b.soon(days=2) + timedelta(hours=3 * n))
        async with sessions() as db, changing(db):
            for learner in learners[: n % 8]:
                await enrollment.enroll(db, ADMIN, s.id, learner)

    few, small = await _statements(app, api, ROSTERS, {"first": 10})
    many, large = await _statements(app, api, ROSTERS, {"first": 100})
    assert few == many <= 5, (few, many)  # sessions, instructors and rooms, rosters, counts, learners

    nodes = [e["node"] for e in large["sessions"]["edges"]]
    assert len(nodes) == 100 and [e["node"] for e in small["sessions"]["edges"]] == nodes[:10]
    assert [n["enrollments"]["totalCount"] for n in nodes[:9]] == [0, 1, 2, 3, 4, 5, 6, 7, 0]
    seventh = nodes[7]["enrollments"]
    assert seventh["pageInfo"]["hasNextPage"] and not nodes[5]["enrollments"]["pageInfo"]["hasNextPage"]
    assert [(e["node"]["status"], e["node"]["waitlistPosition"]) for e in seventh["edges"]] == [
        ("ENROLLED", None), ("ENROLLED", None), ("ENROLLED", None), ("WAITLISTED", 1), ("WAITLISTED", 2)]
    names = [e["node"]["learner"]["name"] for e in seventh["edges"]]
    assert len(set(names)) == 5 and names == [e["node"]["learner"]["name"] for e in nodes[15]["enrollments"]["edges"]]


async def test_the_bookings_of_a_rooms_page_cost_what_a_few_rooms_do(app, api):
    sessions = app.state.podium.sessions
    course = await b.course(sessions)
    teachers = [(await b.instructor(sessions)).id for _ in range(3)]
    start = b.soon(days=3)
    for n in range(40):
        room = await b.room(sessions, capacity=30)
        for week in range(2):  # the second week falls outside the window asked for
            await b.session(sessions, course_id=course.id, instructor_ids=[teachers[n % 3]], room_id=room.id,
                            mode=DeliveryMode.IN_PERSON, title=f"R{n}W{week}",
                            starts_at=start + timedelta(days=7 * week, hours=3 * n))
    window = {"from": (start - timedelta(days=1)).isoformat(), "to": (start + timedelta(days=6)).isoformat()}

    few, small = await _statements(app, api, BOOKINGS, {"first": 4, **window})
    many, large = await _statements(app, api, BOOKINGS, {"first": 40, **window})
    assert few == many <= 4, (few, many)  # rooms, bookings, their sessions and teaching bookings

    rooms = [e["node"] for e in large["resources"]["edges"]]
    assert len(rooms) == 40 and [e["node"] for e in small["resources"]["edges"]] == rooms[:4]
    assert all([(x["role"], x["session"]["title"]) for x in r["bookings"]] == [("ROOM", f"R{n}W0")]
               for n, r in enumerate(rooms))
