"""Travel time between venues (rule 2b): the minutes an instructor needs to get from one venue to another,
the same either way, and the rule that keeps them free for it.

A pair of venues has a travel time when staff set one (`set_travel_time`); no row means none (0), so
nothing changes until one is set. `travel_clashes` is the rule, called by scheduling's conflict check
(`scheduling.check_parts`) for every schedule, reschedule, series and multi-part session, under the same
resource locks: between an instructor's booking of an in-person (or hybrid) part at one venue and a
booking of theirs at another, the gap (their booked intervals, buffers included) must be at least the
travel time. Virtual parts, and rooms in no venue, need no travel. The free-slot search
(`free_slots.find_slots`) keeps the same gaps when the rooms it may use are in a venue.

`load_travel_minutes` is the plain data other planners read (the CP-SAT planner among them): every pair
among the given venues, in both orders.
"""
from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import and_, delete, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from ..audit import Actor, record_change
from ..errors import Clash, DomainError, ErrorCode
from ..events import emit
from ..ids import to_global_id
from ..models import Booking, BookingRole, DeliveryMode, Resource, ResourceKind, Session, Venue, VenueTravel

MAX_TRAVEL_MINUTES = 24 * 60
"""The longest travel time between two venues: a day."""

Interval = tuple[datetime, datetime]
Pair = tuple[int, int]


def _pair(a: int, b: int) -> Pair:
    return (a, b) if a < b else (b, a)


async def _travel_rows(db: AsyncSession, condition) -> dict[Pair, int]:
    rows = await db.execute(select(VenueTravel.venue_a_id, VenueTravel.venue_b_id, VenueTravel.minutes)
                            .where(condition))
    found: dict[Pair, int] = {}
    for a, b, minutes in rows:
        found[(a, b)] = found[(b, a)] = minutes
    return found


async def load_travel_minutes(db: AsyncSession, venue_ids: Iterable[int]) -> dict[Pair, int]:
    """The travel time of every pair among `venue_ids` that has one, keyed both ways: {(a, b): minutes,
    (b, a): minutes}. A pair that is absent needs no travel (0); a venue needs none to itself. One statement."""
    ids = sorted(set(venue_ids))
    if len(ids) < 2:
        return {}
    return await _travel_rows(db, and_(VenueTravel.venue_a_id.in_(ids), VenueTravel.venue_b_id.in_(ids)))


async def travel_from(db: AsyncSession, venue_ids: Iterable[int]) -> dict[Pair, int]:
    """Every travel time with at least one end among `venue_ids`, keyed both ways. One statement."""
    ids = sorted(set(venue_ids))
    if not ids:
        return {}
    return await _travel_rows(db, or_(VenueTravel.venue_a_id.in_(ids), VenueTravel.venue_b_id.in_(ids)))


# --- setting travel times ------------------------------------------------------------------

@dataclass(frozen=True)
class TravelTime:
    from_venue_id: int
    to_venue_id: int
    minutes: int


