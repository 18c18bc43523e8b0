"""Delivered outbox rows past PODIUM_OUTBOX_RETENTION_DAYS are pruned; pending, dead and the audit log stay."""
from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy import func, select
from typer.testing import CliRunner

from podium.core.instants import utc_now
from podium.core.models import AuditEntry, OutboxMessage, OutboxStatus
from podium.core.services.periodic import start_periodic
from podium.server.cli import app
from tests.dispatching import dispatching, eventually, outbox_rows, settings_from


SEEDS = [(status, age) for status in ("DELIVERED", "PENDING", "DEAD") for age in (40, 2)]


async def _seed(sessions) -> None:
    """Per status, one row delivered (or made) 40 days ago and one 2 days ago, pending ones due tomorrow
    (so no dispatcher touches them); an audit entry older than any retention."""
    now = utc_now()
    async with sessions() as db:
        for n, (status, age) in enumerate(SEEDS):
            when = now - timedelta(days=age)
            db.add(OutboxMessage(kind="plugin_event", topic="session.scheduled", target="x", payload={},
                                 idempotency_key=f"seed-{n}", status=OutboxStatus(status), attempts=1,
                                 created_at=when, deliver_after=now + timedelta(days=1),
                                 delivered_at=when if status == "DELIVERED" else None))
        db.add(AuditEntry(at=now - timedelta(days=400), actor="system:test", action="outbox.retry",
                          target_type="OutboxMessage", target_id=1))
        await db.commit()


async def _left(sessions) -> tuple[list[tuple[str, str]], int]:
    rows = await outbox_rows(sessions)
    async with sessions() as db:
        audit = await db.scalar(select(func.count()).select_from(AuditEntry))
    return sorted((m.status.value, m.idempotency_key) for m in rows), audit


EXPECTED = sorted([("DELIVERED", "seed-1"), ("PENDING", "seed-2"), ("PENDING", "seed-3"),
                   ("DEAD", "seed-4"), ("DEAD", "seed-5")])


async def test_the_periodic_prune_job_prunes_delivered_rows_past_retention(sessions):
    await _seed(sessions)
    settings = settings_from({"PODIUM_PLUGINS": ""}, plugins=())
    async with dispatching(sessions, settings) as dispatcher:
        await start_periodic(sessions, settings, dispatcher.plugins)
        dispatcher.wake()
        await eventually(lambda: _gone(sessions, "seed-0"), what="the old delivered row pruned")
    left, audit = await _left(sessions)
    assert ([row for row in left if row[1].startswith("seed-")], audit) == (EXPECTED, 1)


async def _gone(sessions, key: str) -> bool:
    return not await outbox_rows(sessions, idempotency_key=key)


def test_podium_outbox_prune_keeps_the_retention_window(database_url):
    from podium.core.db import create_engine, create_sessionmaker

    async def run(action):
        engine = create_engine(database_url)
        try:
            return await action(create_sessionmaker(engine))
        finally:
            await engine.dispose()

    asyncio.run(run(_seed))
    result = CliRunner().invoke(app, ["outbox", "prune"], env={"PODIUM_DATABASE_URL": database_url,
                                                               "PODIUM_OUTBOX_RETENTION_DAYS": "30"})
    assert result.exit_code == 0, result.output
    assert "1 delivered message(s) older than 30 days pruned" in result.output
    assert asyncio.run(run(_left)) == (EXPECTED, 1)
    short = CliRunner().invoke(app, ["outbox", "prune"], env={"PODIUM_DATABASE_URL": database_url,
                                                              "PODIUM_OUTBOX_RETENTION_DAYS": "1"})
    assert "1 delivered message(s) older than 1 days pruned" in short.output
    assert asyncio.run(run(_left)) == ([e for e in EXPECTED if e[0] != "DELIVERED"], 1)
