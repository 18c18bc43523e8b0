"""rescheduleSeries through GraphQL on both databases, with the outbox running: this and later occurrences
move on the series' local wall clock across a daylight-saving change, all or none (a clash lists its
occurrence and moves nothing), a dry run writes nothing, every moved session is audited and its learners
told as rescheduleSession tells them, and occurrences may move into each other's old slots."""
from __future__ import annotations

from datetime import date, datetime, timedelta
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import icalendar
import recurring_ical_events
from sqlalchemy import func, select

from podium.core.models import AuditEntry
from tests.dispatching import eventually
from tests.server import graph as g

BERLIN = ZoneInfo("Europe/Berlin")
UTC = ZoneInfo("UTC")
SERIES = """mutation($i: ScheduleSeriesInput!) { scheduleSeries(input: $i) {
  series { id } sessions { id startsAt } errors { code message } } }"""
MOVE = """mutation($i: RescheduleSeriesInput!) { rescheduleSeries(input: $i) {
  series { id } sessions { id startsAt endsAt seriesOccurrence instructors { id } }
  occurrences { occurrence startsAt endsAt parts { part startsAt } }
  errors { code field message } conflicts { occurrence resource { id } startsAt endsAt } } }"""
SERIES_SESSIONS = """query($id: ID!) { sessions(first: 20, filter: {resourceId: $id}) {
  edges { node { id startsAt endsAt seriesOccurrence } } } }"""


def berlin(value: str) -> tuple[int, int, int]:
    """(day, hour, minute) on the Berlin wall clock."""
    local = datetime.fromisoformat(value).astimezone(BERLIN)
    return local.day, local.hour, local.minute


async def occurrences(api, teacher: str) -> dict[int, tuple[tuple[int, int, int], tuple[int, int, int]]]:
    edges = (await api.data(SERIES_SESSIONS, {"id": teacher}))["sessions"]["edges"]
    return {e["node"]["seriesOccurrence"]: (berlin(e["node"]["startsAt"]), berlin(e["node"]["endsAt"]))
            for e in edges if e["node"]["seriesOccurrence"]}


