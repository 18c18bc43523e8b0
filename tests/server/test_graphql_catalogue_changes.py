"""updateCourse, updatePerson, updateResource and changeSessionCapacity over HTTP: staff change what a
user then sees; the catalogue and enrolment rules refuse what they must, changing nothing."""
from __future__ import annotations

from tests.server import graph

UPDATE_COURSE = """mutation($i: UpdateCourseInput!) { updateCourse(input: $i) {
  course { id title description durationMinutes requiredQualifications } errors { code field message } } }"""
UPDATE_PERSON = """mutation($i: UpdatePersonInput!) { updatePerson(input: $i) {
  person { id name email timezone } errors { code field message } } }"""
UPDATE_RESOURCE = """mutation($i: UpdateResourceInput!) { updateResource(input: $i) {
  resource { id name capacity email calendarUrl qualifications { name validUntil } } errors { code field message } } }"""
CREATE_RESOURCE = """mutation($i: CreateResourceInput!) { createResource(input: $i) {
  resource { id calendarUrl } errors { code field message } } }"""
CAPACITY = """mutation($i: ChangeSessionCapacityInput!) { changeSessionCapacity(input: $i) {
  session { id capacity seatsTaken seatsLeft waitlistCount } errors { code field message } } }"""
ROSTER = """query($id: ID!) { node(id: $id) { ... on Session { capacity
  enrollments { edges { node { learner { name } status waitlistPosition } } } } } }"""
NODE = """query($id: ID!) { node(id: $id) { ... on Resource { name capacity calendarUrl }
  ... on Course { title description } ... on Person { name email } } }"""


def _errors(payload: dict) -> list[tuple]:
    return [(e["code"], e["field"]) for e in payload["errors"]]


async def test_staff_update_courses_and_people(api):
    course = await graph.course(api, description="Old")
    coordinator = await graph.token(api, await graph.person(api), "COORDINATOR")
    changed = (await api.data(UPDATE_COURSE, {"i": {"courseId": course, "title": "  First aid  ", "description": None,
                                                    "requiredQualifications": ["medic", " medic "]}},
                              token=coordinator))["updateCourse"]
    assert changed["errors"] == []
    assert changed["course"] == {"id": course, "title": "First aid", "description": None, "durationMinutes": 60,
                                 "requiredQualifications": ["medic"]}
    refused = (await api.data(UPDATE_COURSE, {"i": {"courseId": course, "title": "Other", "durationMinutes": 0}}))
    assert _errors(refused["updateCourse"]) == [("INVALID", ["input", "durationMinutes"])]
    assert (await api.data(NODE, {"id": course}))["node"] == {"title": "First aid", "description": None}
    missing = await api.data(UPDATE_COURSE, {"i": {"courseId": await graph.person(api), "title": "X"}})
    assert _errors(missing["updateCourse"]) == [("NOT_FOUND", ["input", "courseId"])]

    ada = await graph.person(api, name="Ada", email="ada@example.com")
    await graph.person(api, email="taken@example.com")
    renamed = (await api.data(UPDATE_PERSON, {"i": {"personId": ada, "email": " Ada.L@Example.com "}}))["updatePerson"]
    assert renamed["errors"] == [] and renamed["person"]["email"] == "ada.l@example.com"
    assert renamed["person"]["name"] == "Ada" and renamed["person"]["timezone"] == "Europe/London"
    for bad, code, field in (({"email": "taken@example.com"}, "DUPLICATE", "email"),
                             ({"timezone": "Mars/Base"}, "INVALID", "timezone"),
                             ({"name": None}, "INVALID", "name")):
        answer = (await api.data(UPDATE_PERSON, {"i": {"personId": ada, **bad}}))["updatePerson"]
        assert _errors(answer) == [(code, ["input", field])] and answer["person"] is None
    assert (await api.data(NODE, {"id": ada}))["node"] == {"name": "Ada", "email": "ada.l@example.com"}


