"""Concurrent mixes of valid requests over HTTP, on SQLite and PostgreSQL: every answer is an HTTP 200
without a GraphQL error (never INTERNAL: no deadlock, serialization failure or "database is locked"),
and the domain rules hold in the database afterwards. Each storm is a fixed number of requests."""
from __future__ import annotations

import asyncio
import random
from datetime import timedelta

from sqlalchemy import text

from podium.core.ids import to_global_id
from tests import builders as b
from tests.server import graph as g
from tests.server.rules import broken_rules

CREATE_PROGRAM = """mutation($i: CreateProgramInput!) { createProgram(input: $i) {
  program { id } errors { code field message } } }"""
ADD_LEARNERS = """mutation($i: AddProgramLearnersInput!) { addProgramLearners(input: $i) {
  program { id } errors { code field message } } }"""


async def _answers(api, requests: list[tuple[str, dict]]) -> list[dict]:
    """Send every request at once; each answer is an HTTP 200 whose payload is data (no GraphQL error)."""
    responses = await asyncio.gather(*(api.raw(query, {"i": values}) for query, values in requests))
    assert [(r.status_code, r.text[:300]) for r in responses if r.status_code != 200] == []
    bodies = [r.json() for r in responses]
    assert [body["errors"] for body in bodies if body.get("errors")] == []
    return [next(iter(body["data"].values())) for body in bodies]


async def _audits(sessions) -> dict[str, int]:
    async with sessions() as db:
        return dict((await db.execute(text("SELECT action, count(*) FROM audit_entry GROUP BY action"))).all())


async def test_cohorts_placed_in_shared_sessions_at_once_beside_enrolments(api, sessions):
    """Programs over the same live sessions, created and joined at once, with direct enrolments: on
    PostgreSQL a program's stages took a KEY SHARE lock on its sessions before it locked them to place
    its cohort, and two programs deadlocked (INTERNAL)."""
    course = await g.course(api)
    session_ids = [await g.session(api, course, [await g.instructor(api)], starts_at=g.at(days=5 + n), capacity=6)
                   for n in range(3)]
    learners = [to_global_id("Person", pk) for pk in await b.people(sessions, 40)]
    first = (await _answers(api, [(CREATE_PROGRAM, {"templateKey": "flipped", "courseId": course,
                                                    "liveSessionIds": session_ids, "learnerIds": learners[:2]})]))[0]
    assert first["errors"] == []
    before = await _audits(sessions)
    rnd = random.Random(7)
    requests = []
    for n in range(36):
        if n % 3 == 0:
            requests.append((g.ENROLL, {"sessionId": rnd.choice(session_ids), "learnerId": rnd.choice(learners)}))
        elif n % 3 == 1:
            requests.append((ADD_LEARNERS, {"programId": first["program"]["id"], "learnerIds": [learners[2 + n]]}))
        else:
            requests.append((CREATE_PROGRAM, {"templateKey": "flipped", "courseId": course,
                                              "liveSessionIds": rnd.sample(session_ids, rnd.randint(2, 3)),
                                              "learnerIds": rnd.sample(learners, 4)}))

    results = await _answers(api, requests)

    assert {e["code"] for r in results for e in r["errors"]} <= {"ALREADY_ENROLLED"}
    made = sum(1 for (query, _), r in zip(requests, results) if query == CREATE_PROGRAM and r["program"])
    joined = sum(1 for (query, _), r in zip(requests, results) if query == ADD_LEARNERS and r["program"])
    assert (made, joined) == (12, 12)
    after = await _audits(sessions)
    assert (after["program.create"] - before["program.create"], after["program.add_learners"]) == (12, 12)
    assert await broken_rules(sessions) == []


CREATE_TEMPLATE = """mutation($i: CreateProgramTemplateInput!) { createProgramTemplate(input: $i) {
  template { key } errors { code field message } } }"""


async def test_one_template_key_taken_at_once_by_many_is_one_template_and_duplicates(api, sessions):
    """The key check and the insert are not serialized on PostgreSQL: the unique constraint catches the
    race, and it was an INTERNAL error instead of DUPLICATE."""
    stages = [{"key": "pre", "kind": "SELF_PACED", "title": "Pre-work", "offsetDays": -7},
              {"key": "live", "kind": "LIVE", "title": "Workshop", "offsetDays": 0}]
    requests = [(CREATE_TEMPLATE, {"key": f"team-{n % 4}", "name": f"Team {n}", "stages": stages}) for n in range(24)]

    results = await _answers(api, requests)

    assert sorted(r["template"]["key"] for r in results if r["template"]) == [f"team-{n}" for n in range(4)]
    assert [(e["code"], e["field"]) for r in results for e in r["errors"]] == [("DUPLICATE", ["input", "key"])] * 20
    assert (await _audits(sessions))["program_template.create"] == 4


CHANGE_CAPACITY = """mutation($i: ChangeSessionCapacityInput!) { changeSessionCapacity(input: $i) {
  session { id } errors { code field message } } }"""
DECIDE = """mutation($i: DecideEnrollmentInput!) { decideEnrollment(input: $i) {
  enrollment { id } errors { code field message } } }"""
ATTENDANCE = """mutation($i: RecordAttendanceInput!) { recordAttendance(input: $i) {
  enrollments { id } errors { code field message } } }"""
UPDATE_RESOURCE = """mutation($i: UpdateResourceInput!) { updateResource(input: $i) {
  resource { id } errors { code field message } } }"""
RESCHEDULE = """mutation($i: RescheduleSessionInput!) { rescheduleSession(input: $i) {
  session { id } errors { code field message } } }"""
