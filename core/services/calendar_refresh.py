"""Room calendars re-read on a schedule, through the outbox.

The periodic job `room_calendars` (services/periodic.py: each tick once across all processes) queues,
in one transaction with its tick's run row, one plugin call per room with a calendar, keyed by room and
tick, so each room's read is timed out, leased and ordered on its own. Its interval is the venue
sources' `refresh_minutes` (the shortest, if several); with no venue source loaded it is off.
"""
from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from sqlalchemy import select

from ..audit import Actor
from ..db import changing
from ..instants import utc_now
from ..models import Resource
from ..outbox import QueuedMessage, call_plugin, plugin_call
from ..settings import Settings
from .periodic import Tick, periodic
from .venue_sync import refresh_room, rooms_to_read

log = logging.getLogger("podium.calendar_refresh")

ROOM = "venue_calendars.room"
DEFAULT_REFRESH_MINUTES = 15
DEFAULT_HORIZON_DAYS = 180


def cadence(source: Any) -> tuple[int, int]:
    """A venue source may say how often and how far ahead its calendars are read."""
    return (int(getattr(source, "refresh_minutes", DEFAULT_REFRESH_MINUTES)),
            int(getattr(source, "horizon_days", DEFAULT_HORIZON_DAYS)))


def _sources(plugins: Any) -> list[tuple[str, Any]]:
    names = sorted(plugins.providers.get("venue_sources", {})) if plugins is not None else []
    return [(name, plugins.provider("venue_sources", name)) for name in names]


def refresh_every(_settings: Settings, plugins: Any) -> float | None:
    """Seconds between ticks: the shortest `refresh_minutes` of the loaded venue sources; None without one."""
    minutes = [cadence(source)[0] for _, source in _sources(plugins)]
    return 60.0 * min(minutes) if minutes else None


@periodic("room_calendars", setting="PODIUM_VENUES_REFRESH_MINUTES", every=refresh_every,
          does="one read per room with a calendar (or with busy times from one) is queued, "
               "each room's own outbox message")
async def queue_room_reads(tick: Tick) -> str:
    queued = 0
    async with tick.sessions() as db, changing(db):
        for name, source in _sources(tick.plugins):
            horizon = cadence(source)[1]
            for room_id, *_ in await rooms_to_read(db, name, tick.now):
                await call_plugin(db, provider=name, topic=ROOM, payload={"room_id": room_id, "horizon_days": horizon},
                                  idempotency_key=f"{ROOM}:{name}:{room_id}:{tick.due_at.isoformat()}",
                                  ordering_key=f"room:{room_id}")
                queued += 1
        summary = f"{queued} room calendar read(s) queued"
        await tick.finish(db, summary)
    return summary


@plugin_call("venue_calendars.tick")
async def _retired_tick(dispatcher, message: QueuedMessage) -> None:
    """A per-source tick planned before room calendars became the periodic job `room_calendars` (a database
    upgraded with one pending): delivered as done, so the old chain ends instead of failing until DEAD."""


@plugin_call(ROOM)
async def perform_room(dispatcher, message: QueuedMessage) -> None:
    """Refresh one room. A calendar that cannot be read is logged and left for the next tick (its last
    busy times stay): retrying sooner would only pile up reads of a calendar that is down."""
    source = dispatcher.plugins.provider("venue_sources", message.target)
    async with dispatcher.sessions() as db:
        room = (await db.execute(select(Resource.id, Resource.name, Resource.timezone, Resource.calendar_url)
                                 .where(Resource.id == message.payload["room_id"]))).first()
    if room is None:
        return
    now = utc_now()
    try:
        await refresh_room(dispatcher.sessions, Actor.system(f"plugin:{message.target}"), source, tuple(room), now,
                           now + timedelta(days=message.payload["horizon_days"]))
    except Exception as exc:  # the outside calendar is down or wrong: keep what we knew
        log.warning("room %s (%s): calendar not read: %s", room.id, room.name, exc)