async def test_this_and_later_occurrences_move_on_the_local_clock_all_or_none(story):
    api, plugins, sessions = story
    course, teacher = await g.course(api), await g.instructor(api, email="tom@example.com")
    learner = await g.person(api, email="lena@example.com")
    # Tuesdays 2 March to 6 April 2027, 09:00-10:00 in Berlin: Europe changes its clocks on 28 March.
    first = datetime(2027, 3, 2, 9, tzinfo=BERLIN)
    made = (await api.data(SERIES, {"i": {
        "courseId": course, "startsAt": first.isoformat(), "endsAt": (first + timedelta(hours=1)).isoformat(),
        "timezone": "Europe/Berlin", "deliveryMode": "VIRTUAL", "instructorIds": [teacher],
        "recurrence": "RRULE:FREQ=WEEKLY;COUNT=6"}}))["scheduleSeries"]
    assert made["errors"] == []
    series = made["series"]["id"]
    for session in made["sessions"][3:5]:  # occurrences 4 (23 March) and 5 (30 March)
        assert (await g.enroll(api, session["id"], learner))["errors"] == []
    days = [2, 9, 16, 23, 30, 6]

    dry = (await api.data(MOVE, {"i": {"seriesId": series, "fromOccurrence": 3, "startTime": "10:30",
                                       "dryRun": True}}))["rescheduleSeries"]
    assert dry["errors"] == [] and dry["sessions"] == []
    assert [(o["occurrence"], berlin(o["startsAt"])) for o in dry["occurrences"]] == [
        (n, (days[n - 1], 10, 30)) for n in range(3, 7)]
    assert await occurrences(api, teacher) == {n: ((d, 9, 0), (d, 10, 0)) for n, d in enumerate(days, 1)}

    moved = (await api.data(MOVE, {"i": {"seriesId": series, "fromOccurrence": 3, "startTime": "10:30"}}))
    moved = moved["rescheduleSeries"]
    assert moved["errors"] == [] and moved["series"]["id"] == series
    assert [s["seriesOccurrence"] for s in moved["sessions"]] == [3, 4, 5, 6]
    utc_hours = {datetime.fromisoformat(s["startsAt"]).astimezone(ZoneInfo("UTC")).hour for s in moved["sessions"]}
    assert utc_hours == {9, 8}  # 10:30 in Berlin is 09:30 UTC in winter, 08:30 UTC in summer
    assert await occurrences(api, teacher) == {
        n: ((d, 9, 0), (d, 10, 0)) if n < 3 else ((d, 10, 30), (d, 11, 30)) for n, d in enumerate(days, 1)}
    told = await eventually(lambda: (lambda found: found if len(found) == 2 else None)(
        [n for n in plugins.channel.delivered if n.kind == "session.rescheduled" and n.to == "lena@example.com"]),
        what="the learner told of both moved sessions")
    # Their updated invites say 10:30 on the Berlin clock, before and after the change (icalendar).
    starts = sorted(e["dtstart"].dt for n in told for e in icalendar.Calendar.from_ical(
        next(a for a in n.attachments if a.filename.endswith(".ics")).content).walk("VEVENT"))
    assert [(t.day, t.hour, t.minute, str(t.tzinfo)) for t in starts] == [(23, 10, 30, "Europe/Berlin"),
                                                                          (30, 10, 30, "Europe/Berlin")]
    assert [t.utcoffset() for t in starts] == [timedelta(hours=1), timedelta(hours=2)]
    async with sessions() as db:
        audited = dict((await db.execute(select(AuditEntry.action, func.count()).where(
            AuditEntry.action.in_(["session.reschedule", "series.reschedule"])).group_by(AuditEntry.action))).all())
    assert audited == {"session.reschedule": 4, "series.reschedule": 1}

    # Longer, from an instant on: occurrences 5 and 6 last 90 minutes.
    longer = (await api.data(MOVE, {"i": {"seriesId": series, "from": "2027-03-30T00:00:00+02:00",
                                          "durationMinutes": 90}}))["rescheduleSeries"]
    assert [s["seriesOccurrence"] for s in longer["sessions"]] == [5, 6]
    assert [berlin(s["endsAt"]) for s in longer["sessions"]] == [(30, 12, 0), (6, 12, 0)]

    # Something else of the instructor's stands in the way of occurrence 6 at 14:00: nothing moves.
    await g.session(api, course, [teacher], starts_at=datetime(2027, 4, 6, 14, 30, tzinfo=BERLIN))
    clash = (await api.data(MOVE, {"i": {"seriesId": series, "startTime": "14:00"}}))["rescheduleSeries"]
    assert [e["code"] for e in clash["errors"]] == ["RESOURCE_CONFLICT"] and clash["sessions"] == []
    assert [(c["occurrence"], c["resource"]["id"]) for c in clash["conflicts"]] == [(6, teacher)]
    assert (await occurrences(api, teacher))[1] == ((2, 9, 0), (2, 10, 0))

    # A week later, each occurrence into the next one's old slot: the series' own bookings are no clash.
    week = (await api.data(MOVE, {"i": {"seriesId": series, "shiftMinutes": 7 * 24 * 60}}))["rescheduleSeries"]
    assert week["errors"] == []
    after = await occurrences(api, teacher)
    assert [after[n][0] for n in range(1, 7)] == [(9, 9, 0), (16, 9, 0), (23, 10, 30), (30, 10, 30), (6, 10, 30),
                                                  (13, 10, 30)]

    # Re-staffed from occurrence 4 on: the new instructor's other session stands in the way of occurrence 6
    # (13 April 10:30-12:00), so nothing changes; another instructor takes them, and the first is free again.
    busy, free = await g.instructor(api), await g.instructor(api)
    await g.session(api, course, [busy], starts_at=datetime(2027, 4, 13, 11, tzinfo=BERLIN))
    refused = (await api.data(MOVE, {"i": {"seriesId": series, "fromOccurrence": 4, "instructorIds": [busy]}}))
    assert [(c["occurrence"], c["resource"]["id"]) for c in refused["rescheduleSeries"]["conflicts"]] == [(6, busy)]
    staffed = (await api.data(MOVE, {"i": {"seriesId": series, "fromOccurrence": 4, "instructorIds": [free]}}))
    staffed = staffed["rescheduleSeries"]
    assert staffed["errors"] == [] and {s["instructors"][0]["id"] for s in staffed["sessions"]} == {free}
    assert await g.session(api, course, [teacher], starts_at=datetime(2027, 3, 30, 10, 30, tzinfo=BERLIN))
    off = await eventually(lambda: (lambda found: found if len(found) == 3 else None)(
        [n for n in plugins.channel.delivered if n.kind == "session.instructor_unassigned"]),
        what="the instructor taken off told of each occurrence")
    assert {n.to for n in off} == {"tom@example.com"}
    assert {str(icalendar.Calendar.from_ical(a.content)["method"]) for n in off for a in n.attachments
            if a.filename.endswith(".ics")} == {"CANCEL"}

    learner_token = await g.token(api, learner, "LEARNER")
    for given, code, field in (({}, "INVALID", "startTime"), ({"startTime": "25:00"}, "INVALID", "startTime"),
                               ({"startTime": "09:00", "shiftMinutes": 30}, "INVALID", "shiftMinutes"),
                               ({"shiftMinutes": 0}, "INVALID", "shiftMinutes"),
                               ({"durationMinutes": 0}, "INVALID", "durationMinutes"),
                               ({"fromOccurrence": 9, "startTime": "09:00"}, "NOT_FOUND", "fromOccurrence"),
                               ({"instructorIds": []}, "INVALID", "instructorIds"),
                               ({"roomId": teacher}, "INVALID", "roomId"),
                               ({"startTime": "09:00", "token": learner_token}, "FORBIDDEN", None)):
        token = given.pop("token", None)
        kwargs = {"token": token} if token else {}
        refused = (await api.data(MOVE, {"i": {"seriesId": series, **given}}, **kwargs))["rescheduleSeries"]
        assert [(e["code"], e["field"]) for e in refused["errors"]] == [
            (code, ["input", field] if field else None)], given


