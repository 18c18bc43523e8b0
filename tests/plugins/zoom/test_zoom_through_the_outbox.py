"""The Zoom plugin loaded as Podium loads it, with the real outbox dispatcher, against the fake Zoom."""
from __future__ import annotations

import base64
import contextlib
import logging
from datetime import datetime, timedelta, timezone

from sqlalchemy import select

from podium.core.db import changing
from podium.core.models import Attendance, AttendanceStatus, Enrollment, MeetingStatus, OutboxStatus, Session
from podium.core.plugins import load_plugins
from podium.core.services import enrollment as enrollment_service
from podium.core.services import meetings, scheduling
from podium.core.services.conferencing import choose_conferencing
from podium.core.settings import Settings
from tests import builders as b
from tests.builders import ADMIN
from tests.dispatching import dispatching, eventually, outbox_rows, settings_from
from tests.plugins.zoom.fake_zoom import ACCOUNT_ID, CLIENT_ID, CLIENT_SECRET
from tests.plugins.zoom.conftest import WEBHOOK_SECRET


def zoom_env(url: str, **extra: str) -> dict[str, str]:
    return {"PODIUM_PLUGINS": "zoom", "PODIUM_ZOOM_ACCOUNT_ID": ACCOUNT_ID, "PODIUM_ZOOM_CLIENT_ID": CLIENT_ID,
            "PODIUM_ZOOM_CLIENT_SECRET": CLIENT_SECRET, "PODIUM_ZOOM_API_BASE": f"{url}/v2",
            "PODIUM_ZOOM_OAUTH_BASE": url, "PODIUM_ZOOM_WEBHOOK_SECRET_TOKEN": WEBHOOK_SECRET,
            "PODIUM_ZOOM_BACKOFF_SECONDS": "0.05", "PODIUM_ZOOM_MAX_RETRIES": "1", **extra}


@contextlib.asynccontextmanager
async def zoom_running(sessions, settings):
    """The dispatcher delivering for the Zoom plugin; the plugins are stopped after it, as at shutdown."""
    dispatcher = None
    try:
        async with dispatching(sessions, settings) as dispatcher:
            assert choose_conferencing(sessions, dispatcher.plugins.providers["conferencing"]).default == "zoom"
            yield dispatcher
    finally:
        if dispatcher is not None:
            await dispatcher.plugins.stop()


async def meeting_of(sessions, session_id):
    async with sessions() as db:
        s = await db.get(Session, session_id, populate_existing=True)
        return s.meeting_status, s.meeting_join_url, s.meeting_external_id, s.meeting_error


def status_is(sessions, session_id, status):
    async def check():
        return (await meeting_of(sessions, session_id))[0] is status
    return check


async def test_schedule_enrol_reschedule_cancel(sessions, fake_zoom):
    course = await b.course(sessions)
    lead = await b.instructor(sessions)
    learner = await b.person(sessions, name="Ada Lovelace", email="ada@example.com")
    async with zoom_running(sessions, settings_from(zoom_env(fake_zoom.url))):
        s = await b.session(sessions, course_id=course.id, instructor_ids=[lead.id], mode="HYBRID",
                            room_id=(await b.room(sessions)).id)
        assert (await meeting_of(sessions, s.id))[0] in (MeetingStatus.PENDING, MeetingStatus.READY)

        await eventually(status_is(sessions, s.id, MeetingStatus.READY), what="the meeting READY")
        _, join_url, external_id, _ = await meeting_of(sessions, s.id)
        assert join_url == fake_zoom.meetings[int(external_id)]["join_url"]

        async with sessions() as db, changing(db):
            enrollment_id = (await enrollment_service.enroll(db, ADMIN, s.id, learner.id)).id

        async def registered():
            async with sessions() as db:
                return await db.scalar(select(Enrollment.meeting_join_url).where(Enrollment.id == enrollment_id))
        personal = await eventually(registered, what="the learner registered")
        assert [r["email"] for r in fake_zoom.registrants[int(external_id)]] == ["ada@example.com"]
        assert personal != join_url

        moved = s.starts_at + timedelta(days=2)
        async with sessions() as db, changing(db):
            await scheduling.reschedule_session(db, ADMIN, s.id, moved, moved + timedelta(minutes=45),
                                                settings=Settings())
        await eventually(lambda: fake_zoom.meetings[int(external_id)]["duration"] == 45, what="Zoom updated")
        assert fake_zoom.meetings[int(external_id)]["start_time"] == moved.strftime("%Y-%m-%dT%H:%M:%SZ")

        async with sessions() as db, changing(db):
            await scheduling.cancel_session(db, ADMIN, s.id)
        await eventually(status_is(sessions, s.id, MeetingStatus.CANCELLED), what="the meeting CANCELLED")
    assert fake_zoom.meetings == {} and fake_zoom.deleted == [int(external_id)]


