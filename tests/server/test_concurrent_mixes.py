"""Concurrent mixes of valid requests over HTTP, on SQLite and PostgreSQL: every answer is an HTTP 200
without a GraphQL error (never INTERNAL: no deadlock, serialization failure or "database is locked"),
and the domain rules hold in the database afterwards. Each storm is a fixed number of requests."""
from __future__ import annotations

import asyncio
import random

from sqlalchemy import text

from podium.core.ids import to_global_id
from tests import builders as b
from tests.server import graph as g

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


async def _broken_rules(sessions) -> list[str]:
    """Rules 1 to 3 read back from the database: what is wrong, empty when nothing is."""
    broken = []
    async with sessions() as db:
        rows = (await db.execute(text(
            "SELECT s.id, s.status, s.capacity, "
            "(SELECT count(*) FROM enrollment e WHERE e.session_id = s.id AND e.status = 'ENROLLED') "
            "FROM session s"))).all()
        waiting: dict[int, list[int]] = {}
        for sid, position in (await db.execute(text(
                "SELECT session_id, waitlist_position FROM enrollment WHERE status = 'WAITLISTED' "
                "ORDER BY session_id, waitlist_position"))).all():
            waiting.setdefault(sid, []).append(position)
        for sid, status, capacity, enrolled in rows:
            if enrolled > capacity:
                broken.append(f"session {sid}: {enrolled} enrolled, capacity {capacity}")
            if waiting.get(sid, []) != list(range(1, len(waiting.get(sid, [])) + 1)):
                broken.append(f"session {sid}: waitlist positions {waiting[sid]}")
            if status == "SCHEDULED" and waiting.get(sid) and enrolled < capacity:
                broken.append(f"session {sid}: a free seat while {len(waiting[sid])} wait")
        for sid, capacity, room in (await db.execute(text(
                "SELECT s.id, s.capacity, r.capacity FROM session s JOIN booking bk ON bk.session_id = s.id "
                "AND bk.role = 'ROOM' AND bk.active JOIN resource r ON r.id = bk.resource_id "
                "WHERE s.status = 'SCHEDULED' AND s.delivery_mode != 'VIRTUAL'"))).all():
            if room is not None and capacity > room:
                broken.append(f"session {sid}: capacity {capacity} in a room for {room}")
        broken += [f"resource {rid} booked twice: bookings {x} and {y}" for x, y, rid in (await db.execute(text(
            "SELECT x.id, y.id, x.resource_id FROM booking x JOIN booking y ON x.resource_id = y.resource_id "
            "AND x.id < y.id AND x.active AND y.active AND x.starts_at < y.ends_at AND y.starts_at < x.ends_at "
            "LEFT JOIN session sx ON sx.id = x.session_id LEFT JOIN session sy ON sy.id = y.session_id "
            "WHERE coalesce(sx.status, 'SCHEDULED') != 'CANCELLED' "
            "AND coalesce(sy.status, 'SCHEDULED') != 'CANCELLED'"))).all()]
    return broken


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
    assert await _broken_rules(sessions) == []


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
