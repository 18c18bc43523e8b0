"""The availability search over GraphQL on both databases: for 3 instructors, 2 rooms and 12 learners in 3
timezones the slots are exactly those a brute-force check in this test finds free, in the same rank order;
and the number of SQL statements does not grow with the bookings in the window."""
from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from sqlalchemy import event, insert, select

from podium.core.db import changing
from podium.core.ids import from_global_id
from podium.core.models import Booking, BookingRole, TimeOff
from tests.server import graph as g

UTC = timezone.utc
SEARCH = """query($i: AvailabilityInput!) { availability(input: $i) { totalCount
  slots { startsAt endsAt parts { startsAt endsAt } instructors { id } rooms { id } learnersInWindow } } }"""
COUNTS = """query($i: AvailabilityInput!) { availability(input: $i) { totalCount slots { startsAt learnersInWindow } } }"""
SCHEDULE = """mutation($i: ScheduleSessionInput!) { scheduleSession(input: $i) { session { id } errors { code message } } }"""
ADD_TIME_OFF = """mutation($i: AddTimeOffInput!) { addTimeOff(input: $i) { timeOff { id } errors { code } } }"""
SET_EXCEPTION = """mutation($i: SetHoursExceptionInput!) { setHoursException(input: $i) { errors { code } } }"""

WEEKDAYS = ("MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY")

# name, timezone, {weekday: (start hour, end hour)}, qualification valid until (days after the Monday)
INSTRUCTORS = [
    ("Ada", "Europe/London", {d: (8, 18) for d in range(5)}, None),
    ("Bea", "America/New_York", {d: (7, 15) for d in range(6)}, 1),  # qualified until Tuesday only
    ("Chiyo", "Asia/Tokyo", {d: (13, 23) for d in range(7)}, None),
]
ROOMS = [("Thames", "Europe/London", {d: (7, 20) for d in range(5)}),
         ("Hudson", "America/New_York", {d: (6, 22) for d in range(7)})]
LEARNERS = ["Europe/London"] * 5 + ["America/New_York"] * 4 + ["Asia/Kolkata"] * 3


def monday_ahead(days: int = 14) -> date:
    day = datetime.now(UTC).date() + timedelta(days=days)
    return day + timedelta(days=-day.weekday() % 7)


def hours_input(hours: dict[int, tuple[int, int]]) -> list[dict]:
    return [{"weekday": WEEKDAYS[d], "startsAt": f"{s:02d}:00", "endsAt": f"{e:02d}:00"} for d, (s, e) in hours.items()]


class World:
    """What the test made, kept as plain data for the brute-force check."""

    def __init__(self) -> None:
        self.hours: dict[str, tuple[str, dict]] = {}     # resource id -> (timezone, hours)
        self.valid_until: dict[str, date | None] = {}
        self.closed: dict[str, set[date]] = {}
        self.learner_zones: list[str] = []


async def build(api, app, monday: date) -> tuple[World, dict]:
    w = World()
    course = await g.course(api, requiredQualifications=["Coach"], durationMinutes=120)
    instructors, rooms = [], []
    for name, tz, hours, valid_days in INSTRUCTORS:
        valid_until = None if valid_days is None else monday + timedelta(days=valid_days)
        rid = await g.created(api, g.RESOURCE, "createResource", "resource", {
            "kind": "INSTRUCTOR", "name": name, "timezone": tz, "email": f"{name.lower()}@example.com",
            "workingHours": hours_input(hours),
            "qualifications": [{"name": "Coach", "validUntil": valid_until.isoformat() if valid_until else None}]})
        w.hours[rid], w.valid_until[rid], w.closed[rid] = (tz, hours), valid_until, set()
        instructors.append(rid)
    for name, tz, hours in ROOMS:
        rid = await g.created(api, g.RESOURCE, "createResource", "resource", {
            "kind": "ROOM", "name": name, "timezone": tz, "capacity": 20, "workingHours": hours_input(hours)})
        w.hours[rid], w.closed[rid] = (tz, hours), set()
        rooms.append(rid)
    learners = []
    for n, tz in enumerate(LEARNERS):
        learners.append(await g.person(api, timezone=tz))
        w.learner_zones.append(tz)
    ada, bea, chiyo = instructors
    thames, hudson = rooms

    # Bookings: sessions of Ada in Thames and of Chiyo (virtual), an imported busy time in Hudson.
    def at(day: int, hour: int, tz: str) -> datetime:
        return datetime.combine(monday + timedelta(days=day), time(hour), ZoneInfo(tz))

    for lead, room, day, hour, tz in ((ada, thames, 0, 10, "Europe/London"), (chiyo, None, 1, 14, "Asia/Tokyo"),
                                      (ada, None, 2, 15, "Europe/London")):
        values = g.schedule_input(course, [lead], at(day, hour, tz), minutes=120, timezone=tz)
        if room:
            values.update(deliveryMode="IN_PERSON", roomId=room)
        made = (await api.data(SCHEDULE, {"i": values}))["scheduleSession"]
        assert made["errors"] == [], made
    async with app.state.podium.sessions() as db, changing(db):
        await db.execute(insert(Booking).values(
            resource_id=from_global_id(hudson)[1], session_id=None, role=BookingRole.ROOM, active=True,
            starts_at=at(0, 9, "America/New_York"), ends_at=at(0, 13, "America/New_York"), source="test"))
    # Bea is away on Monday afternoon New York time; Thames is closed on Wednesday.
    away = (await api.data(ADD_TIME_OFF, {"i": {"resourceId": bea, "startsAt": at(0, 12, "America/New_York").isoformat(),
                                                "endsAt": at(0, 18, "America/New_York").isoformat()}}))
    assert away["addTimeOff"]["errors"] == []
    closed = await api.data(SET_EXCEPTION, {"i": {"resourceId": thames, "date": (monday + timedelta(days=2)).isoformat(),
                                                  "hours": []}})
    assert closed["setHoursException"]["errors"] == []
    w.closed[thames].add(monday + timedelta(days=2))
    return w, {"course": course, "instructors": instructors, "rooms": rooms, "learners": learners}


