"""Blended programs end to end through GraphQL over HTTP."""
from __future__ import annotations

import contextlib
from datetime import datetime, timedelta

import httpx
from sqlalchemy import event, select

from podium.core.instants import utc_now
from podium.core.models import OutboxMessage
from podium.core.services.periodic import start_periodic
from podium.core.settings import Settings
from podium.server.app import create_app
from tests.server import graph as g
from tests.server.conftest import ADMIN_TOKEN, Api, StoryPlugins
from tests.server import programs_world as w

CREATE = """mutation($i: CreateProgramInput!) { createProgram(input: $i) {
  program { id title template { key } course { id } stages { key kind title opensAt dueAt session { id } lmsActivityRef } }
  placements { learner { id } session { id } status waitlistPosition }
  waitlisted { learner { id } session { id } waitlistPosition }
  errors { code field message } } }"""
SESSION = """query($id: ID!) { node(id: $id) { ... on Session { timezone seatsTaken waitlistCount
  enrollments(status: WAITLISTED, first: 100) { totalCount edges { node { learner { id } waitlistPosition } } } } } }"""
PROGRAM = """query($id: ID!) { node(id: $id) { ... on Program { id stages { key opensAt dueAt }
  journeys(first: 100) { totalCount edges { node { learner { id } completed stages { stage { key } status } } } } } } }"""
RESCHEDULE = """mutation($i: RescheduleSessionInput!) { rescheduleSession(input: $i) { session { id startsAt }
  errors { code message } } }"""
TEMPLATES = "{ programTemplates { key name builtin stages { key kind title offsetDays required windowDays repeat } } }"
NEW_TEMPLATE = """mutation($i: CreateProgramTemplateInput!) { createProgramTemplate(input: $i) {
  template { key stages { key kind } } errors { code field message } } }"""


async def _world(api, cohort: int, capacities=(15, 15), validity: int | None = 365):
    course = await g.course(api, certificationValidityDays=validity)
    sessions = []
    for n, capacity in enumerate(capacities):
        lead = await g.instructor(api)
        sessions.append(await g.session(api, course, [lead], capacity=capacity, starts_at=g.at(days=5 + n),
                                        minutes=120))
    learners = [await g.person(api) for _ in range(cohort)]
    return course, sessions, learners


async def _create(api, course, sessions, learners, template="sandwich", **kw):
    data = await api.data(CREATE, {"i": {"templateKey": template, "courseId": course, "liveSessionIds": sessions,
                                         "learnerIds": learners, **kw}})
    return data["createProgram"]


async def test_templates_built_in_and_a_coordinators_own(api):
    templates = (await api.data(TEMPLATES))["programTemplates"]
    assert [t["key"] for t in templates] == ["flipped", "sandwich", "ongoing-blend"]
    sandwich = templates[1]
    assert [(s["key"], s["kind"], s["offsetDays"]) for s in sandwich["stages"]] == [
        ("prework", "SELF_PACED", -7), ("live", "LIVE", 0), ("reinforce-1", "SELF_PACED", 1),
        ("reinforce-7", "SELF_PACED", 7), ("reinforce-30", "SELF_PACED", 30), ("assessment", "ASSESSMENT", 30)]

    coordinator = await g.token(api, await g.person(api), "COORDINATOR")
    learner = await g.token(api, await g.person(api), "LEARNER")
    stages = [{"key": "read", "kind": "SELF_PACED", "title": "Read", "offsetDays": -2},
              {"key": "day", "kind": "LIVE", "title": "Day", "offsetDays": 0}]
    made = (await api.data(NEW_TEMPLATE, {"i": {"key": "read-first", "name": "Read first", "stages": stages}},
                           token=coordinator))["createProgramTemplate"]
    assert made["errors"] == [] and made["template"]["stages"] == [{"key": "read", "kind": "SELF_PACED"},
                                                                   {"key": "day", "kind": "LIVE"}]
    refused = (await api.data(NEW_TEMPLATE, {"i": {"key": "mine", "name": "Mine", "stages": stages}},
                              token=learner))["createProgramTemplate"]
    assert refused["template"] is None and [e["code"] for e in refused["errors"]] == ["FORBIDDEN"]
    backwards = (await api.data(NEW_TEMPLATE, {"i": {"key": "back", "name": "Back", "stages": stages[::-1]}},
                                token=coordinator))["createProgramTemplate"]
    assert [(e["code"], e["field"]) for e in backwards["errors"]] == [
        ("INVALID", ["input", "stages", "1", "offsetDays"])]
    assert [t["key"] for t in (await api.data(TEMPLATES))["programTemplates"]][-1] == "read-first"


