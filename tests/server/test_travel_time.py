"""Travel time between venues through GraphQL on both databases: staff set it (the same both ways, 0 removes
it, audited and announced), and the conflict check keeps that long between an instructor's in-person
sessions at two venues, whether a session is scheduled, moved, one part of several, or an occurrence of a
series; virtual sessions and sessions at the same venue need no travel."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from sqlalchemy import select

from podium.core.ids import from_global_id
from podium.core.models import AuditEntry, OutboxMessage
from podium.core.services.travel import load_travel_minutes
from tests.server import graph as g

UTC = timezone.utc
VENUE = """mutation($i: CreateVenueInput!) { createVenue(input: $i) { venue { id } errors { code } } }"""
SET = """mutation($i: SetTravelTimeInput!) { setTravelTime(input: $i) {
  travelTime { fromVenue { id } toVenue { id } minutes } errors { code field message } } }"""
TIMES = """query($id: ID!) { node(id: $id) { ... on Venue { travelTimes { toVenue { id } minutes } } } }"""
BOTH_ENDS = """query($id: ID!) { node(id: $id) { ... on Venue { travelTimes { fromVenue { id } toVenue { id } } } } }"""
SCHEDULE = """mutation($i: ScheduleSessionInput!) { scheduleSession(input: $i) {
  session { id } errors { code field message } conflicts { resource { id } startsAt endsAt travelMinutes } } }"""
RESCHEDULE = """mutation($i: RescheduleSessionInput!) { rescheduleSession(input: $i) {
  session { id } errors { code message } conflicts { resource { id } startsAt endsAt travelMinutes } } }"""
SERIES = """mutation($i: ScheduleSeriesInput!) { scheduleSeries(input: $i) {
  sessions { id } errors { code message } conflicts { occurrence resource { id } startsAt travelMinutes } } }"""


async def venue_with_room(api, name: str) -> tuple[str, str]:
    venue = (await api.data(VENUE, {"i": {"name": name, "timezone": "Europe/London"}}))["createVenue"]["venue"]["id"]
    return venue, await g.room(api, venueId=venue)


async def set_travel(api, a: str, b: str, minutes: int, **kw) -> dict:
    return (await api.data(SET, {"i": {"fromVenueId": a, "toVenueId": b, "minutes": minutes}}, **kw))["setTravelTime"]


def at(day: datetime, hour: int, minute: int = 0) -> str:
    return day.replace(hour=hour, minute=minute).isoformat()


def in_person(course, teacher, room, day, start: tuple[int, int], end: tuple[int, int], **kw) -> dict:
    return {"courseId": course, "startsAt": at(day, *start), "endsAt": at(day, *end), "timezone": "Europe/London",
            "deliveryMode": "IN_PERSON", "instructorIds": [teacher], "roomId": room, **kw}


async def test_travel_times_are_set_by_staff_both_ways_audited_and_checked(api, app):
    (north, _), (south, _), (east, _) = [await venue_with_room(api, n) for n in ("North", "South", "East")]
    made = await set_travel(api, north, south, 45)
    assert made == {"travelTime": {"fromVenue": {"id": north}, "toVenue": {"id": south}, "minutes": 45}, "errors": []}
    assert (await set_travel(api, south, north, 60))["errors"] == []  # the same pair, either way round
    await set_travel(api, north, east, 20)
    listed = (await api.data(TIMES, {"id": north}))["node"]["travelTimes"]
    assert listed == [{"toVenue": {"id": east}, "minutes": 20}, {"toVenue": {"id": south}, "minutes": 60}]
    assert (await api.data(TIMES, {"id": south}))["node"]["travelTimes"] == [{"toVenue": {"id": north}, "minutes": 60}]
    both = (await api.data(BOTH_ENDS, {"id": south}))["node"]["travelTimes"]
    assert both == [{"fromVenue": {"id": south}, "toVenue": {"id": north}}], "listed from the venue asked"

    ids = {v: from_global_id(v)[1] for v in (north, south, east)}
    async with app.state.podium.sessions() as db:
        assert await load_travel_minutes(db, ids.values()) == {
            (ids[north], ids[south]): 60, (ids[south], ids[north]): 60,
            (ids[north], ids[east]): 20, (ids[east], ids[north]): 20}
        assert await load_travel_minutes(db, [ids[south], ids[east]]) == {}

    assert (await set_travel(api, east, north, 0))["travelTime"]["minutes"] == 0  # 0 removes it
    assert (await api.data(TIMES, {"id": east}))["node"]["travelTimes"] == []
    async with app.state.podium.sessions() as db:
        audited = (await db.scalars(select(AuditEntry).where(AuditEntry.action == "venue.travel_time")
                                    .order_by(AuditEntry.id))).all()
        events = (await db.scalars(select(OutboxMessage).where(OutboxMessage.topic == "venue.travel_time_changed")
                                   .order_by(OutboxMessage.id))).all()
    assert [(a.before["minutes"], a.after["minutes"]) for a in audited] == [(0, 45), (45, 60), (0, 20), (20, 0)]
    assert [e.payload["payload"]["minutes"] for e in events] == [45, 60, 20, 0]

    for given, field in (((north, north, 30), "toVenueId"), ((north, south, -5), "minutes"),
                         ((north, south, 24 * 60 + 1), "minutes")):
        refused = await set_travel(api, *given)
        assert refused["travelTime"] is None
        assert [(e["code"], e["field"]) for e in refused["errors"]] == [("INVALID", ["input", field])]
    learner = await g.token(api, await g.person(api), "LEARNER")
    assert [e["code"] for e in (await set_travel(api, north, south, 5, token=learner))["errors"]] == ["FORBIDDEN"]
    body = await api(TIMES, {"id": north}, token=learner)
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert (await api.data(TIMES, {"id": north}))["node"]["travelTimes"][0]["minutes"] == 60


async def test_an_instructor_gets_the_travel_time_between_venues(api):
    course, teacher = await g.course(api), await g.instructor(api)
    (a, room_a), (b, room_b) = await venue_with_room(api, "Alpha"), await venue_with_room(api, "Beta")
    other_room_a = await g.room(api, venueId=a)
    await set_travel(api, a, b, 60)
    day = g.at(days=9).astimezone(UTC)
    taught = await api.data(SCHEDULE, {"i": in_person(course, teacher, room_a, day, (10, 0), (12, 0))})
    first = taught["scheduleSession"]["session"]["id"]

    # At venue B before 13:00: refused, naming the instructor and the hour kept for travel.
    late = (await api.data(SCHEDULE, {"i": in_person(course, teacher, room_b, day, (12, 30), (14, 0))}))
    late = late["scheduleSession"]
    assert late["session"] is None and [e["code"] for e in late["errors"]] == ["RESOURCE_CONFLICT"]
    assert "Alpha" in late["errors"][0]["message"] and "60 minutes" in late["errors"][0]["message"]
    assert late["conflicts"] == [{"resource": {"id": teacher}, "startsAt": at(day, 12), "endsAt": at(day, 13),
                                  "travelMinutes": 60}]
    # ... and before it, symmetric: a session at B ending 11:30 before A's at 12:00 the next day.
    next_day = day + timedelta(days=1)
    await api.data(SCHEDULE, {"i": in_person(course, teacher, room_a, next_day, (12, 0), (13, 0))})
    early = (await api.data(SCHEDULE, {"i": in_person(course, teacher, room_b, next_day, (10, 0), (11, 30))}))
    assert early["scheduleSession"]["conflicts"] == [{"resource": {"id": teacher}, "startsAt": at(next_day, 11),
                                                      "endsAt": at(next_day, 12), "travelMinutes": 60}]

    # From 13:00 at B, at A's other room at once, or teaching online: no travel in the way.
    for values in (in_person(course, teacher, room_b, day, (13, 0), (14, 0)),
                   in_person(course, teacher, other_room_a, next_day, (13, 0), (13, 30)),
                   {**in_person(course, teacher, None, day, (12, 30), (12, 45)), "deliveryMode": "VIRTUAL"}):
        assert (await api.data(SCHEDULE, {"i": values}))["scheduleSession"]["errors"] == []

    # Moving the first session later brings it within an hour of B's 13:00: refused, nothing moved.
    moved = (await api.data(RESCHEDULE, {"i": {"sessionId": first, "startsAt": at(day, 10, 30),
                                               "endsAt": at(day, 12, 30)}}))["rescheduleSession"]
    assert [e["code"] for e in moved["errors"]] == ["RESOURCE_CONFLICT"]
    assert moved["conflicts"][0]["travelMinutes"] == 60 and moved["conflicts"][0]["startsAt"] == at(day, 12, 0)

    # One part of a multi-part session at B too close to A: the whole session is refused.
    third = day + timedelta(days=2)
    await api.data(SCHEDULE, {"i": in_person(course, teacher, room_a, third + timedelta(days=1), (9, 0), (10, 0))})
    parts = [{"startsAt": at(third, 9), "endsAt": at(third, 11)},
             {"startsAt": at(third + timedelta(days=1), 10, 30), "endsAt": at(third + timedelta(days=1), 12)}]
    split = in_person(course, teacher, room_b, third, (9, 0), (12, 0), parts=parts)
    split["endsAt"] = parts[-1]["endsAt"]
    refused = (await api.data(SCHEDULE, {"i": split}))["scheduleSession"]
    assert [c["travelMinutes"] for c in refused["conflicts"]] == [60]

    # A weekly series at B whose third occurrence follows a morning at A too closely makes nothing.
    series_day = day + timedelta(days=14)
    await api.data(SCHEDULE, {"i": in_person(course, teacher, room_a, series_day + timedelta(weeks=2), (8, 0),
                                             (9, 0))})
    weekly = {**in_person(course, teacher, room_b, series_day, (9, 30), (10, 30)),
              "recurrence": "RRULE:FREQ=WEEKLY;COUNT=4"}
    answer = (await api.data(SERIES, {"i": weekly}))["scheduleSeries"]
    assert answer["sessions"] == [] and [e["code"] for e in answer["errors"]] == ["RESOURCE_CONFLICT"]
    assert [(c["occurrence"], c["travelMinutes"]) for c in answer["conflicts"]] == [(3, 60)]


async def test_the_availability_search_keeps_the_travel_time(api):
    course, teacher = await g.course(api), await g.instructor(api)
    (a, room_a), (b, room_b) = await venue_with_room(api, "Alpha"), await venue_with_room(api, "Beta")
    await set_travel(api, a, b, 60)
    day = g.at(days=9).astimezone(UTC)
    await api.data(SCHEDULE, {"i": in_person(course, teacher, room_a, day, (10, 0), (12, 0))})
    search = """query($i: AvailabilityInput!) { availability(input: $i) { slots { startsAt instructors { id } } } }"""

    async def starts(rooms: list[str]) -> list[str]:
        found = await api.data(search, {"i": {"from": at(day, 7), "to": at(day, 15), "durationMinutes": 60,
                                              "instructorCandidates": [teacher], "roomCandidates": rooms}})
        return sorted(s["startsAt"] for s in found["availability"]["slots"])

    # At Beta: free until an hour before Alpha's 10:00, and from an hour after its 12:00.
    assert await starts([room_b]) == [at(day, h, m) for h, m in ((7, 0), (7, 30), (8, 0), (13, 0), (13, 30), (14, 0))]
    # With a room at Alpha as well, the hours next to the morning there are free again (no travel).
    assert await starts([room_b, await g.room(api, venueId=a)]) == [
        at(day, h, m) for h, m in ((7, 0), (7, 30), (8, 0), (8, 30), (9, 0), (12, 0), (12, 30), (13, 0), (13, 30),
                                   (14, 0))]
