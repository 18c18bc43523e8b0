"""Changing a program after creation, over HTTP with the outbox running: learners join it late,
and a cancelled program stops talking to its learners except to say it is cancelled."""
from __future__ import annotations

import base64
from datetime import timedelta

from sqlalchemy import func, select

from podium.core.ids import from_global_id
from podium.core.instants import utc_now
from podium.core.models import AuditEntry, Certification, OutboxMessage, OutboxStatus
from tests.dispatching import eventually
from tests.server import graph as g
from tests.server import programs_world as w

ADD = """mutation($i: AddProgramLearnersInput!) { addProgramLearners(input: $i) {
  program { id } placements { learner { id } session { id } status waitlistPosition }
  waitlisted { learner { id } session { id } waitlistPosition } errors { code field message } } }"""
CANCEL = """mutation($i: CancelProgramInput!) { cancelProgram(input: $i) {
  program { id status cancelledAt cancelReason } cancelledEnrollments { id status learner { id } }
  errors { code field message } } }"""
SEATS = """query($id: ID!) { node(id: $id) { ... on Session { seatsTaken waitlistCount } } }"""
EXPIRING_PAGE = """query($d: Int!, $first: Int, $after: String) { certificationsExpiring(withinDays: $d, first: $first,
  after: $after) { totalCount edges { cursor node { id } } pageInfo { hasNextPage endCursor } } }"""
EXPIRING_LIST = """query($d: Int!) { expiringCertifications(withinDays: $d) { id } }"""


async def _audits(sessions, action: str, program: str) -> int:
    async with sessions() as db:
        return await db.scalar(select(func.count()).select_from(AuditEntry).where(
            AuditEntry.action == action, AuditEntry.target_id == from_global_id(program)[1]))


async def _settled(sessions, topics: list[str]):
    """Every queued message of `topics` has been handled (delivered or skipped)."""
    async with sessions() as db:
        pending = await db.scalar(select(func.count()).select_from(OutboxMessage).where(
            OutboxMessage.topic.in_(topics), OutboxMessage.status == OutboxStatus.PENDING))
        handled = await db.scalar(select(func.count()).select_from(OutboxMessage).where(
            OutboxMessage.topic.in_(topics), OutboxMessage.status == OutboxStatus.DELIVERED))
    return pending == 0 and handled > 0


async def test_added_learners_fill_sections_like_the_cohort_and_join_the_lms_course(story):  # noqa: F811
    api, plugins, sessions = story
    course = await g.course(api)
    live = [await g.session(api, course, [await g.instructor(api)], capacity=3, starts_at=g.at(days=5 + n),
                            minutes=60) for n in range(2)]
    first = [await g.person(api) for _ in range(4)]
    later = [await g.person(api) for _ in range(3)]
    for email in await w.emails_of(sessions, first + later):
        plugins.lms.add_user(email)
    created = (await api.data(w.CREATE, {"i": {"templateKey": "flipped", "courseId": course, "liveSessionIds": live,
                                             "learnerIds": first, "lmsCourseRef": w.COURSE_REF,
                                             "lmsConnector": "testlms", "stageActivities": w.stage_refs("flipped")}}
                                 ))["createProgram"]
    program = created["program"]["id"]
    await eventually(lambda: len(plugins.lms.enrolled) == 4, what="the first cohort in the LMS course")

    learner = await g.token(api, later[0], "LEARNER")
    refused = (await api.data(ADD, {"i": {"programId": program, "learnerIds": later}}, token=learner))
    assert refused["addProgramLearners"]["errors"][0]["code"] == "FORBIDDEN"
    twice = (await api.data(ADD, {"i": {"programId": program, "learnerIds": [later[0], first[1]]}}))
    assert twice["addProgramLearners"]["errors"] == [
        {"code": "DUPLICATE", "field": ["input", "learnerIds", "1"], "message": "This learner is already in the program."}]
    assert (await api.data(SEATS, {"id": live[1]}))["node"] == {"seatsTaken": 1, "waitlistCount": 0}

    added = (await api.data(ADD, {"i": {"programId": program, "learnerIds": later}}))["addProgramLearners"]
    assert added["errors"] == [] and added["program"] == {"id": program}
    assert [(p["learner"]["id"], p["session"]["id"], p["status"]) for p in added["placements"]] == [
        (later[0], live[1], "ENROLLED"), (later[1], live[1], "ENROLLED"), (later[2], live[1], "WAITLISTED")]
    assert added["waitlisted"] == [{"learner": {"id": later[2]}, "session": {"id": live[1]}, "waitlistPosition": 1}]
    assert (await api.data(SEATS, {"id": live[1]}))["node"] == {"seatsTaken": 3, "waitlistCount": 1}
    await eventually(lambda: len(plugins.lms.enrolled) == 7, what="the added learners in the LMS course")

    readiness = (await api.data(w.READINESS, {"p": program, "s": live[1]}))["node"]["readiness"]
    assert sorted(e["learner"]["id"] for e in readiness) == sorted([first[3], later[0], later[1]])
    assert await _audits(sessions, "program.add_learners", program) == 1


