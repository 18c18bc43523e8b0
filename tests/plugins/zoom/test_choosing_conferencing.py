"""A third-party conferencing plugin installed beside a configured Zoom (the fake one on 127.0.0.1): the
`podium-jitsi` distribution (tests/thirdparty/podium-jitsi, pip-installed by tests/conftest.py and found through
its entry point). Each session's meeting goes to the provider it names, its course's default, or the app's;
`manual` takes a pasted link. Through GraphQL, on SQLite and PostgreSQL."""
from __future__ import annotations

import contextlib
import json
from datetime import timedelta

import httpx

from podium.server.app import create_app
from tests.dispatching import eventually, settings_from
from tests.plugins.zoom.test_zoom_through_the_outbox import zoom_env
from tests.server import graph as g
from tests.server.conftest import ADMIN_TOKEN, Api

MEETING = """query($id: ID!) { node(id: $id) { ... on Session { meeting { provider status joinUrl externalId } } } }"""
SCHEDULE = g.SCHEDULE.replace("room { id }", "room { id } meeting { provider status joinUrl }")
UPDATE_COURSE = """mutation($i: UpdateCourseInput!) { updateCourse(input: $i) { course { defaultConferencing }
  errors { code field message } } }"""
RESCHEDULE = """mutation($i: RescheduleSessionInput!) { rescheduleSession(input: $i) { errors { code message } } }"""
JITSI = "https://meet.example.org"


def jitsi_calls(path) -> list[dict]:
    """What the installed `podium-jitsi` distribution was asked to do, from its calls file."""
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


@contextlib.asynccontextmanager
async def podium(database_url, zoom_url, calls_path, **env):
    """Podium with the fake Zoom configured and the installed `podium-jitsi` plugin (found by its entry
    point, not handed to the app) configured beside it."""
    settings = settings_from({**zoom_env(zoom_url), "PODIUM_DATABASE_URL": database_url,
                              "PODIUM_ADMIN_TOKEN": ADMIN_TOKEN, "PODIUM_PLUGINS": "zoom,jitsi", "PODIUM_JITSI_BASE_URL": JITSI,
                              "PODIUM_JITSI_CALLS_PATH": str(calls_path), **env})
    app = create_app(settings)
    assert app.state.podium.plugins.loaded["jitsi"].source == "entry point"
    async with app.router.lifespan_context(app), httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://podium.test") as client:
        yield Api(client)


def ready(api, session_id):
    async def check():
        meeting = (await api.data(MEETING, {"id": session_id}))["node"]["meeting"]
        return meeting if meeting["status"] == "READY" else None
    return check


async def schedule(api, course, lead, days, **fields):
    data = await api.data(SCHEDULE, {"i": g.schedule_input(course, [lead], starts_at=g.at(days=days), **fields)})
    return data["scheduleSession"]


