"""`me` for a portal, over HTTP on both databases: the caller's enrolments (with waitlist positions and
where each session is), the sessions they teach, their journeys; paged in SQL at a constant statement
count; and nobody else's data reachable through `me`, `node` or a session's roster."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import event, insert

from podium.core.db import changing
from podium.core.ids import from_global_id
from podium.core.instants import utc_now
from podium.core.models import Course, DeliveryMode, Enrollment, EnrollmentStatus, Session, SessionStatus
from tests.server import graph as g
from tests.server.test_portal_catalogue import room_in, venue

MY_ENROLMENTS = """query($status: [EnrollmentStatus!], $upcoming: Boolean, $first: Int, $after: String) { me {
  enrollments(status: $status, upcoming: $upcoming, first: $first, after: $after) {
    totalCount pageInfo { hasNextPage endCursor }
    edges { node { id status waitlistPosition learner { id }
      session { id title seatsLeft waitlistCount venue { name city } } } } } } }"""
TEACHING = """query($f: SessionFilter) { me { teaching(filter: $f, first: 10) { totalCount edges { node { title } } } } }"""


async def _world(api):
    """A learner enrolled in London (seated), waitlisted online, cancelled, and in a past-ending session;
    another learner in some of the same sessions."""
    london = await venue(api, name="London Centre", city="London")
    room = await room_in(api, london)
    lead = await g.instructor(api, email="lead@example.com")
    course = await g.course(api)
    me, other = await g.person(api), await g.person(api)
    seated = await g.session(api, course, [lead], starts_at=g.at(days=2), title="Seated", deliveryMode="IN_PERSON",
                             roomId=room)
    full = await g.session(api, course, [lead], starts_at=g.at(days=3), title="Full", capacity=1)
    dropped = await g.session(api, course, [lead], starts_at=g.at(days=4), title="Dropped")
    ids = {}
    for session in (seated, full, dropped):
        if session == full:
            await g.enroll(api, full, other)
        ids[session] = (await g.enroll(api, session, me))["enrollment"]["id"]
    await g.enroll(api, seated, other)
    cancelled = await api.data(g.CANCEL_ENROLLMENT, {"i": {"enrollmentId": ids[dropped]}})
    assert cancelled["cancelEnrollment"]["errors"] == []
    return {"me": me, "other": other, "seated": seated, "full": full, "dropped": dropped, "lead": lead,
            "course": course, "enrollments": ids, "token": await g.token(api, me, "LEARNER"),
            "other_token": await g.token(api, other, "LEARNER")}


async def test_my_enrolments_show_the_session_where_it_is_and_my_waitlist_place(api):
    w = await _world(api)
    data = await api.data(MY_ENROLMENTS, {"status": ["ENROLLED", "WAITLISTED"], "upcoming": True}, token=w["token"])
    page = data["me"]["enrollments"]
    assert page["totalCount"] == 2
    nodes = [e["node"] for e in page["edges"]]
    assert [(n["session"]["title"], n["status"], n["waitlistPosition"]) for n in nodes] == [
        ("Seated", "ENROLLED", None), ("Full", "WAITLISTED", 1)]
    assert nodes[0]["session"]["venue"] == {"name": "London Centre", "city": "London"}
    assert nodes[0]["session"]["seatsLeft"] == 18 and nodes[1]["session"]["seatsLeft"] == 0
    assert nodes[1]["session"]["venue"] is None and {n["learner"]["id"] for n in nodes} == {w["me"]}

    everything = (await api.data(MY_ENROLMENTS, {}, token=w["token"]))["me"]["enrollments"]
    assert [e["node"]["status"] for e in everything["edges"]] == ["ENROLLED", "WAITLISTED", "CANCELLED"]
    assert (await api.data(MY_ENROLMENTS, {"upcoming": False}, token=w["token"]))["me"]["enrollments"]["totalCount"] == 0

    walked, after = [], None
    while True:
        page = (await api.data(MY_ENROLMENTS, {"first": 1, "after": after}, token=w["token"]))["me"]["enrollments"]
        walked += [e["node"]["session"]["title"] for e in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert walked == ["Seated", "Full", "Dropped"]
    bad = await api(MY_ENROLMENTS, {"after": "bm90IGEgY3Vyc29y"}, token=w["token"])
    assert [e["extensions"]["code"] for e in bad["errors"]] == ["INVALID"]


async def test_me_teaching_lists_the_sessions_i_instruct(api):
    w = await _world(api)
    someone = await g.instructor(api)
    await g.session(api, w["course"], [someone], starts_at=g.at(days=2), title="Not mine")
    co_taught = await g.session(api, w["course"], [someone, w["lead"]], starts_at=g.at(days=9), title="Co-taught")
    assert co_taught
    teacher = await g.token(api, await g.person(api, email="LEAD@example.com", name="Lead"), "INSTRUCTOR")
    data = (await api.data(TEACHING, {}, token=teacher))["me"]["teaching"]
    assert [e["node"]["title"] for e in data["edges"]] == ["Seated", "Full", "Dropped", "Co-taught"]
    assert data["totalCount"] == 4
    near = (await api.data(TEACHING, {"f": {"city": "london"}}, token=teacher))["me"]["teaching"]
    assert [e["node"]["title"] for e in near["edges"]] == ["Seated"]
    learner = (await api.data(TEACHING, {}, token=w["token"]))["me"]["teaching"]
    assert learner == {"totalCount": 0, "edges": []}


async def test_me_journeys_and_certifications_are_my_own(api):
    w = await _world(api)
    made = await api.data("""mutation($i: CreateProgramInput!) { createProgram(input: $i) {
      program { id } errors { code message } } }""", {"i": {"templateKey": "sandwich", "courseId": w["course"],
                                                          "liveSessionIds": [w["seated"]], "learnerIds": [w["me"]]}})
    assert made["createProgram"]["errors"] == []
    program = made["createProgram"]["program"]["id"]
    query = """{ me { journeys { totalCount edges { node { program { id } learner { id } completed
      stages { stage { key } status } } } } certifications { totalCount } } }"""
    mine = (await api.data(query, token=w["token"]))["me"]
    assert mine["journeys"]["totalCount"] == 1 and mine["certifications"]["totalCount"] == 0
    journey = mine["journeys"]["edges"][0]["node"]
    assert journey["program"] == {"id": program} and journey["learner"] == {"id": w["me"]}
    assert journey["stages"][0]["stage"]["key"] == "prework" and journey["completed"] is False
    theirs = (await api.data(query, token=w["other_token"]))["me"]
    assert theirs["journeys"] == {"totalCount": 0, "edges": []}

    linked = await api.data("""query($id: ID!) { node(id: $id) { ... on Session { program { id
      sessions { id } } } } }""", {"id": w["seated"]}, token=w["token"])
    assert linked["node"]["program"] == {"id": program, "sessions": [{"id": w["seated"]}]}
    for token in (None, w["other_token"]):         # not in the program: no program shown, no error
        hidden = await api.data("query($id: ID!) { node(id: $id) { ... on Session { program { id } } } }",
                                {"id": w["seated"]}, token=token)
        assert hidden["node"]["program"] is None
    alone = await api.data("query($id: ID!) { node(id: $id) { ... on Session { program { id } } } }",
                           {"id": w["full"]})
    assert alone["node"]["program"] is None


async def test_no_other_learners_data_is_reachable_as_a_learner(api):
    w = await _world(api)
    token = w["token"]
    mine = (await api.data(MY_ENROLMENTS, {}, token=token))["me"]["enrollments"]
    assert {e["node"]["learner"]["id"] for e in mine["edges"]} == {w["me"]}
    roster = await api.data("""query($id: ID!) { node(id: $id) { ... on Session { enrollments {
      edges { node { learner { id enrollments { totalCount edges { node { learner { id } } } } } } } } } } }""",
                            {"id": w["seated"]}, token=token)
    learners = [e["node"]["learner"] for e in roster["node"]["enrollments"]["edges"]]
    assert [learner["id"] for learner in learners] == [w["me"]]
    assert {e["node"]["learner"]["id"] for e in learners[0]["enrollments"]["edges"]} == {w["me"]}
    others = (await api.data(MY_ENROLMENTS, {}, token=w["other_token"]))["me"]["enrollments"]
    for theirs in others["edges"]:
        assert (await api.data("query($id: ID!) { node(id: $id) { id } }", {"id": theirs["node"]["id"]},
                               token=token))["node"] is None
    assert (await api.data("query($id: ID!) { node(id: $id) { id } }", {"id": w["other"]}, token=token))["node"] is None
    anonymous = await api.data("{ me { id } }", token=None)
    assert anonymous["me"] is None


async def test_an_instructor_sees_only_the_enrolments_of_the_sessions_they_teach(api):
    w = await _world(api)
    elsewhere = await g.session(api, w["course"], [await g.instructor(api)], starts_at=g.at(days=12), title="Elsewhere")
    await g.enroll(api, elsewhere, w["other"])
    teacher = await g.token(api, await g.person(api, email="lead@example.com", name="Lead"), "INSTRUCTOR")
    roster = await api.data("""query($id: ID!) { node(id: $id) { ... on Session { enrollments { edges { node {
      learner { id enrollments { edges { node { session { title } } } } } } } } } } }""", {"id": w["seated"]},
                            token=teacher)
    seen = {e["node"]["learner"]["id"]: sorted(x["node"]["session"]["title"]
                                                for x in e["node"]["learner"]["enrollments"]["edges"])
            for e in roster["node"]["enrollments"]["edges"]}
    assert seen == {w["me"]: ["Dropped", "Full", "Seated"], w["other"]: ["Full", "Seated"]}  # not "Elsewhere"
    staff = await api.data("""query($id: ID!) { node(id: $id) { ... on Person { enrollments { totalCount } } } }""",
                           {"id": w["other"]})
    assert staff["node"]["enrollments"]["totalCount"] == 3


async def test_my_enrolments_among_ten_thousand_sessions_cost_the_same_few_statements(api, app):
    """A learner with 3 enrolments and one with 1, among 10,000 sessions: the same statements, a handful."""
    sessions = app.state.podium.sessions
    me, other = await g.person(api), await g.person(api)
    now = utc_now()
    async with sessions() as db, changing(db):
        course_id = (await db.execute(insert(Course).returning(Course.id), [{
            "code": "BULK-1", "title": "Bulk", "duration_minutes": 60, "default_capacity": 10,
            "required_qualifications": []}])).scalar_one()
        rows = [{"course_id": course_id, "title": f"S{n}", "starts_at": now + timedelta(hours=n + 1),
                 "ends_at": now + timedelta(hours=n + 2), "timezone": "UTC", "delivery_mode": DeliveryMode.VIRTUAL,
                 "status": SessionStatus.SCHEDULED, "capacity": 10} for n in range(10_000)]
        made = (await db.scalars(insert(Session).returning(Session.id, sort_by_parameter_order=True), rows)).all()
    ids = {"me": _pk(me), "other": _pk(other)}
    async with sessions() as db, changing(db):
        await db.execute(insert(Enrollment), [
            {"session_id": made[n], "learner_id": ids["me"], "status": EnrollmentStatus.ENROLLED}
            for n in (16, 4_999, 9_998)] + [
            {"session_id": made[41], "learner_id": ids["other"], "status": EnrollmentStatus.ENROLLED}])
    tokens = {name: await g.token(api, person, "LEARNER") for name, person in (("me", me), ("other", other))}

    engine = app.state.podium.engine.sync_engine
    counted: list[str] = []

    def count(_conn, _cursor, statement, *_):
        if not statement.lstrip().upper().startswith(("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE")):
            counted.append(statement)

    async def cost(token: str) -> tuple[int, dict]:
        counted.clear()
        event.listen(engine, "before_cursor_execute", count)
        try:
            data = await api.data(MY_ENROLMENTS, {"upcoming": True}, token=token)
        finally:
            event.remove(engine, "before_cursor_execute", count)
        return len(counted), data["me"]["enrollments"]

    mine_cost, mine = await cost(tokens["me"])
    their_cost, theirs = await cost(tokens["other"])
    assert [e["node"]["session"]["title"] for e in mine["edges"]] == ["S16", "S4999", "S9998"]
    assert mine["totalCount"] == 3 and theirs["totalCount"] == 1
    assert mine_cost == their_cost <= 8, (mine_cost, counted)


def _pk(global_id: str) -> int:
    return from_global_id(global_id)[1]
