"""Working hours, dated exceptions and time off, through GraphQL over HTTP on both databases: a resource is
booked only within its hours on its own clock and outside its time off, unless an admin or a coordinator
says allowOutsideHours (audited); a learner cannot."""
from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from sqlalchemy import select

from podium.core.ids import from_global_id
from podium.core.models import AuditEntry, Booking
from tests.server import graph as g

SCHEDULE = """mutation($i: ScheduleSessionInput!) { scheduleSession(input: $i) {
  session { id startsAt } errors { code field message } conflicts { resource { id name } startsAt endsAt } } }"""
RESCHEDULE = """mutation($i: RescheduleSessionInput!) { rescheduleSession(input: $i) {
  session { id startsAt } errors { code field message } conflicts { resource { id } startsAt endsAt } } }"""
SET_HOURS = """mutation($i: SetWorkingHoursInput!) { setWorkingHours(input: $i) {
  resource { id workingHours { weekday startsAt endsAt } } errors { code field message } } }"""
SET_EXCEPTION = """mutation($i: SetHoursExceptionInput!) { setHoursException(input: $i) {
  resource { id } errors { code field message } } }"""
ADD_TIME_OFF = """mutation($i: AddTimeOffInput!) { addTimeOff(input: $i) {
  timeOff { id startsAt endsAt reason } errors { code field message } } }"""
REMOVE_TIME_OFF = """mutation($i: RemoveTimeOffInput!) { removeTimeOff(input: $i) {
  timeOff { id } errors { code field message } } }"""
HOURS = """query($id: ID!, $from: DateTime!, $to: DateTime!, $first: Date!, $last: Date!) { node(id: $id) {
  ... on Resource { workingHours { weekday startsAt endsAt } timeOff(from: $from, to: $to) { id reason }
                    hoursExceptions(from: $first, to: $last) { date hours { startsAt endsAt } } } } }"""

TOKYO, BERLIN = ZoneInfo("Asia/Tokyo"), ZoneInfo("Europe/Berlin")


def weekday_ahead(weekday: int, days: int = 10) -> date:
    """The first such weekday (Monday 0) at least `days` from today."""
    day = datetime.now(timezone.utc).date() + timedelta(days=days)
    return day + timedelta(days=(weekday - day.weekday()) % 7)


def local(day: date, hour: int, zone: ZoneInfo, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), zone)


def session_input(course: str, instructors: list[str], starts_at: datetime, minutes: int = 120, **kw) -> dict:
    return {"courseId": course, "startsAt": starts_at.isoformat(),
            "endsAt": (starts_at + timedelta(minutes=minutes)).isoformat(), "timezone": "Asia/Tokyo",
            "deliveryMode": "VIRTUAL", "instructorIds": instructors, **kw}


async def tokyo_instructor(api) -> str:
    """An instructor in Asia/Tokyo with the default hours: Monday to Friday 09:00-17:00 Tokyo time."""
    return await g.created(api, g.RESOURCE, "createResource", "resource", {
        "kind": "INSTRUCTOR", "name": "Aiko Sato", "timezone": "Asia/Tokyo", "email": "aiko@example.com"})


async def schedule(api, values: dict, **kw) -> dict:
    return (await api.data(SCHEDULE, {"i": values}, **kw))["scheduleSession"]


