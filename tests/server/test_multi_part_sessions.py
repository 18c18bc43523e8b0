"""Multi-part sessions over HTTP, with the outbox running, on both databases: a three-day course is one
session with three parts, one enrolment, one VEVENT per part in invites and feeds (read back with
icalendar and recurring-ical-events), attendance per part and the session's derived from it."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import icalendar
import recurring_ical_events

from podium.core.calendar_invites import part_uid, session_uid
from podium.core.ids import from_global_id
from tests.dispatching import eventually
from tests.server import graph as g


BERLIN = ZoneInfo("Europe/Berlin")
ORGANIZER = "noreply@podium.invalid"
SCHEDULE = """mutation($i: ScheduleSessionInput!) { scheduleSession(input: $i) {
  session { id startsAt endsAt instructors { id } parts { part startsAt endsAt }
            bookings { part role startsAt endsAt resource { id } } }
  errors { code field message } conflicts { resource { id } startsAt endsAt } } }"""
RESCHEDULE = """mutation($i: RescheduleSessionInput!) { rescheduleSession(input: $i) {
  session { startsAt endsAt parts { part startsAt endsAt } } errors { code field message } } }"""
ATTEND = """mutation($i: RecordAttendanceInput!) { recordAttendance(input: $i) {
  enrollments { attendance { status minutesAttended source } partAttendance { part status minutesAttended } }
  errors { code field message } } }"""
ME = "{ me { id calendarFeedUrl } }"


def three_days(first: datetime) -> list[dict]:
    """09:00-17:00 Berlin time on three days from `first`'s date."""
    day = first.astimezone(BERLIN)
    return [{"startsAt": datetime(day.year, day.month, day.day, 9, tzinfo=BERLIN).__add__(timedelta(days=n)).isoformat(),
             "endsAt": datetime(day.year, day.month, day.day, 17, tzinfo=BERLIN).__add__(timedelta(days=n)).isoformat()}
            for n in range(3)]


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(timezone.utc)


def schedule_input(course, instructors, parts, **kw) -> dict:
    return {"courseId": course, "startsAt": parts[0]["startsAt"], "endsAt": parts[-1]["endsAt"],
            "timezone": "Europe/Berlin", "deliveryMode": "VIRTUAL", "instructorIds": instructors, "parts": parts, **kw}


async def test_a_three_day_course_is_one_session_with_three_parts(told):
    api, channel, sessions = told
    course = await g.course(api, minimumPartsAttended=None)
    lead = await g.instructor(api)
    parts = three_days(g.at(days=10))
    made = (await api.data(SCHEDULE, {"i": schedule_input(course, [lead], parts)}))["scheduleSession"]
    assert made["errors"] == []
    session = made["session"]
    assert [(p["part"], utc(p["startsAt"]), utc(p["endsAt"])) for p in session["parts"]] == [
        (n + 1, utc(p["startsAt"]), utc(p["endsAt"])) for n, p in enumerate(parts)]
    assert utc(session["startsAt"]) == utc(parts[0]["startsAt"]) and utc(session["endsAt"]) == utc(parts[2]["endsAt"])
    assert session["instructors"] == [{"id": lead}]  # once, though booked for three parts
    assert [(b["part"], utc(b["startsAt"])) for b in session["bookings"]] == [
        (n + 1, utc(p["startsAt"])) for n, p in enumerate(parts)]
    # The instructor is free in the evening between two days, and taken during one.
    evening = utc(parts[0]["endsAt"]) + timedelta(hours=2)
    assert await g.session(api, course, [lead], starts_at=evening)
    clash = (await api.data(SCHEDULE, {"i": g.schedule_input(course, [lead], utc(parts[1]["startsAt"]))}))
    assert [e["code"] for e in clash["scheduleSession"]["errors"]] == ["RESOURCE_CONFLICT"]

    # One enrolment for the whole course; the confirmation's invite has one VEVENT per part.
    learner = await g.person(api, email="ada@example.com", timezone="Europe/Berlin")
    assert (await g.enroll(api, session["id"], learner))["enrollment"]["status"] == "ENROLLED"
    confirmed = (await eventually(lambda: [n for n in channel.delivered if n.kind == "enrollment.confirmed"],
                                  what="the confirmation"))[0]
    invite = icalendar.Calendar.from_ical(confirmed.attachments[0].content)
    assert str(invite["method"]) == "REQUEST"
    pk = from_global_id(session["id"])[1]
    vevents = list(invite.walk("VEVENT"))
    assert [str(e["uid"]) for e in vevents] == [part_uid(pk, n, ORGANIZER) for n in (1, 2, 3)]
    assert str(vevents[0]["uid"]) == session_uid(pk, ORGANIZER)  # the first part keeps the session's UID
    assert [(e["dtstart"].dt.hour, e["dtend"].dt.hour, e["dtstart"].params["TZID"]) for e in vevents] == [
        (9, 17, "Europe/Berlin")] * 3
    assert [str(e["summary"]).endswith(f"(part {n} of 3)") for n, e in enumerate(vevents, 1)] == [True] * 3
    assert [str(e.get("related-to")) for e in vevents[1:]] == [session_uid(pk, ORGANIZER)] * 2
    # …and so has the learner's feed, read as a calendar app would.
    token = await g.token(api, learner, "LEARNER")
    url = (await api.data(ME, token=token))["me"]["calendarFeedUrl"]
    feed = icalendar.Calendar.from_ical((await api.client.get(urlsplit(url).path)).content)
    expanded = recurring_ical_events.of(feed).between(utc(parts[0]["startsAt"]) - timedelta(days=1),
                                                      utc(parts[2]["endsAt"]) + timedelta(days=1))
    assert sorted(((str(e["uid"]), e["dtstart"].dt.astimezone(timezone.utc)) for e in expanded),
                  key=lambda e: e[1]) == [
        (part_uid(pk, n + 1, ORGANIZER), utc(p["startsAt"])) for n, p in enumerate(parts)]

    # Day 2 moves an hour later; only it.
    later = {"startsAt": (utc(parts[1]["startsAt"]) + timedelta(hours=1)).isoformat(),
             "endsAt": (utc(parts[1]["endsAt"]) + timedelta(hours=1)).isoformat()}
    moved = (await api.data(RESCHEDULE, {"i": {"sessionId": session["id"], "part": 2, **later}}))["rescheduleSession"]
    assert moved["errors"] == []
    assert [utc(p["startsAt"]) for p in moved["session"]["parts"]] == [
        utc(parts[0]["startsAt"]), utc(later["startsAt"]), utc(parts[2]["startsAt"])]
    rescheduled = (await eventually(lambda: [n for n in channel.delivered if n.kind == "session.rescheduled"],
                                    what="the reschedule notice"))[0]
    vevents = list(icalendar.Calendar.from_ical(rescheduled.attachments[0].content).walk("VEVENT"))
    assert [(e["dtstart"].dt.hour, e["sequence"]) for e in vevents] == [(9, 1), (10, 1), (9, 1)]


