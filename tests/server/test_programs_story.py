"""The blended-program story end to end: GraphQL over HTTP, the outbox dispatcher running in the
app, an LMS and a notification channel plugged in as plugins."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from sqlalchemy import select

from podium.core.instants import utc_now
from podium.core.models import OutboxMessage, OutboxStatus
from tests.dispatching import eventually
from tests.server import graph as g
from tests.server import programs_world as w



async def test_sandwich_for_30_readiness_attendance_certification(story):
    api, plugins, sessions = story
    course = await g.course(api, certificationValidityDays=365)
    lead_emails = [f"lead-{n}-{id(story)}@example.com" for n in range(2)]
    leads = [await g.instructor(api, email=email) for email in lead_emails]
    live = [await g.session(api, course, [lead], capacity=15, starts_at=g.at(days=5 + n), minutes=120)
            for n, lead in enumerate(leads)]
    learners = [await g.person(api) for _ in range(30)]
    emails = await w.emails_of(sessions, learners)
    for email in emails:
        plugins.lms.add_user(email)

    created = (await api.data(w.CREATE, {"i": {
        "templateKey": "sandwich", "courseId": course, "liveSessionIds": live, "learnerIds": learners,
        "lmsCourseRef": w.COURSE_REF, "lmsConnector": "testlms",
        "stageActivities": w.stage_refs("sandwich", prework="cm-11")}}))["createProgram"]
    assert created["errors"] == [] and created["waitlisted"] == []
    assert {p["status"] for p in created["placements"]} == {"ENROLLED"}
    program = created["program"]["id"]
    await eventually(lambda: len(plugins.lms.enrolled) == 30, what="the cohort enrolled in the LMS course")
    assert {course_ref for course_ref, _ in plugins.lms.enrolled} == {w.COURSE_REF}

    did = set(learners[:10] + learners[15:25])
    done_at = datetime.now(timezone.utc).replace(microsecond=0)
    for learner, email in zip(learners, emails):
        if learner in did:
            plugins.lms.complete(w.COURSE_REF, email, "cm-11", done_at)
    synced = (await api.data(w.SYNC, {"i": {"programId": program}}))["syncProgramProgress"]
    assert synced["errors"] == [] and synced["lmsNotFound"] == [] and synced["certified"] == []

    for session, seated in zip(live, (learners[:15], learners[15:])):
        entries = (await api.data(w.READINESS, {"p": program, "s": session}))["node"]["readiness"]
        assert sorted(e["learner"]["id"] for e in entries) == sorted(seated)
        assert {e["learner"]["id"] for e in entries if e["ready"]} == did & set(seated)
        assert {tuple(e["missingStages"]) for e in entries if not e["ready"]} == {("Pre-work",)}

    await w.time_comes(sessions, "program.send_readiness")
    summaries = await eventually(lambda: len(w.told(plugins.channel, "program.readiness")) == 2 and
                                 w.told(plugins.channel, "program.readiness"), what="two readiness summaries")
    by_instructor = {n.to: n for n in summaries}
    for email, session in zip(lead_emails, live):
        summary = by_instructor[email]
        entries = (await api.data(w.READINESS, {"p": program, "s": session}))["node"]["readiness"]
        w.check_readiness_summary(summary.text, entries)

    # attendance at the first session: ten present, one absent; all of them do the reinforcement
    roster = (await api.data(w.ROSTER, {"id": live[0]}))["node"]["enrollments"]["edges"]
    enrollment_of = {e["node"]["learner"]["id"]: e["node"]["id"] for e in roster}
    present, absent = learners[:10], learners[10]
    records = [{"enrollmentId": enrollment_of[lid], "status": "PRESENT"} for lid in present]
    records.append({"enrollmentId": enrollment_of[absent], "status": "ABSENT"})
    # Records are true: nobody is PRESENT at a session days away, and no certificate comes of trying
    early = (await api.data(w.ATTEND, {"i": {"sessionId": live[0], "records": records}}))["recordAttendance"]
    assert [e["code"] for e in early["errors"]] == ["SESSION_NOT_STARTED"]
    synced = (await api.data(w.SYNC, {"i": {"programId": program}}))["syncProgramProgress"]
    assert synced["certified"] == []

    await g.time_passes(sessions, live[0], ended=False)
    assert (await api.data(w.ATTEND, {"i": {"sessionId": live[0], "records": records}}))["recordAttendance"]["errors"] == []
    for learner, email in zip(learners[:11], emails[:11]):
        for activity in ("prework", "reinforce-1", "reinforce-7", "reinforce-30", "assessment"):
            plugins.lms.complete(w.COURSE_REF, email, activity, done_at)
    synced = (await api.data(w.SYNC, {"i": {"programId": program}}))["syncProgramProgress"]
    assert synced["certified"] == [], "attendance during the session completes nothing before it ends"

    await g.time_passes(sessions, live[0])
    ended = datetime.fromisoformat((await api.data(w.SESSION_TIMES, {"id": live[0]}))["node"]["endsAt"])
    synced = (await api.data(w.SYNC, {"i": {"programId": program}}))["syncProgramProgress"]
    assert sorted(c["person"]["id"] for c in synced["certified"]) == sorted(present)
    for cert in synced["certified"]:
        issued = datetime.fromisoformat(cert["issuedAt"])
        # the live stage, the last completed, counts from the session's end: a certificate is never dated
        # before the training ended
        assert issued == max(ended, done_at), "when the last required stage was completed"
        assert datetime.fromisoformat(cert["expiresAt"]) == issued + timedelta(days=365)
        assert cert["course"] == {"id": course}

    cert = synced["certified"][0]
    node = """query($id: ID!) { node(id: $id) { ... on Certification { person { id } expiresAt } } }"""
    owner = await g.token(api, cert["person"]["id"], "LEARNER")
    someone_else = await g.token(api, absent, "LEARNER")
    assert (await api.data(node, {"id": cert["id"]}, token=owner))["node"]["person"] == cert["person"]
    assert (await api.data(node, {"id": cert["id"]}, token=someone_else))["node"] is None

    journeys = {e["node"]["learner"]["id"]: e["node"]
                for e in (await api.data(w.JOURNEYS, {"p": program}))["node"]["journeys"]["edges"]}
    assert all(journeys[lid]["completed"] for lid in present)
    assert {s["completedAt"] for lid in present for s in journeys[lid]["stages"] if s["stage"]["key"] == "live-1"} \
        == {ended.isoformat()}, "the live stage completed when the session ended"
    absent_stages = {s["stage"]["key"]: s["status"] for s in journeys[absent]["stages"]}
    assert absent_stages["live-1"] != "COMPLETED" and absent_stages["assessment"] == "COMPLETED"
    assert journeys[absent]["completed"] is False

    days = (issued + timedelta(days=366) - datetime.now(timezone.utc)).days + 1
    expiring = (await api.data(w.EXPIRING, {"d": days}))["expiringCertifications"]
    assert sorted(c["person"]["id"] for c in expiring) == sorted(present)
    assert (await api.data(w.EXPIRING, {"d": 30}))["expiringCertifications"] == []


async def test_prework_reminders_and_moved_due_dates_reach_the_learners(story):
    api, plugins, sessions = story
    course = await g.course(api)
    lead = await g.instructor(api)
    session = await g.session(api, course, [lead], capacity=10, starts_at=g.at(days=6), minutes=60)
    learners = [await g.person(api) for _ in range(3)]
    emails = await w.emails_of(sessions, learners)
    for email in emails:
        plugins.lms.add_user(email)
    plugins.lms.complete(w.COURSE_REF, emails[0], "prework", datetime.now(timezone.utc))
    created = (await api.data(w.CREATE, {"i": {"templateKey": "flipped", "courseId": course, "liveSessionIds": [session],
                                             "learnerIds": learners, "lmsCourseRef": w.COURSE_REF,
                                             "lmsConnector": "testlms", "stageActivities": w.stage_refs("flipped")}}
                                 ))["createProgram"]
    assert created["errors"] == []

    await w.time_comes(sessions, "program.send_prework_reminders")
    reminded = await eventually(lambda: len(w.told(plugins.channel, "program.prework_reminder")) == 2 and
                                w.told(plugins.channel, "program.prework_reminder"), what="two pre-work reminders")
    assert sorted(n.to for n in reminded) == sorted(emails[1:]), "the one who did the pre-work is not reminded"
    assert all("Pre-work (due " in n.text for n in reminded)

    starts = g.at(days=6)
    moved = await api.data("""mutation($i: RescheduleSessionInput!) { rescheduleSession(input: $i) { errors { code } } }""",
                           {"i": {"sessionId": session, "startsAt": (starts + timedelta(days=7)).isoformat(),
                                  "endsAt": (starts + timedelta(days=7, hours=1)).isoformat()}})
    assert moved["rescheduleSession"]["errors"] == []
    told = await eventually(lambda: len(w.told(plugins.channel, "program.rescheduled")) == 3 and
                            w.told(plugins.channel, "program.rescheduled"), what="three learners told of new due dates")
    assert sorted(n.to for n in told) == sorted(emails)
    assert all("Pre-work: now due" in n.text for n in told)


async def test_the_lms_is_synced_on_a_schedule(story):
    api, plugins, sessions = story
    course = await g.course(api)
    lead = await g.instructor(api)
    session = await g.session(api, course, [lead], capacity=10, starts_at=g.at(days=6), minutes=60)
    learner = await g.person(api)
    (email,) = await w.emails_of(sessions, [learner])
    plugins.lms.add_user(email)
    created = (await api.data(w.CREATE, {"i": {"templateKey": "flipped", "courseId": course, "liveSessionIds": [session],
                                             "learnerIds": [learner], "lmsCourseRef": w.COURSE_REF,
                                             "lmsConnector": "testlms", "stageActivities": w.stage_refs("flipped")}}
                                 ))["createProgram"]
    program = created["program"]["id"]
    plugins.lms.complete(w.COURSE_REF, email, "prework", datetime.now(timezone.utc).replace(microsecond=0))

    async def prework_status():
        journeys = (await api.data(w.JOURNEYS, {"p": program}))["node"]["journeys"]["edges"]
        return journeys[0]["node"]["stages"][0]["status"]

    assert await prework_status() != "COMPLETED"
    await w.time_comes(sessions, "periodic.lms_sync")     # the next tick of the periodic LMS sync comes
    await eventually(lambda: _completed(prework_status), what="the scheduled sync to record the pre-work")

    async def next_tick_queued():
        """The tick after; the one that synced may still be PENDING for a moment after it recorded the pre-work."""
        async with sessions() as db:
            return [m for m in (await db.scalars(select(OutboxMessage).where(
                OutboxMessage.topic == "periodic.lms_sync", OutboxMessage.status == OutboxStatus.PENDING))).all()
                if m.deliver_after > utc_now()]
    (queued,) = await eventually(next_tick_queued, what="the next tick queued")
    assert queued.deliver_after > utc_now() + timedelta(hours=5)


async def _completed(status) -> bool:
    return await status() == "COMPLETED"