async def test_a_tokyo_instructor_is_not_bookable_at_three_in_the_morning_tokyo_time(api):
    course, aiko = await g.course(api), await tokyo_instructor(api)
    tuesday = weekday_ahead(1)
    night = await schedule(api, session_input(course, [aiko], local(tuesday, 3, TOKYO)))
    assert night["session"] is None
    assert [e["code"] for e in night["errors"]] == ["OUTSIDE_AVAILABILITY"]
    message = night["errors"][0]["message"]
    assert "Aiko Sato" in message and f"{tuesday.isoformat()} 03:00–05:00 Asia/Tokyo" in message, message
    assert night["conflicts"] == [{"resource": {"id": aiko, "name": "Aiko Sato"},
                                   "startsAt": local(tuesday, 3, TOKYO).astimezone(timezone.utc).isoformat(),
                                   "endsAt": local(tuesday, 5, TOKYO).astimezone(timezone.utc).isoformat()}]

    # 10:00 Tokyo is 01:00 UTC: inside her hours on her clock, whatever UTC says.
    morning = await schedule(api, session_input(course, [aiko], local(tuesday, 10, TOKYO)))
    assert morning["errors"] == [] and morning["session"] is not None
    # Half inside is outside: 16:00-18:00 runs an hour past 17:00, and only that hour is named.
    late = await schedule(api, session_input(course, [aiko], local(tuesday, 16, TOKYO)))
    assert [e["code"] for e in late["errors"]] == ["OUTSIDE_AVAILABILITY"]
    assert "17:00–18:00 Asia/Tokyo" in late["errors"][0]["message"]
    # Saturday is not a working day by default.
    saturday = await schedule(api, session_input(course, [aiko], local(weekday_ahead(5), 10, TOKYO)))
    assert [e["code"] for e in saturday["errors"]] == ["OUTSIDE_AVAILABILITY"]


async def test_rooms_keep_opening_hours_on_their_own_clock(api):
    course, lead = await g.course(api), await g.instructor(api)
    hall = await g.created(api, g.RESOURCE, "createResource", "resource", {
        "kind": "ROOM", "name": "Hudson", "timezone": "America/New_York", "capacity": 20,
        "workingHours": [{"weekday": "WEDNESDAY", "startsAt": "08:00", "endsAt": "18:00"}]})
    wednesday, ny = weekday_ahead(2), ZoneInfo("America/New_York")

    async def in_hall(day: date, start: int, end: int) -> list[str]:
        made = await schedule(api, {"courseId": course, "startsAt": local(day, start, ny).isoformat(),
                                    "endsAt": local(day, end, ny).isoformat(), "timezone": "America/New_York",
                                    "deliveryMode": "IN_PERSON", "roomId": hall, "instructorIds": [lead]})
        return [e["code"] for e in made["errors"]] or [made["errors"], made["session"]["id"]][0]

    assert await in_hall(wednesday, 17, 19) == ["OUTSIDE_AVAILABILITY"]
    assert await in_hall(wednesday, 8, 18) == []
    assert await in_hall(wednesday + timedelta(days=1), 9, 10) == ["OUTSIDE_AVAILABILITY"]


async def test_time_off_refuses_and_its_reason_is_for_staff(api):
    course, aiko = await g.course(api), await tokyo_instructor(api)
    tuesday = weekday_ahead(1)
    leave = await api.data(ADD_TIME_OFF, {"i": {"resourceId": aiko, "startsAt": local(tuesday, 0, TOKYO).isoformat(),
                                                "endsAt": local(tuesday, 12, TOKYO).isoformat(),
                                                "reason": "Dentist"}})
    assert leave["addTimeOff"]["errors"] == [] and leave["addTimeOff"]["timeOff"]["reason"] == "Dentist"
    refused = await schedule(api, session_input(course, [aiko], local(tuesday, 10, TOKYO)))
    assert [e["code"] for e in refused["errors"]] == ["OUTSIDE_AVAILABILITY"]
    assert "Aiko Sato is on time off" in refused["errors"][0]["message"]
    assert "Dentist" not in refused["errors"][0]["message"]
    after_lunch = await schedule(api, session_input(course, [aiko], local(tuesday, 13, TOKYO)))
    assert after_lunch["errors"] == []

    window = {"id": aiko, "from": local(tuesday, 0, TOKYO).isoformat(), "to": local(tuesday, 23, TOKYO).isoformat(),
              "first": tuesday.isoformat(), "last": tuesday.isoformat()}
    staff_view = (await api.data(HOURS, window))["node"]
    assert [t["reason"] for t in staff_view["timeOff"]] == ["Dentist"]
    assert staff_view["workingHours"][0] == {"weekday": "MONDAY", "startsAt": "09:00", "endsAt": "17:00"}
    assert len(staff_view["workingHours"]) == 5
    learner = await g.token(api, await g.person(api), "LEARNER")
    learner_view = (await api.data(HOURS, window, token=learner))["node"]
    assert [t["reason"] for t in learner_view["timeOff"]] == [None]

    removed = await api.data(REMOVE_TIME_OFF, {"i": {"timeOffId": leave["addTimeOff"]["timeOff"]["id"]}})
    assert removed["removeTimeOff"]["errors"] == []
    assert (await schedule(api, session_input(course, [aiko], local(tuesday, 10, TOKYO))))["errors"] == []


