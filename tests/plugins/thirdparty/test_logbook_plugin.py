"""A third-party plugin, installed as its own distribution, works with no change to Podium."""
from __future__ import annotations

import os
import subprocess
import sys

from podium.core.db import changing
from podium.core.models import OutboxStatus
from podium.core.plugins import create_plugin_manager
from podium.core.services import enrollment as enrolment_service
from tests import builders as b
from tests.builders import ADMIN
from tests.dispatching import dispatching, eventually, logbook, outbox_rows, settings_from


def test_discovered_through_its_entry_point():
    plugins = create_plugin_manager(settings_from({}))
    loaded = plugins.loaded["logbook"]
    assert (loaded.source, loaded.version) == ("entry point", "1.2.0")
    assert plugins.hooks_of("logbook") == ["podium_event", "podium_notification_channels", "podium_receives_events"]


def test_listed_by_podium_plugins(tmp_path):
    env = {**os.environ, "PODIUM_LOGBOOK_PATH": str(tmp_path / "log.jsonl"), "PODIUM_PLUGINS": "logbook,email",
           "PODIUM_EMAIL_HOST": "127.0.0.1", "PODIUM_EMAIL_FROM_ADDRESS": "podium@example.com",
           "PODIUM_EMAIL_USERNAME": "podium", "PODIUM_EMAIL_PASSWORD": "very-secret-password"}
    out = subprocess.run([sys.executable, "-m", "podium.server.cli", "plugins"], env=env, capture_output=True,
                         text=True, check=True, cwd=tmp_path).stdout
    assert "logbook 1.2.0 (entry point)" in out
    assert "hooks: podium_event, podium_notification_channels, podium_receives_events" in out
    assert "channels: logbook" in out
    assert "password=***" in out and "very-secret-password" not in out
    assert "webhook" not in out  # PODIUM_PLUGINS left it out


async def test_receives_notifications_and_events(sessions, tmp_path):
    path = tmp_path / "log.jsonl"
    settings = settings_from({"PODIUM_PLUGINS": "logbook", "PODIUM_LOGBOOK_PATH": str(path)})
    course = await b.course(sessions)
    lead = await b.instructor(sessions)
    learner = await b.person(sessions)
    async with dispatching(sessions, settings):
        s = await b.session(sessions, course_id=course.id, instructor_ids=[lead.id])
        async with sessions() as db, changing(db):
            await enrolment_service.enroll(db, ADMIN, s.id, learner.id)

        def seen():
            lines = logbook(path)
            return (any(r["what"] == "notification" and r["kind"] == "enrollment.confirmed" and r["to"] == learner.email
                        for r in lines)
                    and {r["type"] for r in lines if r["what"] == "event"} >= {"session.scheduled", "enrollment.changed"})
        await eventually(seen, what="the logbook to see the enrolment")
    lines = logbook(path)
    confirmed = next(r for r in lines if r["what"] == "notification" and r["kind"] == "enrollment.confirmed")
    assert confirmed["attachments"] == ["invite.ics"]
    assert confirmed["subject"].startswith("You are enrolled")
    assert any(r["what"] == "notification" and r["kind"] == "session.instructor_assigned" and r["to"] == lead.email
               for r in lines)
    events = await outbox_rows(sessions, kind="event")
    assert all(m.status is OutboxStatus.DELIVERED for m in events)