async def test_attendance_per_part_and_the_sessions_derived_from_it(told):
    api, _, sessions = told
    every_part = await g.course(api)
    two_of_three = await g.course(api, minimumPartsAttended=2)
    ids = {}
    for name, course, first in (("all", every_part, g.at(days=10)), ("two", two_of_three, g.at(days=20))):
        lead = await g.instructor(api)  # each their own: time passing puts both sessions in the same past
        made = (await api.data(SCHEDULE, {"i": schedule_input(course, [lead], three_days(first))}))["scheduleSession"]
        assert made["errors"] == [], made
        ids[name] = made["session"]["id"]
    learner = await g.person(api)
    enrolments = {name: (await g.enroll(api, sid, learner))["enrollment"]["id"] for name, sid in ids.items()}

    async def attend(name, part, status):
        record = {"enrollmentId": enrolments[name], "status": status, "minutesAttended": 480}
        if part is not None:
            record["part"] = part
        return (await api.data(ATTEND, {"i": {"sessionId": ids[name], "records": [record]}}))["recordAttendance"]

    # Before it starts only ABSENT or EXCUSED can be known.
    assert [e["code"] for e in (await attend("all", 1, "PRESENT"))["errors"]] == ["SESSION_NOT_STARTED"]
    await g.time_passes(sessions, *ids.values())
    first = await attend("all", 1, "PRESENT")
    assert first["errors"] == []
    assert first["enrollments"] == [{"attendance": None, "partAttendance": [
        {"part": 1, "status": "PRESENT", "minutesAttended": 480}]}]  # not known until every part is
    await attend("all", 2, "LATE")
    done = (await attend("all", 3, "PRESENT"))["enrollments"][0]
    assert done["attendance"] == {"status": "LATE", "minutesAttended": 1440, "source": "MANUAL"}
    assert [p["status"] for p in done["partAttendance"]] == ["PRESENT", "LATE", "PRESENT"]
    missed = (await attend("all", 2, "ABSENT"))["enrollments"][0]
    assert missed["attendance"]["status"] == "ABSENT"
    assert [e["code"] for e in (await attend("all", 4, "PRESENT"))["errors"]] == ["NOT_FOUND"]

    # minimumPartsAttended 2: two parts out of three are attendance; one missed leaves it open.
    assert (await attend("two", 1, "ABSENT"))["enrollments"][0]["attendance"] is None
    assert (await attend("two", 2, "PRESENT"))["enrollments"][0]["attendance"] is None
    assert (await attend("two", 3, "PRESENT"))["enrollments"][0]["attendance"]["status"] == "PRESENT"
    # A record without a part is every part's.
    every = (await attend("two", None, "EXCUSED"))["enrollments"][0]
    assert every["attendance"]["status"] == "EXCUSED" and len(every["partAttendance"]) == 3


async def test_bad_parts_over_the_api_are_typed_errors(told):
    api, _, _ = told
    course, lead = await g.course(api), await g.instructor(api)
    parts = three_days(g.at(days=10))
    overlapping = [parts[0], {"startsAt": parts[0]["startsAt"], "endsAt": parts[1]["endsAt"]}]
    for given, field in ((overlapping, ["input", "parts", "1", "startsAt"]),
                         (list(reversed(parts)), ["input", "parts", "1", "startsAt"])):
        bad = schedule_input(course, [lead], given)
        bad["startsAt"], bad["endsAt"] = given[0]["startsAt"], given[-1]["endsAt"]
        errors = (await api.data(SCHEDULE, {"i": bad}))["scheduleSession"]["errors"]
        assert [(e["code"], e["field"]) for e in errors] == [("INVALID_TIME_RANGE", field)], errors
    errors = (await api.data(SCHEDULE, {"i": {**schedule_input(course, [lead], parts), "parts": []}})
              )["scheduleSession"]["errors"]
    assert [(e["code"], e["field"]) for e in errors] == [("INVALID", ["input", "parts"])]
    # The contract's single-interval input still makes a session: of one part.
    made = (await api.data(SCHEDULE, {"i": g.schedule_input(course, [lead], g.at(days=30))}))["scheduleSession"]
    assert made["errors"] == [] and len(made["session"]["parts"]) == 1
    assert made["session"]["parts"][0]["startsAt"] == made["session"]["startsAt"]
