"""Subscribable calendar feeds: a person's (their ENROLLED sessions and those they teach) and a
room's, each at a secret address. The address is an HMAC of a per-feed nonce under the secret key,
so it can be shown again, while the database keeps only its SHA-256; a reset draws a new nonce and
the old address stops answering. A feed is read in one SQL statement however long it is.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from datetime import timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, case, func, literal, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from ..audit import Actor, record_change
from ..calendar_invites import part_label, part_uid, published_calendar, series_description, series_uid, session_uid
from ..errors import DomainError, ErrorCode
from ..instants import utc_now
from ..models import (
    Booking, BookingRole, CalendarFeed, Course, DeliveryMode, Enrollment, EnrollmentStatus, Person, Resource,
    ResourceKind, SeriesOccurrence, Session, SessionPart, SessionSeries, SessionStatus, Venue,
)
from .records import get_or_404
from .series_rules import occurrence_rule_sql

HISTORY = timedelta(days=90)  # how far back a feed reaches; the future is whole
TEACHING = (BookingRole.LEAD_INSTRUCTOR, BookingRole.CO_FACILITATOR)


def feed_token(secret_key: str | None, nonce: str) -> str:
    """The secret part of a feed's address (43 URL-safe characters)."""
    digest = hmac.new((secret_key or "").encode(), nonce.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _owner(person_id: int | None, resource_id: int | None) -> ColumnElement[bool]:
    return CalendarFeed.person_id == person_id if person_id is not None else CalendarFeed.resource_id == resource_id


async def _check_owner(db: AsyncSession, person_id: int | None, resource_id: int | None) -> None:
    if (person_id is None) == (resource_id is None):
        raise DomainError(ErrorCode.INVALID, "A feed belongs to a person or to a room.")
    if resource_id is not None:
        room = await get_or_404(db, Resource, resource_id, "resourceId")
        if room.kind is not ResourceKind.ROOM:
            raise DomainError(ErrorCode.INVALID, "Only rooms have a calendar feed.", "resourceId")


async def feed_token_for(db: AsyncSession, secret_key: str | None, *, person_id: int | None = None,
                         resource_id: int | None = None) -> str:
    """The token of a person's or a room's feed, made on first use (inside a write transaction)."""
    nonce = await db.scalar(select(CalendarFeed.nonce).where(_owner(person_id, resource_id)))
    if nonce is None:
        await _check_owner(db, person_id, resource_id)
        nonce = secrets.token_urlsafe(32)
        try:
            async with db.begin_nested():
                db.add(CalendarFeed(person_id=person_id, resource_id=resource_id, nonce=nonce,
                                    token_hash=token_hash(feed_token(secret_key, nonce))))
        except IntegrityError:  # made by a concurrent request a moment ago: use that one
            nonce = await db.scalar(select(CalendarFeed.nonce).where(_owner(person_id, resource_id)))
    return feed_token(secret_key, nonce)


async def reset_feed(db: AsyncSession, actor: Actor, secret_key: str | None, *, person_id: int | None = None,
                     resource_id: int | None = None) -> str:
    """A new address for the feed; the old one answers 404 from now on. Audited (never the token)."""
    await _check_owner(db, person_id, resource_id)
    feed = await db.scalar(select(CalendarFeed).where(_owner(person_id, resource_id)).with_for_update())
    nonce = secrets.token_urlsafe(32)
    if feed is None:
        feed = CalendarFeed(person_id=person_id, resource_id=resource_id, nonce=nonce, token_hash="")
        db.add(feed)
    feed.nonce, feed.token_hash = nonce, token_hash(feed_token(secret_key, nonce))
    await db.flush()
    record_change(db, actor, "calendar_feed.reset", "CalendarFeed", feed.id, None,
                  {"person_id": person_id, "resource_id": resource_id})
    return feed_token(secret_key, nonce)


def _feed_sessions(feed) -> ColumnElement[bool]:
    """Which sessions belong in the feed `feed` (an alias of CalendarFeed, correlated): the person's
    ENROLLED ones, those the person teaches (an INSTRUCTOR resource with their email), the room's."""
    learner = (select(Enrollment.session_id)
               .where(Enrollment.learner_id == feed.person_id, Enrollment.status == EnrollmentStatus.ENROLLED))
    teacher = (select(Booking.session_id).join(Resource, Resource.id == Booking.resource_id)
               .join(Person, Person.email == Resource.email)
               .where(Person.id == feed.person_id, Resource.kind == ResourceKind.INSTRUCTOR,
                      Booking.role.in_(TEACHING)))
    room = select(Booking.session_id).where(Booking.resource_id == feed.resource_id, Booking.role == BookingRole.ROOM)
    return or_(Session.id.in_(learner), Session.id.in_(teacher), Session.id.in_(room))


ROOM = aliased(Resource, name="room")
ROOM_OF_SESSION = (select(Booking.resource_id).where(Booking.session_id == Session.id, Booking.role == BookingRole.ROOM)
                   .order_by(Booking.id.desc()).limit(1).correlate(Session).scalar_subquery())
PART_COUNT = (select(func.count()).select_from(SessionPart).where(SessionPart.session_id == Session.id)
              .correlate(Session).scalar_subquery())
EVENT_COLUMNS = (Session.id.label("session_id"), Session.title, SessionPart.position.label("part"),
                 PART_COUNT.label("part_count"), SessionPart.starts_at, SessionPart.ends_at, Session.timezone,
                 Session.delivery_mode, Session.status, Session.sequence, Session.updated_at, Session.meeting_join_url,
                 Session.cancel_reason, Course.code.label("course_code"), Course.title.label("course_title"),
                 ROOM.name.label("room_name"), Venue.name.label("venue_name"), Venue.address.label("venue_address"),
                 SeriesOccurrence.series_id, SeriesOccurrence.number.label("series_number"),
                 occurrence_rule_sql().label("series_rule"), SessionSeries.occurrences.label("series_count"))


def _with_places(query):
    """Each session's parts (a row each), course, and its room and venue (the latest room booking, kept
    when cancelled)."""
    return (query.outerjoin(SessionPart, SessionPart.session_id == Session.id)
            .outerjoin(SeriesOccurrence, SeriesOccurrence.session_id == Session.id)
            .outerjoin(SessionSeries, SessionSeries.id == SeriesOccurrence.series_id)
            .outerjoin(Course, Course.id == Session.course_id).outerjoin(ROOM, ROOM.id == ROOM_OF_SESSION)
            .outerjoin(Venue, Venue.id == ROOM.venue_id))


def feed_query(hashed: str):
    """The feed's owner and every session in it, with what its events show: one statement."""
    feed = aliased(CalendarFeed, name="feed")
    owner = aliased(Person, name="owner")
    calendar_room = aliased(Resource, name="calendar_room")
    own = aliased(Enrollment, name="own")
    # a seat's own link ("" until the conferencing plugin made it); None when the person teaches instead
    own_link = case((own.id.is_not(None), func.coalesce(own.meeting_join_url, "")), else_=None)
    query = (select(*EVENT_COLUMNS, own_link.label("own_join_url"), feed.person_id,
                    owner.name.label("person_name"), calendar_room.name.label("calendar_room_name"))
             .select_from(feed)
             .outerjoin(owner, owner.id == feed.person_id)
             .outerjoin(calendar_room, calendar_room.id == feed.resource_id)
             .outerjoin(Session, and_(_feed_sessions(feed), Session.ends_at > literal(utc_now() - HISTORY))))
    return (_with_places(query)
            .outerjoin(own, and_(own.session_id == Session.id, own.learner_id == feed.person_id,
                                 own.status == EnrollmentStatus.ENROLLED))
            .where(feed.token_hash == hashed)
            .order_by(Session.starts_at, Session.id, SessionPart.position))


def _event(row, organizer_email: str, personal: bool) -> dict[str, Any]:
    """An event from a row with EVENT_COLUMNS and `own_join_url`."""
    mode = row.delivery_mode
    virtual = mode in (DeliveryMode.VIRTUAL, DeliveryMode.HYBRID)
    # The join URL is for the person's own calendar, never a room's: a seated learner's own link (it
    # identifies them in the attendance report), the meeting's for one who teaches the session.
    own_join_url = row.own_join_url
    join = ((row.meeting_join_url if own_join_url is None else own_join_url or None)
            if personal and virtual else None)
    place = (", ".join(p for p in (row.room_name, row.venue_name, row.venue_address) if p)
             if mode is not DeliveryMode.VIRTUAL else "")
    label = part_label(row.part, row.part_count)
    lines = [f"{row.course_code}: {row.course_title}" + (f" ({label})" if label else "")]
    if join:
        lines.append(f"Join: {join}")
    series = None
    if row.series_id is not None:
        series = {"uid": series_uid(row.series_id, organizer_email), "rule": row.series_rule,
                  "occurrence": row.series_number, "count": row.series_count}
        lines.append(series_description(series))
    if row.status is SessionStatus.CANCELLED and row.cancel_reason:
        lines.append(f"Cancelled: {row.cancel_reason}")
    uid = session_uid(row.session_id, organizer_email)
    return {"uid": part_uid(row.session_id, row.part, organizer_email), "sequence": row.sequence,
            "starts_at": row.starts_at, "ends_at": row.ends_at, "timezone": row.timezone, "updated_at": row.updated_at,
            "summary": f"{row.title} ({label})" if label else row.title, "parent_uid": uid if row.part > 1 else None,
            "series": series,
            "status": "CANCELLED" if row.status is SessionStatus.CANCELLED else "CONFIRMED",
            "location": place or join, "url": join, "description": "\n".join(lines)}


async def feed_calendar(db: AsyncSession, token: str, organizer_email: str) -> bytes | None:
    """The `.ics` of the feed at this token; None when no feed has it (unknown or reset)."""
    rows = (await db.execute(feed_query(token_hash(token)))).all()
    if not rows:
        return None
    first = rows[0]
    personal = first.person_id is not None
    name = f"{first.person_name}: training" if personal else f"{first.calendar_room_name}: sessions"
    return published_calendar(name, [_event(r, organizer_email, personal) for r in rows if r.session_id is not None])


async def session_calendar(db: AsyncSession, session_id: int, organizer_email: str) -> bytes | None:
    """One session as a public `.ics` download: the catalogue's facts, no join URL."""
    query = _with_places(select(*EVENT_COLUMNS, literal(None).label("own_join_url")).select_from(Session))
    rows = (await db.execute(query.where(Session.id == session_id).order_by(SessionPart.position))).all()
    return (None if not rows else
            published_calendar(rows[0].title, [_event(row, organizer_email, personal=False) for row in rows]))
