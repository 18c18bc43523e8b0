"""Claiming: consumers take turns within a cap, PostgreSQL skips rows another worker holds, backoff is jittered;
events are claimed and expanded a batch per transaction, in order per ordering key."""
from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import event, select

from podium.core import hookimpl
from podium.core.db import changing
from podium.core.models import OutboxMessage, OutboxStatus
from podium.core.outbox import Dispatcher, backoff_delay, enqueue
from podium.core.plugins import load_plugins
from tests.dispatching import settings_from


async def _notifications(sessions, *targets: str) -> list[int]:
    """One PENDING notification per target given, in that order; their ids."""
    async with sessions() as db, changing(db):
        for n, target in enumerate(targets):
            await enqueue(db, kind="notification", topic="enrollment.confirmed", target=target,
                          idempotency_key=f"test:{n}:{target}", payload={})
    async with sessions() as db:
        return list((await db.scalars(select(OutboxMessage.id).order_by(OutboxMessage.id))).all())


def _dispatcher(sessions, **settings) -> Dispatcher:
    return Dispatcher(sessions, plugins=None, settings=settings_from({}, plugins=(), **settings))


async def test_consumers_take_turns_and_none_passes_its_cap(sessions):
    ids = await _notifications(sessions, "email", "email", "email", "email", "email", "sms", "sms")
    email, sms = ids[:5], ids[5:]
    dispatcher = _dispatcher(sessions, outbox_concurrency=8, outbox_consumer_concurrency=3)

    first = await dispatcher.claim(4)
    assert sorted(m.id for m in first) == sorted([email[0], sms[0], email[1], sms[1]])   # turns, not id order
    again = await dispatcher.claim(10)           # the first four are still under way here
    assert [m.id for m in again] == [email[2]]   # email reaches its 3; sms has nothing left
    assert await dispatcher.claim(10) == []


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)  # SQLite serializes claims with BEGIN IMMEDIATE
async def test_a_claim_on_postgresql_skips_rows_another_worker_holds(sessions):
    ids = await _notifications(sessions, "a", "b", "c", "d")
    dispatcher = _dispatcher(sessions)
    async with sessions() as other_worker:
        held = list((await other_worker.scalars(select(OutboxMessage.id).where(
            OutboxMessage.id.in_([ids[0], ids[2]])).with_for_update())).all())
        assert sorted(held) == [ids[0], ids[2]]
        # The bound only guards against a deadlock: a claim that waited for the lock would never return.
        claimed = await asyncio.wait_for(dispatcher.claim(10), timeout=30)
        assert [m.id for m in claimed] == [ids[1], ids[3]]
        await other_worker.rollback()
    assert [m.id for m in await dispatcher.claim(10)] == [ids[0], ids[2]]


def test_backoff_is_full_jitter_up_to_a_capped_exponential():
    for attempts, ceiling in [(1, 2.0), (2, 4.0), (5, 32.0), (12, 3600.0), (60, 3600.0)]:
        draws = [backoff_delay(attempts, base=2.0, cap=3600.0) for _ in range(1000)]
        assert all(0 <= d <= ceiling for d in draws), attempts
        assert min(draws) < 0.05 * ceiling and max(draws) > 0.95 * ceiling, attempts   # spread over the range


class _Receiver:
    @hookimpl
    def podium_event(self, event):
        pass


async def _events(sessions, keyed: list[tuple[str, dict | None]]) -> list[int]:
    """One PENDING event per (ordering key, payload) given, in that order (payload None: a well-formed one)."""
    async with sessions() as db, changing(db):
        for n, (key, payload) in enumerate(keyed):
            event = {"id": f"e{n}", "type": "test.happened", "occurred_at": "2030-01-01T00:00:00+00:00",
                     "payload": {"n": n}} if payload is None else payload
            await enqueue(db, kind="event", topic="test.happened", idempotency_key=f"e{n}", payload=event,
                          ordering_key=key)
    async with sessions() as db:
        return list((await db.scalars(select(OutboxMessage.id).order_by(OutboxMessage.id))).all())


async def _fanned_out(sessions) -> list[str]:
    """The events the receiver's messages carry, in id (delivery) order."""
    async with sessions() as db:
        rows = (await db.scalars(select(OutboxMessage).where(OutboxMessage.kind == "plugin_event")
                                 .order_by(OutboxMessage.id))).all()
    return [row.payload["id"] for row in rows]


async def test_events_are_claimed_and_expanded_a_batch_per_transaction_in_commit_order(sessions):
    await _events(sessions, [("session:1" if n % 3 else "session:2", None) for n in range(60)])
    settings = settings_from({"PODIUM_PLUGINS": ""})
    dispatcher = Dispatcher(sessions, await load_plugins(settings, [("receiver", _Receiver())]), settings)
    writes: list[str] = []
    engine = sessions.kw["bind"].sync_engine

    def keep(conn, cursor, statement, *args):
        if statement.lstrip().upper().startswith(("INSERT", "UPDATE", "BEGIN IMMEDIATE")):
            writes.append(statement.split()[0].upper())

    event.listen(engine, "before_cursor_execute", keep)
    try:
        assert await dispatcher.expand_due() == 60
    finally:
        event.remove(engine, "before_cursor_execute", keep)
    assert writes.count("INSERT") == 1 and writes.count("UPDATE") == 1   # children in one INSERT, all marked in one
    assert await _fanned_out(sessions) == [f"e{n}" for n in range(60)]
    async with sessions() as db:
        assert set((await db.scalars(select(OutboxMessage.status).where(OutboxMessage.kind == "event"))).all()) \
            == {OutboxStatus.DELIVERED}
    assert await dispatcher.expand_due() == 0


async def test_an_event_that_fails_to_expand_holds_back_only_those_after_it_with_its_key(sessions):
    ids = await _events(sessions, [("session:1", None), ("session:1", {}), ("session:1", None),
                                   ("session:2", None), ("session:2", None)])
    settings = settings_from({"PODIUM_PLUGINS": ""}, outbox_backoff_seconds=3600, outbox_backoff_max_seconds=3600)
    dispatcher = Dispatcher(sessions, await load_plugins(settings, [("receiver", _Receiver())]), settings)
    await dispatcher.expand_due()
    assert await _fanned_out(sessions) == ["e0", "e3", "e4"]
    async with sessions() as db:
        rows = {row.id: row for row in (await db.scalars(select(OutboxMessage).where(OutboxMessage.id.in_(ids)))).all()}
    bad, held = rows[ids[1]], rows[ids[2]]
    assert bad.status is OutboxStatus.PENDING and bad.attempts == 1 and "KeyError" in bad.last_error
    assert held.status is OutboxStatus.PENDING and held.attempts == 0   # waits its turn behind the bad one
    assert rows[ids[3]].status is rows[ids[4]].status is OutboxStatus.DELIVERED
    await dispatcher.expand_due()                                       # the bad one is backing off: still held
    assert await _fanned_out(sessions) == ["e0", "e3", "e4"]
