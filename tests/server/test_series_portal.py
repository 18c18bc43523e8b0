"""What a portal builds on a series, over HTTP on both databases: a series is a Node with its sessions in
occurrence order (seen as its sessions are seen)."""
from __future__ import annotations

from datetime import timedelta

from podium.core.ids import from_global_id, to_global_id
from tests.server import graph as g

SERIES = """mutation($i: ScheduleSeriesInput!) { scheduleSeries(input: $i) {
  series { id } sessions { id } errors { code field message } } }"""
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
