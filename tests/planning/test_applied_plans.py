"""Plans of seeded instances (qualifications with expiry, hours in three time zones across the 2027 DST
changes, time off, outside bookings, room capacities and features, cohorts) proposed, stored and applied
through the services on both databases; then the database's own rules judge every session: each is moved
onto its own time again through `reschedule_session`, which re-checks qualifications, double bookings
(buffers, outside calendars) and working hours under the usual locks."""
from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import select

from podium.core.db import changing
from podium.core.models import Booking, BookingRole, Resource, Session, SessionPart
from podium.core.planning.generate import generate
from podium.core.services import planning, scheduling
from podium.core.settings import Settings
from tests.builders import ADMIN
from tests.planning.world import requests, store

SETTINGS = Settings()
PG_SEEDS = 5
"""Seeds applied on PostgreSQL too (all 20 on SQLite): the suite's time is shared."""


async def propose(sessions, instance, seconds: float = 5):
    given = planning.ProposeInput(requests=requests(instance), time_limit_seconds=seconds)
    planning.check_input(given, SETTINGS)
    async with sessions() as db:
        world = await planning.load_proposal(db, given)
    solution = await planning.solve_off_loop(world.problem, seconds)
    async with sessions() as db, changing(db):
        plan = await planning.store_plan(db, ADMIN, planning.PROPOSAL, world, solution, SETTINGS)
    return plan


SEEDS = [("sqlite", seed) for seed in range(20)] + [("postgresql", seed) for seed in range(PG_SEEDS)]


@pytest.mark.parametrize(("database_url", "seed"), SEEDS, indirect=["database_url"])
async def test_an_applied_plan_passes_the_databases_own_rules(database_url, sessions, seed):
    instance = generate(seed, sessions=6, instructors=4, rooms=3, venues=3, weeks=3)
    await store(sessions, instance)
    plan = await propose(sessions, instance)
    assert plan.unplaced == [] and len(plan.sessions) == len(instance.planted)
    async with sessions() as db, changing(db):
        _, made = await planning.apply_plan(db, ADMIN, plan.id, SETTINGS)
    assert len(made) == len(instance.planted)
    async with sessions() as db, changing(db):
        for sid in made:
            parts = [(p.starts_at, p.ends_at) for p in (await db.scalars(
                select(SessionPart).where(SessionPart.session_id == sid).order_by(SessionPart.position))).all()]
            await scheduling.reschedule_session(db, ADMIN, sid, parts[0][0], parts[-1][1], settings=SETTINGS,
                                                parts=parts)
        rows = (await db.execute(select(Session.capacity, Resource.capacity).join(
            Booking, Booking.session_id == Session.id).join(Resource, Resource.id == Booking.resource_id).where(
            Booking.role == BookingRole.ROOM, Session.id.in_(made)))).all()
        assert all(seats <= holds for seats, holds in rows if holds is not None)
