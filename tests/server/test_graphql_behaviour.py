"""The behaviour docs/api.md promises, through the real app over HTTP."""
from __future__ import annotations

from datetime import timedelta

from tests.dispatching import eventually
from tests.server import graph as g
from tests.server import programs_world as w

MOVE = """mutation($i: RescheduleSessionInput!) { rescheduleSession(input: $i) { errors { code } } }"""
CANCEL = """mutation($i: CancelSessionInput!) { cancelSession(input: $i) { errors { code } } }"""


async def test_schedule_with_a_booked_instructor_returns_every_conflict_and_no_session(api):
    course = await g.course(api)
    lead, room = await g.instructor(api), await g.room(api, capacity=30)
    first = await api.data(g.SCHEDULE, {"i": g.schedule_input(course, [lead], deliveryMode="IN_PERSON", roomId=room)})
    assert first["scheduleSession"]["errors"] == []
    session = first["scheduleSession"]["session"]
    assert session["instructors"] == [{"id": lead}] and session["room"] == {"id": room}

    clash = await api.data(g.SCHEDULE, {"i": g.schedule_input(
        course, [lead], starts_at=g.at() + timedelta(minutes=30), deliveryMode="IN_PERSON", roomId=room)})
    payload = clash["scheduleSession"]
    assert payload["session"] is None
    assert [e["code"] for e in payload["errors"]] == ["RESOURCE_CONFLICT"]
    assert sorted(c["resource"]["id"] for c in payload["conflicts"]) == sorted([lead, room])
    assert payload["conflicts"][0]["startsAt"] == session["startsAt"]

    total = await api.data("{ sessions { totalCount } }")
    assert total["sessions"]["totalCount"] == 1, "the refused session wrote nothing"


async def test_time_rules_come_back_as_user_errors_with_the_input_path(api):
    course, lead = await g.course(api), await g.instructor(api)
    backwards = g.schedule_input(course, [lead])
    backwards["endsAt"] = (g.at() - timedelta(hours=1)).isoformat()
    payload = (await api.data(g.SCHEDULE, {"i": backwards}))["scheduleSession"]
    assert payload["errors"] == [{"code": "INVALID_TIME_RANGE", "field": ["input", "endsAt"],
                                  "message": "endsAt must be after startsAt."}]

    naive = g.schedule_input(course, [lead])
    naive["startsAt"] = "2031-03-02T09:00:00"
    payload = (await api.data(g.SCHEDULE, {"i": naive}))["scheduleSession"]
    assert [(e["code"], e["field"]) for e in payload["errors"]] == [("INVALID_TIME_RANGE", ["input", "startsAt"])]

    wrong_id = g.schedule_input(course, [course])
    payload = (await api.data(g.SCHEDULE, {"i": wrong_id}))["scheduleSession"]
    assert [(e["code"], e["field"]) for e in payload["errors"]] == [("NOT_FOUND", ["input", "instructorIds"])]


async def test_enrol_fills_seats_then_the_waitlist_and_a_cancellation_promotes(api):
    course, lead = await g.course(api), await g.instructor(api)
    session = await g.session(api, course, [lead], capacity=2)
    learners = [await g.person(api) for _ in range(4)]
    results = [await g.enroll(api, session, learner) for learner in learners]
    assert [(r["enrollment"]["status"], r["enrollment"]["waitlistPosition"]) for r in results] == [
        ("ENROLLED", None), ("ENROLLED", None), ("WAITLISTED", 1), ("WAITLISTED", 2)]
    assert results[-1]["enrollment"]["session"] == {"id": session, "seatsTaken": 2, "waitlistCount": 2}

    again = await g.enroll(api, session, learners[0])
    assert again["enrollment"] is None and [e["code"] for e in again["errors"]] == ["ALREADY_ENROLLED"]

    cancelled = await api.data(g.CANCEL_ENROLLMENT, {"i": {"enrollmentId": results[0]["enrollment"]["id"]}})
    assert cancelled["cancelEnrollment"]["enrollment"]["status"] == "CANCELLED"
    roster = await api.data("""query($id: ID!) { node(id: $id) { ... on Session { seatsTaken waitlistCount
        enrollments { totalCount edges { node { learner { id } status waitlistPosition } } } } } }""", {"id": session})
    by_learner = {e["node"]["learner"]["id"]: e["node"] for e in roster["node"]["enrollments"]["edges"]}
    assert by_learner[learners[2]]["status"] == "ENROLLED", "the first waitlisted is promoted"
    assert (by_learner[learners[3]]["status"], by_learner[learners[3]]["waitlistPosition"]) == ("WAITLISTED", 1)
    assert (roster["node"]["seatsTaken"], roster["node"]["waitlistCount"]) == (2, 1)


