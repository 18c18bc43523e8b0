"""The ongoing-blend program template takes its recurring live workshops from a series, through GraphQL on
both databases: every occurrence still open becomes a workshop stage with every learner in it, and when
the series moves, the workshops' stages move with it."""
from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from tests.server import graph as g

BERLIN = ZoneInfo("Europe/Berlin")
SERIES = """mutation($i: ScheduleSeriesInput!) { scheduleSeries(input: $i) {
  series { id } sessions { id startsAt } errors { code message } } }"""
CREATE = """mutation($i: CreateProgramInput!) { createProgram(input: $i) {
  program { id stages { key opensAt session { id } } } placements { learner { id } session { id } status }
  errors { code field message } } }"""
MOVE = """mutation($i: RescheduleSeriesInput!) { rescheduleSeries(input: $i) { errors { code message } } }"""
PROGRAM = """query($id: ID!) { node(id: $id) { ... on Program { stages { key opensAt } } } }"""


async def weekly(api, course: str, teacher: str, first: datetime, count: int) -> dict:
    made = (await api.data(SERIES, {"i": {
        "courseId": course, "startsAt": first.isoformat(), "endsAt": (first + timedelta(hours=1)).isoformat(),
        "timezone": "Europe/Berlin", "deliveryMode": "VIRTUAL", "instructorIds": [teacher],
        "recurrence": f"RRULE:FREQ=WEEKLY;COUNT={count}"}}))["scheduleSeries"]
    assert made["errors"] == []
    return made


async def test_ongoing_blend_workshops_are_a_series_and_follow_it(api):
    course, teacher = await g.course(api), await g.instructor(api)
    learners = [await g.person(api) for _ in range(3)]
    start = g.at(days=14).astimezone(BERLIN).replace(hour=9, minute=0)
    made = await weekly(api, course, teacher, start, 4)
    sessions = [s["id"] for s in made["sessions"]]

    created = (await api.data(CREATE, {"i": {"templateKey": "ongoing-blend", "courseId": course,
                                             "liveSeriesId": made["series"]["id"], "learnerIds": learners}}))
    created = created["createProgram"]
    assert created["errors"] == []
    stages = created["program"]["stages"]
    assert [s["key"] for s in stages] == ["orientation", "workshop-1", "workshop-2", "workshop-3", "workshop-4",
                                          "library"]
    assert [s["session"]["id"] for s in stages[1:5]] == sessions
    assert sorted((p["session"]["id"], p["learner"]["id"], p["status"]) for p in created["placements"]) == sorted(
        (s, lid, "ENROLLED") for s in sessions for lid in learners)

    # The series' last two workshops move to 11:00: their stages follow.
    moved = (await api.data(MOVE, {"i": {"seriesId": made["series"]["id"], "fromOccurrence": 3,
                                         "startTime": "11:00"}}))["rescheduleSeries"]
    assert moved["errors"] == []
    opens = {s["key"]: datetime.fromisoformat(s["opensAt"]).astimezone(BERLIN)
             for s in (await api.data(PROGRAM, {"id": created["program"]["id"]}))["node"]["stages"]}
    assert [opens[f"workshop-{n}"].hour for n in range(1, 5)] == [9, 9, 11, 11]

    # A series for a template without a repeating live stage, both ways at once, or of another course: refused.
    other = await weekly(api, await g.course(api), teacher, start + timedelta(days=1), 2)
    for given, field in (({"templateKey": "flipped", "liveSeriesId": made["series"]["id"]}, "liveSeriesId"),
                         ({"templateKey": "ongoing-blend", "liveSeriesId": made["series"]["id"],
                           "liveSessionIds": sessions[:1]}, "liveSeriesId"),
                         ({"templateKey": "ongoing-blend", "liveSeriesId": other["series"]["id"]}, "liveSeriesId")):
        refused = (await api.data(CREATE, {"i": {"courseId": course, "learnerIds": learners, **given}}))
        assert [(e["code"], e["field"]) for e in refused["createProgram"]["errors"]] == [
            ("INVALID", ["input", field])], given
