"""Venues, rooms and the rooms' outside busy times, kept in step with a venue source (a plugin).

Re-imports are keyed by (source, external id), so they update instead of duplicating. A room's busy
times from an outside calendar are Booking rows without a session; `find_clashes` counts them.
"""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import and_, delete, exists, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ..audit import Actor, record_change
from ..db import changing
from ..errors import DomainError, ErrorCode
from ..instants import require_aware, utc_now
from ..models import Booking, BookingRole, Resource, ResourceKind, Venue
from ..providers import BusyTime, VenueRecord, VenueSource
from . import catalogue

log = logging.getLogger("podium.venue_sync")
MAX_UID = 400
READS_AT_ONCE = 8          # room calendars refreshed concurrently


# --- venues and rooms --------------------------------------------------------------------

@dataclass
class VenueImport:
    """What one venue's import did: `venue` is "created", "updated" or "unchanged"."""

    venue_id: int
    venue: str
    rooms_created: int = 0
    rooms_updated: int = 0
    rooms_unchanged: int = 0


def _changes(row: object, wanted: dict[str, object]) -> dict[str, object]:
    return {name: value for name, value in wanted.items() if getattr(row, name) != value}


async def import_venue(db: AsyncSession, actor: Actor, source: str, record: VenueRecord) -> VenueImport:
    """Create or update one venue and its rooms from an outside record, all or nothing."""
    venue = await db.scalar(select(Venue).where(Venue.source == source, Venue.external_id == record.external_id)
                            .with_for_update().execution_options(populate_existing=True))
    wanted = {"name": record.name, "address": record.address, "timezone": record.timezone}
    if venue is None:
        venue = await catalogue.create_venue(db, actor, source=source, external_id=record.external_id, **wanted)
        result = VenueImport(venue.id, "created")
    else:
        changes = _changes(venue, wanted)
        if changes:
            await catalogue.update_venue(db, actor, venue.id, **changes)
        result = VenueImport(venue.id, "updated" if changes else "unchanged")
    for room in record.rooms:
        existing = await db.scalar(select(Resource).where(Resource.source == source,
                                                          Resource.external_id == room.external_id)
                                   .with_for_update().execution_options(populate_existing=True))
        wanted = {"name": room.name, "capacity": room.capacity, "features": list(room.equipment),
                  "calendar_url": room.calendar_url, "venue_id": venue.id, "timezone": record.timezone}
        if existing is None:
            await catalogue.create_resource(db, actor, kind=ResourceKind.ROOM, source=source,
                                            external_id=room.external_id, **wanted)
            result.rooms_created += 1
            continue
        if existing.kind is not ResourceKind.ROOM:
            raise DomainError(ErrorCode.INVALID, f"{room.external_id!r} from {source!r} is a "
                              f"{existing.kind.value.lower()} in Podium, not a room.", "externalId")
        changes = _changes(existing, wanted)
        if changes:
            await catalogue.update_resource(db, actor, existing.id, **changes)
            result.rooms_updated += 1
        else:
            result.rooms_unchanged += 1
    return result


@dataclass
class ImportReport:
    venues_created: int = 0
    venues_updated: int = 0
    venues_unchanged: int = 0
    rooms_created: int = 0
    rooms_updated: int = 0
    rooms_unchanged: int = 0
    refused: list[tuple[str, str]] = field(default_factory=list)   # (venue external id, why)

    def add(self, done: VenueImport) -> None:
        setattr(self, f"venues_{done.venue}", getattr(self, f"venues_{done.venue}") + 1)
        self.rooms_created += done.rooms_created
        self.rooms_updated += done.rooms_updated
        self.rooms_unchanged += done.rooms_unchanged


async def import_venues(sessions: async_sessionmaker[AsyncSession], actor: Actor, source: str,
                        records: list[VenueRecord],
                        progress: Callable[[VenueRecord], None] | None = None) -> ImportReport:
    """Import each venue in its own transaction: a venue Podium refuses is reported, the others go in."""
    report = ImportReport()
    for record in records:
        try:
            async with sessions() as db, changing(db):
                done = await import_venue(db, actor, source, record)
        except DomainError as exc:
            report.refused.append((record.external_id, exc.message))
        else:
            report.add(done)
        if progress is not None:
            progress(record)
    return report