async def test_approval_takes_a_seat_and_a_decline_cancels(api):
    course, lead = await g.course(api), await g.instructor(api)
    session = await g.session(api, course, [lead], capacity=1, requiresApproval=True)
    a, b = await g.person(api), await g.person(api)
    first, second = await g.enroll(api, session, a), await g.enroll(api, session, b)
    assert first["enrollment"]["status"] == second["enrollment"]["status"] == "PENDING_APPROVAL"
    decide = """mutation($i: DecideEnrollmentInput!) { decideEnrollment(input: $i) {
        enrollment { status waitlistPosition } errors { code } } }"""
    approved = await api.data(decide, {"i": {"enrollmentId": first["enrollment"]["id"], "approve": True}})
    assert approved["decideEnrollment"]["enrollment"] == {"status": "ENROLLED", "waitlistPosition": None}
    declined = await api.data(decide, {"i": {"enrollmentId": second["enrollment"]["id"], "approve": False,
                                             "reason": "not this time"}})
    assert declined["decideEnrollment"]["enrollment"]["status"] == "CANCELLED"


async def test_reschedule_checks_conflicts_and_cancel_frees_bookings(api):
    course, lead = await g.course(api), await g.instructor(api)
    early = await g.session(api, course, [lead], starts_at=g.at(hour=9))
    late = await g.session(api, course, [lead], starts_at=g.at(hour=14))
    move = """mutation($i: RescheduleSessionInput!) { rescheduleSession(input: $i) {
        session { startsAt } errors { code } conflicts { resource { id } } } }"""
    onto_early = {"sessionId": late, "startsAt": g.at(hour=9).isoformat(),
                  "endsAt": (g.at(hour=9) + timedelta(minutes=60)).isoformat()}
    refused = (await api.data(move, {"i": onto_early}))["rescheduleSession"]
    assert [e["code"] for e in refused["errors"]] == ["RESOURCE_CONFLICT"]
    assert refused["conflicts"] == [{"resource": {"id": lead}}]

    cancel = """mutation($i: CancelSessionInput!) { cancelSession(input: $i) {
        session { status bookings { role } } errors { code } } }"""
    cancelled = (await api.data(cancel, {"i": {"sessionId": early, "reason": "trainer ill"}}))["cancelSession"]
    assert cancelled["session"] == {"status": "CANCELLED", "bookings": []}
    moved = (await api.data(move, {"i": onto_early}))["rescheduleSession"]
    assert moved["errors"] == [] and moved["session"]["startsAt"] == g.at(hour=9).isoformat()

    again = (await api.data(cancel, {"i": {"sessionId": early}}))["cancelSession"]
    assert [e["code"] for e in again["errors"]] == ["SESSION_NOT_OPEN"]


async def test_sessions_page_by_keyset_with_filters(api):
    course, other, lead = await g.course(api), await g.course(api), await g.instructor(api)
    ids = [await g.session(api, course, [lead], starts_at=g.at(days=3 + i)) for i in range(23)]
    await g.session(api, other, [lead], starts_at=g.at(days=1))
    page = """query($after: String, $first: Int, $filter: SessionFilter) {
        sessions(first: $first, after: $after, filter: $filter) {
        totalCount pageInfo { hasNextPage hasPreviousPage endCursor } edges { node { id } } } }"""
    seen, after = [], None
    while True:
        conn = (await api.data(page, {"after": after, "filter": {"courseId": course}}))["sessions"]
        assert conn["totalCount"] == 23
        assert conn["pageInfo"]["hasPreviousPage"] is (after is not None)
        seen += [e["node"]["id"] for e in conn["edges"]]
        if not conn["pageInfo"]["hasNextPage"]:
            break
        after = conn["pageInfo"]["endCursor"]
    assert seen == ids and len(seen) == 23, "default pages of 20, ordered by startsAt, nothing twice"

    window = {"from": g.at(days=4).isoformat(), "to": g.at(days=6).isoformat()}
    conn = (await api.data(page, {"filter": window}))["sessions"]
    assert [e["node"]["id"] for e in conn["edges"]] == ids[1:3]
    assert (await api.data(page, {"first": 100}))["sessions"]["totalCount"] == 24

    refused = await api(page, {"first": 101})
    assert refused["data"] is None and refused["errors"][0]["extensions"]["code"] == "INVALID"
    bad_cursor = await api(page, {"after": "bm90LWEtY3Vyc29y"})
    assert bad_cursor["data"] is None and "cursor" in bad_cursor["errors"][0]["message"]


