"""Zoom's webhook into the running app: signature and URL validation, then attendance through the outbox."""
from __future__ import annotations

import json
import time
from datetime import timedelta

import httpx
from sqlalchemy import func, select

from podium.core.db import changing
from podium.core.models import (
    Attendance, AttendanceStatus, Enrollment, MeetingStatus, OutboxMessage, Session, UnmatchedParticipant,
)
from podium.core.services import enrollment as enrollment_service
from podium.plugins.zoom.webhook import sign, url_validation_answer
from podium.server.app import create_app
from tests import builders as b
from tests.builders import ADMIN
from tests.dispatching import eventually, settings_from
from tests.plugins.zoom.conftest import WEBHOOK_SECRET
from tests.plugins.zoom.test_zoom_through_the_outbox import zoom_env, zoom_running


def signed(body: dict, secret: str = WEBHOOK_SECRET, at: int | None = None) -> dict:
    raw = json.dumps(body).encode()
    timestamp = str(int(time.time()) if at is None else at)
    return {"content": raw, "headers": {"content-type": "application/json", "x-zm-request-timestamp": timestamp,
                                        "x-zm-signature": sign(secret, timestamp, raw)}}


async def test_meeting_ended_becomes_attendance(database_url, fake_zoom):
    # The dispatcher runs beside the app only when told below, so what the webhook itself does is seen alone.
    settings = settings_from({**zoom_env(fake_zoom.url), "PODIUM_DATABASE_URL": database_url,
                              "PODIUM_OUTBOX_IN_SERVE": "false"})
    app = create_app(settings)
    async with app.router.lifespan_context(app), httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://podium.test") as http:
        sessions = app.state.podium.sessions
        course = await b.course(sessions)
        lead = await b.instructor(sessions)
        s = await b.session(sessions, course_id=course.id, instructor_ids=[lead.id], minutes=60)
        ada = await b.person(sessions, name="Ada L", email="ada@example.com")
        bob = await b.person(sessions, name="Bob M", email="bob@example.com")
        for learner in (ada, bob):
            async with sessions() as db, changing(db):
                await enrollment_service.enroll(db, ADMIN, s.id, learner.id)

        async def registered():
            async with sessions() as db:
                return await db.scalar(select(func.count()).where(
                    Enrollment.session_id == s.id, Enrollment.meeting_registrant_id.is_not(None))) == 2
        async with zoom_running(sessions, settings):
            await eventually(registered, what="both learners registered with Zoom")
        async with sessions() as db:
            meeting = int((await db.get(Session, s.id)).meeting_external_id)
            ada_registrant = await db.scalar(select(Enrollment.meeting_registrant_id).where(
                Enrollment.learner_id == ada.id))
        start = await b.time_passes(sessions, s.id)  # the meeting has ended: the session too
        at = lambda minutes: (start + timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%SZ")  # noqa: E731
        fake_zoom.reports[meeting] = [
            {"id": "a", "name": "Ada L", "user_email": "", "registrant_id": ada_registrant,
             "join_time": at(0), "leave_time": at(60), "duration": 3600},
            {"id": "b", "name": "Bob M", "user_email": "bob@example.com", "join_time": at(20),
             "leave_time": at(60), "duration": 2400},
            {"id": "c", "name": "Who Knows", "user_email": "", "join_time": at(0), "leave_time": at(50),
             "duration": 3000}]

        validation = await http.post("/plugins/zoom/webhook", **signed(
            {"event": "endpoint.url_validation", "payload": {"plainToken": "qgg8vlvZRS6UYooatFL8Aw"},
             "event_ts": 1}))
        assert validation.status_code == 200
        assert validation.json() == url_validation_answer(WEBHOOK_SECRET, "qgg8vlvZRS6UYooatFL8Aw")

        ended = {"event": "meeting.ended", "event_ts": int(time.time() * 1000), "payload": {
            "account_id": "acct-123", "object": {"id": str(meeting), "uuid": "4444AAAiAAAAAiAiAiiAii==",
                                                 "host_id": "x", "topic": s.title, "type": 2}}}
        for refused in (signed(ended, secret="not-the-secret"), signed(ended, at=int(time.time()) - 3600),
                        {"content": json.dumps(ended).encode()}):
            assert (await http.post("/plugins/zoom/webhook", **refused)).status_code == 401
        async with sessions() as db:
            assert await db.scalar(select(func.count()).where(OutboxMessage.topic == "meeting.attendance",
                                                              OutboxMessage.deliver_after < s.starts_at)) == 0
        garbled = signed(ended)
        garbled["content"] = b"{not json"
        garbled["headers"]["x-zm-signature"] = sign(WEBHOOK_SECRET, garbled["headers"]["x-zm-request-timestamp"],
                                                    garbled["content"])
        assert (await http.post("/plugins/zoom/webhook", **garbled)).status_code == 400

        first = await http.post("/plugins/zoom/webhook", **signed(ended))
        again = await http.post("/plugins/zoom/webhook", **signed(ended))   # Zoom retries: done once
        assert (first.status_code, first.json(), again.status_code) == (200, {"status": "accepted"}, 200)
        assert fake_zoom.calls("GET", "/v2/report/") == [], "answered without reading the report"
        async with sessions() as db:
            assert await db.scalar(select(func.count()).where(OutboxMessage.topic == "meeting.attendance",
                                                              OutboxMessage.deliver_after < s.starts_at)) == 1, \
                "the report's reading is queued in the outbox, once"

        async def recorded():
            async with sessions() as db:
                rows = (await db.execute(select(Enrollment.learner_id, Attendance.status, Attendance.source)
                                         .join(Attendance, Attendance.enrollment_id == Enrollment.id)
                                         .where(Enrollment.session_id == s.id))).all()
                return {r.learner_id: (r.status, r.source) for r in rows} if len(rows) == 2 else None
        async with zoom_running(sessions, settings):
            assert await eventually(recorded, what="attendance from the report") == {
                ada.id: (AttendanceStatus.PRESENT, "ZOOM"), bob.id: (AttendanceStatus.LATE, "ZOOM")}
        async with sessions() as db:
            assert (await db.scalars(select(UnmatchedParticipant.name))).all() == ["Who Knows"]
            assert (await db.get(Session, s.id)).meeting_status is MeetingStatus.READY
        assert len(fake_zoom.calls("GET", "/v2/report/")) == 1, "the repeated webhook was not done twice"