async def test_a_program_from_an_admins_own_template_follows_its_stages(api):
    admin = await g.token(api, await g.person(api), "ADMIN")
    stages = [{"key": "read", "kind": "SELF_PACED", "title": "Read the manual", "offsetDays": -3, "windowDays": 2},
              {"key": "day", "kind": "LIVE", "title": "Hands-on day", "offsetDays": 0},
              {"key": "quiz", "kind": "ASSESSMENT", "title": "Quiz", "offsetDays": 2, "windowDays": 5},
              {"key": "extra", "kind": "SELF_PACED", "title": "Further reading", "offsetDays": 2, "required": False}]
    made = (await api.data(NEW_TEMPLATE, {"i": {"key": "hands-on", "name": "Hands-on", "stages": stages}},
                           token=admin))["createProgramTemplate"]
    assert made["errors"] == []
    learner = await g.token(api, await g.person(api), "LEARNER")
    refused = (await api.data(NEW_TEMPLATE, {"i": {"key": "mine", "name": "Mine", "stages": stages}},
                              token=learner))["createProgramTemplate"]
    assert [e["code"] for e in refused["errors"]] == ["FORBIDDEN"]

    course, sessions, learners = await _world(api, 3, capacities=(10,))
    payload = await _create(api, course, sessions, learners, template="hands-on")
    assert payload["errors"] == [] and payload["program"]["template"] == {"key": "hands-on"}
    program = payload["program"]
    tz = (await api.data(SESSION, {"id": sessions[0]}))["node"]["timezone"]
    day = {s["key"]: s for s in program["stages"]}["day"]
    starts = w.wall_clock(day["opensAt"], tz)

    def local(value: str | None):
        return value and w.wall_clock(value, tz) - starts

    assert [(s["key"], s["kind"], s["title"], local(s["opensAt"]), local(s["dueAt"])) for s in program["stages"]] == [
        ("read", "SELF_PACED", "Read the manual", timedelta(days=-3), timedelta(days=-1)),
        ("day", "LIVE", "Hands-on day", timedelta(0), timedelta(hours=2)),
        ("quiz", "ASSESSMENT", "Quiz", timedelta(days=2), timedelta(days=7)),
        ("extra", "SELF_PACED", "Further reading", timedelta(days=2), timedelta(days=9))]
    assert day["session"] == {"id": sessions[0]}
    journeys = (await api.data(PROGRAM, {"id": program["id"]}))["node"]["journeys"]
    assert journeys["totalCount"] == 3
    assert {tuple(s["stage"]["key"] for s in e["node"]["stages"]) for e in journeys["edges"]} == {
        ("read", "day", "quiz", "extra")}


async def test_sandwich_for_30_over_two_sessions_of_15_places_everyone(api):
    course, sessions, learners = await _world(api, 30)
    payload = await _create(api, course, sessions, learners)
    assert payload["errors"] == [] and payload["waitlisted"] == []
    placed = [(p["learner"]["id"], p["session"]["id"], p["status"]) for p in payload["placements"]]
    assert placed == [(lid, sessions[0], "ENROLLED") for lid in learners[:15]] + \
                     [(lid, sessions[1], "ENROLLED") for lid in learners[15:]]
    stages = payload["program"]["stages"]
    assert [s["key"] for s in stages] == ["prework", "live-1", "live-2", "reinforce-1", "reinforce-7",
                                          "reinforce-30", "assessment"]
    assert [s["session"] and s["session"]["id"] for s in stages[1:3]] == sessions
    assert payload["program"]["template"] == {"key": "sandwich"}

    program = (await api.data(PROGRAM, {"id": payload["program"]["id"]}))["node"]
    journeys = program["journeys"]
    assert journeys["totalCount"] == 30
    first = journeys["edges"][0]["node"]
    assert [s["stage"]["key"] for s in first["stages"]] == ["prework", "live-1", "reinforce-1", "reinforce-7",
                                                            "reinforce-30", "assessment"]
    assert first["completed"] is False


