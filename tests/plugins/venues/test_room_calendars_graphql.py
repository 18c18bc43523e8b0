"""Through the public API: a room's outside weekly booking refuses `scheduleSession` and shows in `bookings`."""
from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from sqlalchemy import select

from podium.core.ids import to_global_id
from podium.core.models import Resource
from podium.core.services import venue_sync
from podium.core.settings import Settings
from podium.server.app import create_app
from tests import builders as b
from tests.builders import ADMIN
from tests.plugins.venues.fake_venue_system import calendar
from tests.plugins.venues.test_room_calendars import next_monday_at, source_for, utc, weekly_standup

TOKEN = "venues-admin-token-0123456789abcdefgh"
SCHEDULE = """mutation($i: ScheduleSessionInput!) { scheduleSession(input: $i) {
  session { id } errors { code field message } conflicts { resource { id name } startsAt endsAt } } }"""
BOOKINGS = """query($id: ID!, $from: DateTime!, $to: DateTime!) { node(id: $id) { ... on Resource {
  bookings(from: $from, to: $to) { role startsAt endsAt session { id } } } } }"""


@pytest.fixture
async def api(database_url):
    app = create_app(Settings(database_url=database_url, admin_token=TOKEN))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://podium.test",
                                 headers={"Authorization": f"Bearer {TOKEN}"}) as client:
        async def call(query: str, variables: dict) -> dict:
            response = await client.post("/graphql", json={"query": query, "variables": variables})
            assert response.status_code == 200, response.text
            body = response.json()
            assert "errors" not in body, body
            return body["data"]
        yield call
    await app.state.podium.engine.dispose()


async def test_schedule_session_through_graphql_is_refused_in_a_slot_the_room_calendar_holds(sessions, rooms_system, api):
    first = next_monday_at(10)
    rooms_system.calendars["thames"] = calendar(weekly_standup(first))
    rooms_system.venues = [{"id": "lon", "name": "London HQ", "timezone": "Europe/London", "rooms": [
        {"id": "lon-thames", "name": "Thames", "capacity": 24, "calendarUrl": rooms_system.calendar_url("thames")}]}]
    source = source_for(rooms_system)
    await venue_sync.import_venues(sessions, ADMIN, source.name, await source.venues())
    await venue_sync.refresh_room_calendars(sessions, ADMIN, source, horizon_days=90)
    async with sessions() as db:
        room = to_global_id("Resource", await db.scalar(select(Resource.id).where(Resource.external_id == "lon-thames")))
    course, lead = await b.course(sessions), await b.instructor(sessions)

    fourth = first + timedelta(weeks=3)
    starts = utc(fourth + timedelta(minutes=90))
    payload = (await api(SCHEDULE, {"i": {
        "courseId": to_global_id("Course", course.id), "instructorIds": [to_global_id("Resource", lead.id)],
        "roomId": room, "deliveryMode": "IN_PERSON", "timezone": "Europe/London",
        "startsAt": starts.isoformat(), "endsAt": (starts + timedelta(hours=1)).isoformat()}}))["scheduleSession"]
    assert payload["session"] is None
    assert [e["code"] for e in payload["errors"]] == ["RESOURCE_CONFLICT"]
    assert [(c["resource"]["id"], c["resource"]["name"]) for c in payload["conflicts"]] == [(room, "Thames")]
    assert payload["conflicts"][0]["startsAt"].replace("Z", "+00:00") == utc(fourth).isoformat()

    shown = (await api(BOOKINGS, {"id": room, "from": utc(fourth).isoformat(),
                                  "to": utc(fourth + timedelta(days=1)).isoformat()}))["node"]["bookings"]
    assert shown == [{"role": "ROOM", "startsAt": payload["conflicts"][0]["startsAt"],
                      "endsAt": payload["conflicts"][0]["endsAt"], "session": None}]
