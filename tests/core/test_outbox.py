"""The outbox: retries to DEAD, retry by an operator, plugin calls, reminders, workers sharing the work."""
from __future__ import annotations

import asyncio
import collections
from datetime import timedelta

from sqlalchemy import update
from typer.testing import CliRunner

from podium.core import hookimpl
from podium.core.db import changing
from podium.core.events import emit
from podium.core.instants import utc_now
from podium.core.models import OutboxMessage, OutboxStatus
from podium.core.outbox import PLUGIN_CALLS, call_plugin, enqueue, plugin_call
from podium.core.services import enrollment as enrolment_service
from podium.core.services import scheduling
from podium.server.cli import app as cli
from podium.core.settings import Settings
from tests import builders as b
from tests.builders import ADMIN
from tests.dispatching import dispatching, eventually, logbook, outbox_rows, settings_from


class FlakyChannel:
    """Fails until told to work."""

    name = "flaky"

    def __init__(self) -> None:
        self.working = False
        self.delivered: list[str] = []

    async def deliver(self, notification):
        if not self.working:
            raise ConnectionError("relay unreachable")
        self.delivered.append(notification.idempotency_key)


class FlakyPlugin:
    def __init__(self) -> None:
        self.channel = FlakyChannel()

    @hookimpl
    def podium_notification_channels(self):
        return [self.channel]


def run_cli(database_url: str, *args: str):
    return CliRunner().invoke(cli, list(args), env={"PODIUM_DATABASE_URL": database_url}, catch_exceptions=False)


async def test_dead_after_n_attempts_then_retried_by_an_operator(sessions, database_url):
    flaky = FlakyPlugin()
    settings = settings_from({}, plugins=(), outbox_max_attempts=4)
    course = await b.course(sessions)
    lead = await b.instructor(sessions)
    async with dispatching(sessions, settings, extra=[("flaky", flaky)]):
        await b.session(sessions, course_id=course.id, instructor_ids=[lead.id])
        dead = await eventually(lambda: outbox_rows(sessions, status=OutboxStatus.DEAD), what="a DEAD message")
        assert [(m.topic, m.attempts, m.last_error) for m in dead] == [
            ("session.instructor_assigned", 4, "ConnectionError: relay unreachable")]

        listing = await asyncio.to_thread(run_cli, database_url, "outbox", "list", "--status", "dead")
        assert listing.exit_code == 0
        assert "dead: 1" in listing.output and f"#{dead[0].id} DEAD notification session.instructor_assigned -> flaky" in listing.output
        assert "relay unreachable" in listing.output

        flaky.channel.working = True
        retried = await asyncio.to_thread(run_cli, database_url, "outbox", "retry", str(dead[0].id))
        assert "1 message(s) queued again" in retried.output
        await eventually(lambda: flaky.channel.delivered, what="the retried delivery")
    assert flaky.channel.delivered == [dead[0].idempotency_key]
    assert (await outbox_rows(sessions, id=dead[0].id))[0].status is OutboxStatus.DELIVERED


class Conferencing:
    """A provider a core service hands work to through a plugin call."""

    name = "fakeconf"

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []

    async def create_meeting(self, title: str, idempotency_key: str) -> str:
        self.calls.append((title, idempotency_key))
        if title == "doomed":
            raise RuntimeError("meeting service says no")
        return f"https://meet.example.com/{len(self.calls)}"


class ConferencingPlugin:
    def __init__(self) -> None:
        self.provider = Conferencing()

    @hookimpl
    def podium_conferencing_providers(self):
        return [self.provider]


async def test_plugin_calls_report_results_and_failures(sessions):
    results, failures = {}, {}

    async def create(dispatcher, message):
        provider = dispatcher.plugins.provider("conferencing", message.target)
        results[message.idempotency_key] = await provider.create_meeting(message.payload["title"], message.idempotency_key)

    async def gave_up(dispatcher, message, error):
        failures[message.idempotency_key] = error

    plugin_call("test.meeting.create", on_dead=gave_up)(create)
    try:
        plugin = ConferencingPlugin()
        async with sessions() as db, changing(db):
            for title in ("Induction", "doomed"):
                await call_plugin(db, provider="fakeconf", topic="test.meeting.create", payload={"title": title},
                                  idempotency_key=f"meeting:{title}")
        async with dispatching(sessions, settings_from({}, plugins=(), outbox_max_attempts=2),
                               extra=[("fakeconf", plugin)]):
            await eventually(lambda: results and failures, what="a result and a failure")
    finally:
        PLUGIN_CALLS.pop("test.meeting.create")
    assert results == {"meeting:Induction": "https://meet.example.com/1"}
    assert failures == {"meeting:doomed": "RuntimeError: meeting service says no"}
    assert [c for c in plugin.provider.calls if c[0] == "doomed"] == [("doomed", "meeting:doomed")] * 2


async def test_a_message_is_written_once_per_idempotency_key(sessions):
    async with sessions() as db, changing(db):
        for _ in range(2):
            await enqueue(db, kind="plugin_call", topic="x", target="y", payload={}, idempotency_key="same")
    async with sessions() as db, changing(db):
        await enqueue(db, kind="plugin_call", topic="x", target="y", payload={"again": True}, idempotency_key="same")
    assert [m.payload for m in await outbox_rows(sessions, idempotency_key="same")] == [{}]


