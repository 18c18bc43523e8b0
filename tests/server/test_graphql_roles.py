"""The role rules of docs/api.md, for all four roles and anonymous callers, over HTTP."""
from __future__ import annotations

from dataclasses import dataclass

import pytest

from tests.server import graph as g

ROSTER = """query($id: ID!) { node(id: $id) { ... on Session { enrollments {
  totalCount edges { node { id status learner { id email } } } } } } }"""
ATTEND = """mutation($i: RecordAttendanceInput!) { recordAttendance(input: $i) {
  enrollments { id attendance { status minutesAttended source } } errors { code } } }"""
NEW_COURSE = {"code": "X-1", "title": "X", "durationMinutes": 30, "defaultCapacity": 3}


@dataclass
class World:
    course: str
    taught: str           # a session the instructor caller teaches
    other: str            # a session someone else teaches
    learner_a: str
    learner_b: str
    enrollments: dict     # (session, learner) -> enrollment id
    tokens: dict          # role -> token
    teacher_person: str


@pytest.fixture
async def world(api) -> World:
    course = await g.course(api)
    teacher = await g.instructor(api, email="teach@example.com")
    someone_else = await g.instructor(api)
    taught = await g.session(api, course, [teacher])
    other = await g.session(api, course, [someone_else])
    a, b = await g.person(api), await g.person(api)
    enrollments = {}
    for session in (taught, other):
        for learner in (a, b):
            enrollments[session, learner] = (await g.enroll(api, session, learner))["enrollment"]["id"]
    teacher_person = await g.person(api, email="Teach@Example.com", name="Teacher")
    coordinator = await g.person(api, name="Coordinator")
    tokens = {"LEARNER": await g.token(api, a, "LEARNER"),
              "INSTRUCTOR": await g.token(api, teacher_person, "INSTRUCTOR"),
              "COORDINATOR": await g.token(api, coordinator, "COORDINATOR")}
    return World(course, taught, other, a, b, enrollments, tokens, teacher_person)


def codes(payload: dict) -> list[str]:
    return [e["code"] for e in payload["errors"]]


def error_codes(body: dict) -> list[str]:
    return [e.get("extensions", {}).get("code") for e in body.get("errors", [])]


async def test_anonymous_reads_the_public_catalogue_only(api, world):
    data = await api.data("{ me { id } courses { totalCount } sessions { totalCount edges { node { title "
                          "instructors { name email } } } } }", token=None)
    assert data["me"] is None and data["courses"]["totalCount"] == 1 and data["sessions"]["totalCount"] == 2
    assert all(i["email"] is None for e in data["sessions"]["edges"] for i in e["node"]["instructors"])
    for query in ("{ resources { totalCount } }", "{ people { totalCount } }"):
        assert error_codes(await api(query, token=None)) == ["FORBIDDEN"]
    assert error_codes(await api(ROSTER, {"id": world.taught}, token=None)) == ["FORBIDDEN"]
    assert (await api.data("query($id: ID!) { node(id: $id) { id } }", {"id": world.learner_a}, token=None))["node"] is None
    created = await api.data(g.COURSE, {"i": NEW_COURSE}, token=None)
    assert created["createCourse"] == {"course": None, "errors": [
        {"code": "FORBIDDEN", "field": None, "message": "Only an admin or a coordinator may do this."}]}
    assert codes((await g.enroll(api, world.taught, world.learner_a, token="nobody"))) == ["FORBIDDEN"]


