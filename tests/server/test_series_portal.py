"""What a portal builds on a series, over HTTP on both databases: a series is a Node with its sessions in
occurrence order (seen as its sessions are seen), and a learner enrols in a whole series at once, all or
none, each occurrence through the enrolment rules (a seat or the FIFO waitlist, audited and announced)."""
from __future__ import annotations

import asyncio
import json
from datetime import timedelta

from sqlalchemy import text

from podium.core.ids import from_global_id, to_global_id
from tests import builders as b
from tests.server import graph as g
from tests.server.rules import broken_rules

SERIES = """mutation($i: ScheduleSeriesInput!) { scheduleSeries(input: $i) {
  series { id } sessions { id } errors { code field message } } }"""
ENROLL_IN_SERIES = """mutation($i: EnrollInSeriesInput!) { enrollInSeries(input: $i) {
  enrollments { id status waitlistPosition learner { id } session { id seriesOccurrence } }
  errors { code field message } } }"""
CANCEL_SESSION = """mutation($i: CancelSessionInput!) { cancelSession(input: $i) { errors { code } } }"""
SERIES_NODE = """query($id: ID!) { node(id: $id) { id ... on Series { rule timezone occurrences
  sessions { id status seriesOccurrence series { id } enrollments { totalCount edges { node { learner { id } } } } } } } }"""
SESSION_NODE = """query($id: ID!) { node(id: $id) { id ... on Session {
  status seriesOccurrence series { id } enrollments { totalCount edges { node { learner { id } } } } } } }"""
SIBLINGS = """{ sessions(first: 10) { edges { node { id seriesOccurrence series { id sessions { id } } } } } }"""
PUBLIC_SERIES_NODE = """query($id: ID!) { node(id: $id) { id ... on Series { rule sessions { id seriesOccurrence } } } }"""


async def weekly(api, count: int, capacity: int = 20, days: int = 3) -> tuple[str, list[str]]:
    """A daily series of `count` one-hour VIRTUAL sessions from `days` days on: (series id, session ids)."""
    course, teacher = await g.course(api), await g.instructor(api)
    first = g.at(days=days)
    made = (await api.data(SERIES, {"i": {
        "courseId": course, "startsAt": first.isoformat(), "endsAt": (first + timedelta(hours=1)).isoformat(),
        "timezone": "Europe/London", "deliveryMode": "VIRTUAL", "instructorIds": [teacher], "capacity": capacity,
        "recurrence": f"RRULE:FREQ=DAILY;COUNT={count}"}}))["scheduleSeries"]
    assert made["errors"] == [], made["errors"]
    return made["series"]["id"], [s["id"] for s in made["sessions"]]


async def counts(sessions) -> tuple[int, int, int]:
    """(enrolments, audit entries, outbox messages) in the database."""
    async with sessions() as db:
        return tuple([await db.scalar(text(f"SELECT count(*) FROM {table}"))
                      for table in ("enrollment", "audit_entry", "outbox_message")])


async def test_a_series_is_a_node_with_its_sessions_seen_as_sessions_are(api):
    series, sessions = await weekly(api, 4)
    learner, other = await g.person(api), await g.person(api)
    assert (await g.enroll(api, sessions[1], learner))["errors"] == []
    assert (await g.enroll(api, sessions[1], other))["errors"] == []
    assert (await api.data(CANCEL_SESSION, {"i": {"sessionId": sessions[3]}}))["cancelSession"]["errors"] == []

    # Anyone sees the series and its sessions in occurrence order, cancelled ones included, as they see sessions.
    public = (await api.data(PUBLIC_SERIES_NODE, {"id": series}, token=None))["node"]
    assert public["id"] == series and public["rule"] == "RRULE:FREQ=DAILY;COUNT=4"
    assert [(s["id"], s["seriesOccurrence"]) for s in public["sessions"]] == list(zip(sessions, range(1, 5)))
    listed = [e["node"] for e in (await api.data(SIBLINGS, token=None))["sessions"]["edges"]]
    assert [(s["id"], s["seriesOccurrence"], s["series"]["id"]) for s in listed] == [
        (sid, n, series) for n, sid in enumerate(sessions, 1)]
    assert {tuple(t["id"] for t in s["series"]["sessions"]) for s in listed} == {tuple(sessions)}

    # A learner sees through the series exactly what they see of each session: their own enrolment, not another's.
    token = await g.token(api, learner, "LEARNER")
    staff = (await api.data(SERIES_NODE, {"id": series}))["node"]
    mine = (await api.data(SERIES_NODE, {"id": series}, token=token))["node"]
    assert [s["status"] for s in mine["sessions"]] == ["SCHEDULED", "SCHEDULED", "SCHEDULED", "CANCELLED"]
    for seen, kwargs in ((mine, {"token": token}), (staff, {})):
        for session in seen["sessions"]:
            alone = (await api.data(SESSION_NODE, {"id": session["id"]}, **kwargs))["node"]
            assert {**session, "id": alone["id"]} == {**alone, "id": session["id"]}
    assert mine["sessions"][1]["enrollments"]["edges"] == [{"node": {"learner": {"id": learner}}}]
    assert staff["sessions"][1]["enrollments"]["totalCount"] == 2

    # An id that names no series, or a series id of another type, is null as for any node.
    missing = to_global_id("Series", from_global_id(series)[1] + 1000)
    assert (await api.data(PUBLIC_SERIES_NODE, {"id": missing}))["node"] is None


