"""Venues and rooms from a paged JSON feed (or a file): re-imports update instead of duplicating."""
from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from podium.core.models import AuditEntry, Resource, ResourceKind, Venue
from podium.core.plugin_settings import PluginSettingsError
from podium.core.providers import VenueSource
from podium.core.services import venue_sync
from podium.core.settings import Settings
from podium.plugins import venues as venues_plugin
from podium.plugins.venues.client import VenueFeedError
from podium.plugins.venues.config import VenuesConfig
from podium.plugins.venues.provider import VenueFeedSource, parse_venues
from tests.builders import ADMIN
from tests.dispatching import plugin_context
from tests.plugins.venues.fake_venue_system import FEED_TOKEN, FakeVenueSystem


def feed_source(fake: FakeVenueSystem, token: str = FEED_TOKEN) -> VenueFeedSource:
    return VenueFeedSource(VenuesConfig(feed=f"{fake.url}/api/v1/venues", feed_token=token))


def five_venues(fake: FakeVenueSystem) -> list[dict]:
    return [
        {"id": "lon", "name": "London HQ", "address": "1 Fleet Street", "timezone": "Europe/London", "rooms": [
            {"id": "lon-thames", "name": "Thames", "capacity": 24, "equipment": ["projector", "whiteboard"],
             "calendarUrl": fake.calendar_url("thames")},
            {"id": "lon-severn", "name": "Severn", "capacity": 8}]},
        {"id": "man", "name": "Manchester", "timezone": "Europe/London",
         "rooms": [{"id": "man-irwell", "name": "Irwell", "capacity": 12}]},
        {"id": "nyc", "name": "New York", "address": "5 Hudson Yards", "timezone": "America/New_York",
         "rooms": [{"id": "nyc-1", "name": "Liberty", "capacity": 30, "equipment": ["video bar"]}]},
        {"id": "chi", "name": "Chicago", "timezone": "America/Chicago",
         "rooms": [{"id": "chi-1", "name": "Loop", "capacity": 16}]},
        {"id": 42, "name": "Remote studio", "timezone": "Europe/Berlin", "rooms": []},
    ]


async def _import(sessions, source: VenueFeedSource, **kw):
    return await venue_sync.import_venues(sessions, ADMIN, source.name, await source.venues(), **kw)


async def _rooms(sessions) -> dict[str, Resource]:
    async with sessions() as db:
        rows = (await db.scalars(select(Resource).where(Resource.kind == ResourceKind.ROOM))).all()
        return {r.external_id: r for r in rows}


async def test_imports_every_page_of_the_feed_and_a_reimport_updates_in_place(sessions, rooms_system):
    rooms_system.venues = five_venues(rooms_system)
    seen = []
    report = await _import(sessions, feed_source(rooms_system), progress=lambda v: seen.append(v.external_id))

    assert seen == ["lon", "man", "nyc", "chi", "42"]            # three pages: body `next`, then a Link header
    assert (report.venues_created, report.rooms_created, report.refused) == (5, 5, [])
    rooms = await _rooms(sessions)
    thames = rooms["lon-thames"]
    assert (thames.name, thames.capacity, thames.features, thames.timezone, thames.source) == (
        "Thames", 24, ["projector", "whiteboard"], "Europe/London", "venues")
    assert thames.calendar_url == rooms_system.calendar_url("thames")
    assert rooms["nyc-1"].timezone == "America/New_York"

    rooms_system.venues[0]["address"] = "2 Fleet Street"
    rooms_system.venues[0]["rooms"][0].update(capacity=30, name="Thames (refurbished)", equipment=["projector"])
    rooms_system.venues[1]["rooms"].append({"id": "man-mersey", "name": "Mersey", "capacity": 6})
    report = await _import(sessions, feed_source(rooms_system))

    assert (report.venues_created, report.venues_updated, report.venues_unchanged) == (0, 1, 4)
    assert (report.rooms_created, report.rooms_updated, report.rooms_unchanged) == (1, 1, 4)
    async with sessions() as db:
        assert await db.scalar(select(func.count()).select_from(Venue)) == 5
        assert await db.scalar(select(func.count()).select_from(Resource)) == 6
        london = await db.scalar(select(Venue).where(Venue.external_id == "lon"))
        assert london.address == "2 Fleet Street"
        actions = (await db.scalars(select(AuditEntry.action).order_by(AuditEntry.id))).all()
    thames = (await _rooms(sessions))["lon-thames"]
    assert (thames.name, thames.capacity, thames.features, thames.venue_id) == (
        "Thames (refurbished)", 30, ["projector"], london.id)
    assert actions[-3:] == ["venue.update", "resource.update", "resource.create"]   # one entry per real change


