"""`podium plan FILE.json` as an operator runs it, on both databases: a generated instance's requests in a
file, the plan printed and applied; a bad file and an impossible request exit non-zero with the reason."""
from __future__ import annotations

import asyncio
import json

from sqlalchemy import func, select
from typer.testing import CliRunner

from podium.core.models import SchedulePlan, Session
from podium.core.planning.generate import generate
from podium.server.cli import app
from tests.planning.world import requests, store


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


async def test_podium_plan_prints_stores_and_applies_a_plan(database_url, sessions, monkeypatch, tmp_path):
    monkeypatch.setenv("PODIUM_DATABASE_URL", database_url)
    instance = generate(4, sessions=5, instructors=4, rooms=3, venues=3, weeks=3)
    await store(sessions, instance)
    file = tmp_path / "term.json"
    file.write_text(json.dumps(as_json(instance)))
    done = await invoke("plan", str(file), "--time-limit", "5", "--apply")
    assert done.exit_code == 0, done.output
    assert "5 session(s) placed, 0 unplaced" in done.output and "applied: 5 session(s) created" in done.output
    async with sessions() as db:
        assert await db.scalar(select(func.count()).select_from(Session)) == 5
        assert (await db.scalar(select(SchedulePlan))).applied_at is not None


async def test_podium_plan_says_why_and_exits_non_zero(database_url, sessions, monkeypatch, tmp_path):
    monkeypatch.setenv("PODIUM_DATABASE_URL", database_url)
    instance = generate(5, sessions=2, instructors=3, rooms=2, venues=2, weeks=3)
    await store(sessions, instance)
    data = as_json(instance)
    data["requests"][0]["capacity"] = 500
    data["requests"][0]["deliveryMode"] = "IN_PERSON"
    file = tmp_path / "term.json"
    file.write_text(json.dumps(data))
    done = await invoke("plan", str(file), "--time-limit", "3")
    assert done.exit_code == 1
    assert "unplaced: request 0" in done.output and "seats 500" in done.output
    (tmp_path / "bad.json").write_text("{\"requests\": [{\"count\": 1}]}")
    bad = await invoke("plan", str(tmp_path / "bad.json"))
    assert bad.exit_code == 2 and "malformed" in bad.output
    over = await invoke("plan", str(file), "--time-limit", "61")
    assert over.exit_code == 2 and "timeLimitSeconds" in over.output