async def brute_force(app, w: World, ids: dict, starts: datetime, ends: datetime, minutes: int, step: int,
                      parts: int) -> list[tuple]:
    """Probe every start on its own: read every booking and time off, and judge each resource and learner on
    its local clock with plain datetime arithmetic."""
    async with app.state.podium.sessions() as db:
        bookings = (await db.execute(select(Booking.resource_id, Booking.starts_at, Booking.ends_at)
                                     .where(Booking.active))).all()
        away = (await db.execute(select(TimeOff.resource_id, TimeOff.starts_at, TimeOff.ends_at))).all()
    pk = {rid: from_global_id(rid)[1] for rid in w.hours}

    def within(tz: str, hours: dict, closed: set, s: datetime, e: datetime) -> bool:
        ls, le = s.astimezone(ZoneInfo(tz)), e.astimezone(ZoneInfo(tz))
        if ls.date() != le.date() or ls.date() in closed or ls.weekday() not in hours:
            return False
        first, last = hours[ls.weekday()]
        return time(first) <= ls.time() and le.time() <= time(last) and le.time() != time(0)

    def free(rid: str, s: datetime, e: datetime) -> bool:
        tz, hours = w.hours[rid]
        if not within(tz, hours, w.closed[rid], s, e):
            return False
        if any(r == pk[rid] and a < e and b > s for r, a, b in list(bookings) + list(away)):
            return False
        until = w.valid_until.get(rid)
        return until is None or until >= s.astimezone(UTC).date()

    found = []
    start = starts
    while start + timedelta(days=parts - 1, minutes=minutes) <= ends:
        spans = [(start + timedelta(days=i), start + timedelta(days=i, minutes=minutes)) for i in range(parts)]
        leads = [i for i in ids["instructors"] if all(free(i, s, e) for s, e in spans)]
        rooms = [r for r in ids["rooms"] if all(free(r, s, e) for s, e in spans)]
        if leads and rooms:
            suited = sum(all(within(tz, {d: (9, 17) for d in range(7)}, set(), s, e) for s, e in spans)
                         for tz in w.learner_zones)
            found.append((spans[0][0].isoformat(), spans[-1][1].isoformat(), leads, rooms, suited))
        start += timedelta(minutes=step)
    found.sort(key=lambda slot: (-slot[4], slot[0]))
    return found


def answered(data: dict) -> list[tuple]:
    return [(s["startsAt"], s["endsAt"], [i["id"] for i in s["instructors"]], [r["id"] for r in s["rooms"]],
             s["learnersInWindow"]) for s in data["availability"]["slots"]]


async def test_slots_equal_a_brute_force_check_in_rank_order(api, app):
    monday = monday_ahead()
    w, ids = await build(api, app, monday)
    starts = datetime.combine(monday, time(0), UTC)
    ends = starts + timedelta(days=4)
    search = {"from": starts.isoformat(), "to": ends.isoformat(), "courseId": ids["course"],
              "instructorCandidates": ids["instructors"], "roomCandidates": ids["rooms"],
              "learnerIds": ids["learners"], "granularityMinutes": 30, "first": 200}
    data = await api.data(SEARCH, {"i": search})
    expected = await brute_force(app, w, ids, starts, ends, 120, 30, 1)
    assert data["availability"]["totalCount"] == len(expected) and len(expected) < 200
    assert answered(data) == expected
    # The answer is not trivial: slots that suit everyone, some no one, and each instructor and room somewhere.
    assert len({slot[4] for slot in expected}) >= 3
    assert {i for slot in expected for i in slot[2]} == set(ids["instructors"])
    assert {r for slot in expected for r in slot[3]} == set(ids["rooms"])

    # Learners given by timezone rank the same as learners given by id.
    by_zone = await api.data(SEARCH, {"i": {**{k: v for k, v in search.items() if k != "learnerIds"},
                                            "learnerTimezones": w.learner_zones}})
    assert answered(by_zone) == expected

    # Two parts on consecutive days: both must be free, and the learners' window holds for both.
    two_days = await api.data(SEARCH, {"i": {**search, "parts": 2}})
    expected_two = await brute_force(app, w, ids, starts, ends, 120, 30, 2)
    assert answered(two_days) == expected_two
    for slot in two_days["availability"]["slots"]:
        assert len(slot["parts"]) == 2

    # first cuts the ranked list.
    top = await api.data(SEARCH, {"i": {**search, "first": 5}})
    assert answered(top) == expected[:5]