# --- busy times from room calendars -----------------------------------------------------------

@dataclass
class BusyTimeChange:
    added: int = 0
    moved: int = 0
    removed: int = 0
    unchanged: int = 0
    clashing_session_ids: list[int] = field(default_factory=list)


def _checked(busy: list[BusyTime]) -> dict[str, BusyTime]:
    by_uid: dict[str, BusyTime] = {}
    for item in busy:
        if not item.uid or len(item.uid) > MAX_UID:
            raise DomainError(ErrorCode.INVALID, f"A busy time needs a uid of 1 to {MAX_UID} characters.", "uid")
        starts_at, ends_at = require_aware(item.starts_at, "startsAt"), require_aware(item.ends_at, "endsAt")
        if ends_at <= starts_at:
            raise DomainError(ErrorCode.INVALID_TIME_RANGE, f"Busy time {item.uid!r} ends before it starts.", "endsAt")
        by_uid[item.uid] = BusyTime(item.uid, starts_at, ends_at, item.summary)
    return by_uid


async def replace_busy_times(db: AsyncSession, actor: Actor, room_id: int, source: str, busy: list[BusyTime],
                             window_from: datetime) -> BusyTimeChange:
    """Make the room's external bookings from `source` that end after `window_from` exactly `busy`.

    Past ones stay as history. Sessions already booked in a newly busy slot are reported, not moved:
    the outside calendar is the truth about its own bookings.
    """
    window_from = require_aware(window_from, "from")
    incoming = _checked(busy)
    room = await db.scalar(select(Resource).where(Resource.id == room_id).with_for_update()
                           .execution_options(populate_existing=True))
    if room is None:
        raise DomainError(ErrorCode.NOT_FOUND, "No room with that id.", "roomId")
    if room.kind is not ResourceKind.ROOM:
        raise DomainError(ErrorCode.INVALID, f"{room.name} is not a room.", "roomId")
    mine = and_(Booking.resource_id == room.id, Booking.source == source, Booking.session_id.is_(None))
    current = (await db.execute(  # plain rows: a busy room holds thousands, and most never change
        select(Booking.id, Booking.external_uid, Booking.starts_at, Booking.ends_at, Booking.summary, Booking.active)
        .where(mine, or_(Booking.ends_at > window_from, Booking.external_uid.in_(list(incoming)))))).all()
    stored = {row.external_uid: row for row in current}
    change = BusyTimeChange()
    fresh = []
    for uid, item in incoming.items():
        row = stored.get(uid)
        if row is None:
            fresh.append({"resource_id": room.id, "session_id": None, "role": BookingRole.ROOM,
                          "starts_at": item.starts_at, "ends_at": item.ends_at, "active": True, "source": source,
                          "external_uid": uid, "summary": item.summary})
        elif (row.starts_at, row.ends_at, row.summary, row.active) != (item.starts_at, item.ends_at, item.summary, True):
            await db.execute(update(Booking).where(Booking.id == row.id).values(
                starts_at=item.starts_at, ends_at=item.ends_at, summary=item.summary, active=True))
            change.moved += 1
        else:
            change.unchanged += 1
    if fresh:
        await db.execute(insert(Booking), fresh)
    change.added = len(fresh)
    gone = [row.id for row in current if row.external_uid not in incoming and row.ends_at > window_from]
    if gone:
        await db.execute(delete(Booking).where(Booking.id.in_(gone)))
    change.removed = len(gone)
    if not (change.added or change.moved or change.removed):
        return change
    await db.flush()
    change.clashing_session_ids = await _sessions_in(db, room.id, list(incoming.values()))
    record_change(db, actor, "room.busy_times.replace", "Resource", room.id,
                  {"source": source, "future_bookings": len(current)},
                  {"source": source, "future_bookings": len(incoming), "added": change.added, "moved": change.moved,
                   "removed": change.removed, "clashing_sessions": change.clashing_session_ids})
    return change