def _minutes(value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise DomainError(ErrorCode.INVALID, "minutes is a whole number.", "minutes")
    if value < 0:
        raise DomainError(ErrorCode.INVALID, "minutes cannot be negative (0 removes the travel time).", "minutes")
    if value > MAX_TRAVEL_MINUTES:
        raise DomainError(ErrorCode.INVALID, f"A travel time is at most {MAX_TRAVEL_MINUTES} minutes (a day).",
                          "minutes")
    return value


async def set_travel_time(db: AsyncSession, actor: Actor, from_venue_id: int, to_venue_id: int,
                          minutes: int) -> TravelTime:
    """Set the minutes between two venues, the same both ways; 0 removes the travel time. Sessions already
    scheduled stay; the rule holds for what is scheduled or moved from now on. Audited on the first venue,
    announced as `venue.travel_time_changed`."""
    minutes = _minutes(minutes)
    if from_venue_id == to_venue_id:
        raise DomainError(ErrorCode.INVALID, "A venue needs no travel time to itself: name two venues.", "toVenueId")
    # both venues row-locked in id order, so two changes of one pair queue instead of racing to insert
    for venue_id in sorted((from_venue_id, to_venue_id)):
        field = "fromVenueId" if venue_id == from_venue_id else "toVenueId"
        venue = await db.scalar(select(Venue.id).where(Venue.id == venue_id).with_for_update())
        if venue is None:
            raise DomainError(ErrorCode.NOT_FOUND, "No venue with that id.", field)
    a, b = _pair(from_venue_id, to_venue_id)
    row = await db.scalar(select(VenueTravel).where(VenueTravel.venue_a_id == a, VenueTravel.venue_b_id == b)
                          .execution_options(populate_existing=True))
    before = row.minutes if row is not None else 0
    if before == minutes:
        return TravelTime(from_venue_id, to_venue_id, minutes)
    if minutes == 0:
        await db.execute(delete(VenueTravel).where(VenueTravel.id == row.id))
    elif row is None:
        db.add(VenueTravel(venue_a_id=a, venue_b_id=b, minutes=minutes))
    else:
        row.minutes = minutes
    await db.flush()
    record_change(db, actor, "venue.travel_time", "Venue", from_venue_id, {"to_venue_id": to_venue_id,
                  "minutes": before}, {"to_venue_id": to_venue_id, "minutes": minutes})
    emit(db, "venue.travel_time_changed", {"fromVenue": to_global_id("Venue", from_venue_id),
                                           "toVenue": to_global_id("Venue", to_venue_id),
                                           "minutes": minutes, "before": before})
    return TravelTime(from_venue_id, to_venue_id, minutes)


async def venue_travel_times(db: AsyncSession, venue_ids: list[int]) -> dict[int, list[TravelTime]]:
    """Each venue's travel times to the others, shortest first."""
    found = await travel_from(db, venue_ids)
    wanted = set(venue_ids)
    times: dict[int, list[TravelTime]] = {v: [] for v in venue_ids}
    for (a, b), minutes in found.items():
        if a in wanted:
            times[a].append(TravelTime(a, b, minutes))
    for listed in times.values():
        listed.sort(key=lambda t: (t.minutes, t.to_venue_id))
    return times


# --- the rule ------------------------------------------------------------------------------

@dataclass(frozen=True)
class InPersonBooking:
    """An instructor's booking of an in-person or hybrid part in a room of a venue."""

    resource_id: int
    starts_at: datetime
    ends_at: datetime
    session_id: int
    venue_id: int


async def in_person_bookings(db: AsyncSession, instructor_ids: Collection[int], venue_ids: Collection[int],
                             intervals: list[Interval], reach: timedelta,
                             exclude_session_ids: Collection[int] = ()) -> list[InPersonBooking]:
    """The instructors' active bookings of in-person and hybrid parts held in a room of one of `venue_ids`
    that come within `reach` of any of `intervals`. One statement, in time order."""
    if not instructor_ids or not venue_ids or not intervals:
        return []
    room_booking, room = aliased(Booking), aliased(Resource)
    near = or_(*(and_(Booking.starts_at < end + reach, Booking.ends_at > start - reach) for start, end in intervals))
    query = (select(Booking.resource_id, Booking.starts_at, Booking.ends_at, Booking.session_id, room.venue_id)
             .join(room_booking, and_(room_booking.part_id == Booking.part_id, room_booking.role == BookingRole.ROOM,
                                      room_booking.active))
             .join(room, room.id == room_booking.resource_id)
             .join(Session, Session.id == Booking.session_id)
             .where(Booking.resource_id.in_(sorted(instructor_ids)), Booking.active,
                    Session.delivery_mode != DeliveryMode.VIRTUAL, room.venue_id.in_(sorted(venue_ids)), near))
    if exclude_session_ids:
        query = query.where(Booking.session_id.not_in(sorted(exclude_session_ids)))
    rows = await db.execute(query.order_by(Booking.starts_at, Booking.id))
    return [InPersonBooking(*row) for row in rows]


def _shown(when: datetime, zone: str) -> str:
    return f"{when.astimezone(ZoneInfo(zone)):%Y-%m-%d %H:%M} {zone}"


async def travel_clashes(db: AsyncSession, resources: list[Resource], delivery_mode: DeliveryMode | None,
                         held: list[Interval], exclude_session_ids: Collection[int] = ()) -> list[Clash]:
    """Rule 2b: a session in a room of venue V is refused when one of its instructors has a booking of an
    in-person part at another venue W ending less than travel(V, W) before one of `held` (the session's
    booked intervals, buffers included) starts, or starting less than that after one ends. Each clash
    names the instructor and the interval kept for travel, [end of the other booking, + travel) or
    [start of the other booking − travel, start). Bookings that overlap are rule 2's, not repeated here.
    No travel time touching V: one statement and nothing found."""
    if delivery_mode is DeliveryMode.VIRTUAL:
        return []
    instructors = {r.id: r for r in resources if r.kind is ResourceKind.INSTRUCTOR}
    venue_id = next((r.venue_id for r in resources if r.kind is ResourceKind.ROOM and r.venue_id is not None), None)
    if not instructors or venue_id is None or not held:
        return []
    travel = {b: minutes for (a, b), minutes in (await travel_from(db, [venue_id])).items() if a == venue_id}
    if not travel:
        return []
    reach = timedelta(minutes=max(travel.values()))
    others = await in_person_bookings(db, list(instructors), list(travel), held, reach, exclude_session_ids)
    found: dict[tuple[int, datetime, datetime], tuple[Clash, InPersonBooking, bool]] = {}
    for other in others:
        gap = timedelta(minutes=travel[other.venue_id])
        for start, end in held:
            if other.starts_at < end and other.ends_at > start:
                continue  # an overlap: rule 2's clash
            if other.ends_at <= start < other.ends_at + gap:
                window, after = (other.ends_at, other.ends_at + gap), True
            elif other.starts_at - gap < end <= other.starts_at:
                window, after = (other.starts_at - gap, other.starts_at), False
            else:
                continue
            key = (other.resource_id, *window)
            if key not in found:
                instructor = instructors[other.resource_id]
                found[key] = (Clash(instructor.id, instructor.name, window[0], window[1], other.session_id,
                                    travel_minutes=travel[other.venue_id]), other, after)
    if not found:
        return []
    names = dict((await db.execute(select(Venue.id, Venue.name).where(
        Venue.id.in_({venue_id, *(o.venue_id for _, o, _ in found.values())})))).all())
    clashes = []
    for clash, other, after in found.values():
        zone = instructors[clash.resource_id].timezone
        where = (f"teaches at {names[other.venue_id]} until {_shown(other.ends_at, zone)}" if after
                 else f"teaches at {names[other.venue_id]} from {_shown(other.starts_at, zone)}")
        clashes.append(Clash(clash.resource_id, clash.resource_name, clash.starts_at, clash.ends_at,
                             clash.session_id, travel_minutes=clash.travel_minutes,
                             note=f"{clash.resource_name} {where}, {clash.travel_minutes} minutes from "
                                  f"{names[venue_id]}"))
    return sorted(clashes, key=lambda c: (c.starts_at, c.resource_id))