async def test_allow_outside_hours_is_a_coordinators_call_and_is_audited(api, app):
    course, aiko = await g.course(api), await tokyo_instructor(api)
    tuesday = weekday_ahead(1)
    cora = await g.person(api, name="Cora Ord")
    coordinator = await g.token(api, cora, "COORDINATOR")
    learner_id = await g.person(api)
    learner = await g.token(api, learner_id, "LEARNER")
    night = session_input(course, [aiko], local(tuesday, 3, TOKYO), allowOutsideHours=True)

    by_learner = (await api.data(SCHEDULE, {"i": night}, token=learner))["scheduleSession"]
    assert by_learner["session"] is None and [e["code"] for e in by_learner["errors"]] == ["FORBIDDEN"]
    async with app.state.podium.sessions() as db:
        assert (await db.scalars(select(Booking))).all() == []

    made = (await api.data(SCHEDULE, {"i": night}, token=coordinator))["scheduleSession"]
    assert made["errors"] == [] and made["session"] is not None
    async with app.state.podium.sessions() as db:
        overrides = (await db.scalars(select(AuditEntry).where(AuditEntry.action == "availability.override"))).all()
    assert len(overrides) == 1
    assert overrides[0].actor == f"api:person:{from_global_id(cora)[1]}"
    assert overrides[0].target_type == "Resource" and overrides[0].target_id == from_global_id(aiko)[1]
    assert overrides[0].after["outside"] == [[local(tuesday, 3, TOKYO).astimezone(timezone.utc).isoformat(),
                                              local(tuesday, 5, TOKYO).astimezone(timezone.utc).isoformat()]]

    # Rescheduling is held to the same rule, and the same override.
    moved = (await api.data(RESCHEDULE, {"i": {"sessionId": made["session"]["id"],
                                              "startsAt": local(tuesday, 20, TOKYO).isoformat(),
                                              "endsAt": local(tuesday, 21, TOKYO).isoformat()}},
                            token=coordinator))["rescheduleSession"]
    assert [e["code"] for e in moved["errors"]] == ["OUTSIDE_AVAILABILITY"]
    assert moved["conflicts"][0]["resource"]["id"] == aiko
    into_hours = (await api.data(RESCHEDULE, {"i": {"sessionId": made["session"]["id"],
                                                   "startsAt": local(tuesday, 9, TOKYO).isoformat(),
                                                   "endsAt": local(tuesday, 11, TOKYO).isoformat()}},
                                 token=coordinator))["rescheduleSession"]
    assert into_hours["errors"] == []


async def test_hours_follow_the_local_clock_across_daylight_saving(api):
    """Europe/Berlin moves its clocks on 28 March 2027: 09:00-17:00 Berlin is 08:00-16:00 UTC before and
    07:00-15:00 UTC after, and the rule follows the wall clock on both sides."""
    course = await g.course(api)
    klaus = await g.created(api, g.RESOURCE, "createResource", "resource", {
        "kind": "INSTRUCTOR", "name": "Klaus", "timezone": "Europe/Berlin", "email": "klaus@example.com"})
    before, after = date(2027, 3, 26), date(2027, 3, 29)  # a Friday and a Monday
    for day in (before, after):
        at_nine = await schedule(api, session_input(course, [klaus], local(day, 9, BERLIN), minutes=60))
        assert at_nine["errors"] == [], day
        utc_hour = local(day, 8, BERLIN).astimezone(timezone.utc)
        early = await schedule(api, session_input(course, [klaus], utc_hour, minutes=60))
        assert [e["code"] for e in early["errors"]] == ["OUTSIDE_AVAILABILITY"], day
        assert f"{day.isoformat()} 08:00–09:00 Europe/Berlin" in early["errors"][0]["message"]