async def test_a_start_time_the_clock_skips_moves_on_by_the_gap_keeping_the_length(api):
    """Sundays 14, 21 and 28 March 2027: Europe/Berlin skips 02:00-03:00 on the 28th. Moved to 02:30, that
    occurrence starts at 03:30 and still lasts its hour (it was refused as an empty 03:30-03:30); a series made
    at 02:30 does the same (RFC 5545: a skipped local time moves on by the gap)."""
    course, teacher = await g.course(api), await g.instructor(api)
    first = datetime(2027, 3, 14, 9, tzinfo=BERLIN)
    given = {"courseId": course, "startsAt": first.isoformat(), "endsAt": (first + timedelta(hours=1)).isoformat(),
             "timezone": "Europe/Berlin", "deliveryMode": "VIRTUAL", "instructorIds": [teacher],
             "recurrence": "RRULE:FREQ=WEEKLY;COUNT=3"}
    made = (await api.data(SERIES, {"i": given}))["scheduleSeries"]
    assert made["errors"] == []
    moved = (await api.data(MOVE, {"i": {"seriesId": made["series"]["id"], "startTime": "02:30"}}))["rescheduleSeries"]
    assert moved["errors"] == []
    assert [(berlin(s["startsAt"]), berlin(s["endsAt"])) for s in moved["sessions"]] == [
        ((14, 2, 30), (14, 3, 30)), ((21, 2, 30), (21, 3, 30)), ((28, 3, 30), (28, 4, 30))]

    night = datetime(2027, 3, 14, 2, 30, tzinfo=BERLIN)
    other = await g.instructor(api)
    again = (await api.data(SERIES, {"i": {**given, "instructorIds": [other], "startsAt": night.isoformat(),
                                           "endsAt": (night + timedelta(hours=1)).isoformat()}}))["scheduleSeries"]
    assert again["errors"] == []
    assert [berlin(s["startsAt"]) for s in again["sessions"]] == [(14, 2, 30), (21, 2, 30), (28, 3, 30)]