async def test_cohort_of_40_into_two_sessions_of_15_waitlists_10(api):
    course, sessions, learners = await _world(api, 40)
    payload = await _create(api, course, sessions, learners, template="flipped")
    assert payload["errors"] == []
    assert sum(p["status"] == "ENROLLED" for p in payload["placements"]) == 30
    assert [(w["learner"]["id"], w["session"]["id"], w["waitlistPosition"]) for w in payload["waitlisted"]] == [
        (lid, sessions[1], n) for n, lid in enumerate(learners[30:], 1)]
    first, second = [(await api.data(SESSION, {"id": s}))["node"] for s in sessions]
    assert (first["seatsTaken"], first["waitlistCount"]) == (15, 0)
    assert (second["seatsTaken"], second["waitlistCount"]) == (15, 10)
    assert [e["node"]["learner"]["id"] for e in second["enrollments"]["edges"]] == learners[30:]


async def test_rescheduling_the_first_session_by_a_week_moves_the_prework_by_a_week(api):
    course, sessions, learners = await _world(api, 4)
    payload = await _create(api, course, sessions, learners)
    before = {s["key"]: s for s in payload["program"]["stages"]}
    tz = (await api.data(SESSION, {"id": sessions[0]}))["node"]["timezone"]
    starts = w.wall_clock(before["live-1"]["opensAt"], tz)
    moved = await api.data(RESCHEDULE, {"i": {"sessionId": sessions[0],
                                              "startsAt": w.instant_at(starts + timedelta(days=7), tz),
                                              "endsAt": w.instant_at(starts + timedelta(days=7, hours=2), tz)}})
    assert moved["rescheduleSession"]["errors"] == []
    after = {s["key"]: s for s in (await api.data(PROGRAM, {"id": payload["program"]["id"]}))["node"]["stages"]}
    for when in ("opensAt", "dueAt"):
        assert w.wall_clock(after["prework"][when], tz) - w.wall_clock(before["prework"][when], tz) \
            == timedelta(days=7), "a week later on the session's local clock, whatever the date"
    assert (after["live-2"]["opensAt"], after["live-2"]["dueAt"]) == (before["live-2"]["opensAt"],
                                                                     before["live-2"]["dueAt"]), "not the anchor"


async def test_refusals_are_user_errors_with_the_input_path(api):
    course, sessions, learners = await _world(api, 2, capacities=(5,))
    other = await g.course(api)
    payload = await _create(api, course, sessions, learners, template="nope")
    assert [(e["code"], e["field"]) for e in payload["errors"]] == [("NOT_FOUND", ["input", "templateKey"])]
    payload = await _create(api, course, sessions + [other], learners)
    assert [(e["code"], e["field"]) for e in payload["errors"]] == [("NOT_FOUND", ["input", "liveSessionIds", "1"])]
    payload = await _create(api, course, sessions, learners, lmsCourseRef="7")
    assert [(e["code"], e["field"]) for e in payload["errors"]] == [("INVALID", ["input", "lmsConnector"])]
    learner = await g.token(api, learners[0], "LEARNER")
    body = await api(CREATE, {"i": {"templateKey": "flipped", "courseId": course, "liveSessionIds": sessions,
                                    "learnerIds": learners}}, token=learner)
    assert [e["code"] for e in body["data"]["createProgram"]["errors"]] == ["FORBIDDEN"]
    assert (await api.data("{ programs { totalCount } }"))["programs"]["totalCount"] == 0