async def test_dated_exceptions_close_a_holiday_and_open_a_saturday(api):
    course, aiko = await g.course(api), await tokyo_instructor(api)
    tuesday, saturday = weekday_ahead(1), weekday_ahead(5)
    closed = await api.data(SET_EXCEPTION, {"i": {"resourceId": aiko, "date": tuesday.isoformat(), "hours": []}})
    assert closed["setHoursException"]["errors"] == []
    opened = await api.data(SET_EXCEPTION, {"i": {"resourceId": aiko, "date": saturday.isoformat(),
                                                  "hours": [{"startsAt": "10:00", "endsAt": "14:00"}]}})
    assert opened["setHoursException"]["errors"] == []
    holiday = await schedule(api, session_input(course, [aiko], local(tuesday, 10, TOKYO)))
    assert [e["code"] for e in holiday["errors"]] == ["OUTSIDE_AVAILABILITY"]
    assert (await schedule(api, session_input(course, [aiko], local(saturday, 10, TOKYO))))["errors"] == []
    assert [e["code"] for e in (await schedule(api, session_input(
        course, [aiko], local(saturday, 13, TOKYO))))["errors"]] == ["OUTSIDE_AVAILABILITY"]
    # Removing the exception brings the weekly hours back.
    await api.data(SET_EXCEPTION, {"i": {"resourceId": aiko, "date": tuesday.isoformat(), "hours": None}})
    assert (await schedule(api, session_input(course, [aiko], local(tuesday, 10, TOKYO))))["errors"] == []


async def test_new_weekly_hours_replace_the_default(api):
    course, aiko = await g.course(api), await tokyo_instructor(api)
    evenings = [{"weekday": "TUESDAY", "startsAt": "18:00", "endsAt": "24:00"},
                {"weekday": "WEDNESDAY", "startsAt": "00:00", "endsAt": "02:00"}]
    data = (await api.data(SET_HOURS, {"i": {"resourceId": aiko, "weekly": evenings}}))["setWorkingHours"]
    assert data["errors"] == [] and data["resource"]["workingHours"] == evenings
    tuesday = weekday_ahead(1)
    # Past midnight: the two ranges join into one span on her clock.
    assert (await schedule(api, session_input(course, [aiko], local(tuesday, 23, TOKYO))))["errors"] == []
    assert [e["code"] for e in (await schedule(api, session_input(
        course, [aiko], local(tuesday, 10, TOKYO))))["errors"]] == ["OUTSIDE_AVAILABILITY"]
    back = (await api.data(SET_HOURS, {"i": {"resourceId": aiko, "weekly": None}}))["setWorkingHours"]
    assert len(back["resource"]["workingHours"]) == 5


