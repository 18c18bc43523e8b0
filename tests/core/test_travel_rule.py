"""Rule 2b under concurrency, on both databases: 20 sessions of one instructor at two venues an hour apart,
each in its own room, where every two either overlap (same venue) or leave less than the travel time
between them (different venues): exactly one is written, whichever venue it is at."""
from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy import func, select

from podium.core.db import changing
from podium.core.errors import DomainError, ErrorCode
from podium.core.models import Booking, DeliveryMode, Session
from podium.core.services import catalogue, scheduling, travel
from tests import builders as b
from tests.builders import ADMIN, soon


async def test_20_concurrent_sessions_at_two_venues_one_instructor_one_is_written(sessions):
    course, shared = await b.course(sessions), await b.instructor(sessions)
    async with sessions() as db, changing(db):
        alpha = await catalogue.create_venue(db, ADMIN, name="Alpha", timezone="Europe/London")
        beta = await catalogue.create_venue(db, ADMIN, name="Beta", timezone="Europe/London")
        await travel.set_travel_time(db, ADMIN, alpha.id, beta.id, 60)
    start = soon(days=10).replace(hour=10)
    attempts = []
    for n in range(20):
        at_alpha = n % 2 == 0
        room = await b.room(sessions, venue_id=alpha.id if at_alpha else beta.id)
        # Alpha: 10:00-11:00 plus up to 19 minutes; Beta: 11:00-12:00 plus up to 19 minutes.
        begins = start + timedelta(hours=0 if at_alpha else 1, minutes=n)
        attempts.append((begins, room.id))

    async def attempt(begins, room_id):
        try:
            async with sessions() as db, changing(db):
                made = await scheduling.schedule_session(
                    db, ADMIN, course_id=course.id, starts_at=begins, ends_at=begins + timedelta(hours=1),
                    timezone="Europe/London", delivery_mode=DeliveryMode.IN_PERSON, instructor_ids=[shared.id],
                    room_id=room_id)
                return made.id
        except DomainError as exc:
            return exc

    results = await asyncio.gather(*(attempt(*a) for a in attempts))
    won = [r for r in results if isinstance(r, int)]
    lost = [r for r in results if isinstance(r, DomainError)]
    assert len(won) == 1 and len(lost) == 19
    assert {e.code for e in lost} == {ErrorCode.RESOURCE_CONFLICT}
    assert any(c.travel_minutes == 60 for e in lost for c in e.conflicts)  # the other venue's refused by travel
    async with sessions() as db:
        assert await db.scalar(select(func.count()).select_from(Session)) == 1
        assert {r for r in (await db.scalars(select(Booking.session_id))).all()} == {won[0]}