ROSTER = """query($id: ID!) { node(id: $id) { ... on Session { status instructors { id }
  enrollments(first: 5) { edges { node { id } } } } } }"""


async def test_an_instructor_taken_off_a_series_no_longer_teaches_it_and_a_cancelled_one_keeps_its_own(api):
    """Who teaches a session is read from its bookings: after re-staffing, the instructor taken off is no
    longer among its instructors and no longer reads its roster (their old bookings are gone, not left
    inactive); a cancelled session, whose bookings are all freed, still names the instructor it had."""
    course = await g.course(api)
    old, new = await g.instructor(api, email="old.teacher@example.com"), await g.instructor(api, email="new@example.com")
    old_token = await g.token(api, await g.person(api, email="old.teacher@example.com"), "INSTRUCTOR")
    new_token = await g.token(api, await g.person(api, email="new@example.com"), "INSTRUCTOR")
    first = datetime(2027, 5, 4, 9, tzinfo=BERLIN)
    made = (await api.data(SERIES, {"i": {
        "courseId": course, "startsAt": first.isoformat(), "endsAt": (first + timedelta(hours=1)).isoformat(),
        "timezone": "Europe/Berlin", "deliveryMode": "VIRTUAL", "instructorIds": [old],
        "recurrence": "RRULE:FREQ=WEEKLY;COUNT=2"}}))["scheduleSeries"]
    session = made["sessions"][1]["id"]
    assert (await g.enroll(api, session, await g.person(api)))["errors"] == []

    async def roster(token):
        node = (await api.data(ROSTER, {"id": session}, token=token))["node"]
        return node["status"], [i["id"] for i in node["instructors"]], len(node["enrollments"]["edges"])

    assert await roster(old_token) == ("SCHEDULED", [old], 1)
    staffed = (await api.data(MOVE, {"i": {"seriesId": made["series"]["id"], "instructorIds": [new]}}))
    assert staffed["rescheduleSeries"]["errors"] == []
    assert await roster(new_token) == ("SCHEDULED", [new], 1)
    assert await roster(old_token) == ("SCHEDULED", [new], 0)  # the session is public, its roster no longer theirs
    cancelled = await api.data("""mutation($i: CancelSeriesInput!) { cancelSeries(input: $i) { errors { code } } }""",
                               {"i": {"seriesId": made["series"]["id"]}})
    assert cancelled["cancelSeries"]["errors"] == []
    assert await roster(new_token) == ("CANCELLED", [new], 1)


RECURRENCE = """query($id: ID!) { node(id: $id) { ... on Series { rule timezone occurrences exceptDates
  recurrence { fromOccurrence toOccurrence startsAt endsAt rule exceptDates }
  sessions { startsAt endsAt status seriesOccurrence } } } }"""
FIRST_SESSIONS_RECURRENCE = """{ sessions(first: 1) { edges { node { seriesOccurrence series {
  recurrence { fromOccurrence toOccurrence startsAt endsAt rule exceptDates } } } } } }"""
CANCEL_SESSION = """mutation($i: CancelSessionInput!) { cancelSession(input: $i) { errors { code } } }"""
ME = "{ me { calendarFeedUrl } }"


