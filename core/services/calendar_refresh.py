"""Room calendars re-read on a schedule, through the outbox.

Every `refresh_minutes` a tick per venue source (a plugin call) fans out one plugin call per room and
plans the next tick, so each room's read is timed out, leased and ordered on its own. Ticks are keyed
by their time slot: every process may plan the current one at start-up, and it still runs once.
"""
from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from ..audit import Actor
from ..db import changing
from ..instants import UTC, utc_now
from ..models import Resource
from ..outbox import QueuedMessage, call_plugin, plugin_call
from .venue_sync import refresh_room, rooms_to_read

log = logging.getLogger("podium.calendar_refresh")

TICK = "venue_calendars.tick"
ROOM = "venue_calendars.room"
DEFAULT_REFRESH_MINUTES = 15
DEFAULT_HORIZON_DAYS = 180


def cadence(source: Any) -> tuple[int, int]:
    """A venue source may say how often and how far ahead its calendars are read."""
    return (int(getattr(source, "refresh_minutes", DEFAULT_REFRESH_MINUTES)),
            int(getattr(source, "horizon_days", DEFAULT_HORIZON_DAYS)))


def slot_of(moment: datetime, minutes: int) -> int:
    return int(moment.timestamp() // (minutes * 60))


def slot_start(slot: int, minutes: int) -> datetime:
    return datetime.fromtimestamp(slot * minutes * 60, UTC)


async def plan_tick(db, source_name: str, minutes: int, horizon_days: int, slot: int) -> None:
    await call_plugin(db, provider=source_name, topic=TICK,
                      payload={"minutes": minutes, "horizon_days": horizon_days, "slot": slot},
                      idempotency_key=f"{TICK}:{source_name}:{minutes}:{slot}",
                      deliver_after=slot_start(slot, minutes))


async def start_calendar_refresh(sessions, plugins, now: datetime | None = None) -> list[str]:
    """Plan the current tick of every loaded venue source that has rooms to read; returns their names.

    `podium serve`, `podium worker` and `podium venues import` call it, so a chain starts with the
    first room calendar and survives restarts; a site without room calendars gets no ticks.
    """
    now = now or utc_now()
    planned = []
    async with sessions() as db, changing(db):
        for name in sorted(plugins.providers["venue_sources"]):
            if not await rooms_to_read(db, name, now):
                continue
            minutes, horizon = cadence(plugins.provider("venue_sources", name))
            await plan_tick(db, name, minutes, horizon, slot_of(now, minutes))
            planned.append(name)
    return planned


@plugin_call(TICK)
async def perform_tick(dispatcher, message: QueuedMessage) -> None:
    """One plugin call per room, then the next tick; a tick from older settings ends its chain."""
    source = dispatcher.plugins.provider("venue_sources", message.target)
    minutes, horizon = message.payload["minutes"], message.payload["horizon_days"]
    if cadence(source) != (minutes, horizon):
        return  # the settings changed: start-up planned a chain with the new ones
    now = utc_now()
    slot = message.payload["slot"]
    async with dispatcher.sessions() as db, changing(db):
        for room_id, *_ in await rooms_to_read(db, message.target, now):
            await call_plugin(db, provider=message.target, topic=ROOM,
                              payload={"room_id": room_id, "horizon_days": horizon},
                              idempotency_key=f"{ROOM}:{message.target}:{room_id}:{minutes}:{slot}",
                              ordering_key=f"room:{room_id}")
        await plan_tick(db, message.target, minutes, horizon, max(slot + 1, slot_of(now, minutes) + 1))


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
