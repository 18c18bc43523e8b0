"""`podium plan FILE.json` as an operator runs it (on SQLite: the command's own path; the services under it
are tested on both databases): a generated instance's requests in a file, the plan printed and applied; a
bad file and an impossible request exit non-zero with the reason."""
from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path

import pytest

from sqlalchemy import func, select
from typer.testing import CliRunner

from podium.core.db import create_engine, create_sessionmaker
from podium.core.models import SchedulePlan, Session
from podium.core.planning.generate import generate
from podium.server.cli import app
from tests.planning.world import requests, store


@pytest.fixture
async def sqlite(template_databases, tmp_path, monkeypatch):
    """A clean migrated SQLite database, the command's PODIUM_DATABASE_URL; yields its sessions."""
    target = tmp_path / "podium.db"
    shutil.copy(Path(template_databases["sqlite"].split("///", 1)[1]), target)
    url = f"sqlite+aiosqlite:///{target}"
    monkeypatch.setenv("PODIUM_DATABASE_URL", url)
    engine = create_engine(url)
    yield create_sessionmaker(engine)
    await engine.dispose()


def invoke(*args: str):
    """The command runs its own event loop, so it runs in a thread beside the tests' loop."""
    return asyncio.to_thread(CliRunner().invoke, app, list(args))


def as_json(instance, **extra) -> dict:
    out = []
    for r in requests(instance):
        out.append({"courseId": r.course_id, "count": r.count, "deliveryMode": r.delivery_mode,
                    "capacity": r.capacity, "timezone": r.timezone, "venueIds": list(r.venue_ids),
                    "learnerIds": list(r.learner_ids), "roomFeatures": list(r.room_features),
                    "window": {"from": r.window_from.isoformat(), "to": r.window_to.isoformat()},
                    "parts": [{"day": p.day, "startsAt": p.starts_at, "endsAt": p.ends_at,
                               "durationMinutes": p.duration_minutes} for p in r.parts]})
    return {"requests": out, **extra}


async def test_podium_plan_prints_stores_and_applies_a_plan_or_says_why_not(sqlite, tmp_path):
    sessions = sqlite
    instance = generate(4, sessions=5, instructors=4, rooms=3, venues=3, weeks=3)
    await store(sessions, instance)
    data = as_json(instance)
    impossible = {**data["requests"][0], "capacity": 500, "deliveryMode": "IN_PERSON"}
    (tmp_path / "impossible.json").write_text(json.dumps({"requests": [impossible]}))
    refused = await invoke("plan", str(tmp_path / "impossible.json"), "--time-limit", "3")
    assert refused.exit_code == 1
    assert "unplaced: request 0" in refused.output and "seats 500" in refused.output
    file = tmp_path / "term.json"
    file.write_text(json.dumps(data))
    done = await invoke("plan", str(file), "--time-limit", "5", "--apply")
    assert done.exit_code == 0, done.output
    assert "5 session(s) placed, 0 unplaced" in done.output and "applied: 5 session(s) created" in done.output
    async with sessions() as db:
        assert await db.scalar(select(func.count()).select_from(Session)) == 5
        plans = (await db.scalars(select(SchedulePlan).order_by(SchedulePlan.id))).all()
        assert [p.applied_at is not None for p in plans] == [False, True]
    (tmp_path / "bad.json").write_text("{\"requests\": [{\"count\": 1}]}")
    bad = await invoke("plan", str(tmp_path / "bad.json"))
    assert bad.exit_code == 2 and "malformed" in bad.output
    over = await invoke("plan", str(file), "--time-limit", "61")
    assert over.exit_code == 2 and "timeLimitSeconds" in over.output