async def test_a_cancelled_program_skips_its_notices_and_tells_its_learners(story):  # noqa: F811
    api, plugins, sessions = story
    course = await g.course(api)
    session = await g.session(api, course, [await g.instructor(api)], capacity=10, starts_at=g.at(days=6), minutes=60)
    learners = [await g.person(api) for _ in range(3)]
    emails = await w.emails_of(sessions, learners)
    program = (await api.data(w.CREATE, {"i": {"templateKey": "flipped", "courseId": course,
                                             "liveSessionIds": [session], "learnerIds": learners}})
               )["createProgram"]["program"]["id"]

    learner = await g.token(api, learners[0], "LEARNER")
    refused = await api.data(CANCEL, {"i": {"programId": program, "reason": "no budget"}}, token=learner)
    assert refused["cancelProgram"]["errors"][0]["code"] == "FORBIDDEN"
    blank = await api.data(CANCEL, {"i": {"programId": program, "reason": "  "}})
    assert blank["cancelProgram"]["errors"][0]["field"] == ["input", "reason"]

    done = (await api.data(CANCEL, {"i": {"programId": program, "reason": "no budget this year"}}))["cancelProgram"]
    assert done["errors"] == [] and done["cancelledEnrollments"] == []
    assert done["program"]["status"] == "CANCELLED" and done["program"]["cancelReason"] == "no budget this year"
    assert (await api.data(SEATS, {"id": session}))["node"]["seatsTaken"] == 3, "enrolments stand"

    told = await eventually(lambda: len(w.told(plugins.channel, "program.cancelled")) == 3 and
                            w.told(plugins.channel, "program.cancelled"), what="three learners told")
    assert sorted(n.to for n in told) == sorted(emails)
    assert all("no budget this year" in n.text and "place in its live sessions stands" in n.text for n in told)

    notices = ["program.send_readiness", "program.send_prework_reminders"]
    for topic in notices:
        await w.time_comes(sessions, topic)
    await eventually(lambda: _settled(sessions, notices), what="the queued summary and reminders handled")
    assert w.told(plugins.channel, "program.readiness") == []
    assert w.told(plugins.channel, "program.prework_reminder") == []

    again = (await api.data(CANCEL, {"i": {"programId": program, "reason": "twice"}}))["cancelProgram"]
    assert again["errors"][0]["code"] == "INVALID"
    late = (await api.data(ADD, {"i": {"programId": program, "learnerIds": [await g.person(api)]}}))
    assert late["addProgramLearners"]["errors"][0]["code"] == "INVALID"
    assert await _audits(sessions, "program.cancel", program) == 1


async def test_cancelling_with_the_enrolments_frees_the_seats(story):  # noqa: F811
    api, _, _ = story
    course = await g.course(api)
    session = await g.session(api, course, [await g.instructor(api)], capacity=2, starts_at=g.at(days=6), minutes=60)
    learners = [await g.person(api) for _ in range(3)]
    outsider = await g.person(api)
    program = (await api.data(w.CREATE, {"i": {"templateKey": "flipped", "courseId": course,
                                             "liveSessionIds": [session], "learnerIds": learners}})
               )["createProgram"]["program"]["id"]
    assert (await g.enroll(api, session, outsider))["errors"] == []
    assert (await api.data(SEATS, {"id": session}))["node"] == {"seatsTaken": 2, "waitlistCount": 2}

    done = (await api.data(CANCEL, {"i": {"programId": program, "reason": "merged into another program",
                                          "cancelEnrollments": True}}))["cancelProgram"]
    assert done["errors"] == []
    assert sorted(e["learner"]["id"] for e in done["cancelledEnrollments"]) == sorted(learners)
    assert {e["status"] for e in done["cancelledEnrollments"]} == {"CANCELLED"}
    assert (await api.data(SEATS, {"id": session}))["node"] == {"seatsTaken": 1, "waitlistCount": 0}, \
        "the outsider moved up from the waitlist"


async def test_expiring_certifications_page_in_expiry_order(story):  # noqa: F811
    api, _, sessions = story
    course = from_global_id(await g.course(api))[1]
    people = [from_global_id(await g.person(api))[1] for _ in range(5)]
    now = utc_now()
    async with sessions() as db:
        db.add_all(Certification(person_id=p, course_id=course, issued_at=now - timedelta(days=300),
                                 expires_at=now + timedelta(days=10 + n % 3)) for n, p in enumerate(people))
        await db.commit()
    whole = [c["id"] for c in (await api.data(EXPIRING_LIST, {"d": 20}))["expiringCertifications"]]
    assert len(whole) == 5
    paged, after = [], None
    while True:
        page = (await api.data(EXPIRING_PAGE, {"d": 20, "first": 2, "after": after}))["certificationsExpiring"]
        assert page["totalCount"] == 5
        paged += [e["node"]["id"] for e in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert paged == whole
    query = """query($a: String) { certificationsExpiring(withinDays: 20, after: $a) { totalCount } }"""
    for cursor in ("nope", "2026-01-01T00:00:00|1", f"{now.isoformat()}|99999999999999999999"):
        bad = await api(query, {"a": base64.urlsafe_b64encode(cursor.encode()).decode()})
        assert bad["errors"][0]["message"] == "after is not a cursor this connection gave out.", cursor