def expanded(series: dict) -> list[tuple[datetime, datetime]]:
    """The series' recurrences written as RFC 5545 VEVENTs (DTSTART and DTEND on its clock, RRULE, EXDATE at the
    start's local time), read back with icalendar and expanded by recurring-ical-events: (start, end) in UTC."""
    zone = ZoneInfo(series["timezone"])
    calendar = icalendar.Calendar()
    calendar.add("prodid", "-//test//EN")
    calendar.add("version", "2.0")
    for r in series["recurrence"]:
        start = datetime.fromisoformat(r["startsAt"]).astimezone(zone)
        event = icalendar.Event()
        event.add("uid", f"rule-{r['fromOccurrence']}@test")
        event.add("dtstamp", start)
        event.add("dtstart", start)
        event.add("dtend", datetime.fromisoformat(r["endsAt"]).astimezone(zone))
        event.add("rrule", icalendar.vRecur.from_ical(r["rule"].removeprefix("RRULE:")))
        for day in r["exceptDates"]:
            event.add("exdate", datetime.combine(date.fromisoformat(day), start.time().replace(tzinfo=None), zone))
        calendar.add_component(event)
    calendar.add_missing_timezones()
    read = icalendar.Calendar.from_ical(calendar.to_ical())
    events = recurring_ical_events.of(read).between(datetime(2027, 1, 1, tzinfo=UTC), datetime(2028, 1, 1, tzinfo=UTC))
    return sorted((e["dtstart"].dt.astimezone(UTC), e["dtend"].dt.astimezone(UTC)) for e in events)


def scheduled(series: dict) -> list[tuple[datetime, datetime]]:
    return sorted((datetime.fromisoformat(s["startsAt"]), datetime.fromisoformat(s["endsAt"]))
                  for s in series["sessions"])


