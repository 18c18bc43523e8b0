"""The SMTP server away for 30 s: every mail arrives once it is back, none twice."""
from __future__ import annotations

import asyncio
import collections
import time

import pytest

from podium.core.db import changing
from podium.core.models import EnrollmentStatus, OutboxStatus
from podium.core.services import enrollment as enrolment_service
from tests import builders as b
from tests.builders import ADMIN
from tests.dispatching import dispatching, eventually, outbox_rows, settings_from
from tests.plugins.email.fake_smtp import MailServer
from tests.plugins.email.test_email_story import email_env

OUTAGE_SECONDS = 30


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # 30 s of waiting: one backend is enough
async def test_mail_survives_a_30_second_smtp_outage(sessions, unused_tcp_port):
    server = MailServer(unused_tcp_port).start()
    settings = settings_from(email_env(server.port, PODIUM_EMAIL_TIMEOUT="2"), outbox_backoff_seconds=0.5,
                             outbox_backoff_max_seconds=4.0, outbox_max_attempts=100)
    course = await b.course(sessions)
    lead = await b.instructor(sessions)
    learners = await b.people(sessions, 8)
    try:
        async with dispatching(sessions, settings):
            s = await b.session(sessions, course_id=course.id, instructor_ids=[lead.id], capacity=5)
            await eventually(lambda: len(server.received()) == 1, what="the instructor's mail before the outage")

            server.stop()
            stopped_at = time.monotonic()
            enrolled = []
            for learner in learners:
                async with sessions() as db, changing(db):
                    e = await enrolment_service.enroll(db, ADMIN, s.id, learner)
                    if e.status is EnrollmentStatus.ENROLLED:
                        enrolled.append(e.id)
            async with sessions() as db, changing(db):
                await enrolment_service.cancel_enrollment(db, ADMIN, enrolled[0])  # cancelled + one promoted

            async def all_failing():
                rows = await outbox_rows(sessions, kind="notification", status=OutboxStatus.PENDING)
                first_per_recipient = {m.payload["to"]: m for m in reversed(rows)}.values()  # later ones wait behind
                return len(rows) == 10 and all(m.attempts >= 1 for m in first_per_recipient)
            await eventually(all_failing, what="the first mail to every learner to have failed")
            await asyncio.sleep(OUTAGE_SECONDS - (time.monotonic() - stopped_at))
            assert len(server.received()) == 1      # nothing got through while it was down
            server.start()

            async def drained():
                rows = await outbox_rows(sessions, kind="notification")
                return len(server.received()) >= 11 and all(m.status is OutboxStatus.DELIVERED for m in rows)
            await eventually(drained, timeout=30, what="every mail after the outage")
    finally:
        server.stop()
    mails = server.received()
    assert len(mails) == 11
    assert len({m.message["Message-ID"] for m in mails}) == 11
    kinds = collections.Counter(m.message["X-Podium-Notification"] for m in mails)
    assert kinds == {"session.instructor_assigned": 1, "enrollment.confirmed": 5, "enrollment.waitlisted": 3,
                     "enrollment.cancelled": 1, "enrollment.promoted": 1}
    rows = await outbox_rows(sessions, kind="notification")
    assert max(m.attempts for m in rows) > 1   # they were retried through the outage
