"""A generated instance (core/planning/generate.py) written into the database, and its requests as the
service takes them: the planted timetable proves it feasible; the database's rules judge what is applied."""
from __future__ import annotations

from podium.core.db import changing
from podium.core.models import (
    Booking, BookingRole, Course, Person, Qualification, RateUnit, Resource, ResourceKind, TimeOff, Venue,
    VenueTravel,
)
from podium.core.planning.generate import Instance
from podium.core.services import planning
from podium.core.working_hours import clock


async def store(sessions, instance: Instance) -> None:
    """Venues and the travel between them, instructors, rooms, their hours, qualifications, time off and outside bookings, one course
    per request and the cohorts' learners, with the generator's ids."""
    problem = instance.problem
    async with sessions() as db, changing(db):
        for v in problem.venues.values():
            db.add(Venue(id=v.id, name=v.name, timezone=v.timezone))
        await db.flush()
        for (a, b), minutes in problem.travel_minutes.items():
            db.add(VenueTravel(venue_a_id=min(a, b), venue_b_id=max(a, b), minutes=minutes))
        for x in problem.instructors + problem.rooms:
            is_room = x in problem.rooms
            db.add(Resource(id=x.id, kind=ResourceKind.ROOM if is_room else ResourceKind.INSTRUCTOR, name=x.name,
                            timezone=x.timezone, capacity=getattr(x, "capacity", None),
                            email=None if is_room else f"i{x.id}@example.com",
                            venue_id=x.venue_id if is_room else x.home_venue_id,
                            cost_rate_minor=x.cost_rate_minor, cost_rate_unit=RateUnit(x.cost_unit),
                            features=list(getattr(x, "features", ())), weekly_hours=[list(w) for w in x.weekly]))
        await db.flush()
        for x in problem.instructors:
            for name, until in x.qualifications.items():
                db.add(Qualification(resource_id=x.id, name=name, valid_until=until))
        for x in problem.instructors + problem.rooms:
            for a, b in x.time_off:
                db.add(TimeOff(resource_id=x.id, starts_at=a, ends_at=b, reason="generated"))
            for n, (a, b) in enumerate(x.busy):
                db.add(Booking(resource_id=x.id, session_id=None, role=BookingRole.ROOM, starts_at=a, ends_at=b,
                               source="test-calendar", external_uid=f"{x.id}-{n}", summary="busy"))
        for index, r in enumerate(problem.requests):
            db.add(Course(id=index + 1, code=f"GEN-{index + 1}", title=f"Generated {index + 1}", duration_minutes=60,
                          default_capacity=r.capacity, required_qualifications=list(r.required_qualifications)))
        for learner, tz in problem.learner_timezones.items():
            db.add(Person(id=learner, name=f"Learner {learner}", email=f"l{learner}@example.com", timezone=tz))


def requests(instance: Instance) -> list[planning.RequestInput]:
    """The instance's requests as proposeSchedule's service input (course i+1 for request i)."""
    out = []
    for index, r in enumerate(instance.problem.requests):
        parts = [planning.PartInput(p.day, clock(p.starts), clock(p.starts + p.minutes)) if p.starts is not None
                 else planning.PartInput(p.day, duration_minutes=p.minutes) for p in r.parts]
        out.append(planning.RequestInput(
            course_id=index + 1, count=r.count, window_from=r.window_from, window_to=r.window_to,
            delivery_mode=r.delivery_mode, capacity=r.capacity, parts=parts, venue_ids=r.venue_ids,
            learner_ids=r.learner_ids, timezone=r.timezone, preferred_instructor_ids=r.preferred_instructor_ids,
            room_features=r.required_features))
    return out
