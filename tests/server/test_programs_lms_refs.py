"""What createProgram checks of its LMS side, against the fake Moodle: the connector named by its own name
or its plugin's."""
from __future__ import annotations

from tests.server import graph as g
from tests.server import programs_world as w
from tests.server.test_programs_moodle import world  # noqa: F401 - the fixture

LMS_CONNECTOR = """query($id: ID!) { node(id: $id) { ... on Program { lmsConnector } } }"""


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