async def test_bad_hours_and_time_off_are_refused_with_a_code(api):
    aiko = await tokyo_instructor(api)

    async def hours_error(weekly) -> tuple:
        data = (await api.data(SET_HOURS, {"i": {"resourceId": aiko, "weekly": weekly}}))["setWorkingHours"]
        assert data["resource"] is None
        return data["errors"][0]["code"], data["errors"][0]["field"]

    assert await hours_error([{"weekday": "MONDAY", "startsAt": "17:00", "endsAt": "09:00"}]) == (
        "INVALID", ["input", "weekly", "0", "endsAt"])
    assert (await hours_error([{"weekday": "MONDAY", "startsAt": "09:00", "endsAt": "09:00"}]))[0] == "INVALID"
    assert (await hours_error([{"weekday": "MONDAY", "startsAt": "25:00", "endsAt": "26:00"}]))[0] == "INVALID"
    assert (await hours_error([{"weekday": "MONDAY", "startsAt": "9am", "endsAt": "17:00"}]))[0] == "INVALID"
    assert (await hours_error([{"weekday": "MONDAY", "startsAt": "09:00", "endsAt": "13:00"},
                               {"weekday": "MONDAY", "startsAt": "12:00", "endsAt": "17:00"}]))[0] == "INVALID"
    assert (await hours_error([{"weekday": "MONDAY", "startsAt": f"{h:02d}:00", "endsAt": f"{h:02d}:30"}
                               for h in range(8)]))[0] == "INVALID"
    bad_day = await api(SET_HOURS, {"i": {"resourceId": aiko, "weekly": [
        {"weekday": "FUNDAY", "startsAt": "09:00", "endsAt": "17:00"}]}})
    assert "errors" in bad_day  # not an enum value: refused by validation, never a 500

    exception = (await api.data(SET_EXCEPTION, {"i": {"resourceId": aiko, "date": "2027-03-02", "hours": [
        {"startsAt": "14:00", "endsAt": "10:00"}]}}))["setHoursException"]
    assert [e["code"] for e in exception["errors"]] == ["INVALID"]

    async def time_off_error(starts: str, ends: str, reason: str | None = None) -> str:
        data = (await api.data(ADD_TIME_OFF, {"i": {"resourceId": aiko, "startsAt": starts, "endsAt": ends,
                                                    "reason": reason}}))["addTimeOff"]
        assert data["timeOff"] is None
        return data["errors"][0]["code"]

    assert await time_off_error("2027-03-02T12:00:00+09:00", "2027-03-02T09:00:00+09:00") == "INVALID_TIME_RANGE"
    assert await time_off_error("2027-03-02T12:00:00", "2027-03-02T19:00:00") == "INVALID_TIME_RANGE"
    assert await time_off_error("2027-01-01T00:00:00Z", "2029-01-01T00:00:00Z") == "INVALID_TIME_RANGE"
    assert await time_off_error("2027-03-02T09:00:00Z", "2027-03-02T10:00:00Z", "x" * 501) == "INVALID"
    unknown = (await api.data(REMOVE_TIME_OFF, {"i": {"timeOffId": "VGltZU9mZjo5OTk="}}))["removeTimeOff"]
    assert [e["code"] for e in unknown["errors"]] == ["NOT_FOUND"]


async def test_only_staff_change_hours_and_time_off(api):
    aiko = await tokyo_instructor(api)
    instructor = await g.token(api, await g.person(api, email="aiko@example.com"), "INSTRUCTOR")
    for query, values, name in (
            (SET_HOURS, {"resourceId": aiko, "weekly": []}, "setWorkingHours"),
            (SET_EXCEPTION, {"resourceId": aiko, "date": "2027-03-02", "hours": []}, "setHoursException"),
            (ADD_TIME_OFF, {"resourceId": aiko, "startsAt": "2027-03-02T09:00:00Z",
                            "endsAt": "2027-03-02T10:00:00Z"}, "addTimeOff")):
        data = (await api.data(query, {"i": values}, token=instructor))[name]
        assert [e["code"] for e in data["errors"]] == ["FORBIDDEN"], name


async def test_every_part_of_a_multi_day_session_is_held_to_the_hours(api):
    """Friday and Monday parts fit the default hours; a Saturday part does not, and is the one named."""
    course, aiko = await g.course(api), await tokyo_instructor(api)
    friday = weekday_ahead(4)
    saturday, monday = friday + timedelta(days=1), friday + timedelta(days=3)

    def parts_input(days: list[date]) -> dict:
        parts = [{"startsAt": local(day, 10, TOKYO).isoformat(), "endsAt": local(day, 16, TOKYO).isoformat()}
                 for day in days]
        return {**session_input(course, [aiko], local(days[0], 10, TOKYO)), "endsAt": parts[-1]["endsAt"],
                "parts": parts}

    weekend = await schedule(api, parts_input([friday, saturday]))
    assert [e["code"] for e in weekend["errors"]] == ["OUTSIDE_AVAILABILITY"]
    assert f"{saturday.isoformat()} 10:00–16:00 Asia/Tokyo" in weekend["errors"][0]["message"]
    assert friday.isoformat() not in weekend["errors"][0]["message"]
    # Overnight between the parts is no booking: the instructor's hours need not cover it.
    assert (await schedule(api, parts_input([friday, monday])))["errors"] == []
