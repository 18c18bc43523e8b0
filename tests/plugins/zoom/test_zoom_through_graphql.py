"""What a front-end sees: Zoom meetings and Zoom attendance through the GraphQL API, the fake Zoom on 127.0.0.1."""
from __future__ import annotations

import contextlib
import json
import time
from datetime import datetime, timedelta

import httpx
import pytest
from sqlalchemy import func, select

from podium.core.models import OutboxMessage, OutboxStatus
from podium.plugins.zoom.webhook import sign
from podium.server.app import create_app
from tests.dispatching import eventually, settings_from
from tests.plugins.zoom.conftest import WEBHOOK_SECRET
from tests.plugins.zoom.test_zoom_through_the_outbox import zoom_env
from tests.server import graph as g
from tests.server.conftest import ADMIN_TOKEN, Api

MEETING = """query($id: ID!) { node(id: $id) { ... on Session { startsAt
  meeting { provider status joinUrl externalId error } } } }"""
RESCHEDULE = """mutation($i: RescheduleSessionInput!) { rescheduleSession(input: $i) {
  session { meeting { status } } errors { code message } } }"""
CANCEL = """mutation($i: CancelSessionInput!) { cancelSession(input: $i) {
  session { status meeting { status } } errors { code message } } }"""
ROSTER = """query($id: ID!) { node(id: $id) { ... on Session { enrollments(first: 20) { edges { node {
  id learner { email } attendance { status minutesAttended source } } } } } } }"""
REVIEW = """query($id: ID!) { node(id: $id) { ... on Session {
  unmatchedParticipants { name email minutesAttended source }
  enrollments(first: 20) { edges { node { learner { email } meetingJoinUrl } } } } } }"""
RECORD = """mutation($i: RecordAttendanceInput!) { recordAttendance(input: $i) {
  enrollments { id attendance { status source } } errors { code message } } }"""


@contextlib.asynccontextmanager
async def podium(database_url: str, zoom_url: str, **outbox):
    env = {**zoom_env(zoom_url), "PODIUM_DATABASE_URL": database_url, "PODIUM_ADMIN_TOKEN": ADMIN_TOKEN}
    app = create_app(settings_from(env, **outbox))
    async with app.router.lifespan_context(app), httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://podium.test") as client:
        yield Api(client), client, app.state.podium.sessions


async def meeting(api, session_id):
    return (await api.data(MEETING, {"id": session_id}))["node"]["meeting"]


def meeting_is(api, session_id, status):
    async def check():
        found = await meeting(api, session_id)
        return found if found["status"] == status else None
    return check


async def test_a_virtual_session_gets_a_meeting_that_follows_it(database_url, fake_zoom):
    async with podium(database_url, fake_zoom.url) as (api, _, _):
        course, lead = await g.course(api), await g.instructor(api)
        scheduled = await api.data(g.SCHEDULE.replace("room { id }", "room { id } meeting { provider status }"),
                                   {"i": g.schedule_input(course, [lead])})
        session = scheduled["scheduleSession"]["session"]
        assert session["meeting"]["provider"] == "zoom"
        assert session["meeting"]["status"] in ("PENDING", "READY")

        ready = await eventually(meeting_is(api, session["id"], "READY"), what="the meeting READY")
        made = fake_zoom.meetings[int(ready["externalId"])]
        assert ready["joinUrl"] == made["join_url"] and made["type"] == 2

        moved = datetime.fromisoformat(session["startsAt"]) + timedelta(days=1, hours=1)
        data = await api.data(RESCHEDULE, {"i": {"sessionId": session["id"], "startsAt": moved.isoformat(),
                                                 "endsAt": (moved + timedelta(minutes=90)).isoformat()}})
        assert data["rescheduleSession"]["errors"] == []
        zoom_time = moved.strftime("%Y-%m-%dT%H:%M:%SZ")
        await eventually(lambda: made["start_time"] == zoom_time and made["duration"] == 90, what="Zoom updated")

        data = await api.data(CANCEL, {"i": {"sessionId": session["id"], "reason": "instructor ill"}})
        assert data["cancelSession"]["errors"] == [] and data["cancelSession"]["session"]["status"] == "CANCELLED"
        await eventually(meeting_is(api, session["id"], "CANCELLED"), what="the meeting CANCELLED")
    assert fake_zoom.meetings == {} and fake_zoom.deleted == [int(ready["externalId"])]


async def test_a_meeting_zoom_never_made_is_failed_with_the_reason(database_url, fake_zoom):
    fake_zoom.start_outage(600)
    async with podium(database_url, fake_zoom.url, outbox_max_attempts=2) as (api, _, _):
        session = await g.session(api, await g.course(api), [await g.instructor(api)])
        failed = await eventually(meeting_is(api, session, "FAILED"), what="the meeting FAILED")
    assert failed["joinUrl"] is None
    assert failed["error"].startswith("zoom did not answer after 2 attempts: ZoomUnavailable: GET /users/me/meetings")


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # 30 s of waiting: one backend is enough
async def test_zoom_down_for_30_seconds(database_url, fake_zoom):
    fake_zoom.start_outage(30)            # 503, 429 (Retry-After: 1), 500, 502 in turn
    fake_zoom.made_but_failed = 1         # then one create that reaches Zoom but is answered 502
    async with podium(database_url, fake_zoom.url, outbox_max_attempts=60, outbox_backoff_seconds=0.5,
                      outbox_backoff_max_seconds=3.0) as (api, _, _):
        course = await g.course(api)
        sessions = []
        for _ in range(3):
            data = await api.data(g.SCHEDULE.replace("room { id }", "room { id } meeting { status }"),
                                  {"i": g.schedule_input(course, [await g.instructor(api)])})
            assert data["scheduleSession"]["errors"] == []
            assert data["scheduleSession"]["session"]["meeting"]["status"] == "PENDING", "scheduling never waits"
            sessions.append(data["scheduleSession"]["session"]["id"])

        ready = [await eventually(meeting_is(api, s, "READY"), timeout=120, what="READY once Zoom is back")
                 for s in sessions]
    assert fake_zoom.refused > 10, "the outage was felt"
    assert sorted(int(m["externalId"]) for m in ready) == sorted(fake_zoom.meetings), "exactly one meeting each"
    assert len(fake_zoom.meetings) == 3


