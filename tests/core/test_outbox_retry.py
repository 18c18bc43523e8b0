"""`podium outbox retry`: the same audited retry as GraphQL; what is under way, delivered or unknown is refused."""
from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy import select, update

from podium.core.db import changing
from podium.core.instants import utc_now
from podium.core.models import AuditEntry, OutboxMessage, OutboxStatus
from podium.core.outbox import enqueue
from tests import builders as b
from tests.core.test_outbox import run_cli
from tests.dispatching import HeldChannel, dispatching, eventually, outbox_rows, settings_from


async def _audit(sessions) -> list[AuditEntry]:
    async with sessions() as db:
        return list((await db.scalars(select(AuditEntry).where(AuditEntry.action == "outbox.retry")
                                      .order_by(AuditEntry.id))).all())


async def _messages(sessions, **states) -> dict[str, int]:
    """One notification per name, put in the given state (DEAD, DELIVERED, or PENDING backing off)."""
    ids = {}
    async with sessions() as db, changing(db):
        for name, status in states.items():
            await enqueue(db, kind="notification", topic="enrollment.confirmed", target="email",
                          idempotency_key=f"test:{name}", payload={})
            ids[name] = await db.scalar(select(OutboxMessage.id).where(OutboxMessage.idempotency_key == f"test:{name}"))
            await db.execute(update(OutboxMessage).where(OutboxMessage.id == ids[name]).values(
                status=status, attempts=3, last_error="SMTPServerDisconnected: gone",
                deliver_after=utc_now() + timedelta(hours=1)))
    return ids


async def test_the_cli_retries_what_it_may_audits_each_and_names_what_it_refused(sessions, database_url):
    ids = await _messages(sessions, dead=OutboxStatus.DEAD, backing_off=OutboxStatus.PENDING,
                          delivered=OutboxStatus.DELIVERED, other_dead=OutboxStatus.DEAD)

    result = await asyncio.to_thread(run_cli, database_url, "outbox", "retry", str(ids["dead"]),
                                     str(ids["delivered"]), "999999", str(ids["backing_off"]))
    assert result.exit_code == 1
    assert f"#{ids['delivered']} not retried: That message was delivered; there is nothing to retry." in result.output
    assert "#999999 not retried: No outbox message with that id." in result.output
    assert "2 message(s) queued again, 2 refused" in result.output
    rows = {m.id: m for m in await outbox_rows(sessions)}
    for name in ("dead", "backing_off"):
        assert (rows[ids[name]].status, rows[ids[name]].attempts) == (OutboxStatus.PENDING, 0)
        assert rows[ids[name]].deliver_after <= utc_now()                      # due now, not in an hour
    assert rows[ids["delivered"]].status is OutboxStatus.DELIVERED
    assert rows[ids["other_dead"]].status is OutboxStatus.DEAD                 # not named, not touched
    assert [(e.actor, e.target_id, e.before["status"]) for e in await _audit(sessions)] == [
        ("cli:outbox retry", ids["dead"], "DEAD"), ("cli:outbox retry", ids["backing_off"], "PENDING")]

    every_dead = await asyncio.to_thread(run_cli, database_url, "outbox", "retry", "--all-dead")
    assert every_dead.exit_code == 0 and "1 message(s) queued again" in every_dead.output
    assert (await outbox_rows(sessions, id=ids["other_dead"]))[0].status is OutboxStatus.PENDING
    assert [e.target_id for e in await _audit(sessions)][-1] == ids["other_dead"]

    nothing = await asyncio.to_thread(run_cli, database_url, "outbox", "retry", "--all-dead")
    assert nothing.exit_code == 0 and "0 message(s) queued again" in nothing.output
    assert len(await _audit(sessions)) == 3


async def test_a_message_a_worker_is_delivering_is_not_retried_and_goes_out_once(sessions, database_url):
    slow = HeldChannel("slow")
    course = await b.course(sessions)
    lead = await b.instructor(sessions)
    settings = settings_from({}, plugins=(), outbox_timeout_seconds=120)    # the delivery never times out here
    async with dispatching(sessions, settings, extra=[("slow", slow)]) as dispatcher, slow.released():
        await b.session(sessions, course_id=course.id, instructor_ids=[lead.id])
        await eventually(lambda: slow.under_way == 1, what="the delivery to be under way")
        [message] = await outbox_rows(sessions, kind="notification")

        result = await asyncio.to_thread(run_cli, database_url, "outbox", "retry", str(message.id))
        assert result.exit_code == 1
        assert f"#{message.id} not retried: A worker is delivering that message right now" in result.output
        [still] = await outbox_rows(sessions, kind="notification")
        assert still.lease_owner == dispatcher.owner and still.leased_until == message.leased_until
        assert await _audit(sessions) == []

        slow.release.set()
        await eventually(lambda: outbox_rows(sessions, kind="notification", status=OutboxStatus.DELIVERED),
                         what="the delivery to be recorded")
    assert slow.delivered == [message.idempotency_key]