async def test_the_stored_recurrence_follows_a_move_of_this_and_later_occurrences(told):
    """Tuesdays 09:00-10:00 in Berlin from 2 March 2027, COUNT=10 without 20 April: nine occurrences. Moved to
    10:30 from occurrence 3, the first rule ends after occurrence 2 and a second, from 16 March 10:30, makes
    the rest across the change to summer time, 20 April still left out; moved on to Wednesdays from occurrence 4
    (occurrence 5 cancelled, so it stays), what the weekly Tuesday rule cannot make is a rule of its own. Each
    time the recurrences, expanded with recurring-ical-events, make exactly the sessions scheduled, and the
    instructor's feed names each occurrence's own rule."""
    api, _, _ = told
    course, email = await g.course(api), "rita@example.com"
    teacher = await g.instructor(api, email=email)
    person = await g.person(api, email=email)
    first = datetime(2027, 3, 2, 9, tzinfo=BERLIN)
    rule = "RRULE:FREQ=WEEKLY;BYDAY=TU;COUNT=10"
    made = (await api.data(SERIES, {"i": {
        "courseId": course, "startsAt": first.isoformat(), "endsAt": (first + timedelta(hours=1)).isoformat(),
        "timezone": "Europe/Berlin", "deliveryMode": "VIRTUAL", "instructorIds": [teacher],
        "recurrence": rule, "exceptDates": ["2027-04-20"]}}))["scheduleSeries"]
    assert made["errors"] == []
    series_id = made["series"]["id"]
    series = (await api.data(RECURRENCE, {"id": series_id}))["node"]
    assert series["rule"] == rule and series["occurrences"] == 9
    assert [(r["fromOccurrence"], r["toOccurrence"], r["rule"], r["exceptDates"]) for r in series["recurrence"]] == [
        (1, 9, rule, ["2027-04-20"])]
    assert expanded(series) == scheduled(series) and len(scheduled(series)) == 9

    moved = (await api.data(MOVE, {"i": {"seriesId": series_id, "fromOccurrence": 3, "startTime": "10:30"}}))
    assert moved["rescheduleSeries"]["errors"] == []
    series = (await api.data(RECURRENCE, {"id": series_id}))["node"]
    assert series["rule"] == "RRULE:FREQ=WEEKLY;BYDAY=TU;COUNT=2"
    assert [(r["fromOccurrence"], r["toOccurrence"], berlin(r["startsAt"]), r["rule"], r["exceptDates"])
            for r in series["recurrence"]] == [
        (1, 2, (2, 9, 0), "RRULE:FREQ=WEEKLY;BYDAY=TU;COUNT=2", []),
        (3, 9, (16, 10, 30), "RRULE:FREQ=WEEKLY;BYDAY=TU;COUNT=8", ["2027-04-20"])]
    assert expanded(series) == scheduled(series)
    assert {dt.astimezone(UTC).hour for dt, _ in expanded(series)[2:]} == {9, 8}  # 10:30 in winter and summer

    # The feed: each occurrence carries the rule that makes it.
    token = await g.token(api, person, "INSTRUCTOR")
    url = (await api.data(ME, token=token))["me"]["calendarFeedUrl"]
    feed = icalendar.Calendar.from_ical((await api.client.get(urlsplit(url).path)).content)
    rules = sorted((str(e["x-podium-series-occurrence"]), str(e["x-podium-series-rule"])) for e in feed.walk("VEVENT"))
    assert rules == sorted([(f"{n}/9", "RRULE:FREQ=WEEKLY;BYDAY=TU;COUNT=2") for n in (1, 2)] +
                           [(f"{n}/9", "RRULE:FREQ=WEEKLY;BYDAY=TU;COUNT=8") for n in range(3, 10)])
    assert any("Occurrence 3 of 9 of a series (RRULE:FREQ=WEEKLY;BYDAY=TU;COUNT=8)" in str(e["description"])
               for e in feed.walk("VEVENT"))

    # Occurrence 5 cancelled; from occurrence 4 on a day later: Wednesdays, which BYDAY=TU does not make.
    fifth = made["sessions"][4]["id"]
    assert (await api.data(CANCEL_SESSION, {"i": {"sessionId": fifth}}))["cancelSession"]["errors"] == []
    later = (await api.data(MOVE, {"i": {"seriesId": series_id, "fromOccurrence": 4, "shiftMinutes": 24 * 60}}))
    assert later["rescheduleSeries"]["errors"] == []
    assert [s["seriesOccurrence"] for s in later["rescheduleSeries"]["sessions"]] == [4, 6, 7, 8, 9]
    series = (await api.data(RECURRENCE, {"id": series_id}))["node"]
    assert [(r["fromOccurrence"], r["toOccurrence"], berlin(r["startsAt"]), r["rule"]) for r in series["recurrence"]] == [
        (1, 2, (2, 9, 0), "RRULE:FREQ=WEEKLY;BYDAY=TU;COUNT=2"),
        (3, 3, (16, 10, 30), "RRULE:FREQ=WEEKLY;BYDAY=TU;COUNT=1"),
        (4, 4, (24, 10, 30), "RRULE:FREQ=DAILY;COUNT=1"),
        (5, 5, (30, 10, 30), "RRULE:FREQ=WEEKLY;BYDAY=TU;COUNT=1"),  # cancelled, where it stayed
        *[(n, n, day, "RRULE:FREQ=DAILY;COUNT=1") for n, day in ((6, (7, 10, 30)), (7, (14, 10, 30)),
                                                                 (8, (28, 10, 30)), (9, (5, 10, 30)))]]
    assert expanded(series) == scheduled(series)
    listed = (await api.data(FIRST_SESSIONS_RECURRENCE, token=None))["sessions"]["edges"][0]["node"]
    assert listed["seriesOccurrence"] == 1 and listed["series"]["recurrence"] == series["recurrence"]
    async with told[2]() as db:
        entry = (await db.scalars(select(AuditEntry).where(AuditEntry.action == "series.reschedule")
                                  .order_by(AuditEntry.id.desc()))).first()
    assert entry.before == {"rules": ["RRULE:FREQ=WEEKLY;BYDAY=TU;COUNT=2", "RRULE:FREQ=WEEKLY;BYDAY=TU;COUNT=8"]}
    assert [r["rule"] for r in entry.after["rules"]] == [r["rule"] for r in series["recurrence"]]

    # A dry run, a refused move and a change of instructor alone change no rule.
    other = await g.instructor(api)
    for given in ({"fromOccurrence": 2, "startTime": "08:00", "dryRun": True}, {"startTime": "25:00"},
                  {"fromOccurrence": 6, "instructorIds": [other]}):
        await api.data(MOVE, {"i": {"seriesId": series_id, **given}})
        assert (await api.data(RECURRENCE, {"id": series_id}))["node"]["recurrence"] == series["recurrence"]