async def test_zoom_attendance_and_a_manual_correction(database_url, fake_zoom):
    async with podium(database_url, fake_zoom.url) as (api, http, sessions):
        course, lead = await g.course(api), await g.instructor(api, email="host@example.com")
        session = await g.session(api, course, [lead], minutes=60)
        emails = ["rejoiner@example.com", "late@example.com", "absent@example.com"]
        for email in emails:
            await g.enroll(api, session, await g.person(api, email=email))
        ready = await eventually(meeting_is(api, session, "READY"), what="the meeting READY")
        number = int(ready["externalId"])
        await eventually(lambda: len(fake_zoom.registrants.get(number, [])) == 3, what="three registrants")
        registrant = {r["email"]: r["registrant_id"] for r in fake_zoom.registrants[number]}
        start = await g.time_passes(sessions, session)  # the meeting has ended: the session too
        at = lambda m: (start + timedelta(minutes=m)).strftime("%Y-%m-%dT%H:%M:%SZ")  # noqa: E731
        row = lambda name, email, reg, a, b: {"id": name, "name": name, "user_email": email,  # noqa: E731
                                              "registrant_id": reg, "join_time": at(a), "leave_time": at(b),
                                              "duration": (b - a) * 60}
        fake_zoom.max_page_size = 2
        fake_zoom.reports[number] = [
            row("Host", "host@example.com", "", -5, 62),
            row("Re Joiner", "", registrant["rejoiner@example.com"], 0, 25),
            row("Late Comer", "late@example.com", registrant["late@example.com"], 18, 60),
            row("Re Joiner", "", registrant["rejoiner@example.com"], 27, 60),
            row("Dial-in 0044", "", "", 3, 55),
        ]

        async def meeting_ended(uuid: str):
            body = json.dumps({"event": "meeting.ended", "event_ts": int(time.time() * 1000), "payload": {
                "account_id": "acct-123", "object": {"id": str(number), "uuid": uuid}}}).encode()
            stamp = str(int(time.time()))
            response = await http.post("/plugins/zoom/webhook", content=body, headers={
                "content-type": "application/json", "x-zm-request-timestamp": stamp,
                "x-zm-signature": sign(WEBHOOK_SECRET, stamp, body)})
            assert response.status_code == 200

        async def roster():
            edges = (await api.data(ROSTER, {"id": session}))["node"]["enrollments"]["edges"]
            return {e["node"]["learner"]["email"]: (e["node"]["id"], e["node"]["attendance"]) for e in edges}

        await meeting_ended("first-instance==")
        await eventually(lambda: _all_recorded(roster), what="attendance from Zoom")
        got = await roster()
        assert {email: attendance for email, (_, attendance) in got.items()} == {
            "rejoiner@example.com": {"status": "PRESENT", "minutesAttended": 58, "source": "ZOOM"},
            "late@example.com": {"status": "LATE", "minutesAttended": 42, "source": "ZOOM"},
            "absent@example.com": {"status": "ABSENT", "minutesAttended": 0, "source": "ZOOM"}}

        corrected = await api.data(RECORD, {"i": {"sessionId": session, "records": [
            {"enrollmentId": got["absent@example.com"][0], "status": "EXCUSED"}]}})
        assert corrected["recordAttendance"]["errors"] == []
        reports_read = len(fake_zoom.calls("GET", "/v2/report/"))
        await meeting_ended("second-delivery==")     # Zoom reports again: the manual record stays
        await eventually(lambda: _imports_done(sessions, 2), what="the second import committed")
        assert len(fake_zoom.calls("GET", "/v2/report/")) == reports_read + 3, "read again, three pages"
        final = {email: attendance for email, (_, attendance) in (await roster()).items()}
        assert final["absent@example.com"] == {"status": "EXCUSED", "minutesAttended": None, "source": "MANUAL"}
        assert final["late@example.com"]["source"] == "ZOOM"

        review = (await api.data(REVIEW, {"id": session}))["node"]
        assert review["unmatchedParticipants"] == [
            {"name": "Dial-in 0044", "email": None, "minutesAttended": 52, "source": "ZOOM"}]
        personal = {r["email"]: r["join_url"] for r in fake_zoom.registrants[number]}
        assert {e["node"]["learner"]["email"]: e["node"]["meetingJoinUrl"] for e in review["enrollments"]["edges"]} \
            == personal, "each learner's own join link"
        learner = await g.token(api, await g.person(api), "LEARNER")
        assert (await api.data(REVIEW, {"id": session}, token=learner))["node"]["unmatchedParticipants"] == []


async def _all_recorded(roster) -> bool:
    return all(attendance is not None for _, attendance in (await roster()).values())


async def _imports_done(sessions, how_many: int) -> bool:
    async with sessions() as db:
        return await db.scalar(select(func.count()).where(
            OutboxMessage.topic == "meeting.attendance", OutboxMessage.status == OutboxStatus.DELIVERED)) == how_many
