"""Small builders for test data, all through the core services (the real path)."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from itertools import count

from podium.core.audit import Actor
from podium.core.db import changing
from podium.core.models import DeliveryMode, ResourceKind
from podium.core.services import catalogue, scheduling
from podium.core.working_hours import WEEKDAYS

ADMIN = Actor.system("test-admin")
ALWAYS = [(day, "00:00", "24:00") for day in WEEKDAYS]
"""Working hours of every hour of the week: the builders' instructors and rooms are bookable whenever a test
schedules them (tests of working hours give their own)."""
_serial = count(1)


def soon(days: int = 7, hour: int = 9) -> datetime:
    """A whole hour some days ahead, in UTC."""
    base = datetime.now(timezone.utc).replace(minute=0, second=0, microsecond=0, hour=hour)
    return base + timedelta(days=days)


async def course(sessions, **kw):
    n = next(_serial)
    async with sessions() as db, changing(db):
        return await catalogue.create_course(db, ADMIN, **{"code": f"C-{n}", "title": f"Course {n}",
                                                          "duration_minutes": 120, "default_capacity": 20, **kw})


async def person(sessions, **kw):
    n = next(_serial)
    async with sessions() as db, changing(db):
        return await catalogue.create_person(db, ADMIN, **{"name": f"Learner {n}", "email": f"l{n}@example.com",
                                                          "timezone": "Europe/London", **kw})


async def people(sessions, how_many: int) -> list[int]:
    async with sessions() as db, changing(db):
        ids = []
        for _ in range(how_many):
            n = next(_serial)
            ids.append((await catalogue.create_person(db, ADMIN, name=f"Learner {n}", email=f"l{n}@example.com",
                                                      timezone="Europe/London")).id)
        return ids


async def instructor(sessions, qualifications=(), **kw):
    n = next(_serial)
    async with sessions() as db, changing(db):
        return await catalogue.create_resource(db, ADMIN, **{"kind": ResourceKind.INSTRUCTOR, "name": f"Instructor {n}",
                                                            "timezone": "Europe/London", "email": f"i{n}@example.com",
                                                            "qualifications": list(qualifications),
                                                            "weekly_hours": ALWAYS, **kw})


async def room(sessions, capacity=30, **kw):
    n = next(_serial)
    async with sessions() as db, changing(db):
        return await catalogue.create_resource(db, ADMIN, **{"kind": ResourceKind.ROOM, "name": f"Room {n}",
                                                            "timezone": "Europe/London", "capacity": capacity,
                                                            "weekly_hours": ALWAYS, **kw})


async def equipment(sessions, **kw):
    n = next(_serial)
    async with sessions() as db, changing(db):
        return await catalogue.create_resource(db, ADMIN, **{"kind": ResourceKind.EQUIPMENT, "name": f"Kit {n}",
                                                            "timezone": "Europe/London", **kw})


async def session(sessions, *, course_id, instructor_ids, starts_at=None, minutes=120, mode=DeliveryMode.VIRTUAL,
                  tz="Europe/London", **kw):
    starts_at = starts_at or soon()
    async with sessions() as db, changing(db):
        return await scheduling.schedule_session(db, ADMIN, course_id=course_id, starts_at=starts_at,
                                                 ends_at=starts_at + timedelta(minutes=minutes), timezone=tz,
                                                 delivery_mode=mode, instructor_ids=instructor_ids, **kw)


async def time_passes(sessions, *session_ids: int, ended: bool = True) -> datetime:
    """Move sessions (and their bookings) back in time as if the clock had run on since learners enrolled:
    to a minute after they ended, or a minute after they started; returns the first one's new start.
    Attendance is only true from the start."""
    from sqlalchemy import select

    from podium.core.models import Booking, Session, SessionPart

    now, starts = datetime.now(timezone.utc), {}
    async with sessions() as db, changing(db):
        for session in (await db.scalars(select(Session).where(Session.id.in_(session_ids)))).all():
            shift = (session.ends_at if ended else session.starts_at) - now + timedelta(minutes=1)
            session.starts_at, session.ends_at = session.starts_at - shift, session.ends_at - shift
            starts[session.id] = session.starts_at
            for booking in (await db.scalars(select(Booking).where(Booking.session_id == session.id))).all():
                booking.starts_at, booking.ends_at = booking.starts_at - shift, booking.ends_at - shift
            for part in (await db.scalars(select(SessionPart).where(SessionPart.session_id == session.id))).all():
                part.starts_at, part.ends_at = part.starts_at - shift, part.ends_at - shift
    return starts[session_ids[0]]