async def test_a_venue_podium_refuses_is_reported_and_the_others_still_go_in(sessions, rooms_system):
    rooms_system.venues = five_venues(rooms_system)
    rooms_system.venues[1]["timezone"] = "Mars/Olympus_Mons"
    report = await _import(sessions, feed_source(rooms_system))
    assert report.venues_created == 4
    assert report.refused == [("man", "'Mars/Olympus_Mons' is not an IANA timezone such as Europe/Berlin.")]
    assert "man-irwell" not in await _rooms(sessions)


async def test_a_wrong_token_or_a_failing_feed_is_a_clear_error_and_imports_nothing(sessions, rooms_system):
    rooms_system.venues = five_venues(rooms_system)
    with pytest.raises(VenueFeedError, match=r"refused access \(HTTP 401\)"):
        await feed_source(rooms_system, token="stale").venues()
    rooms_system.fail_with = 503
    with pytest.raises(VenueFeedError, match=r"answered HTTP 503"):
        await feed_source(rooms_system).venues()
    with pytest.raises(VenueFeedError, match="No venue feed is set"):
        await VenueFeedSource(VenuesConfig()).venues()
    assert await _rooms(sessions) == {}


async def test_venues_come_from_a_file_too(sessions, tmp_path, rooms_system):
    path = tmp_path / "venues.json"
    path.write_text(json.dumps({"venues": five_venues(rooms_system)[:2]}))
    source = VenueFeedSource(VenuesConfig())
    records = await source.read_venues(str(path))
    assert [v.external_id for v in records] == ["lon", "man"]
    report = await venue_sync.import_venues(sessions, ADMIN, source.name, records)
    assert (report.venues_created, report.rooms_created) == (2, 3)
    path.write_text("{not json")
    with pytest.raises(VenueFeedError, match="is not JSON"):
        await source.read_venues(str(path))
    with pytest.raises(VenueFeedError, match="no venue file"):
        await source.read_venues(str(tmp_path / "missing.json"))


@pytest.mark.parametrize(("feed", "complaint"), [
    ({"venues": [{"name": "No id", "timezone": "UTC"}]}, r"venues\[0\]\.id must be a non-empty string"),
    ({"venues": [{"id": "a", "name": "A", "timezone": "UTC", "rooms": [{"id": "r", "name": "R", "capacity": 0}]}]},
     r"venues\[0\]\.rooms\[0\]\.capacity must be a whole number of at least 1"),
    ({"venues": [{"id": "a", "name": "A", "timezone": "UTC", "rooms": [
        {"id": "r", "name": "R", "capacity": 3, "equipment": "projector"}]}]}, r"equipment must be a list"),
    ({"venues": [{"id": "a", "name": "A", "timezone": "UTC"}, {"id": "a", "name": "B", "timezone": "UTC"}]},
     "venue id 'a' more than once"),
    ({"rooms": []}, "has no `venues` list"),
])
def test_a_malformed_feed_names_the_offending_field(feed, complaint):
    with pytest.raises(VenueFeedError, match=complaint):
        parse_venues([feed])


def test_the_plugin_offers_its_venue_source_with_its_settings():
    settings = Settings.from_env({"PODIUM_VENUES_FEED": "/srv/venues.json", "PODIUM_VENUES_FEED_TOKEN": "s3cret",
                                  "PODIUM_VENUES_REFRESH_MINUTES": "5"})
    [source] = venues_plugin.podium_venue_sources(context=plugin_context(settings, "venues"))
    assert source.name == "venues" and isinstance(source, VenueSource)
    assert (source.config.feed, source.refresh_minutes, source.horizon_days) == ("/srv/venues.json", 5, 180)
    assert "s3cret" not in repr(source.config)
    bare = plugin_context(Settings.from_env({}), "venues")
    [unconfigured] = venues_plugin.podium_venue_sources(context=bare)   # calendars need no feed
    assert unconfigured.config.feed is None
    for env, complaint in (({"PODIUM_VENUES_HORIZON_DAYS": "forever"}, "PODIUM_VENUES_HORIZON_DAYS"),
                           ({"PODIUM_VENUES_REFRESH_MINUTES": "0"}, "between 1 and 1440")):
        with pytest.raises(PluginSettingsError, match=complaint):
            venues_plugin.podium_venue_sources(context=plugin_context(Settings.from_env(env), "venues"))