CANCEL_SESSION = """mutation($i: CancelSessionInput!) { cancelSession(input: $i) {
  session { id } errors { code field message } } }"""
AUDITED = {g.ENROLL: "enrollment.create", g.CANCEL_ENROLLMENT: "enrollment.cancel", CHANGE_CAPACITY: "session.capacity",
           DECIDE: "enrollment.approve", ATTENDANCE: "attendance.record", UPDATE_RESOURCE: "resource.update",
           RESCHEDULE: "session.reschedule", CANCEL_SESSION: "session.cancel", g.SCHEDULE: "session.schedule"}


def _succeeded(requests: list[tuple[str, dict]], results: list[dict]) -> dict[str, int]:
    """How many changes of each audited action went through."""
    done: dict[str, int] = {}
    for (query, _), result in zip(requests, results):
        if result["errors"] == []:
            done[AUDITED[query]] = done.get(AUDITED[query], 0) + 1
    return done


def _audit_delta(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    return {action: after[action] - before.get(action, 0) for action in after if after[action] != before.get(action, 0)}


async def test_enrol_cancel_decide_attend_and_capacity_of_one_room_at_once(api, sessions):
    """Every change to a session's seats at once, in a room whose capacity changes too: each refusal is
    data, each success is audited once, and seats, the waitlist and the room's capacity stay right."""
    course, room = await g.course(api), await g.room(api, capacity=12)
    open_session = await g.session(api, course, [await g.instructor(api)], capacity=5, deliveryMode="IN_PERSON",
                                   roomId=room)
    approved = await g.session(api, course, [await g.instructor(api)], capacity=4, requiresApproval=True)
    learners = [to_global_id("Person", pk) for pk in await b.people(sessions, 60)]
    seated = [(await g.enroll(api, open_session, learner))["enrollment"]["id"] for learner in learners[:12]]
    pending = [(await g.enroll(api, approved, learner))["enrollment"]["id"] for learner in learners[:12]]
    before = await _audits(sessions)
    rnd = random.Random(11)
    requests = [(g.ENROLL, {"sessionId": rnd.choice([open_session, approved]), "learnerId": learner})
                for learner in learners[12:]]
    requests += [(g.CANCEL_ENROLLMENT, {"enrollmentId": e}) for e in seated[::2] + pending[::3]]
    requests += [(DECIDE, {"enrollmentId": e, "approve": True}) for e in pending]
    # EXCUSED: known before the session starts, while enrolment is still open (PRESENT would wait for the start)
    requests += [(ATTENDANCE, {"sessionId": open_session, "records": [{"enrollmentId": e, "status": "EXCUSED"}]})
                 for e in seated[1::2]]
    requests += [(CHANGE_CAPACITY, {"sessionId": rnd.choice([open_session, approved]), "capacity": rnd.randint(3, 14)})
                 for _ in range(16)]
    requests += [(UPDATE_RESOURCE, {"resourceId": room, "capacity": rnd.randint(4, 14)}) for _ in range(12)]
    rnd.shuffle(requests)

    results = await _answers(api, requests)

    assert {e["code"] for r in results for e in r["errors"]} <= {"INVALID", "CAPACITY_EXCEEDS_ROOM"}
    assert _audit_delta(before, await _audits(sessions)) == _succeeded(requests, results)
    assert await broken_rules(sessions) == []


async def test_sessions_sharing_an_instructor_and_a_room_move_into_each_others_slots_at_once(api, sessions):
    """Reschedules of sessions that share an instructor and a room into each other's slots (the AB/BA
    case), beside new sessions, cancellations and the room's capacity changing: nothing deadlocks or
    is double-booked, and each success is audited once."""
    course, lead, room = await g.course(api), await g.instructor(api), await g.room(api, capacity=20)
    slots = [g.at(days=6, hour=8 + 2 * n) for n in range(5)]
    moving = [await g.session(api, course, [lead] + ([await g.instructor(api)] if n else []), starts_at=slots[n],
                              deliveryMode="HYBRID", roomId=room, capacity=10) for n in range(4)]
    before = await _audits(sessions)
    rnd = random.Random(5)
    requests = []
    for _ in range(12):
        a, z = rnd.sample(range(4), 2)  # a and z swap slots, both at once
        for session_id, slot in ((moving[a], slots[z]), (moving[z], slots[a])):
            requests.append((RESCHEDULE, {"sessionId": session_id, "startsAt": slot.isoformat(),
                                          "endsAt": (slot + timedelta(hours=1)).isoformat()}))
        requests.append((RESCHEDULE, {"sessionId": moving[a], "startsAt": slots[4].isoformat(),
                                      "endsAt": (slots[4] + timedelta(hours=1)).isoformat()}))
    requests += [(g.SCHEDULE, g.schedule_input(course, [lead], starts_at=rnd.choice(slots),
                                                   deliveryMode="IN_PERSON", roomId=room, capacity=8))
                 for _ in range(8)]
    requests += [(UPDATE_RESOURCE, {"resourceId": room, "capacity": rnd.randint(6, 20)}) for _ in range(8)]
    requests += [(CANCEL_SESSION, {"sessionId": moving[3]})] * 2
    rnd.shuffle(requests)

    results = await _answers(api, requests)

    assert {e["code"] for r in results for e in r["errors"]} <= {
        "RESOURCE_CONFLICT", "CAPACITY_EXCEEDS_ROOM", "SESSION_NOT_OPEN"}
    assert _audit_delta(before, await _audits(sessions)) == _succeeded(requests, results)
    assert await broken_rules(sessions) == []
