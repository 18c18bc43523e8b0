"""The webhook plugin: every domain event, signed, in commit order per session, through refusals."""
from __future__ import annotations

import hashlib
import hmac
import json
from contextlib import AsyncExitStack
from datetime import timedelta

import pytest
from sqlalchemy import select

from podium.core.db import changing
from podium.core.models import Enrollment, EnrollmentStatus
from podium.core.plugin_settings import PluginSettingsError
from podium.core.plugins import load_plugins
from podium.core.services import attendance, scheduling
from podium.core.services import enrollment as enrolment_service
from podium.core.settings import Settings
from tests import builders as b
from tests.builders import ADMIN
from tests.dispatching import dispatching, eventually, outbox_rows, settings_from
from tests.live_server import serve
from tests.plugins.webhook.receiver import PATH, WebhookReceiver

SECRET = "whsec-0123456789abcdef"


@pytest.fixture
def receiver():
    # Every third event is refused once: a retry must not let a later event of its session overtake it.
    server = WebhookReceiver(refuse_first=lambda key: int(hashlib.sha1(key.encode()).hexdigest(), 16) % 3 == 0)
    with serve(server.app()) as url:
        server.url = url + PATH
        yield server


def verified(delivery) -> dict:
    """What a receiver must do: check the HMAC over "<timestamp>.<body>" before trusting the body."""
    timestamp = delivery.headers["podium-timestamp"]
    expected = "sha256=" + hmac.new(SECRET.encode(), timestamp.encode() + b"." + delivery.body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(delivery.headers["podium-signature"], expected)
    event = json.loads(delivery.body)
    assert delivery.headers["idempotency-key"] == event["id"]
    return event


async def test_every_event_signed_and_in_commit_order_per_session(sessions, receiver):
    env = {"PODIUM_PLUGINS": "webhook", "PODIUM_WEBHOOK_URL": receiver.url, "PODIUM_WEBHOOK_SECRET": SECRET}
    settings = settings_from(env)
    course = await b.course(sessions)
    leads = [await b.instructor(sessions) for _ in range(3)]
    learners = await b.people(sessions, 6)
    async with AsyncExitStack() as stack:
        for _ in range(2):  # two dispatchers share the work, as two `podium worker` processes would
            await stack.enter_async_context(dispatching(sessions, settings))
        ids = [(await b.session(sessions, course_id=course.id, instructor_ids=[lead.id], capacity=2)).id for lead in leads]
        for sid in ids:
            for learner in learners[:4]:
                async with sessions() as db, changing(db):
                    await enrolment_service.enroll(db, ADMIN, sid, learner)
        async with sessions() as db, changing(db):  # a learner cancels: the first waitlisted is promoted
            first = await db.scalar(select(Enrollment.id).where(
                Enrollment.session_id == ids[0],
                Enrollment.status == EnrollmentStatus.ENROLLED).limit(1))
            await enrolment_service.cancel_enrollment(db, ADMIN, first)
        async with sessions() as db, changing(db):
            await scheduling.reschedule_session(db, ADMIN, ids[1], b.soon(days=9), b.soon(days=9) + timedelta(hours=2),
                                                settings=Settings())
        async with sessions() as db, changing(db):
            await scheduling.cancel_session(db, ADMIN, ids[2], reason="venue flooded")
        async with sessions() as db, changing(db):
            enrolled = (await db.scalars(select(Enrollment.id).where(
                Enrollment.session_id == ids[0],
                Enrollment.status == EnrollmentStatus.ENROLLED))).all()
            await attendance.record_attendance(db, ADMIN, ids[0], [attendance.AttendanceRecord(e, "PRESENT", 120)
                                                                   for e in enrolled], now=b.soon(days=30))
        async with sessions() as db, changing(db):
            await scheduling.complete_past_sessions(db, ADMIN, now=b.soon(days=30))

        events = await outbox_rows(sessions, kind="event")
        wanted = {m.idempotency_key for m in events}
        await eventually(lambda: wanted <= {d.headers["idempotency-key"] for d in receiver.received() if d.status == 204},
                         what="every event at the receiver")

    deliveries = receiver.received()
    assert any(d.status == 503 for d in deliveries)           # refusals happened, and were retried
    accepted = [verified(d) for d in deliveries if d.status == 204]
    assert {e["type"] for e in accepted} == {"session.scheduled", "enrollment.changed", "session.rescheduled",
                                             "session.cancelled", "attendance.recorded", "session.completed"}
    assert any(e["type"] == "enrollment.changed" and e["payload"]["reason"] == "cancelled" for e in accepted)
    for sid_key in {m.ordering_key for m in events}:
        committed = [m.idempotency_key for m in events if m.ordering_key == sid_key]
        first_accepted = list(dict.fromkeys(e["id"] for e in accepted if f"session:{_session_pk(e)}" == sid_key))
        assert first_accepted == committed, sid_key
    for d in deliveries:
        verified(d)  # the refused attempts were signed too


def _session_pk(event) -> int:
    from podium.core.ids import from_global_id

    return from_global_id(event["payload"]["session"])[1]


async def test_a_bad_setting_stops_start_up_without_showing_the_secret():
    settings = settings_from({"PODIUM_PLUGINS": "webhook", "PODIUM_WEBHOOK_URL": "ftp://example.com",
                              "PODIUM_WEBHOOK_SECRET": "short-secret"})
    with pytest.raises(Exception) as caught:
        await load_plugins(settings)
    assert "PODIUM_WEBHOOK_URL" in str(caught.value) and "short-secret" not in str(caught.value)
    assert isinstance(caught.value.__cause__, PluginSettingsError)