async def test_node_fetches_each_kind_by_global_id(api):
    course, lead = await g.course(api), await g.instructor(api)
    session = await g.session(api, course, [lead])
    learner = await g.person(api)
    enrollment = (await g.enroll(api, session, learner))["enrollment"]["id"]
    query = """query($id: ID!) { node(id: $id) { __typename id } }"""
    for gid, kind in ((course, "Course"), (lead, "Resource"), (session, "Session"), (learner, "Person"),
                      (enrollment, "Enrollment")):
        assert (await api.data(query, {"id": gid}))["node"] == {"__typename": kind, "id": gid}
    assert (await api.data(query, {"id": "not-an-id"}))["node"] is None
    assert (await api.data(query, {"id": "U2Vzc2lvbjo5OTk="}))["node"] is None  # Session:999


def _invited(recorder, kind: str) -> dict[str, str | None]:
    """Who was told `kind`, each with the content type of the invite they got (None: no invite)."""
    return {n.to: next((a.content_type for a in n.attachments if a.filename.endswith(".ics")), None)
            for n in w.told(recorder, kind)}


async def test_moving_then_cancelling_a_session_tells_learners_and_instructors_and_frees_its_slot(story):
    api, plugins, sessions = story
    course, room = await g.course(api), await g.room(api, capacity=10)
    lead = await g.instructor(api, email="lead@example.com")
    in_room = {"deliveryMode": "IN_PERSON", "roomId": room, "capacity": 2}
    session = await g.session(api, course, [lead], starts_at=g.at(days=9), **in_room)
    learners = [await g.person(api) for _ in range(3)]
    assert [(await g.enroll(api, session, learner))["enrollment"]["status"] for learner in learners] == [
        "ENROLLED", "ENROLLED", "WAITLISTED"]
    *enrolled, waitlisted = await w.emails_of(sessions, learners)

    moved_to = g.at(days=10)
    moved = await api.data(MOVE, {"i": {"sessionId": session, "startsAt": moved_to.isoformat(),
                                         "endsAt": (moved_to + timedelta(minutes=60)).isoformat()}})
    assert moved["rescheduleSession"]["errors"] == []
    same_slot = {"i": g.schedule_input(course, [lead], starts_at=moved_to, **in_room)}
    held = (await api.data(g.SCHEDULE, same_slot))["scheduleSession"]
    assert [e["code"] for e in held["errors"]] == ["RESOURCE_CONFLICT"], "the moved session holds its new slot"
    cancelled = await api.data(CANCEL, {"i": {"sessionId": session, "reason": "trainer ill"}})
    assert cancelled["cancelSession"]["errors"] == []

    everyone = {*enrolled, waitlisted, "lead@example.com"}
    await eventually(lambda: set(_invited(plugins.channel, "session.cancelled")) == everyone,
                     what="everyone told of the cancellation")
    request, cancel = "text/calendar; method=REQUEST", "text/calendar; method=CANCEL"
    assert _invited(plugins.channel, "session.rescheduled") == {
        **{to: request for to in [*enrolled, "lead@example.com"]}, waitlisted: None}
    assert _invited(plugins.channel, "session.cancelled") == {
        **{to: cancel for to in [*enrolled, "lead@example.com"]}, waitlisted: None}

    freed = (await api.data(g.SCHEDULE, same_slot))["scheduleSession"]
    assert freed["errors"] == [] and freed["session"]["instructors"] == [{"id": lead}]
    assert freed["session"]["room"] == {"id": room}