async def test_enrolling_in_a_series_takes_every_open_occurrence_all_or_none(api, sessions):
    series, occurrences = await weekly(api, 6, days=2)
    # Occurrence 1 has ended and occurrence 2 has started: enrolment in them is closed.
    await g.time_passes(sessions, occurrences[0])
    await g.time_passes(sessions, occurrences[1], ended=False)
    learner = await g.person(api)
    token = await g.token(api, learner, "LEARNER")

    before = await counts(sessions)
    made = (await api.data(ENROLL_IN_SERIES, {"i": {"seriesId": series, "learnerId": learner}},
                           token=token))["enrollInSeries"]
    assert made["errors"] == []
    assert [(e["session"]["id"], e["session"]["seriesOccurrence"], e["status"], e["learner"]["id"])
            for e in made["enrollments"]] == [(occurrences[n - 1], n, "ENROLLED", learner) for n in range(3, 7)]
    after = await counts(sessions)
    # Four enrolments, each with its audit entry and its event, and one series.enroll entry.
    assert (after[0] - before[0], after[1] - before[1], after[2] - before[2]) == (4, 5, 4)

    # Already in occurrence 3: ALREADY_ENROLLED, and nothing is written for any occurrence.
    again = await g.person(api)
    assert (await g.enroll(api, occurrences[2], again))["errors"] == []
    before = await counts(sessions)
    refused = (await api.data(ENROLL_IN_SERIES, {"i": {"seriesId": series, "learnerId": again}}))["enrollInSeries"]
    assert [(e["code"], e["field"]) for e in refused["errors"]] == [("ALREADY_ENROLLED", ["input", "learnerId"])]
    assert "Occurrence 3" in refused["errors"][0]["message"] and refused["enrollments"] == []
    assert await counts(sessions) == before

    # No open occurrence at all; someone else without a staff role; unknown series and learner.
    closed, closed_sessions = await weekly(api, 2, days=10)
    await g.time_passes(sessions, closed_sessions[0])
    await g.time_passes(sessions, closed_sessions[1], ended=False)
    other = await g.person(api)
    unknown_series = to_global_id("Series", from_global_id(series)[1] + 1000)
    unknown_person = to_global_id("Person", from_global_id(other)[1] + 1000)
    before = await counts(sessions)
    for given, kwargs, code, field in (
            ({"seriesId": closed, "learnerId": other}, {}, "INVALID", "seriesId"),
            ({"seriesId": series, "learnerId": other}, {"token": token}, "FORBIDDEN", None),
            ({"seriesId": unknown_series, "learnerId": other}, {}, "NOT_FOUND", "seriesId"),
            ({"seriesId": series, "learnerId": unknown_person}, {}, "NOT_FOUND", "learnerId"),
            ({"seriesId": occurrences[2], "learnerId": other}, {}, "NOT_FOUND", "seriesId")):
        refused = (await api.data(ENROLL_IN_SERIES, {"i": given}, **kwargs))["enrollInSeries"]
        assert [(e["code"], e["field"]) for e in refused["errors"]] == [
            (code, ["input", field] if field else None)], given
        assert refused["enrollments"] == []
    assert await counts(sessions) == before


async def test_twenty_learners_enrol_in_a_series_of_five_seats_at_once(api, sessions):
    series, occurrences = await weekly(api, 6, capacity=5)
    learners = [to_global_id("Person", pk) for pk in await b.people(sessions, 20)]
    tokens = [await g.token(api, learner, "LEARNER") for learner in learners]
    before = await counts(sessions)

    responses = await asyncio.gather(*(api.raw(ENROLL_IN_SERIES, {"i": {"seriesId": series, "learnerId": learner}},
                                               token=token) for learner, token in zip(learners, tokens)))
    assert [r.status_code for r in responses] == [200] * 20
    answers = [r.json() for r in responses]
    assert [a.get("errors") for a in answers] == [None] * 20
    assert [a["data"]["enrollInSeries"]["errors"] for a in answers] == [[]] * 20
    assert {len(a["data"]["enrollInSeries"]["enrollments"]) for a in answers} == {6}

    async with sessions() as db:
        rows = (await db.execute(text(
            "SELECT session_id, learner_id, status, waitlist_position, id FROM enrollment "
            "WHERE session_id IN (SELECT session_id FROM series_occurrence WHERE series_id = :s) "
            "ORDER BY session_id, id"), {"s": from_global_id(series)[1]})).all()
        events = (await db.execute(text("SELECT payload FROM outbox_message WHERE topic = 'enrollment.changed'"))
                  ).scalars().all()
        audited = (await db.execute(text(
            "SELECT target_id FROM audit_entry WHERE action = 'enrollment.create'"))).scalars().all()
    by_session: dict[int, list] = {}
    for row in rows:
        by_session.setdefault(row.session_id, []).append(row)
    assert sorted(by_session) == sorted(from_global_id(s)[1] for s in occurrences)
    seated, queues = set(), set()
    for session_id, found in by_session.items():
        assert len(found) == 20
        assert [r.status for r in found].count("ENROLLED") == 5, session_id
        waiting = [r for r in found if r.status == "WAITLISTED"]
        # First come, first served: positions 1..15 in the order the enrolments were written.
        assert [r.waitlist_position for r in waiting] == list(range(1, 16)), session_id
        seated.add(frozenset(r.learner_id for r in found if r.status == "ENROLLED"))
        queues.add(tuple(r.learner_id for r in waiting))
    # All or none, one call after another: the same five hold seats everywhere, the same queue waits everywhere.
    assert len(seated) == 1 and len(queues) == 1
    payloads = [p if isinstance(p, dict) else json.loads(p) for p in events]
    announced = {p["payload"]["enrollment"] for p in payloads}
    assert {to_global_id("Enrollment", r.id) for r in rows} <= announced
    assert {r.id for r in rows} <= set(audited)
    after = await counts(sessions)
    assert (after[0] - before[0], after[1] - before[1], after[2] - before[2]) == (120, 140, 120)
    assert await broken_rules(sessions) == []
