"""`podium venues import` and `podium venues refresh`, end to end against the fake room system."""
from __future__ import annotations

import asyncio
import json

from sqlalchemy import func, select
from typer.testing import CliRunner

from podium.core.models import Booking, Venue
from podium.server.cli import app
from tests.plugins.venues.fake_venue_system import FEED_TOKEN, calendar, event
from tests.plugins.venues.test_room_calendars import next_monday_at


async def _count(sessions, table, *where) -> int:
    async with sessions() as db:
        return await db.scalar(select(func.count()).select_from(table).where(*where))


def invoke(*args: str):
    """The command runs its own event loop, so it runs in a thread beside the tests' loop."""
    return asyncio.to_thread(CliRunner().invoke, app, list(args))


async def test_import_from_a_feed_then_from_a_file_then_refresh_calendars(database_url, sessions, rooms_system, tmp_path,
                                                                          monkeypatch):
    monkeypatch.setenv("PODIUM_DATABASE_URL", database_url)
    monkeypatch.setenv("PODIUM_VENUES_FEED_TOKEN", FEED_TOKEN)
    monkeypatch.setenv("PODIUM_PLUGINS", "venues")
    rooms_system.venues = [
        {"id": "lon", "name": "London HQ", "timezone": "Europe/London", "rooms": [
            {"id": "thames", "name": "Thames", "capacity": 24, "calendarUrl": rooms_system.calendar_url("thames")}]},
        {"id": "man", "name": "Manchester", "timezone": "Europe/London", "rooms": []},
        {"id": "nyc", "name": "New York", "timezone": "Mars/Base", "rooms": []},
    ]
    result = await invoke("venues", "import", f"{rooms_system.url}/api/v1/venues")
    assert result.exit_code == 1, result.output
    assert "venues: 2 created, 0 updated, 0 unchanged; rooms: 1 created" in result.output
    assert "refused venue nyc: 'Mars/Base' is not an IANA timezone" in result.output

    feed_file = tmp_path / "venues.json"
    feed_file.write_text(json.dumps({"venues": rooms_system.venues[:2]}))
    result = await invoke("venues", "import", str(feed_file))
    assert result.exit_code == 0, result.output
    assert "venues: 0 created, 0 updated, 2 unchanged; rooms: 0 created, 0 updated, 1 unchanged" in result.output
    assert await _count(sessions, Venue) == 2

    first = next_monday_at(10)
    rooms_system.calendars["thames"] = calendar(event("w@x", first, 60, "Weekly", "RRULE:FREQ=WEEKLY;COUNT=3"))
    result = await invoke("venues", "refresh")
    assert result.exit_code == 0, result.output
    assert "room calendars read: 1; busy times added 3, moved 0, removed 0" in result.output
    assert await _count(sessions, Booking, Booking.session_id.is_(None), Booking.source == "venues") == 3

    result = await invoke("venues", "import", str(tmp_path / "nope.json"))
    assert result.exit_code == 1 and "nothing imported: There is no venue file" in result.output
