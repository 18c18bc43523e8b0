"""The role rules of docs/api.md, for all four roles and anonymous callers, over HTTP."""
from __future__ import annotations

import json
from dataclasses import dataclass

import pytest

from podium.core.audit import Actor
from podium.core.db import changing
from podium.core.ids import from_global_id
from podium.core.models import UnmatchedParticipant
from podium.core.services import meetings
from podium.core.settings import Settings
from podium.server.app import create_app
from tests.server import graph as g
from tests.server.conftest import ADMIN_TOKEN

ROSTER = """query($id: ID!) { node(id: $id) { ... on Session { enrollments {
  totalCount edges { node { id status learner { id email } } } } } } }"""
ATTEND = """mutation($i: RecordAttendanceInput!) { recordAttendance(input: $i) {
  enrollments { id attendance { status minutesAttended source } } errors { code } } }"""
NEW_COURSE = {"code": "X-1", "title": "X", "durationMinutes": 30, "defaultCapacity": 3}


@pytest.fixture
async def app(database_url):
    """The role matrix asks for everything at once, far past the cost and rate limits (tested in
    test_query_cost.py, test_rate_limits.py); its world is small, so here only the permissions decide."""
    app = create_app(Settings(database_url=database_url, admin_token=ADMIN_TOKEN, max_query_cost=10**9,
                              max_anonymous_query_cost=10**9, rate_limit_points=0, anonymous_rate_limit_points=0))
    yield app
    await app.state.podium.engine.dispose()


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
    refused = await api.raw(g.ENROLL, {"i": {"sessionId": world.taught, "learnerId": world.learner_a}}, token="nobody")
    assert refused.status_code == 401 and error_codes(refused.json()) == ["UNAUTHENTICATED"]


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


async def test_an_instructor_reads_rosters_and_records_attendance_of_sessions_they_teach(api, app, world):
    token = world.tokens["INSTRUCTOR"]
    await g.time_passes(app.state.podium.sessions, world.taught, ended=False)
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
        {"enrollmentId": w.enrollments[w.taught, w.other_learner], "status": "EXCUSED"}]}),
    ("recordAttendance", STAFF, lambda w: {"sessionId": w.other, "records": [
        {"enrollmentId": w.enrollments[w.other, w.other_learner], "status": "EXCUSED"}]}),
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


# --- reads: every field that returns a person, an email or a link, for every kind of caller, including a
# person who teaches one session and is a learner in another (and in a program). Each secret planted in
# the world may reach only the callers allowed to know it: 0 leaks, on both databases.

PLUGIN = Actor.system("plugin:zoom")
PROGRAM = """mutation($i: CreateProgramInput!) { createProgram(input: $i) { program { id } errors { code } } }"""
ROSTER_IDS = """query($id: ID!) { node(id: $id) { ... on Session { enrollments { edges { node { id learner { id } } } } } } }"""

# Everything a caller may ask that returns a person, an email or a link, one root field per query so a
# refusal of one does not hide what another answers.
READS = [
    "{ me { id name email calendarFeedUrl } }",
    "{ people(first: 100) { edges { node { id name email calendarFeedUrl } } } }",
    "{ resources(first: 100) { edges { node { name email calendarUrl calendarFeedUrl } } } }",
    """{ sessions(first: 100) { edges { node { id instructors { email } room { email calendarUrl }
         meeting { provider status joinUrl externalId error }
         bookings { resource { email } }
         unmatchedParticipants { name email }
         enrollments(first: 100) { edges { node { id meetingJoinUrl learner { id name email calendarFeedUrl }
           session { meeting { joinUrl externalId } } } } } } } } }""",
    """{ courses(first: 100) { edges { node { sessions(first: 100) { edges { node {
         meeting { joinUrl externalId error } instructors { email }
         enrollments(first: 100) { edges { node { meetingJoinUrl learner { email } } } } } } } } } } }""",
    """{ programs(first: 100) { edges { node { id
         journeys(first: 100) { edges { node { learner { id name email } } } }
         certifications { person { email } }
         stages { session { meeting { joinUrl externalId } enrollments(first: 100) { edges { node {
           meetingJoinUrl learner { email } } } } } } } } } }""",
    "{ certifications(first: 100) { edges { node { person { email } } } } }",
]
NODE = """query($id: ID!) { node(id: $id) { id
  ... on Person { name email calendarFeedUrl }
  ... on Enrollment { meetingJoinUrl learner { email } session { meeting { joinUrl externalId } } }
  ... on Session { meeting { joinUrl externalId error } enrollments(first: 100) { edges { node { learner { email } } } } }
  ... on Program { journeys(first: 100) { edges { node { learner { email } } } } } } }"""
