"""Faults: a channel that raises or hangs holds back neither other channels nor the API."""
from __future__ import annotations


import httpx

from podium.core import hookimpl
from podium.core.db import changing
from podium.core.models import OutboxStatus
from podium.core.services import enrollment as enrolment_service
from podium.server.app import create_app
from tests import builders as b
from tests.builders import ADMIN
from tests.dispatching import HeldChannel, dispatching, eventually, logbook, outbox_rows, settings_from
from tests.server import graph
from tests.server.conftest import ADMIN_TOKEN, Api

# Far longer than any test waits: a hanging delivery never times out while a test looks at it.
HANG_TIMEOUT = 120.0
# Far shorter than HANG_TIMEOUT: if the other channel only got its turn after a time-out, this fails first.
PATIENCE = 20.0


class Raising:
    name = "raising"

    async def deliver(self, notification):
        raise RuntimeError("mail relay exploded")


class Channels:
    """A test plugin contributing the given channels."""

    def __init__(self, *channels) -> None:
        self.channels = list(channels)

    @hookimpl
    def podium_notification_channels(self):
        return self.channels


async def _enrol_all(sessions, session_id, learners):
    for learner in learners:
        async with sessions() as db, changing(db):
            await enrolment_service.enroll(db, ADMIN, session_id, learner)


def _notifications(path) -> list[dict]:
    return [r for r in logbook(path) if r["what"] == "notification"]


async def test_a_raising_and_a_hanging_channel_go_dead_while_the_others_deliver(sessions, tmp_path):
    path = tmp_path / "log.jsonl"
    settings = settings_from({"PODIUM_PLUGINS": "logbook", "PODIUM_LOGBOOK_PATH": str(path)},
                             outbox_timeout_seconds=0.3, outbox_max_attempts=3)
    course = await b.course(sessions)
    lead = await b.instructor(sessions)
    learners = await b.people(sessions, 10)
    s = await b.session(sessions, course_id=course.id, instructor_ids=[lead.id], capacity=5)
    async with dispatching(sessions, settings, extra=[("faulty", Channels(Raising(), HeldChannel("hanging")))]):
        await _enrol_all(sessions, s.id, learners)
        await eventually(lambda: len(_notifications(path)) == 11,
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


async def test_a_channel_hanging_with_more_messages_than_slots_takes_only_its_share(sessions, tmp_path):
    path = tmp_path / "log.jsonl"
    settings = settings_from({"PODIUM_PLUGINS": "logbook", "PODIUM_LOGBOOK_PATH": str(path)},
                             outbox_timeout_seconds=HANG_TIMEOUT, outbox_concurrency=4, outbox_consumer_concurrency=2)
    hanging = HeldChannel("hanging")
    course = await b.course(sessions)
    lead = await b.instructor(sessions)
    learners = await b.people(sessions, 10)
    s = await b.session(sessions, course_id=course.id, instructor_ids=[lead.id], capacity=5)
    async with dispatching(sessions, settings, extra=[("faulty", Channels(hanging))]), hanging.released():
        await _enrol_all(sessions, s.id, learners)    # 11 notifications per channel: more than the 4 slots
        await eventually(lambda: len(_notifications(path)) == 11, timeout=PATIENCE,
                         what="the logbook channel to get all 11 notifications while the other one hangs")
        assert not hanging.release.is_set() and hanging.under_way == 2       # still hanging, with its 2 slots only
        stuck = await outbox_rows(sessions, kind="notification", target="hanging")
        assert len(stuck) == 11 and all(m.status is OutboxStatus.PENDING and m.attempts == 0 for m in stuck)

        hanging.release.set()

        async def all_delivered():
            rows = await outbox_rows(sessions, kind="notification", target="hanging")
            return all(m.status is OutboxStatus.DELIVERED for m in rows)
        await eventually(all_delivered, timeout=PATIENCE, what="the released channel to deliver the rest")
    assert [m.attempts for m in await outbox_rows(sessions, kind="notification", target="hanging")] == [1] * 11


async def test_the_api_answers_and_its_mail_goes_out_while_a_channel_hangs(database_url, tmp_path):
    path = tmp_path / "log.jsonl"
    hanging = HeldChannel("hanging")
    settings = settings_from({"PODIUM_DATABASE_URL": database_url, "PODIUM_ADMIN_TOKEN": ADMIN_TOKEN,
                              "PODIUM_PLUGINS": "logbook", "PODIUM_LOGBOOK_PATH": str(path)},
                             outbox_timeout_seconds=HANG_TIMEOUT, outbox_concurrency=4, outbox_consumer_concurrency=2)
    app = create_app(settings, extra_plugins=[("faulty", Channels(hanging))])
    async with app.router.lifespan_context(app), httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://podium") as client, hanging.released():
        api = Api(client)
        course = await graph.course(api)
        lead = await graph.instructor(api)
        sessions = [await graph.session(api, course, [lead], starts_at=graph.at(days=7 + n)) for n in range(6)]
        await eventually(lambda: hanging.under_way == 2, timeout=PATIENCE, what="the hanging channel to be stuck")

        learner = await graph.person(api, email="late@example.com")
        enrolled = await graph.enroll(api, sessions[0], learner)           # a change while it hangs
        assert enrolled["errors"] == [] and enrolled["enrollment"]["status"] == "ENROLLED"
        await eventually(lambda: [r for r in _notifications(path) if r["to"] == "late@example.com"],
                         timeout=PATIENCE, what="the learner's confirmation through the logbook channel")
        assert not hanging.release.is_set() and hanging.under_way == 2       # ... and it is still hanging
        hanging.release.set()
        await eventually(lambda: hanging.under_way == 0, timeout=PATIENCE, what="the channel to let go")
    await app.state.podium.engine.dispose()