async def test_the_search_runs_the_same_statements_with_100_and_100000_bookings(api, app):
    monday = monday_ahead()
    course = await g.course(api, durationMinutes=60)
    room = await g.room(api)
    lead = await g.instructor(api)
    busy_room = await g.room(api)
    starts = datetime.combine(monday, time(0), UTC)
    search = {"from": starts.isoformat(), "to": (starts + timedelta(days=28)).isoformat(), "courseId": course,
              "resourceIds": [busy_room], "instructorCandidates": [lead], "roomCandidates": [room],
              "learnerTimezones": ["Europe/London", "Asia/Tokyo"], "granularityMinutes": 15}
    engine = app.state.podium.engine.sync_engine
    counted: list[str] = []

    def count(conn, cursor, statement, *args) -> None:
        counted.append(statement)

    async def statements() -> tuple[int, dict]:
        counted.clear()
        event.listen(engine, "before_cursor_execute", count)
        try:
            data = await api.data(COUNTS, {"i": search})
        finally:
            event.remove(engine, "before_cursor_execute", count)
        return len(counted), data

    async def book(how_many: int) -> None:
        """Imported busy times of the busy room, 10 minutes each, one every 20 minutes' worth of the window
        (they overlap when there are many), all within the 28 days."""
        spacing = timedelta(days=28) / how_many
        rows = [{"resource_id": from_global_id(busy_room)[1], "session_id": None, "role": BookingRole.ROOM,
                 "active": True, "source": "test", "starts_at": starts + n * spacing,
                 "ends_at": starts + n * spacing + timedelta(minutes=10)} for n in range(how_many)]
        async with app.state.podium.sessions() as db, changing(db):
            for chunk in range(0, len(rows), 10_000):
                await db.execute(insert(Booking), rows[chunk:chunk + 10_000])

    await book(100)
    few, few_data = await statements()
    assert few_data["availability"]["totalCount"] > 0
    await book(99_900)
    many, many_data = await statements()
    assert many == few, (few, many)
    assert many_data["availability"]["totalCount"] == 0  # the room is busy all the time now


async def test_bad_searches_are_refused_with_a_code(api):
    lead = await g.instructor(api)
    starts = datetime(2027, 3, 1, tzinfo=UTC)
    base = {"from": starts.isoformat(), "to": (starts + timedelta(days=7)).isoformat(), "resourceIds": [lead],
            "durationMinutes": 60}

    async def code(**changes) -> tuple:
        body = await api(SEARCH, {"i": {**base, **changes}})
        assert body.get("data") is None or body["data"].get("availability") is None, body
        return body["errors"][0]["extensions"]["code"], body["errors"][0]["extensions"].get("field")

    assert await code(to=(starts + timedelta(days=43)).isoformat()) == ("INVALID", "to")
    assert (await code(to=starts.isoformat()))[0] == "INVALID_TIME_RANGE"
    assert await code(granularityMinutes=1) == ("INVALID", "granularityMinutes")
    assert await code(durationMinutes=0) == ("INVALID", "durationMinutes")
    assert await code(parts=15) == ("INVALID", "parts")
    assert await code(first=201) == ("INVALID", "first")
    assert await code(resourceIds=[]) == ("INVALID", "resourceIds")
    assert await code(instructorCandidates=[lead] * 51) == ("INVALID", "instructorCandidates")
    assert await code(learnerTimezones=["Mars/Olympus"]) == ("INVALID", "learnerTimezones.0")
    assert (await code(learnerWindow={"startsAt": "17:00", "endsAt": "09:00"}))[0] == "INVALID"
    assert await code(durationMinutes=None) == ("INVALID", "durationMinutes")  # no course to take it from
    room = await g.room(api)
    assert await code(instructorCandidates=[room]) == ("INVALID", "instructorCandidates")
    learner = await g.token(api, await g.person(api), "LEARNER")
    refused = await api(SEARCH, {"i": base}, token=learner)
    assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"