async def test_two_workers_share_the_work_and_deliver_each_message_once(sessions, tmp_path):
    path = tmp_path / "log.jsonl"
    settings = settings_from({"PODIUM_PLUGINS": "logbook", "PODIUM_LOGBOOK_PATH": str(path)}, outbox_concurrency=4)
    async with sessions() as db, changing(db):
        ids = {emit(db, "test.tick", {"n": n}, ordering_key=f"tick:{n % 7}").id for n in range(120)}
    async with dispatching(sessions, settings), dispatching(sessions, settings):
        await eventually(lambda: len(logbook(path)) >= 120, what="120 deliveries")
        await eventually(lambda: outbox_rows(sessions, status=OutboxStatus.DELIVERED), what="outcomes recorded")
    lines = logbook(path)
    assert collections.Counter(r["id"] for r in lines) == {i: 1 for i in ids}
    assert len({r["pid"] for r in lines}) == 1  # one process here; the crash test runs separate ones
    for key in {f"tick:{k}" for k in range(7)}:  # commit order within an ordering key
        committed = [m.idempotency_key for m in await outbox_rows(sessions, kind="event", ordering_key=key)]
        assert [r["id"] for r in lines if r["id"] in set(committed)] == committed


async def _reminders(sessions):
    return await outbox_rows(sessions, kind="reminder")


async def _fast_forward(sessions):
    """Time passes: every reminder is due now."""
    async with sessions() as db, changing(db):
        await db.execute(update(OutboxMessage).where(OutboxMessage.kind == "reminder")
                         .values(deliver_after=utc_now()))


async def test_reminders_go_to_the_enrolled_before_the_session_and_follow_a_reschedule(sessions, tmp_path):
    path = tmp_path / "log.jsonl"
    settings = settings_from({"PODIUM_PLUGINS": "logbook", "PODIUM_LOGBOOK_PATH": str(path),
                              "PODIUM_REMINDER_HOURS": "48"})
    course = await b.course(sessions)
    lead = await b.instructor(sessions)
    stays, waits = await b.people(sessions, 2)
    starts = b.soon(days=10)
    async with dispatching(sessions, settings):
        s = await b.session(sessions, course_id=course.id, instructor_ids=[lead.id], capacity=1, starts_at=starts)
        for learner in (stays, waits):
            async with sessions() as db, changing(db):
                await enrolment_service.enroll(db, ADMIN, s.id, learner)
        first = await eventually(lambda: _reminders(sessions), what="the reminder to be planned")
        assert first[0].deliver_after == starts - timedelta(hours=48) and first[0].status is OutboxStatus.PENDING

        moved = starts + timedelta(days=2)
        async with sessions() as db, changing(db):
            await scheduling.reschedule_session(db, ADMIN, s.id, moved, moved + timedelta(hours=2), settings=Settings())
        reminders = await eventually(async_len(lambda: _reminders(sessions), 2), what="a second reminder")
        assert reminders[1].deliver_after == moved - timedelta(hours=48)

        await _fast_forward(sessions)
        done = await eventually(async_all_delivered(lambda: _reminders(sessions)), what="both reminders handled")
        await eventually(lambda: [r for r in logbook(path) if r.get("kind") == "session.reminder"], what="a reminder")
    assert done[0].last_error == "skipped: the session moved or was cancelled"
    assert done[1].last_error is None
    sent = [r for r in logbook(path) if r.get("kind") == "session.reminder"]
    assert [r["to"] for r in sent] == [(await _email(sessions, stays))]   # enrolled only, once
    assert sent[0]["subject"].startswith("Reminder:")


async def test_no_reminder_for_a_cancelled_session(sessions, tmp_path):
    path = tmp_path / "log.jsonl"
    settings = settings_from({"PODIUM_PLUGINS": "logbook", "PODIUM_LOGBOOK_PATH": str(path)})
    course = await b.course(sessions)
    lead = await b.instructor(sessions)
    learner = await b.person(sessions)
    async with dispatching(sessions, settings):
        s = await b.session(sessions, course_id=course.id, instructor_ids=[lead.id])
        async with sessions() as db, changing(db):
            await enrolment_service.enroll(db, ADMIN, s.id, learner.id)
        async with sessions() as db, changing(db):
            await scheduling.cancel_session(db, ADMIN, s.id)
        await eventually(lambda: [r for r in logbook(path) if r.get("kind") == "session.cancelled"], what="the cancellation")
        await _fast_forward(sessions)
        done = await eventually(async_all_delivered(lambda: _reminders(sessions)), what="the reminder handled")
    assert [m.last_error for m in done] == ["skipped: the session moved or was cancelled"]
    assert not [r for r in logbook(path) if r.get("kind") == "session.reminder"]


def async_len(fetch, n):
    async def check():
        rows = await fetch()
        return rows if len(rows) >= n else None
    return check


def async_all_delivered(fetch):
    async def check():
        rows = await fetch()
        return rows if rows and all(m.status is OutboxStatus.DELIVERED for m in rows) else None
    return check


async def _email(sessions, person_id):
    from podium.core.models import Person

    async with sessions() as db:
        return (await db.get(Person, person_id)).email
