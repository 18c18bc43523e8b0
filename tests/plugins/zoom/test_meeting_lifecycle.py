"""A session's meeting through its life: PENDING, READY, updated on reschedule, deleted on cancel."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from podium.core.audit import Actor
from podium.core.db import changing
from podium.core.models import AuditEntry, DeliveryMode, MeetingStatus, Session
from podium.core.services import meetings, scheduling
from podium.core.services.conferencing import choose_conferencing
from podium.plugins.zoom.client import ZoomClient
from podium.plugins.zoom.provider import ZoomProvider
from podium.core.settings import Settings
from tests import builders as b
from tests.builders import ADMIN
from tests.plugins.zoom.conftest import settings_for

ZOOM = Actor.system("plugin:zoom")


async def _meeting(sessions, session_id):
    async with sessions() as db:
        s = await db.get(Session, session_id)
        return s.meeting_provider, s.meeting_status, s.meeting_join_url, s.meeting_external_id, s.meeting_error


async def _virtual_session(sessions):
    """Scheduled with Zoom as the conferencing provider; the deliveries are called by hand below."""
    choose_conferencing(sessions, {"zoom": object()})
    course = await b.course(sessions)
    lead = await b.instructor(sessions)
    return await b.session(sessions, course_id=course.id, instructor_ids=[lead.id])


async def test_a_meeting_is_made_updated_and_deleted_with_its_session(sessions, fake_zoom, zoom_provider):
    s = await _virtual_session(sessions)
    assert await _meeting(sessions, s.id) == ("zoom", MeetingStatus.PENDING, None, None, None)

    await meetings.sync_meeting(sessions, zoom_provider, s.id, ZOOM)
    await meetings.sync_meeting(sessions, zoom_provider, s.id, ZOOM)   # delivered twice: still one meeting

    provider, status, join_url, external_id, _ = await _meeting(sessions, s.id)
    assert (provider, status) == ("zoom", MeetingStatus.READY)
    assert list(fake_zoom.meetings) == [int(external_id)]
    assert join_url == fake_zoom.meetings[int(external_id)]["join_url"]

    new_start = s.starts_at + timedelta(days=1, hours=2)
    async with sessions() as db, changing(db):
        await scheduling.reschedule_session(db, ADMIN, s.id, new_start, new_start + timedelta(minutes=90),
                                            settings=Settings())
    await meetings.sync_meeting(sessions, zoom_provider, s.id, ZOOM)

    seen = fake_zoom.meetings[int(external_id)]
    assert (seen["start_time"], seen["duration"]) == (new_start.strftime("%Y-%m-%dT%H:%M:%SZ"), 90)
    assert (await _meeting(sessions, s.id))[1] is MeetingStatus.READY

    async with sessions() as db, changing(db):
        await scheduling.cancel_session(db, ADMIN, s.id, "trainer ill")
    await meetings.sync_meeting(sessions, zoom_provider, s.id, ZOOM)

    assert fake_zoom.meetings == {} and fake_zoom.deleted == [int(external_id)]
    assert (await _meeting(sessions, s.id))[1] is MeetingStatus.CANCELLED
    async with sessions() as db:
        actions = (await db.scalars(select(AuditEntry.action).where(
            AuditEntry.target_type == "Session", AuditEntry.target_id == s.id,
            AuditEntry.action.like("session.meeting.%")).order_by(AuditEntry.id))).all()
    assert actions == ["session.meeting.ready", "session.meeting.cancel"]
    async with sessions() as db:
        scheduled = await db.scalar(select(AuditEntry.after).where(AuditEntry.action == "session.schedule",
                                                                   AuditEntry.target_id == s.id))
    assert (scheduled["meeting_provider"], scheduled["meeting_status"]) == ("zoom", "PENDING")


async def test_a_create_answered_with_502_is_found_not_made_again(sessions, fake_zoom):
    s = await _virtual_session(sessions)
    client = ZoomClient(settings_for(fake_zoom.url, max_retries=0))
    try:
        fake_zoom.made_but_failed = 1     # Zoom makes the meeting, then its gateway answers 502
        await meetings.sync_meeting(sessions, ZoomProvider(client), s.id, ZOOM)
    finally:
        await client.aclose()

    _, status, _, external_id, _ = await _meeting(sessions, s.id)
    assert status is MeetingStatus.READY and list(fake_zoom.meetings) == [int(external_id)]
    assert len(fake_zoom.calls("POST", "/v2/users/")) == 1, "never a second create"


async def test_a_meeting_made_before_a_crash_is_adopted_on_the_next_delivery(sessions, fake_zoom, zoom_provider):
    s = await _virtual_session(sessions)
    async with sessions() as db:
        spec = meetings.meeting_spec(await db.get(Session, s.id))
    earlier = await zoom_provider.create_meeting(spec)   # made, then the worker died before recording it

    await meetings.sync_meeting(sessions, zoom_provider, s.id, ZOOM)

    assert (await _meeting(sessions, s.id))[1:4] == (MeetingStatus.READY, earlier.join_url, earlier.external_id)
    assert len(fake_zoom.meetings) == 1


async def test_a_failed_meeting_says_why_and_a_cancelled_one_stays_cancelled(sessions, fake_zoom, zoom_provider):
    s = await _virtual_session(sessions)
    async with sessions() as db, changing(db):
        await meetings.meeting_failed(db, ZOOM, s.id, "Zoom kept answering 503")
    assert (await _meeting(sessions, s.id))[1:] == (MeetingStatus.FAILED, None, None, "Zoom kept answering 503")

    async with sessions() as db, changing(db):
        await scheduling.cancel_session(db, ADMIN, s.id)
    await meetings.sync_meeting(sessions, zoom_provider, s.id, ZOOM)
    assert (await _meeting(sessions, s.id))[1] is MeetingStatus.CANCELLED
    assert fake_zoom.meetings == {}


async def test_an_in_person_session_never_gets_a_meeting(sessions, fake_zoom, zoom_provider):
    course = await b.course(sessions)
    lead = await b.instructor(sessions)
    room = await b.room(sessions)
    s = await b.session(sessions, course_id=course.id, instructor_ids=[lead.id], mode=DeliveryMode.IN_PERSON,
                        room_id=room.id)
    await meetings.sync_meeting(sessions, zoom_provider, s.id, ZOOM)
    assert await _meeting(sessions, s.id) == (None, None, None, None, None)
    assert fake_zoom.log == []


async def test_a_create_that_timed_out_after_sending_is_found_not_made_twice(sessions, fake_zoom):
    s = await _virtual_session(sessions)
    provider = ZoomProvider(ZoomClient(settings_for(fake_zoom.url, timeout_seconds=1)))
    fake_zoom.made_but_late, fake_zoom.late_seconds = 1, 4   # made at once, answered after the client gave up
    try:
        await meetings.sync_meeting(sessions, provider, s.id, ZOOM)
    finally:
        await provider.aclose()

    _, status, join_url, external_id, _ = await _meeting(sessions, s.id)
    assert status is MeetingStatus.READY
    assert list(fake_zoom.meetings) == [int(external_id)]
    assert join_url == fake_zoom.meetings[int(external_id)]["join_url"]
    assert len(fake_zoom.calls("POST", "/v2/users/me/meetings")) == 1, "the create was not repeated blindly"
