"""A meeting deleted in Zoom (the fake one on 127.0.0.1): a reschedule's PATCH gets 404, and Podium makes
one new meeting and sends the seated learners their new links, or, when Zoom will not make one either,
marks it FAILED and tells the instructors. Never a READY session with a dead link, never endless retries."""
from __future__ import annotations

import contextlib
from datetime import timedelta

import httpx

from podium.core.models import OutboxMessage, OutboxStatus
from podium.plugin import hookimpl
from podium.server.app import create_app
from tests.dispatching import eventually, outbox_rows, settings_from
from tests.plugins.zoom.test_zoom_through_the_outbox import zoom_env
from tests.server import graph as g
from tests.server.conftest import ADMIN_TOKEN, Api

MEETING = """query($id: ID!) { node(id: $id) { ... on Session { meeting { status joinUrl externalId error }
  enrollments(first: 10) { edges { node { learner { email } meetingJoinUrl } } } } } }"""
RESCHEDULE = """mutation($i: RescheduleSessionInput!) { rescheduleSession(input: $i) { errors { code message } } }"""


class Recorder:
    name = "recorder"

    def __init__(self) -> None:
        self.sent: list = []

    async def deliver(self, notification) -> None:
        self.sent.append(notification)

    @hookimpl
    def podium_notification_channels(self):
        return [self]

    def of(self, kind: str) -> list:
        return [n for n in self.sent if n.kind == kind]


@contextlib.asynccontextmanager
async def podium(database_url, zoom_url, recorder, **fields):
    settings = settings_from({**zoom_env(zoom_url), "PODIUM_DATABASE_URL": database_url,
                              "PODIUM_ADMIN_TOKEN": ADMIN_TOKEN}, **fields)
    app = create_app(settings, extra_plugins=[("recorder", recorder)])
    async with app.router.lifespan_context(app), httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://podium.test") as client:
        yield Api(client), app.state.podium.sessions


async def ready_with_links(api, session, learners):
    async def check():
        node = (await api.data(MEETING, {"id": session}))["node"]
        links = [e["node"]["meetingJoinUrl"] for e in node["enrollments"]["edges"]]
        return node if node["meeting"]["status"] == "READY" and len(links) == learners and all(links) else None
    return await eventually(check, what="the meeting READY with every learner's link")


async def a_session_whose_meeting_zoom_lost(api, fake_zoom, refuse_creates: int = 0):
    course, lead = await g.course(api), await g.instructor(api, email="lead@example.com")
    session = await g.session(api, course, [lead], starts_at=g.at(days=4))
    for email in ("ada@example.com", "bob@example.com"):
        assert (await g.enroll(api, session, await g.person(api, email=email)))["errors"] == []
    before = await ready_with_links(api, session, 2)
    del fake_zoom.meetings[int(before["meeting"]["externalId"])]              # deleted in Zoom
    fake_zoom.refuse_creates = refuse_creates
    moved = g.at(days=5)
    data = await api.data(RESCHEDULE, {"i": {"sessionId": session, "startsAt": moved.isoformat(),
                                             "endsAt": (moved + timedelta(hours=1)).isoformat()}})
    assert data["rescheduleSession"]["errors"] == []
    return session, before


async def test_a_meeting_deleted_in_zoom_is_made_once_more_and_learners_get_their_new_links(database_url, fake_zoom):
    recorder = Recorder()
    async with podium(database_url, fake_zoom.url, recorder) as (api, sessions):
        session, before = await a_session_whose_meeting_zoom_lost(api, fake_zoom)

        async def replaced():
            node = (await api.data(MEETING, {"id": session}))["node"]
            return node if node["meeting"]["externalId"] != before["meeting"]["externalId"] else None
        await eventually(replaced, what="a new meeting")
        after = await ready_with_links(api, session, 2)
        await eventually(lambda: len(recorder.of("session.meeting_replaced")) == 3, what="learners and lead told")
    new_id = int(after["meeting"]["externalId"])
    assert list(fake_zoom.meetings) == [new_id], "one working meeting"
    assert fake_zoom.meetings[new_id]["start_time"] == g.at(days=5).strftime("%Y-%m-%dT%H:%M:%SZ")
    links = {e["node"]["learner"]["email"]: e["node"]["meetingJoinUrl"] for e in after["enrollments"]["edges"]}
    assert set(fake_zoom.registrant_statuses(new_id)) == set(links), "every learner registered with the new one"
    told = {n.to: n.text for n in recorder.of("session.meeting_replaced")}
    assert set(told) == {"ada@example.com", "bob@example.com", "lead@example.com"}
    for email, link in links.items():
        assert link in told[email] and link not in {e["node"]["meetingJoinUrl"] for e in before["enrollments"]["edges"]}
    assert recorder.of("session.meeting_failed") == []


async def test_when_zoom_will_not_make_a_new_one_the_meeting_fails_and_the_instructors_are_told(database_url,
                                                                                               fake_zoom):
    recorder = Recorder()
    async with podium(database_url, fake_zoom.url, recorder, outbox_max_attempts=2) as (api, sessions):
        session, before = await a_session_whose_meeting_zoom_lost(api, fake_zoom, refuse_creates=100)

        async def failed():
            node = (await api.data(MEETING, {"id": session}))["node"]
            return node if node["meeting"]["status"] == "FAILED" else None
        node = await eventually(failed, what="the meeting FAILED")
        await eventually(lambda: recorder.of("session.meeting_failed"), what="the lead told")
        syncs = [m for m in await outbox_rows(sessions, topic="meeting.sync") if m.status is OutboxStatus.DEAD]
    assert node["meeting"]["joinUrl"] is None, "no dead link left on show"
    assert "limit" in node["meeting"]["error"]
    assert [n.to for n in recorder.of("session.meeting_failed")] == ["lead@example.com"]
    assert "limit" in recorder.of("session.meeting_failed")[0].text
    assert len(syncs) == 1 and syncs[0].attempts == 2, "tried as often as allowed, then stopped"
    assert fake_zoom.meetings == {}