READINESS = """query($p: ID!, $s: ID!) { node(id: $p) { ... on Program { readiness(sessionId: $s) {
  learner { email } } } } }"""


@dataclass
class LeakWorld:
    secrets: dict[str, str]          # name -> the secret text planted
    tokens: dict[str, str | None]    # caller -> token
    nodes: list[str]                 # every person, enrollment, session and program id
    readiness: list[tuple[str, str]]  # (program, session)


async def _enrollment_ids(api, session: str) -> dict[str, str]:
    edges = (await api.data(ROSTER_IDS, {"id": session}))["node"]["enrollments"]["edges"]
    return {e["node"]["learner"]["id"]: e["node"]["id"] for e in edges}


@pytest.fixture
async def leak_world(api, app) -> LeakWorld:
    sessions = app.state.podium.sessions
    course = await g.course(api)
    dual_as_instructor = await g.instructor(api, email="dual@example.com", name="Dual Role")
    other_instructor = await g.instructor(api, email="other-teacher@example.com")
    room = (await api.data(g.RESOURCE, {"i": {"kind": "ROOM", "name": "Hall", "timezone": "UTC", "capacity": 9,
                                              "calendarUrl": "https://rooms.example/cal/room-secret.ics",
                                              "workingHours": g.ALWAYS}}))
    room = room["createResource"]["resource"]["id"]
    taught = await g.session(api, course, [dual_as_instructor], capacity=5, deliveryMode="HYBRID", roomId=room)
    attended = await g.session(api, course, [other_instructor], capacity=2, starts_at=g.at(days=8))  # dual learns in it
    dual = await g.person(api, name="Dual Role", email="dual@example.com")
    ann = await g.person(api, name="Ann Taught", email="ann@example.com")                # in the session dual teaches
    bea = await g.person(api, name="Bea Colearner", email="bea@example.com")             # dual's co-learner
    wes = await g.person(api, name="Wes Waiting", email="wes@example.com")               # waitlisted beside dual
    coordinator = await g.person(api, name="Cora Ordinator", email="cora@example.com")
    await g.enroll(api, taught, ann)
    made = (await api.data(PROGRAM, {"i": {"templateKey": "flipped", "courseId": course,
                                           "liveSessionIds": [attended], "learnerIds": [dual, bea]}}))["createProgram"]
    assert made["errors"] == []
    program = made["program"]["id"]
    assert (await g.enroll(api, attended, wes))["enrollment"]["status"] == "WAITLISTED"
    taught_program = (await api.data(PROGRAM, {"i": {"templateKey": "flipped", "courseId": course,
                                                     "liveSessionIds": [taught], "learnerIds": [ann]}}))["createProgram"]
    assert taught_program["errors"] == []

    taught_roster, attended_roster = await _enrollment_ids(api, taught), await _enrollment_ids(api, attended)
    secrets = {"ann": "ann@example.com", "bea": "bea@example.com", "wes": "wes@example.com",
               "cora": "cora@example.com", "dual": "dual@example.com", "other": "other-teacher@example.com",
               "stranger": "stranger@elsewhere.org", "room-calendar": "https://rooms.example/cal/room-secret.ics"}
    async with sessions() as db, changing(db):   # what the conferencing plugin would have written
        for name, session in (("taught", taught), ("attended", attended)):
            pk = from_global_id(session)[1]
            secrets[f"{name}-link"] = f"https://zoom.example/j/{pk}?pwd=host-secret-{name}"
            secrets[f"{name}-meeting"] = f"meeting-{name}-9{pk}"
            await meetings.meeting_ready(db, PLUGIN, pk, "zoom", secrets[f"{name}-meeting"],
                                         secrets[f"{name}-link"])
        for name, enrollment in (("ann", taught_roster[ann]), ("dual", attended_roster[dual]),
                                 ("bea", attended_roster[bea])):
            secrets[f"{name}-own-link"] = f"https://zoom.example/w/{name}?tk=personal-{name}"
            await meetings.record_registrant(db, PLUGIN, from_global_id(enrollment)[1], f"reg-{name}",
                                             secrets[f"{name}-own-link"])
        db.add(UnmatchedParticipant(session_id=from_global_id(taught)[1], source="ZOOM", name="Stranger",
                                    email=secrets["stranger"], minutes_attended=30))
    tokens = {"anonymous": None, "ADMIN": await g.token(api, coordinator, "ADMIN"),
              "COORDINATOR": await g.token(api, coordinator, "COORDINATOR"),
              "learner": await g.token(api, ann, "LEARNER"), "waitlisted": await g.token(api, wes, "LEARNER"),
              "dual": await g.token(api, dual, "INSTRUCTOR"), "dual as learner": await g.token(api, dual, "LEARNER")}
    for name, caller in (("ann", "learner"), ("wes", "waitlisted"), ("dual", "dual"), ("cora", "ADMIN")):
        secrets[f"{name}-feed"] = (await api.data("{ me { calendarFeedUrl } }", token=tokens[caller]))["me"]["calendarFeedUrl"]
    feed = "query($id: ID!) { node(id: $id) { ... on Resource { calendarFeedUrl } } }"
    secrets["room-feed"] = (await api.data(feed, {"id": room}))["node"]["calendarFeedUrl"]
    nodes = [dual, ann, bea, wes, coordinator, room, taught, attended, program, taught_program["program"]["id"],
             *taught_roster.values(), *attended_roster.values()]
    return LeakWorld(secrets, tokens, nodes, [(program, attended), (taught_program["program"]["id"], taught)])