async def test_an_outage_delays_meetings_but_never_doubles_them(sessions, fake_zoom):
    """The 30 s outage of the issue runs through GraphQL (test_zoom_through_graphql); this one is short."""
    course = await b.course(sessions)
    leads = [await b.instructor(sessions) for _ in range(3)]
    settings = settings_from(zoom_env(fake_zoom.url), outbox_max_attempts=60, outbox_backoff_seconds=0.5,
                             outbox_backoff_max_seconds=3.0)
    fake_zoom.start_outage(3)             # 503, 429 (Retry-After: 1), 500 and 502 in turn
    fake_zoom.made_but_failed = 2         # and then two creates that reach Zoom but are answered 502
    async with zoom_running(sessions, settings):
        ids = [(await b.session(sessions, course_id=course.id, instructor_ids=[lead.id])).id for lead in leads]
        assert [(await meeting_of(sessions, i))[0] for i in ids] == [MeetingStatus.PENDING] * 3, \
            "scheduling never waits for Zoom"

        for i in ids:
            await eventually(status_is(sessions, i, MeetingStatus.READY), timeout=120, what="READY after the outage")

    assert len(fake_zoom.meetings) == 3, "exactly one meeting per session"
    markers = sorted(m["agenda"].split("]")[0] for m in fake_zoom.meetings.values())
    assert len(set(markers)) == 3
    assert fake_zoom.refused > 3, "the outage was felt"
    assert len(fake_zoom.calls("POST", "/v2/users/")) == 3, "two answered 502 were found, not made again"


async def test_when_every_retry_fails_the_meeting_is_failed_with_a_reason_and_a_reschedule_retries(sessions, fake_zoom):
    course = await b.course(sessions)
    lead = await b.instructor(sessions)
    settings = settings_from(zoom_env(fake_zoom.url), outbox_max_attempts=3)
    fake_zoom.start_outage(600)
    async with zoom_running(sessions, settings):
        s = await b.session(sessions, course_id=course.id, instructor_ids=[lead.id])
        await eventually(status_is(sessions, s.id, MeetingStatus.FAILED), what="the meeting FAILED")
        _, _, _, error = await meeting_of(sessions, s.id)
        assert "zoom did not answer after 3 attempts" in error

        fake_zoom.outage_until = 0        # Zoom is back; moving the session asks again
        moved = s.starts_at + timedelta(hours=3)
        async with sessions() as db, changing(db):
            await scheduling.reschedule_session(db, ADMIN, s.id, moved, moved + timedelta(hours=1), settings=Settings())
        assert (await meeting_of(sessions, s.id))[0] is MeetingStatus.PENDING
        await eventually(status_is(sessions, s.id, MeetingStatus.READY), what="READY after the reschedule")
    assert len(fake_zoom.meetings) == 1


async def test_refused_credentials_fail_the_meeting_and_the_secret_is_never_logged_or_stored(
        sessions, fake_zoom, caplog):
    course = await b.course(sessions)
    lead = await b.instructor(sessions)
    wrong = "wrong-secret-5f1c9a0e77"
    settings = settings_from(zoom_env(fake_zoom.url, PODIUM_ZOOM_CLIENT_SECRET=wrong), outbox_max_attempts=2)
    caplog.set_level(logging.DEBUG)
    async with zoom_running(sessions, settings):
        s = await b.session(sessions, course_id=course.id, instructor_ids=[lead.id])
        await eventually(status_is(sessions, s.id, MeetingStatus.FAILED), what="the meeting FAILED")
    _, _, _, error = await meeting_of(sessions, s.id)
    assert "Invalid client_id or client_secret" in error
    basic = base64.b64encode(f"{CLIENT_ID}:{wrong}".encode()).decode()
    stored = " ".join(str(m.last_error) for m in await outbox_rows(sessions))
    for place, text in (("the logs", caplog.text), ("the outbox", stored), ("the meeting", error)):
        assert wrong not in text and basic not in text, f"the client secret leaked into {place}"
    assert caplog.text, "the failures were logged"


async def test_a_meeting_nobody_joined_is_settled_by_the_poll_not_retried(sessions, fake_zoom):
    course = await b.course(sessions)
    lead = await b.instructor(sessions)
    learner = await b.person(sessions)
    settings = settings_from(zoom_env(fake_zoom.url, PODIUM_ZOOM_REPORT_DELAY_MINUTES="0"), outbox_max_attempts=3)
    async with zoom_running(sessions, settings):
        s = await b.session(sessions, course_id=course.id, instructor_ids=[lead.id], minutes=60)
        async with sessions() as db, changing(db):
            enrollment_id = (await enrollment_service.enroll(db, ADMIN, s.id, learner.id)).id
        await eventually(status_is(sessions, s.id, MeetingStatus.READY), what="the meeting READY")
        ended = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(minutes=1)
        async with sessions() as db, changing(db):      # the session is over; with no delay its poll is due at once
            await scheduling.reschedule_session(db, ADMIN, s.id, ended - timedelta(minutes=60), ended,
                                                settings=Settings())

        async def recorded():
            async with sessions() as db:
                return (await db.execute(select(Attendance.status, Attendance.source)
                                         .where(Attendance.enrollment_id == enrollment_id))).first()
        assert tuple(await eventually(recorded, what="attendance recorded")) == (AttendanceStatus.ABSENT, "ZOOM")
        await eventually(lambda: fake_zoom.calls("GET", "/v2/report/"), what="the report asked for")
    polls = await outbox_rows(sessions, topic=meetings.ATTENDANCE)
    settled = [m for m in polls if m.status is OutboxStatus.DELIVERED and m.payload.get("sequence") == s.sequence + 1]
    assert len(settled) == 1 and settled[0].attempts == 1, "no report once it is due is an answer, not a failure"
    assert settled[0].deliver_after == ended
    assert not [m for m in polls if m.status is OutboxStatus.DEAD]


async def test_stopping_the_plugins_closes_the_zoom_client(fake_zoom):
    plugins = await load_plugins(settings_from(zoom_env(fake_zoom.url)))
    zoom = plugins.provider("conferencing", "zoom")
    assert not zoom.client._http.is_closed
    await plugins.stop()
    assert zoom.client._http.is_closed
    await plugins.stop()                  # a second stop is harmless