async def test_staff_update_rooms_and_instructors(api):
    room = await graph.room(api, capacity=20)
    lead = await graph.instructor(api)
    course = await graph.course(api)
    await graph.session(api, course, [lead], roomId=room, deliveryMode="IN_PERSON", capacity=15)

    shrunk = (await api.data(UPDATE_RESOURCE, {"i": {"resourceId": room, "capacity": 10}}))["updateResource"]
    assert _errors(shrunk) == [("CAPACITY_EXCEEDS_ROOM", ["input", "capacity"])]
    feed = "https://calendars.example.com/room.ics"
    moved = (await api.data(UPDATE_RESOURCE, {"i": {"resourceId": room, "name": "Lovelace", "capacity": 15,
                                                    "calendarUrl": feed}}))["updateResource"]
    assert moved["errors"] == []
    assert (moved["resource"]["name"], moved["resource"]["capacity"], moved["resource"]["calendarUrl"]) == (
        "Lovelace", 15, feed)
    learner = await graph.token(api, await graph.person(api), "LEARNER")
    assert (await api.data(NODE, {"id": room}, token=learner))["node"] == {
        "name": "Lovelace", "capacity": 15, "calendarUrl": None}           # the feed address is for staff
    for bad in ({"calendarUrl": "file:///etc/passwd"}, {"calendarUrl": "not a url"}):
        answer = (await api.data(UPDATE_RESOURCE, {"i": {"resourceId": room, **bad}}))["updateResource"]
        assert _errors(answer) == [("INVALID", ["input", "calendarUrl"])]
    assert (await api.data(NODE, {"id": room}))["node"]["calendarUrl"] == feed

    qualified = (await api.data(UPDATE_RESOURCE, {"i": {"resourceId": lead, "email": "Lead@Example.com",
                                                        "qualifications": [{"name": "medic", "validUntil": "2030-01-31"},
                                                                           {"name": "cpr"}]}}))["updateResource"]
    assert qualified["errors"] == [] and qualified["resource"]["email"] == "lead@example.com"
    assert qualified["resource"]["qualifications"] == [{"name": "cpr", "validUntil": None},
                                                       {"name": "medic", "validUntil": "2030-01-31"}]
    renewed = (await api.data(UPDATE_RESOURCE, {"i": {"resourceId": lead, "qualifications": [
        {"name": "medic", "validUntil": "2032-01-31"}, {"name": "fire"}]}}))["updateResource"]   # medic kept, renewed
    assert renewed["errors"] == [] and renewed["resource"]["qualifications"] == [
        {"name": "fire", "validUntil": None}, {"name": "medic", "validUntil": "2032-01-31"}]
    not_a_room = (await api.data(UPDATE_RESOURCE, {"i": {"resourceId": lead, "calendarUrl": feed}}))["updateResource"]
    assert _errors(not_a_room) == [("INVALID", ["input", "calendarUrl"])]

    created = (await api.data(CREATE_RESOURCE, {"i": {"kind": "ROOM", "name": "Babbage", "timezone": "Europe/London",
                                                      "capacity": 8, "calendarUrl": "webcal://cal.example.com/b"}}))
    assert created["createResource"]["errors"] == []
    assert created["createResource"]["resource"]["calendarUrl"] == "webcal://cal.example.com/b"


async def test_more_seats_go_to_the_first_waitlisted_learners(api):
    course = await graph.course(api)
    lead = await graph.instructor(api)
    room = await graph.room(api, capacity=4)
    session = await graph.session(api, course, [lead], roomId=room, deliveryMode="IN_PERSON", capacity=2)
    for n in range(5):
        await graph.enroll(api, session, await graph.person(api, name=f"L{n}"))

    grown = (await api.data(CAPACITY, {"i": {"sessionId": session, "capacity": 4}}))["changeSessionCapacity"]
    assert grown["errors"] == []
    assert grown["session"] == {"id": session, "capacity": 4, "seatsTaken": 4, "seatsLeft": 0, "waitlistCount": 1}
    roster = (await api.data(ROSTER, {"id": session}))["node"]["enrollments"]["edges"]
    assert [(e["node"]["learner"]["name"], e["node"]["status"], e["node"]["waitlistPosition"]) for e in roster] == [
        ("L0", "ENROLLED", None), ("L1", "ENROLLED", None), ("L2", "ENROLLED", None), ("L3", "ENROLLED", None),
        ("L4", "WAITLISTED", 1)]

    for capacity, code in ((3, "INVALID"), (5, "CAPACITY_EXCEEDS_ROOM"), (0, "INVALID")):
        refused = (await api.data(CAPACITY, {"i": {"sessionId": session, "capacity": capacity}}))
        assert _errors(refused["changeSessionCapacity"]) == [(code, ["input", "capacity"])], capacity
    assert (await api.data(ROSTER, {"id": session}))["node"]["capacity"] == 4
    missing = await api.data(CAPACITY, {"i": {"sessionId": course, "capacity": 9}})
    assert _errors(missing["changeSessionCapacity"]) == [("NOT_FOUND", ["input", "sessionId"])]


async def test_a_learner_or_instructor_may_call_none_of_them(api):
    course = await graph.course(api)
    teacher_email = "teach@example.com"
    lead = await graph.instructor(api, email=teacher_email)
    session = await graph.session(api, course, [lead])
    me = await graph.person(api, name="Me")
    teacher = await graph.person(api, email=teacher_email)
    admin_issued = await graph.token(api, me, "LEARNER")
    calls = [
        (UPDATE_COURSE, "updateCourse", {"courseId": course, "title": "Mine"}),
        (UPDATE_PERSON, "updatePerson", {"personId": me, "name": "Renamed"}),
        (UPDATE_RESOURCE, "updateResource", {"resourceId": lead, "name": "Renamed"}),
        (CAPACITY, "changeSessionCapacity", {"sessionId": session, "capacity": 50}),
        ("""mutation($i: RevokeTokenInput!) { revokeToken(input: $i) { errors { code } } }""", "revokeToken",
         {"token": admin_issued}),
        ("""mutation($i: RetryOutboxMessageInput!) { retryOutboxMessage(input: $i) { errors { code } } }""",
         "retryOutboxMessage", {"id": 1}),
    ]
    for token in (await graph.token(api, me, "LEARNER"), await graph.token(api, teacher, "INSTRUCTOR"), None):
        for mutation, name, values in calls:
            body = await api(mutation, {"i": values}, token=token)
            assert [e["code"] for e in body["data"][name]["errors"]] == ["FORBIDDEN"], (name, token)
    assert (await api.data(NODE, {"id": course}))["node"]["title"] != "Mine"
    assert (await api.data(NODE, {"id": me}))["node"]["name"] == "Me"
    assert (await api.data(ROSTER, {"id": session}))["node"]["capacity"] == 20
    assert (await api.data("{ me { name } }", token=admin_issued))["me"] == {"name": "Me"}
