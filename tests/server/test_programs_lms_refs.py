"""What createProgram checks of its LMS side, against the fake Moodle: the connector named by its own name
or its plugin's, every required stage's activity present in the course; and why a sync failed on a learner."""
from __future__ import annotations

from tests.server import graph as g
from tests.server import programs_world as w
from tests.server.test_programs_moodle import world  # noqa: F401 - the fixture

LMS_CONNECTOR = """query($id: ID!) { node(id: $id) { ... on Program { lmsConnector } } }"""
SYNC = """mutation($i: SyncProgramProgressInput!) { syncProgramProgress(input: $i) {
  lmsFailed { id } lmsFailures { learner { id } reason } errors { code field message } } }"""


async def _cohort(api, moodle, sessions, n=2):
    course = await g.course(api, title="Ladders")
    live = [await g.session(api, course, [await g.instructor(api)], capacity=10, starts_at=g.at(days=9), minutes=60)]
    learners = [await g.person(api) for _ in range(n)]
    for email in await w.emails_of(sessions, learners):
        moodle.add_user(email)
    moodle_course = moodle.add_course(f"LAD-{id(learners)}")
    cmids = {key: moodle.add_activity(moodle_course, key.title()) for key in ("prework", "reinforce-1", "reinforce-7",
                                                                              "reinforce-30", "assessment")}
    return course, live, learners, moodle_course, cmids


async def test_the_connector_is_named_by_its_own_name_or_its_plugins(world):  # noqa: F811
    api, moodle, _, sessions = world
    for named in ("moodle", "lms_moodle"):
        course, live, learners, moodle_course, cmids = await _cohort(api, moodle, sessions)
        created = (await api.data(w.CREATE, {"i": {
            "templateKey": "sandwich", "courseId": course, "liveSessionIds": live, "learnerIds": learners,
            "lmsConnector": named, "lmsCourseRef": str(moodle_course),
            "stageActivities": [{"stageKey": k, "lmsActivityRef": str(v)} for k, v in cmids.items()]}}))["createProgram"]
        assert created["errors"] == []
        program = (await api.data(LMS_CONNECTOR, {"id": created["program"]["id"]}))["node"]
        assert program == {"lmsConnector": "moodle"}
    course, live, learners, moodle_course, cmids = await _cohort(api, moodle, sessions)
    refused = (await api.data(w.CREATE, {"i": {
        "templateKey": "sandwich", "courseId": course, "liveSessionIds": live, "learnerIds": learners,
        "lmsConnector": "canvas", "lmsCourseRef": str(moodle_course)}}))["createProgram"]
    assert [(e["code"], e["field"][-1]) for e in refused["errors"]] == [("INVALID", "lmsConnector")]
    assert "moodle" in refused["errors"][0]["message"]


async def test_a_stage_without_its_moodle_activity_or_with_one_the_course_lacks_is_refused(world):  # noqa: F811
    api, moodle, _, sessions = world
    course, live, learners, moodle_course, cmids = await _cohort(api, moodle, sessions)
    base = {"templateKey": "sandwich", "courseId": course, "liveSessionIds": live, "learnerIds": learners,
            "lmsConnector": "moodle", "lmsCourseRef": str(moodle_course)}

    trap = (await api.data(w.CREATE, {"i": base}))["createProgram"]         # no stageActivities: the old trap
    assert trap["program"] is None
    [error] = trap["errors"]
    assert (error["code"], error["field"]) == ("INVALID", ["input", "stageActivities", "prework"])
    for stage in ("prework", "reinforce-1", "reinforce-7", "reinforce-30", "assessment"):
        assert f"stage {stage!r} names no LMS activity" in error["message"]

    wrong = {**cmids, "assessment": "424242"}                               # a module id the course lacks
    refused = (await api.data(w.CREATE, {"i": {**base, "stageActivities": [
        {"stageKey": k, "lmsActivityRef": str(v)} for k, v in wrong.items()]}}))["createProgram"]
    [error] = refused["errors"]
    assert (error["code"], error["field"]) == ("INVALID", ["input", "stageActivities", "assessment"])
    assert "'assessment'" in error["message"] and "424242" in error["message"]

    gone = (await api.data(w.CREATE, {"i": {**base, "lmsCourseRef": "NO-SUCH-COURSE", "stageActivities": [
        {"stageKey": k, "lmsActivityRef": str(v)} for k, v in cmids.items()]}}))["createProgram"]
    assert [(e["code"], e["field"]) for e in gone["errors"]] == [("INVALID", ["input", "lmsCourseRef"])]
    assert "NO-SUCH-COURSE" in gone["errors"][0]["message"]


async def test_lms_failures_say_why(world):  # noqa: F811
    api, moodle, _, sessions = world
    course, live, learners, moodle_course, cmids = await _cohort(api, moodle, sessions)
    created = (await api.data(w.CREATE, {"i": {
        "templateKey": "sandwich", "courseId": course, "liveSessionIds": live, "learnerIds": learners,
        "lmsConnector": "moodle", "lmsCourseRef": str(moodle_course),
        "stageActivities": [{"stageKey": k, "lmsActivityRef": str(v)} for k, v in cmids.items()]}}))["createProgram"]
    assert created["errors"] == []
    moodle.service_functions = set(moodle.IMPLEMENTED) - {"core_completion_get_activities_completion_status"}
    synced = (await api.data(SYNC, {"i": {"programId": created["program"]["id"]}}))["syncProgramProgress"]
    assert synced["errors"] == []
    assert sorted(f["learner"]["id"] for f in synced["lmsFailures"]) == sorted(learners)
    assert {f["learner"]["id"] for f in synced["lmsFailures"]} == {p["id"] for p in synced["lmsFailed"]}
    for failure in synced["lmsFailures"]:
        assert "core_completion_get_activities_completion_status" in failure["reason"]
        assert "accessexception" in failure["reason"]
