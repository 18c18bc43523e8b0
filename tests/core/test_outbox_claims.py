"""Claiming: consumers take turns within a cap, PostgreSQL skips rows another worker holds, backoff is jittered."""
from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select

from podium.core.db import changing
from podium.core.models import OutboxMessage
from podium.core.outbox import Dispatcher, backoff_delay, enqueue
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