async def _sessions_in(db: AsyncSession, room_id: int, busy: list[BusyTime]) -> list[int]:
    """Podium sessions booked in the room at a time the outside calendar now says is taken."""
    if not busy:
        return []
    first, last = min(b.starts_at for b in busy), max(b.ends_at for b in busy)
    bookings = (await db.execute(select(Booking.session_id, Booking.starts_at, Booking.ends_at).where(
        Booking.resource_id == room_id, Booking.active, Booking.session_id.is_not(None),
        Booking.starts_at < last, Booking.ends_at > first))).all()
    return sorted({sid for sid, s, e in bookings if any(b.starts_at < e and b.ends_at > s for b in busy)})


async def rooms_to_read(db: AsyncSession, source_name: str, now: datetime) -> list[tuple[int, str, str, str | None]]:
    """(id, name, timezone, calendar URL) of the rooms a source serves: its own and those no source owns,
    with a calendar URL, or with future busy times from it (a removed URL clears them)."""
    has_future = exists().where(Booking.resource_id == Resource.id, Booking.source == source_name,
                                Booking.session_id.is_(None), Booking.ends_at > now)
    return [tuple(row) for row in (await db.execute(
        select(Resource.id, Resource.name, Resource.timezone, Resource.calendar_url).where(
            Resource.kind == ResourceKind.ROOM, or_(Resource.source == source_name, Resource.source.is_(None)),
            or_(Resource.calendar_url.is_not(None), has_future)).order_by(Resource.id))).all()]


@dataclass
class CalendarRefresh:
    rooms_read: int = 0
    added: int = 0
    moved: int = 0
    removed: int = 0
    failed: list[tuple[int, str]] = field(default_factory=list)        # (room id, why): busy times kept
    clashes: list[tuple[int, int]] = field(default_factory=list)       # (room id, session id)


async def refresh_room(sessions: async_sessionmaker[AsyncSession], actor: Actor, source: VenueSource,
                       room: tuple[int, str, str, str | None], now: datetime, until: datetime) -> BusyTimeChange:
    """Read one room's calendar (no URL: no busy times) outside any transaction, then replace its future
    busy times in one; raises what the source raises, leaving the last known busy times in place."""
    room_id, name, timezone, url = room
    busy = await source.busy_times(url, now, until, timezone=timezone) if url else []
    async with sessions() as db, changing(db):
        change = await replace_busy_times(db, actor, room_id, source.name, busy, now)
    for session_id in change.clashing_session_ids:
        log.warning("room %s (%s) is busy in its own calendar during session %s", room_id, name, session_id)
    return change


async def refresh_room_calendars(sessions: async_sessionmaker[AsyncSession], actor: Actor, source: VenueSource,
                                 horizon_days: int, now: datetime | None = None) -> CalendarRefresh:
    """Re-read every room calendar this source serves (`rooms_to_read`), a few at a time.

    A room whose calendar cannot be read keeps its last known busy times and is reported.
    """
    now = require_aware(now or utc_now(), "now")
    until = now + timedelta(days=horizon_days)
    async with sessions() as db:
        rooms = await rooms_to_read(db, source.name, now)
    gate = asyncio.Semaphore(READS_AT_ONCE)

    async def one(room: tuple[int, str, str, str | None]) -> BusyTimeChange | Exception:
        async with gate:
            try:
                return await refresh_room(sessions, actor, source, room, now, until)
            except Exception as exc:  # a plugin's failure never breaks the core: keep what we knew
                log.warning("room %s (%s): calendar not read: %s", room[0], room[1], exc)
                return exc

    report = CalendarRefresh()
    for room, change in zip(rooms, await asyncio.gather(*(one(room) for room in rooms))):
        if isinstance(change, Exception):
            why = change.message if isinstance(change, DomainError) else str(change) or type(change).__name__
            report.failed.append((room[0], why))
            continue
        report.rooms_read += 1
        report.added += change.added
        report.moved += change.moved
        report.removed += change.removed
        report.clashes += [(room[0], session_id) for session_id in change.clashing_session_ids]
    return report