INSTRUCTOR_EMAILS = {"dual", "other"}   # an instructor's email is for anyone signed in
ALLOWED = {
    "anonymous": set(),
    "learner": INSTRUCTOR_EMAILS | {"ann", "ann-own-link", "ann-feed"},
    "waitlisted": INSTRUCTOR_EMAILS | {"wes", "wes-feed"},
    "dual as learner": INSTRUCTOR_EMAILS | {"dual-own-link", "dual-feed"},
    # teaches `taught` (Ann, the stranger, the meeting) and holds a seat in `attended` (their own link only)
    "dual": INSTRUCTOR_EMAILS | {"ann", "stranger", "taught-link", "taught-meeting", "dual-own-link", "dual-feed"},
}
PERSONAL_FEEDS = {"ann-feed", "wes-feed", "dual-feed"}   # a feed's address is its owner's alone, staff's neither


async def _everything_seen(api, world: LeakWorld, token: str | None) -> str:
    answers = [await api(query, token=token) for query in READS]
    answers += [await api(NODE, {"id": node}, token=token) for node in world.nodes]
    answers += [await api(READINESS, {"p": p, "s": s}, token=token) for p, s in world.readiness]
    for body in answers:
        assert "INTERNAL" not in {e.get("extensions", {}).get("code") for e in body.get("errors", [])}, body
    return json.dumps([body.get("data") for body in answers])


@pytest.mark.parametrize("caller", ["anonymous", "learner", "waitlisted", "dual as learner", "dual", "COORDINATOR",
                                    "ADMIN"])
async def test_no_person_email_or_link_reaches_a_caller_not_allowed_to_see_it(api, leak_world, caller):
    seen = await _everything_seen(api, leak_world, leak_world.tokens[caller])
    staff = set(leak_world.secrets) - PERSONAL_FEEDS   # cora's own feed included: the staff tokens are hers
    allowed = staff if caller in ("ADMIN", "COORDINATOR") else ALLOWED[caller]
    leaks = sorted(name for name, secret in leak_world.secrets.items() if secret in seen and name not in allowed)
    missing = sorted(name for name in allowed if leak_world.secrets[name] not in seen)
    assert (leaks, missing) == ([], []), f"{caller}: leaked {leaks}, did not see {missing}"


async def test_a_refused_field_beside_loaders_still_running_is_a_plain_forbidden(api, leak_world):
    """The refusal nulls the answer while the bookings' loader still reads: the request ends cleanly."""
    body = await api("{ sessions { edges { node { bookings { resource { email } } meeting { joinUrl } "
                     "enrollments { totalCount } } } } }", token=None)
    assert body["data"] is None and [e["extensions"]["code"] for e in body["errors"]] == ["FORBIDDEN"]