async def test_who_sees_which_program_journey_and_readiness(api):
    course = await g.course(api)
    teacher = await g.instructor(api, email="coach@example.com")
    session = await g.session(api, course, [teacher], capacity=10, starts_at=g.at(days=5))
    learners = [await g.person(api) for _ in range(2)]
    payload = await _create(api, course, [session], learners, template="flipped")
    program = payload["program"]["id"]
    outsider = await g.course(api)
    other_teacher = await g.instructor(api, email="other@example.com")
    other_session = await g.session(api, outsider, [other_teacher], starts_at=g.at(days=9))
    await _create(api, outsider, [other_session], [await g.person(api)], template="flipped")

    teacher_token = await g.token(api, await g.person(api, email="coach@example.com", name="Coach"), "INSTRUCTOR")
    other_token = await g.token(api, await g.person(api, email="other@example.com", name="Other"), "INSTRUCTOR")
    learner_token = await g.token(api, learners[0], "LEARNER")
    readiness = """query($p: ID!, $s: ID!) { node(id: $p) { ... on Program { readiness(sessionId: $s) {
      learner { id } ready missingStages } } } }"""

    assert (await api.data("{ programs { totalCount } }"))["programs"]["totalCount"] == 2
    assert (await api.data("{ programs { totalCount } }", token=teacher_token))["programs"]["totalCount"] == 1
    assert (await api.data("{ programs { totalCount } }", token=learner_token))["programs"]["totalCount"] == 1
    assert (await api.data(PROGRAM, {"id": program}, token=other_token))["node"] is None

    mine = (await api.data(PROGRAM, {"id": program}, token=learner_token))["node"]["journeys"]
    assert [e["node"]["learner"]["id"] for e in mine["edges"]] == [learners[0]] and mine["totalCount"] == 1
    taught = (await api.data(PROGRAM, {"id": program}, token=teacher_token))["node"]["journeys"]
    assert taught["totalCount"] == 2

    entries = (await api.data(readiness, {"p": program, "s": session}, token=teacher_token))["node"]["readiness"]
    assert sorted(e["learner"]["id"] for e in entries) == sorted(learners)
    assert {tuple(e["missingStages"]) for e in entries} == {("Pre-work",)}
    refused = await api(readiness, {"p": program, "s": session}, token=learner_token)
    assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    anonymous = await api("{ programs { totalCount } }", token=None)
    assert anonymous["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    elsewhere = await api(readiness, {"p": program, "s": other_session})
    assert elsewhere["errors"][0]["extensions"]["code"] == "NOT_FOUND"


JOURNEY_PAGE = """query($id: ID!, $first: Int, $s: ID!) { node(id: $id) { ... on Program {
  stages { key session { id title } }
  journeys(first: $first) { totalCount edges { node { learner { id name } completed
    stages { stage { key title dueAt session { id } } status completedAt } } } }
  readiness(sessionId: $s) { learner { id name } ready missingStages } } } }"""


async def test_a_journeys_page_costs_the_same_statements_for_5_and_60_learners(app, api):
    course, sessions, learners = await _world(api, 60, capacities=(30, 30))
    program = (await _create(api, course, sessions, learners))["program"]["id"]
    engine = app.state.podium.engine.sync_engine

    async def statements(first: int) -> int:
        seen: list[str] = []

        def count(conn, cursor, statement, *args):
            seen.append(statement)

        event.listen(engine, "before_cursor_execute", count)
        try:
            body = await api.data(JOURNEY_PAGE, {"id": program, "first": first, "s": sessions[1]})
        finally:
            event.remove(engine, "before_cursor_execute", count)
        assert len(body["node"]["journeys"]["edges"]) == first and len(body["node"]["readiness"]) == 30
        return len([s for s in seen if not s.lstrip().upper().startswith(("BEGIN", "COMMIT", "ROLLBACK"))])

    few, many = await statements(5), await statements(60)
    assert many <= few <= 22, (few, many)   # 60 learners in one page cost no more than 5


@contextlib.asynccontextmanager
async def _app_with(database_url: str, **notices):
    """The app run with its own notice settings (plugins started, the outbox left to hold what is queued)."""
    lms = StoryPlugins()
    app = create_app(Settings(database_url=database_url, admin_token=ADMIN_TOKEN, **notices),
                     extra_plugins=[("story", lms)])
    await app.state.podium.plugins.start()
    state = app.state.podium
    await start_periodic(state.sessions, state.settings, state.plugins)   # as serve does at start
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://podium.test") as client:
        yield Api(client), app.state.podium.sessions
    await app.state.podium.plugins.stop()
    await app.state.podium.engine.dispose()


async def _queued(sessions, topic: str) -> list[OutboxMessage]:
    async with sessions() as db:
        return list((await db.scalars(select(OutboxMessage).where(OutboxMessage.topic == topic)
                                      .order_by(OutboxMessage.id))).all())


async def _flipped_program_queued(api, sessions) -> tuple[str, datetime, datetime, datetime]:
    """A flipped program with its LMS on a session five days away; the session, its start, and the
    moments just before and after the program was created."""
    course = await g.course(api)
    session = await g.session(api, course, [await g.instructor(api)], capacity=5, starts_at=g.at(days=5))
    learners = [await g.person(api) for _ in range(2)]
    before = utc_now()
    created = await _create(api, course, [session], learners, template="flipped", lmsCourseRef="course-1",
                            lmsConnector="testlms", stageActivities=w.stage_refs("flipped"))
    assert created["errors"] == []
    return session, g.at(days=5), before, utc_now()


async def test_the_apps_settings_say_when_summaries_reminders_and_syncs_are_queued(database_url):
    async with _app_with(database_url, readiness_notice_hours=5, prework_reminder_days=2,
                         program_sync_hours=1) as (api, sessions):
        session, starts, _, _ = await _flipped_program_queued(api, sessions)
        (summary,) = await _queued(sessions, "program.send_readiness")
        (reminder,) = await _queued(sessions, "program.send_prework_reminders")
        assert summary.deliver_after == starts - timedelta(hours=5), "5 hours before, not the default 24"
        assert reminder.deliver_after == starts - timedelta(days=2), "2 days before, not the default 3"
        (tick,) = await _queued(sessions, "periodic.lms_sync")
        assert tick.payload["every"] == 3600, "LMS syncs hourly, not 6-hourly"

        tz = (await api.data(SESSION, {"id": session}))["node"]["timezone"]
        moved_to = w.wall_clock(starts.isoformat(), tz) + timedelta(days=1)
        moved = await api.data(RESCHEDULE, {"i": {"sessionId": session, "startsAt": w.instant_at(moved_to, tz),
                                                  "endsAt": w.instant_at(moved_to + timedelta(hours=1), tz)}})
        assert moved["rescheduleSession"]["errors"] == []
        new_start = datetime.fromisoformat(moved["rescheduleSession"]["session"]["startsAt"])
        assert [m.deliver_after for m in await _queued(sessions, "program.send_readiness")] == [
            starts - timedelta(hours=5), new_start - timedelta(hours=5)]
        assert [m.deliver_after for m in await _queued(sessions, "program.send_prework_reminders")] == [
            starts - timedelta(days=2), new_start - timedelta(days=2)]


async def test_zero_turns_summaries_reminders_and_syncs_off(database_url):
    async with _app_with(database_url, readiness_notice_hours=0, prework_reminder_days=0,
                         program_sync_hours=0) as (api, sessions):
        session, starts, _, _ = await _flipped_program_queued(api, sessions)
        moved = await api.data(RESCHEDULE, {"i": {"sessionId": session,
                                                  "startsAt": (starts + timedelta(hours=3)).isoformat(),
                                                  "endsAt": (starts + timedelta(hours=4)).isoformat()}})
        assert moved["rescheduleSession"]["errors"] == []
        for topic in ("program.send_readiness", "program.send_prework_reminders", "periodic.lms_sync", "program.sync"):
            assert await _queued(sessions, topic) == [], topic
        assert len(await _queued(sessions, "program.lms_enrol")) == 2, "the program's other work is still queued"
