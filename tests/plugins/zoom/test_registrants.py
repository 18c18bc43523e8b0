"""Registrants follow the roster: a seat registers the learner with Zoom, giving it up cancels the registrant."""
from __future__ import annotations

from sqlalchemy import select

from podium.core.audit import Actor
from podium.core.db import changing
from podium.core.models import AuditEntry, DeliveryMode, Enrollment, OutboxMessage, OutboxStatus, Session
from podium.core.services import enrollment as enrollment_service
from podium.core.services import meetings
from podium.core.services.conferencing import choose_conferencing
from tests import builders as b
from tests.builders import ADMIN
from tests.dispatching import eventually, outbox_rows, settings_from
from tests.plugins.zoom.test_zoom_through_graphql import REVIEW, meeting_is, podium
from tests.plugins.zoom.test_zoom_through_the_outbox import zoom_env, zoom_running
from tests.server import graph as g

ZOOM = Actor.system("plugin:zoom")


async def test_a_learner_or_a_coordinator_cancelling_takes_the_registrant_back(database_url, fake_zoom):
    async with podium(database_url, fake_zoom.url) as (api, _, _):
        course, lead = await g.course(api), await g.instructor(api)
        session_id = await g.session(api, course, [lead])
        ada = await g.person(api, name="Ada Lovelace", email="ada@example.com")
        bob = await g.person(api, name="Bob Byte", email="bob@example.com")
        cara = await g.person(api, name="Cara Core", email="cara@example.com")
        ada_token = await g.token(api, ada, "LEARNER")
        enrolled = {p: (await g.enroll(api, session_id, p))["enrollment"]["id"] for p in (ada, bob, cara)}
        ready = await eventually(meeting_is(api, session_id, "READY"), what="the meeting READY")
        meeting_id = int(ready["externalId"])

        async def links():
            node = (await api.data(REVIEW, {"id": session_id}))["node"]
            return {e["node"]["learner"]["email"]: e["node"]["meetingJoinUrl"] for e in node["enrollments"]["edges"]}
        await eventually(lambda: len(fake_zoom.registrants.get(meeting_id, [])) == 3, what="three registrants")
        await eventually(lambda: all_set(links), what="three personal links")

        mine = await api.data(g.CANCEL_ENROLLMENT, {"i": {"enrollmentId": enrolled[ada]}}, token=ada_token)
        assert mine["cancelEnrollment"]["errors"] == []
        theirs = await api.data(g.CANCEL_ENROLLMENT, {"i": {"enrollmentId": enrolled[bob]}})
        assert theirs["cancelEnrollment"]["errors"] == []

        now = await links()
        assert now["ada@example.com"] is None and now["bob@example.com"] is None, "the links go with the seat"
        assert now["cara@example.com"]
        await eventually(lambda: fake_zoom.registrant_statuses(meeting_id) == {
            "ada@example.com": "cancelled", "bob@example.com": "cancelled", "cara@example.com": "approved"},
            what="Zoom told of both cancellations")
    assert len(fake_zoom.calls("PUT", f"/v2/meetings/{meeting_id}/registrants/status")) == 2


async def all_set(links) -> bool:
    return all((await links()).values())


async def test_only_virtual_and_hybrid_sessions_queue_registrations(sessions, fake_zoom):
    course = await b.course(sessions)
    room = await b.room(sessions)
    learner = await b.person(sessions)
    choose_conferencing(sessions, {"zoom": object()})
    kinds = {}
    for mode in (DeliveryMode.IN_PERSON, DeliveryMode.VIRTUAL, DeliveryMode.HYBRID):
        lead = await b.instructor(sessions)
        s = await b.session(sessions, course_id=course.id, instructor_ids=[lead.id], mode=mode,
                            room_id=room.id if mode is not DeliveryMode.VIRTUAL else None,
                            starts_at=b.soon(days=7 + len(kinds)))
        async with sessions() as db, changing(db):
            await enrollment_service.enroll(db, ADMIN, s.id, learner.id)
        kinds[mode] = s.id
    async with sessions() as db:
        queued = (await db.scalars(select(OutboxMessage.payload).where(
            OutboxMessage.topic == meetings.REGISTRANTS))).all()
    assert sorted(p["session_id"] for p in queued) == sorted([kinds[DeliveryMode.VIRTUAL], kinds[DeliveryMode.HYBRID]])


