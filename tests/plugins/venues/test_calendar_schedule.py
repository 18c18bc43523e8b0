"""Room calendars re-read on a schedule (the periodic job `room_calendars`), by the real dispatcher."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select, update

from podium.core.db import changing
from podium.core.instants import utc_now
from podium.core.models import Booking, OutboxMessage, OutboxStatus, PeriodicRun, Resource
from podium.core.services import calendar_refresh, periodic, venue_sync
from tests.builders import ADMIN
from tests.dispatching import dispatching, eventually, outbox_rows, settings_from
from tests.plugins.venues.fake_venue_system import FEED_TOKEN, calendar, event
from tests.plugins.venues.test_room_calendars import next_monday_at, source_for


async def _external(sessions, room_id: int) -> list[str]:
    async with sessions() as db:
        return list((await db.scalars(select(Booking.summary).where(
            Booking.resource_id == room_id, Booking.session_id.is_(None)).order_by(Booking.starts_at))).all())


async def _pending_ticks(sessions) -> list[OutboxMessage]:
    async with sessions() as db:
        return list((await db.scalars(select(OutboxMessage).where(
            OutboxMessage.topic == "periodic.room_calendars", OutboxMessage.status == OutboxStatus.PENDING))).all())


async def _summaries(sessions) -> list[str]:
    async with sessions() as db:
        return list((await db.scalars(select(PeriodicRun.summary).where(
            PeriodicRun.job == "room_calendars", PeriodicRun.finished_at.is_not(None))
            .order_by(PeriodicRun.due_at))).all())


async def test_room_calendars_are_reread_every_refresh_interval(sessions, rooms_system):
    first = next_monday_at(10)
    rooms_system.calendars["thames"] = calendar(event("a@x", first, 60, "Induction"))
    rooms_system.venues = [{"id": "lon", "name": "London HQ", "timezone": "Europe/London", "rooms": [
        {"id": "lon-thames", "name": "Thames", "capacity": 24, "calendarUrl": rooms_system.calendar_url("thames")},
        {"id": "lon-severn", "name": "Severn", "capacity": 8}]}]
    source = source_for(rooms_system)
    await venue_sync.import_venues(sessions, ADMIN, source.name, await source.venues())
    async with sessions() as db:
        room_id = await db.scalar(select(Resource.id).where(Resource.external_id == "lon-thames"))
    settings = settings_from({"PODIUM_PLUGINS": "venues", "PODIUM_VENUES_FEED_TOKEN": FEED_TOKEN,
                              "PODIUM_VENUES_REFRESH_MINUTES": "30", "PODIUM_VENUES_HORIZON_DAYS": "60"})

    async with dispatching(sessions, settings) as dispatcher:
        assert calendar_refresh.refresh_every(settings, dispatcher.plugins) == 1800
        assert "room_calendars" in await periodic.start_periodic(sessions, settings, dispatcher.plugins)
        assert "room_calendars" in await periodic.start_periodic(sessions, settings, dispatcher.plugins)  # no double
        dispatcher.wake()
        await eventually(lambda: _external(sessions, room_id), what="the first read of the room calendar")
        assert await _external(sessions, room_id) == ["Induction"]

        [following] = await eventually(lambda: _pending_ticks(sessions), what="the next tick")
        slot = periodic.slot_of(utc_now(), 1800)
        assert following.deliver_after == periodic.slot_start(slot + 1, 1800)        # the next half hour
        assert following.payload["every"] == 1800 and following.payload["slot"] == slot + 1
        assert rooms_system.calendar_reads == 1                                      # Severn has no calendar
        assert await _summaries(sessions) == ["1 room calendar read(s) queued"]

        rooms_system.calendars["thames"] = calendar(event("a@x", first, 60, "Induction"),
                                                    event("b@x", first + timedelta(days=1), 60, "Board"))
        async with sessions() as db, changing(db):                                   # half an hour passes
            await db.execute(update(OutboxMessage).where(OutboxMessage.id == following.id)
                             .values(deliver_after=utc_now()))
        dispatcher.wake()
        await eventually(lambda: _count_is(sessions, room_id, 2), what="the second read")
        assert await _external(sessions, room_id) == ["Induction", "Board"]
        assert rooms_system.calendar_reads == 2


async def _count_is(sessions, room_id: int, expected: int) -> bool:
    async with sessions() as db:
        return await db.scalar(select(func.count()).select_from(Booking).where(
            Booking.resource_id == room_id, Booking.session_id.is_(None))) == expected


async def test_without_room_calendars_a_tick_reads_nothing(sessions):
    settings = settings_from({"PODIUM_PLUGINS": "venues"})
    async with dispatching(sessions, settings) as dispatcher:
        assert "room_calendars" in await periodic.start_periodic(sessions, settings, dispatcher.plugins)
        dispatcher.wake()
        await eventually(lambda: _summaries(sessions), what="the first tick")
    assert await _summaries(sessions) == ["0 room calendar read(s) queued"]
    assert [m for m in await outbox_rows(sessions, kind="plugin_call") if m.topic == calendar_refresh.ROOM] == []


async def test_without_a_venue_source_there_are_no_ticks(sessions):
    settings = settings_from({"PODIUM_PLUGINS": ""}, plugins=())
    async with dispatching(sessions, settings) as dispatcher:
        assert calendar_refresh.refresh_every(settings, dispatcher.plugins) is None
        assert "room_calendars" not in await periodic.start_periodic(sessions, settings, dispatcher.plugins)
    assert await _pending_ticks(sessions) == []
