"""The must-show blended-program stories: GraphQL over HTTP, the outbox dispatcher running in the
app, the bundled Moodle connector talking to a fake Moodle on 127.0.0.1."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import httpx
import pytest

from podium.core import hookimpl
from podium.server.app import create_app
from tests.dispatching import eventually, settings_from
from tests.live_server import serve
from tests.plugins.lms_moodle.fake_moodle import TOKEN, FakeMoodle
from tests.server import graph as g
from tests.server import programs_world as w
from tests.server.conftest import ADMIN_TOKEN, Api

REINFORCEMENT = ("reinforce-1", "reinforce-7", "reinforce-30", "assessment")
SESSION_TIMES = """query($id: ID!) { node(id: $id) { ... on Session { timezone startsAt endsAt seatsTaken waitlistCount
  enrollments(status: WAITLISTED, first: 100) { edges { node { learner { id } waitlistPosition } } } } } }"""
STAGES = """query($p: ID!) { node(id: $p) { ... on Program { stages { key opensAt dueAt } } } }"""
RESCHEDULE = """mutation($i: RescheduleSessionInput!) { rescheduleSession(input: $i) { errors { code message } } }"""


class Channel:
    def __init__(self) -> None:
        self.recorder = w.Recorder()

    @hookimpl
    def podium_notification_channels(self):
        return [self.recorder]


@pytest.fixture
async def world(database_url):
    moodle = FakeMoodle()
    channel = Channel()
    with serve(moodle.app()) as url:
        moodle.url = url
        settings = settings_from({"PODIUM_PLUGINS": "lms_moodle", "PODIUM_MOODLE_URL": url,
                                  "PODIUM_MOODLE_TOKEN": TOKEN}, database_url=database_url,
                                 admin_token=ADMIN_TOKEN, reminder_hours=0,
                                 # a readiness summary reads every learner from Moodle first: on a
                                 # loaded machine that takes longer than the quick default allows
                                 outbox_timeout_seconds=30.0, outbox_lease_seconds=60.0)
        app = create_app(settings, extra_plugins=[("recorder", channel)])
        async with app.router.lifespan_context(app):
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://podium.test") as client:
                yield Api(client), moodle, channel.recorder, app.state.podium.sessions


async def _program(api, moodle, sessions, cohort: int, emails_known: bool = True):
    """A sandwich program over two sessions of 15, with its Moodle course and activities."""
    course = await g.course(api, title="Fire safety", certificationValidityDays=365)
    lead_emails = [f"lead{n}.{cohort}.{id(moodle)}@example.com" for n in range(2)]
    live = [await g.session(api, course, [await g.instructor(api, email=email)], capacity=15,
                            starts_at=g.at(days=8 + n), minutes=120) for n, email in enumerate(lead_emails)]
    learners = [await g.person(api) for _ in range(cohort)]
    emails = await w.emails_of(sessions, learners)
    users = {email: moodle.add_user(email) for email in emails}
    moodle_course = moodle.add_course("FIRE-101")
    cmids = {key: moodle.add_activity(moodle_course, key.title()) for key in ("prework",) + REINFORCEMENT}
    cmids["live"] = moodle.add_activity(moodle_course, "Fire safety workshop", modname="label", tracking=1)
    created = (await api.data(w.CREATE, {"i": {
        "templateKey": "sandwich", "courseId": course, "liveSessionIds": live, "learnerIds": learners,
        "lmsConnector": "moodle", "lmsCourseRef": "FIRE-101",
        "stageActivities": [{"stageKey": k, "lmsActivityRef": str(v)} for k, v in cmids.items()]}}))["createProgram"]
    assert created["errors"] == []
    await eventually(lambda: len([k for k in moodle.enrolments if k[0] == moodle_course]) == cohort,
                     what="the cohort enrolled in the Moodle course")
    return course, live, learners, emails, users, cmids, created, lead_emails


async def test_sandwich_for_30_in_moodle_readiness_attendance_and_certification(world):
    api, moodle, recorder, sessions = world
    course, live, learners, emails, users, cmids, created, lead_emails = await _program(api, moodle, sessions, 30)
    program = created["program"]["id"]
    assert created["waitlisted"] == [] and {p["status"] for p in created["placements"]} == {"ENROLLED"}
    seated = {live[0]: learners[:15], live[1]: learners[15:]}
    assert {s: sorted(p["learner"]["id"] for p in created["placements"] if p["session"]["id"] == s)
            for s in live} == {s: sorted(ids) for s, ids in seated.items()}

    did = set(learners[:10] + learners[15:25])
    prework_done = int(datetime.now(timezone.utc).timestamp())
    for learner, email in zip(learners, emails):
        if learner in did:
            moodle.complete(cmids["prework"], users[email], prework_done)
    synced = (await api.data(w.SYNC, {"i": {"programId": program}}))["syncProgramProgress"]
    assert synced["errors"] == [] and synced["lmsNotFound"] == [] and synced["lmsFailed"] == []

    readiness = {}
    for session in live:
        entries = (await api.data(w.READINESS, {"p": program, "s": session}))["node"]["readiness"]
        assert sorted(e["learner"]["id"] for e in entries) == sorted(seated[session])
        assert {e["learner"]["id"] for e in entries if e["ready"]} == did & set(seated[session])
        assert {tuple(e["missingStages"]) for e in entries if not e["ready"]} == {("Pre-work",)}
        readiness[session] = entries

    await w.time_comes(sessions, "program.send_readiness")
    summaries = await eventually(lambda: len(w.told(recorder, "program.readiness")) == 2 and
                                 {n.to: n for n in w.told(recorder, "program.readiness")},
                                 timeout=90, what="the instructors' readiness summaries")
    for email, session in zip(lead_emails, live):
        w.check_readiness_summary(summaries[email].text, readiness[session])

    roster = (await api.data(w.ROSTER, {"id": live[0]}))["node"]["enrollments"]["edges"]
    enrollment_of = {e["node"]["learner"]["id"]: e["node"]["id"] for e in roster}
    present, absent = learners[:10], learners[10]
    records = [{"enrollmentId": enrollment_of[lid], "status": "PRESENT"} for lid in present]
    records.append({"enrollmentId": enrollment_of[absent], "status": "ABSENT"})
    await g.time_passes(sessions, live[0])  # attendance once the session has been
    ended = datetime.fromisoformat((await api.data(w.SESSION_TIMES, {"id": live[0]}))["node"]["endsAt"])
    assert (await api.data(w.ATTEND, {"i": {"sessionId": live[0], "records": records}}))["recordAttendance"]["errors"] == []
    await eventually(lambda: all((cmids["live"], users[emails[i]]) in moodle.states for i in range(11)),
                     what="attendance pushed to the Moodle activity of the live session")
    assert moodle.states[(cmids["live"], users[emails[0]])]["state"] == 1
    assert moodle.states[(cmids["live"], users[emails[10]])]["state"] == 0

    for email in emails[:11]:
        for key in ("prework",) + REINFORCEMENT:
            moodle.complete(cmids[key], users[email], prework_done)
    synced = (await api.data(w.SYNC, {"i": {"programId": program}}))["syncProgramProgress"]
    assert sorted(c["person"]["id"] for c in synced["certified"]) == sorted(present)
    for cert in synced["certified"]:
        issued = datetime.fromisoformat(cert["issuedAt"])
        assert issued == max(ended, datetime.fromtimestamp(prework_done, timezone.utc)), \
            "the last required stage: the live session's end or the reinforcement, whichever came later"
        assert datetime.fromisoformat(cert["expiresAt"]) == issued + timedelta(days=365)
        assert cert["course"] == {"id": course}

    journeys = {e["node"]["learner"]["id"]: e["node"]
                for e in (await api.data(w.JOURNEYS, {"p": program}))["node"]["journeys"]["edges"]}
    assert all(journeys[lid]["completed"] for lid in present)
    for lid in present:
        assert {s["stage"]["key"]: s["status"] for s in journeys[lid]["stages"]} == {
            key: "COMPLETED" for key in ("prework", "live-1") + REINFORCEMENT}
    absent_stages = {s["stage"]["key"]: s["status"] for s in journeys[absent]["stages"]}
    assert absent_stages["live-1"] != "COMPLETED" and journeys[absent]["completed"] is False
    assert all(absent_stages[key] == "COMPLETED" for key in ("prework",) + REINFORCEMENT)
    certified = (await api.data("""query($p: ID!) { node(id: $p) { ... on Program { certifications {
      person { id } } } } }""", {"p": program}))["node"]["certifications"]
    assert sorted(c["person"]["id"] for c in certified) == sorted(present), "none for the absent learner"


async def test_cohort_of_40_waitlists_10_and_rescheduling_moves_the_prework(world):
    api, moodle, recorder, sessions = world
    _, live, learners, emails, _, _, created, _ = await _program(api, moodle, sessions, 40)
    assert sum(p["status"] == "ENROLLED" for p in created["placements"]) == 30
    assert [p["learner"]["id"] for p in created["waitlisted"]] == learners[30:]
    first, second = [(await api.data(SESSION_TIMES, {"id": s}))["node"] for s in live]
    assert (first["seatsTaken"], first["waitlistCount"], second["seatsTaken"], second["waitlistCount"]) == (15, 0, 15, 10)
    assert [(e["node"]["learner"]["id"], e["node"]["waitlistPosition"])
            for e in second["enrollments"]["edges"]] == list(zip(learners[30:], range(1, 11)))

    program = created["program"]["id"]
    before = {s["key"]: s for s in (await api.data(STAGES, {"p": program}))["node"]["stages"]}
    tz = first["timezone"]
    starts, ends = (w.wall_clock(first[k], tz) for k in ("startsAt", "endsAt"))
    moved = await api.data(RESCHEDULE, {"i": {"sessionId": live[0], "startsAt": w.instant_at(starts + timedelta(days=7), tz),
                                              "endsAt": w.instant_at(ends + timedelta(days=7), tz)}})
    assert moved["rescheduleSession"]["errors"] == []
    after = {s["key"]: s for s in (await api.data(STAGES, {"p": program}))["node"]["stages"]}
    for when in ("opensAt", "dueAt"):
        assert w.wall_clock(after["prework"][when], tz) - w.wall_clock(before["prework"][when], tz) \
            == timedelta(days=7), "a week later on the session's local clock, whatever the date"
    told = await eventually(lambda: len(w.told(recorder, "program.rescheduled")) == 15 and
                            w.told(recorder, "program.rescheduled"),
                            what="the first section's learners told of their new due dates")
    assert sorted(n.to for n in told) == sorted(emails[:15]), "the other section's dates follow its own session"