async def test_a_learner_sees_and_changes_only_themselves(api, world):
    token = world.tokens["LEARNER"]
    data = await api.data("{ me { id } people { totalCount edges { node { id email } } } }", token=token)
    assert data["me"] == {"id": world.learner_a}
    assert [e["node"]["id"] for e in data["people"]["edges"]] == [world.learner_a]

    roster = (await api.data(ROSTER, {"id": world.taught}, token=token))["node"]["enrollments"]
    assert roster["totalCount"] == 1
    assert [e["node"]["learner"]["id"] for e in roster["edges"]] == [world.learner_a]
    for hidden in (world.learner_b, world.enrollments[world.taught, world.learner_b]):
        assert (await api.data("query($id: ID!) { node(id: $id) { id } }", {"id": hidden}, token=token))["node"] is None

    third = await g.session(api, world.course, [await g.instructor(api)], starts_at=g.at(days=9))
    assert codes(await g.enroll(api, third, world.learner_b, token=token)) == ["FORBIDDEN"]
    assert (await g.enroll(api, third, world.learner_a, token=token))["enrollment"]["status"] == "ENROLLED"
    others = world.enrollments[world.taught, world.learner_b]
    assert codes((await api.data(g.CANCEL_ENROLLMENT, {"i": {"enrollmentId": others}}, token=token))["cancelEnrollment"]) == ["FORBIDDEN"]
    own = world.enrollments[world.taught, world.learner_a]
    assert (await api.data(g.CANCEL_ENROLLMENT, {"i": {"enrollmentId": own}}, token=token))["cancelEnrollment"]["errors"] == []

    for mutation, name, values in ((g.COURSE, "createCourse", NEW_COURSE),
                                   (g.SCHEDULE, "scheduleSession", g.schedule_input(world.course, []))):
        assert codes((await api.data(mutation, {"i": values}, token=token))[name]) == ["FORBIDDEN"]
    attend = {"sessionId": world.taught, "records": [{"enrollmentId": own, "status": "PRESENT"}]}
    assert codes((await api.data(ATTEND, {"i": attend}, token=token))["recordAttendance"]) == ["FORBIDDEN"]
    assert error_codes(await api("{ resources { totalCount } }", token=token)) == []


async def test_an_instructor_reads_rosters_and_records_attendance_of_sessions_they_teach(api, world):
    token = world.tokens["INSTRUCTOR"]
    roster = (await api.data(ROSTER, {"id": world.taught}, token=token))["node"]["enrollments"]
    assert sorted(e["node"]["learner"]["id"] for e in roster["edges"]) == sorted([world.learner_a, world.learner_b])
    assert all(e["node"]["learner"]["email"] for e in roster["edges"])
    assert (await api.data(ROSTER, {"id": world.other}, token=token))["node"]["enrollments"]["totalCount"] == 0

    records = [{"enrollmentId": world.enrollments[world.taught, world.learner_a], "status": "PRESENT",
                "minutesAttended": 55}]
    done = (await api.data(ATTEND, {"i": {"sessionId": world.taught, "records": records}}, token=token))["recordAttendance"]
    assert done["errors"] == [] and done["enrollments"][0]["attendance"] == {
        "status": "PRESENT", "minutesAttended": 55, "source": "MANUAL"}
    records = [{"enrollmentId": world.enrollments[world.other, world.learner_a], "status": "ABSENT"}]
    refused = (await api.data(ATTEND, {"i": {"sessionId": world.other, "records": records}}, token=token))
    assert codes(refused["recordAttendance"]) == ["FORBIDDEN"]

    assert codes((await api.data(g.SCHEDULE, {"i": g.schedule_input(world.course, [])}, token=token))["scheduleSession"]) == ["FORBIDDEN"]
    people = (await api.data("{ people { edges { node { id } } } }", token=token))["people"]["edges"]
    assert sorted(e["node"]["id"] for e in people) == sorted([world.learner_a, world.learner_b, world.teacher_person])


async def test_a_coordinator_runs_operations_but_does_not_issue_tokens(api, world):
    token = world.tokens["COORDINATOR"]
    created = (await api.data(g.COURSE, {"i": NEW_COURSE}, token=token))["createCourse"]
    assert created["errors"] == [] and created["course"]["id"]
    lead = await g.instructor(api)
    scheduled = (await api.data(g.SCHEDULE, {"i": g.schedule_input(world.course, [lead])}, token=token))["scheduleSession"]
    assert scheduled["errors"] == []
    assert (await api.data(ROSTER, {"id": world.other}, token=token))["node"]["enrollments"]["totalCount"] == 2
    refused = (await api.data(g.TOKEN, {"i": {"personId": world.learner_b, "role": "ADMIN"}}, token=token))["issueToken"]
    assert refused == {"token": None, "errors": [{"code": "FORBIDDEN", "field": None,
                                                  "message": "Only an admin may issue tokens."}]}


async def test_an_admin_issues_tokens_stored_only_as_hashes(api, app, world):
    token = await g.token(api, world.learner_b, "LEARNER")
    assert (await api.data("{ me { id } }", token=token))["me"] == {"id": world.learner_b}
    from sqlalchemy import select
    from podium.core.models import ApiToken
    async with app.state.podium.sessions() as db:
        stored = (await db.scalars(select(ApiToken.token_hash))).all()
    assert token not in stored and len(stored) == 4 and all(len(h) == 64 for h in stored)
    missing = (await api.data(g.TOKEN, {"i": {"personId": world.course, "role": "ADMIN"}}))["issueToken"]
    assert missing["errors"][0]["code"] == "NOT_FOUND" and missing["errors"][0]["field"] == ["input", "personId"]