async def test_a_learner_who_cancels_while_being_registered_gets_no_registrant(sessions, fake_zoom, zoom_provider):
    """The registration call was under way when the learner cancelled: the registrant Zoom made is taken back."""
    choose_conferencing(sessions, {"zoom": zoom_provider})
    course = await b.course(sessions)
    lead = await b.instructor(sessions)
    learner = await b.person(sessions, name="Dan Delay", email="dan@example.com")
    s = await b.session(sessions, course_id=course.id, instructor_ids=[lead.id])
    await meetings.sync_meeting(sessions, zoom_provider, s.id, ZOOM)
    async with sessions() as db, changing(db):
        enrollment_id = (await enrollment_service.enroll(db, ADMIN, s.id, learner.id)).id
    async with sessions() as db:
        external_id = (await db.get(Session, s.id)).meeting_external_id
    made = await zoom_provider.add_registrant(external_id, "dan@example.com", "Dan Delay")   # Zoom answered ...
    async with sessions() as db, changing(db):
        await enrollment_service.cancel_enrollment(db, ADMIN, enrollment_id)               # ... as he cancelled
    async with sessions() as db, changing(db):
        await meetings.record_registrant(db, ZOOM, enrollment_id, made.registrant_id, made.join_url, "zoom",
                                         "dan@example.com")

    async with sessions() as db:
        enrollment = await db.get(Enrollment, enrollment_id)
        assert (enrollment.meeting_registrant_id, enrollment.meeting_join_url) == (None, None)
        queued = (await db.scalars(select(OutboxMessage.payload).where(
            OutboxMessage.topic == meetings.UNREGISTER))).all()
    assert [(p["registrant_id"], p["email"]) for p in queued] == [(made.registrant_id, "dan@example.com")]
    assert await meetings.unregister(sessions, zoom_provider, s.id, made.registrant_id, "dan@example.com")
    assert fake_zoom.registrant_statuses(int(external_id)) == {"dan@example.com": "cancelled"}


async def test_the_audit_shows_the_link_cleared_and_a_meeting_gone_from_zoom_needs_no_retry(sessions, fake_zoom):
    learner = await b.person(sessions, name="Eve Echo", email="eve@example.com")
    course = await b.course(sessions)
    lead = await b.instructor(sessions)
    async with zoom_running(sessions, settings_from(zoom_env(fake_zoom.url))):
        s = await b.session(sessions, course_id=course.id, instructor_ids=[lead.id])
        async with sessions() as db, changing(db):
            enrollment_id = (await enrollment_service.enroll(db, ADMIN, s.id, learner.id)).id

        async def link():
            async with sessions() as db:
                return await db.scalar(select(Enrollment.meeting_join_url).where(Enrollment.id == enrollment_id))
        personal = await eventually(link, what="a personal link")
        async with sessions() as db:
            external_id = int((await db.get(Session, s.id)).meeting_external_id)
        del fake_zoom.meetings[external_id]          # deleted in Zoom by hand: cancelling is still fine
        async with sessions() as db, changing(db):
            await enrollment_service.cancel_enrollment(db, ADMIN, enrollment_id, "changed teams")

        async def delivered():
            rows = await outbox_rows(sessions, topic=meetings.UNREGISTER)
            return rows and all(r.status is OutboxStatus.DELIVERED for r in rows)
        await eventually(delivered, what="the cancellation delivered")
        assert [r.attempts for r in await outbox_rows(sessions, topic=meetings.UNREGISTER)] == [1], \
            "a meeting Zoom no longer has needs no retry"
        assert fake_zoom.calls("PUT") == [f"/v2/meetings/{external_id}/registrants/status"]
    async with sessions() as db:
        entry = await db.scalar(select(AuditEntry).where(AuditEntry.action == "enrollment.cancel",
                                                         AuditEntry.target_id == enrollment_id))
    assert entry.before["meeting_join_url"] == personal and entry.after["meeting_join_url"] is None
    assert entry.after["meeting_registrant_id"] is None