async def test_each_session_gets_its_meeting_from_the_provider_it_names(database_url, fake_zoom, tmp_path):
    calls = tmp_path / "jitsi.jsonl"
    async with podium(database_url, fake_zoom.url, calls) as api:
        course, lead = await g.course(api), await g.instructor(api)
        by_jitsi = await schedule(api, course, lead, 3, conferencing="jitsi")
        by_default = await schedule(api, course, lead, 4)
        by_hand = await schedule(api, course, lead, 5, conferencing="manual", joinUrl="https://teams.example.com/m/42")
        assert [s["errors"] for s in (by_jitsi, by_default, by_hand)] == [[], [], []]
        assert by_jitsi["session"]["meeting"]["provider"] == "jitsi"
        assert by_default["session"]["meeting"]["provider"] == "zoom"
        assert by_hand["session"]["meeting"] == {"provider": "manual", "status": "READY",
                                                 "joinUrl": "https://teams.example.com/m/42"}

        jitsi_meeting = await eventually(ready(api, by_jitsi["session"]["id"]), what="the Jitsi meeting READY")
        zoom_meeting = await eventually(ready(api, by_default["session"]["id"]), what="the Zoom meeting READY")
        assert jitsi_meeting["joinUrl"].startswith("https://meet.example.org/podium-")
        assert {(c["room"], c["session"]) for c in jitsi_calls(calls)} == {
            (jitsi_meeting["externalId"], by_jitsi["session"]["id"])}, "Jitsi served only the session that named it"
        assert list(fake_zoom.meetings) == [int(zoom_meeting["externalId"])], "Zoom made only the default's"

        # a reschedule goes to the provider that made the meeting
        moved = g.at(days=6)
        data = await api.data(RESCHEDULE, {"i": {"sessionId": by_jitsi["session"]["id"], "startsAt": moved.isoformat(),
                                                 "endsAt": (moved + timedelta(hours=1)).isoformat()}})
        assert data["rescheduleSession"]["errors"] == []
        await eventually(lambda: [c for c in jitsi_calls(calls) if c["call"] == "update"] == [
            {"call": "update", "room": jitsi_meeting["externalId"], "session": by_jitsi["session"]["id"],
             "starts_at": str(moved)}], what="Jitsi told of the move")
        assert len(fake_zoom.meetings) == 1


async def test_a_course_default_and_the_app_default_choose_when_a_session_names_none(database_url, fake_zoom,
                                                                                   tmp_path):
    async with podium(database_url, fake_zoom.url, tmp_path / "jitsi.jsonl", PODIUM_DEFAULT_CONFERENCING="jitsi") as api:
        course, lead = await g.course(api), await g.instructor(api)
        zoom_course = await g.course(api, defaultConferencing="zoom")
        assert (await schedule(api, course, lead, 3))["session"]["meeting"]["provider"] == "jitsi"
        assert (await schedule(api, zoom_course, lead, 4))["session"]["meeting"]["provider"] == "zoom"
        assert (await schedule(api, zoom_course, lead, 5, conferencing="jitsi"))["session"]["meeting"]["provider"] == "jitsi"
        changed = await api.data(UPDATE_COURSE, {"i": {"courseId": zoom_course, "defaultConferencing": "manual"}})
        assert changed["updateCourse"] == {"course": {"defaultConferencing": "manual"}, "errors": []}
        waiting = (await schedule(api, zoom_course, lead, 6))["session"]["meeting"]
        assert waiting == {"provider": "manual", "status": "PENDING", "joinUrl": None}, "staff paste the link later"


async def test_an_unknown_or_unloaded_provider_is_refused_with_the_field(database_url, fake_zoom, tmp_path):
    async with podium(database_url, fake_zoom.url, tmp_path / "jitsi.jsonl") as api:
        course, lead, room = await g.course(api), await g.instructor(api), await g.room(api)
        refused = await schedule(api, course, lead, 3, conferencing="webex")
        assert refused["session"] is None
        assert [(e["code"], e["field"][-1]) for e in refused["errors"]] == [("INVALID", "conferencing")]
        assert "webex" in refused["errors"][0]["message"] and "jitsi" in refused["errors"][0]["message"]
        in_person = await schedule(api, course, lead, 4, conferencing="zoom", deliveryMode="IN_PERSON", roomId=room)
        assert [(e["code"], e["field"][-1]) for e in in_person["errors"]] == [("INVALID", "conferencing")]
        pasted = await schedule(api, course, lead, 5, conferencing="zoom", joinUrl="https://teams.example.com/m/1")
        assert [(e["code"], e["field"][-1]) for e in pasted["errors"]] == [("INVALID", "joinUrl")]
        data = await api.data(g.COURSE, {"i": {"code": "X-1", "title": "X", "durationMinutes": 60,
                                               "defaultCapacity": 5, "defaultConferencing": "webex"}})
        assert [(e["code"], e["field"][-1]) for e in data["createCourse"]["errors"]] == [("INVALID", "defaultConferencing")]
    assert fake_zoom.meetings == {}