STAFF = {"ADMIN", "COORDINATOR"}
SELF = STAFF | {"INSTRUCTOR", "LEARNER"}  # anyone signed in enrols and cancels themselves (check_enrolment_of)

# The contract's Mutation type, row by row: (mutation, the roles that may, its input in a world made for the caller).
MUTATIONS = [
    ("createCourse", STAFF, lambda w: {"code": f"R-{w.role}", "title": "R", "durationMinutes": 30, "defaultCapacity": 3}),
    ("createPerson", STAFF, lambda w: {"name": "New", "email": f"new-{w.role}@example.com", "timezone": "UTC"}),
    ("createResource", STAFF, lambda w: {"kind": "EQUIPMENT", "name": f"Kit {w.role}", "timezone": "UTC"}),
    ("issueToken", {"ADMIN"}, lambda w: {"personId": w.other_learner, "role": "LEARNER"}),
    ("scheduleSession", STAFF, lambda w: g.schedule_input(w.course, [w.other_instructor], g.at(days=10))),
    ("rescheduleSession", STAFF, lambda w: {"sessionId": w.other, "startsAt": g.at(days=11).isoformat(),
                                            "endsAt": g.at(days=11, hour=10).isoformat()}),
    ("enroll", SELF, lambda w: {"sessionId": w.open, "learnerId": w.me}),
    ("enroll", STAFF, lambda w: {"sessionId": w.open, "learnerId": w.other_learner}),
    ("recordAttendance", STAFF | {"INSTRUCTOR"}, lambda w: {"sessionId": w.taught, "records": [
        {"enrollmentId": w.enrollments[w.taught, w.other_learner], "status": "PRESENT"}]}),
    ("recordAttendance", STAFF, lambda w: {"sessionId": w.other, "records": [
        {"enrollmentId": w.enrollments[w.other, w.other_learner], "status": "PRESENT"}]}),
    ("decideEnrollment", STAFF, lambda w: {"enrollmentId": w.enrollments[w.approval, w.other_learner], "approve": True}),
    ("cancelEnrollment", SELF, lambda w: {"enrollmentId": w.enrollments[w.taught, w.me]}),
    ("cancelEnrollment", STAFF, lambda w: {"enrollmentId": w.enrollments[w.taught, w.other_learner]}),
    ("cancelSession", STAFF, lambda w: {"sessionId": w.taught}),
]


@dataclass
class CallerWorld:
    role: str
    course: str
    other_instructor: str
    taught: str           # taught by the caller when they are the INSTRUCTOR
    other: str            # taught by someone else
    approval: str         # taught by the caller, enrolments wait for approval
    open: str             # nobody enrolled yet
    me: str               # the caller's person
    other_learner: str
    enrollments: dict     # (session, learner) -> enrollment id


async def _caller_world(api, role: str) -> tuple[CallerWorld, str]:
    course = await g.course(api)
    teacher, other_instructor = await g.instructor(api, email=f"{role}@example.com"), await g.instructor(api)
    me, other_learner = await g.person(api, email=f"{role}@example.com"), await g.person(api)
    taught = await g.session(api, course, [teacher])
    other = await g.session(api, course, [other_instructor])
    approval = await g.session(api, course, [teacher], starts_at=g.at(days=8), requiresApproval=True)
    open_ = await g.session(api, course, [other_instructor], starts_at=g.at(days=9))
    enrollments = {(s, learner): (await g.enroll(api, s, learner))["enrollment"]["id"]
                   for s, learner in ((taught, me), (taught, other_learner), (other, other_learner),
                                      (approval, other_learner))}
    world = CallerWorld(role, course, other_instructor, taught, other, approval, open_, me, other_learner, enrollments)
    return world, await g.token(api, me, role)


@pytest.mark.parametrize("role", ["ADMIN", "COORDINATOR", "INSTRUCTOR", "LEARNER"])
async def test_each_mutation_is_allowed_or_forbidden_per_role(api, role):
    world, token = await _caller_world(api, role)
    answers = []
    for name, allowed, make_input in MUTATIONS:
        mutation = f"mutation($i: {name[0].upper()}{name[1:]}Input!) {{ {name}(input: $i) {{ errors {{ code }} }} }}"
        errors = codes((await api.data(mutation, {"i": make_input(world)}, token=token))[name])
        answers.append((name, errors))
    assert answers == [(name, [] if role in allowed else ["FORBIDDEN"]) for name, allowed, _ in MUTATIONS]
