"""Faults: a channel that raises or hangs holds back neither other channels nor the API."""
from __future__ import annotations

import asyncio

import httpx

from podium.core import hookimpl
from podium.core.db import changing
from podium.core.models import OutboxStatus
from podium.core.services import enrollment as enrolment_service
from podium.server.app import create_app
from tests import builders as b
from tests.builders import ADMIN
from tests.dispatching import dispatching, eventually, logbook, outbox_rows, settings_from


class FaultyChannels:
    """A test plugin with two bad channels: one raises, one hangs until released."""

    def __init__(self) -> None:
        self.hanging = 0
        self.release = asyncio.Event()

    @hookimpl
    def podium_notification_channels(self):
        plugin = self

        class Raising:
            name = "raising"

            async def deliver(self, notification):
                raise RuntimeError("mail relay exploded")

        class Hanging:
            name = "hanging"

            async def deliver(self, notification):
                plugin.hanging += 1
                try:
                    await plugin.release.wait()
                finally:
                    plugin.hanging -= 1

        return [Raising(), Hanging()]


async def _enrol_all(sessions, session_id, learners):
    for learner in learners:
        async with sessions() as db, changing(db):
            await enrolment_service.enroll(db, ADMIN, session_id, learner)


async def test_a_raising_and_a_hanging_channel_do_not_hold_back_the_others(sessions, tmp_path):
    path = tmp_path / "log.jsonl"
    settings = settings_from({"PODIUM_PLUGINS": "logbook", "PODIUM_LOGBOOK_PATH": str(path)},
                             outbox_timeout_seconds=0.3, outbox_max_attempts=3)
    faulty = FaultyChannels()
    course = await b.course(sessions)
    lead = await b.instructor(sessions)
    learners = await b.people(sessions, 10)
    s = await b.session(sessions, course_id=course.id, instructor_ids=[lead.id], capacity=5)
    async with dispatching(sessions, settings, extra=[("faulty", faulty)]):
        await _enrol_all(sessions, s.id, learners)
        await eventually(lambda: len([r for r in logbook(path) if r["what"] == "notification"]) == 11,
                         what="the logbook channel to get all 11 notifications")

        async def bad_ones_dead():
            rows = [m for m in await outbox_rows(sessions, kind="notification") if m.target in ("raising", "hanging")]
            return len(rows) == 22 and all(m.status is OutboxStatus.DEAD for m in rows) and rows
        rows = await eventually(bad_ones_dead, what="the bad channels' messages to go DEAD")
    assert {m.last_error for m in rows if m.target == "raising"} == {"RuntimeError: mail relay exploded"}
    assert {m.last_error for m in rows if m.target == "hanging"} == {"timed out"}
    assert {m.attempts for m in rows} == {3}
    good = [m for m in await outbox_rows(sessions, kind="notification") if m.target == "logbook"]
    assert len(good) == 11 and all(m.status is OutboxStatus.DELIVERED and m.attempts == 1 for m in good)


async def test_the_api_answers_while_a_channel_hangs(database_url, tmp_path):
    faulty = FaultyChannels()
    settings = settings_from({"PODIUM_DATABASE_URL": database_url, "PODIUM_PLUGINS": "logbook",
                              "PODIUM_LOGBOOK_PATH": str(tmp_path / "log.jsonl")}, outbox_timeout_seconds=60)
    app = create_app(settings, extra_plugins=[("faulty", faulty)])
    sessions = app.state.podium.sessions
    async with app.router.lifespan_context(app):
        course = await b.course(sessions)
        lead = await b.instructor(sessions)
        learners = await b.people(sessions, 3)
        s = await b.session(sessions, course_id=course.id, instructor_ids=[lead.id])
        await eventually(lambda: faulty.hanging > 0, what="the hanging channel to be stuck")
        await _enrol_all(sessions, s.id, learners)                      # changes commit while it hangs
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://podium") as client:
            assert (await client.get("/healthz")).json() == {"status": "ok"}
        assert faulty.hanging > 0                                       # ... and it is still hanging
        faulty.release.set()
        await eventually(lambda: faulty.hanging == 0, what="the channel to let go")
