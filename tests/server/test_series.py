"""Series over HTTP with the outbox running, on both databases: a weekly 09:00 Europe/Berlin series and
a weekly 18:00 America/New_York one across both 2027 daylight-saving changes keep their local time in
the API, in the instructor's feed and in the invites, read back with icalendar and recurring-ical-events."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import icalendar
import recurring_ical_events

from podium.core.calendar_invites import series_uid
from podium.core.ids import from_global_id
from tests.dispatching import eventually
from tests.server import graph as g


ORGANIZER = "noreply@podium.invalid"
SERIES = """mutation($i: ScheduleSeriesInput!) { scheduleSeries(input: $i) {
  series { id rule timezone occurrences }
  sessions { id startsAt series { id } seriesOccurrence }
  occurrences { occurrence startsAt endsAt parts { part startsAt } }
  errors { code field message } conflicts { occurrence startsAt endsAt resource { id } } } }"""
CANCEL = """mutation($i: CancelSeriesInput!) { cancelSeries(input: $i) {
  series { id } sessions { id status } errors { code field message } } }"""
ME = "{ me { id calendarFeedUrl } }"
COUNT = 37  # Tuesdays from 2 March to 9 November 2027: both changes in Europe and in America


def series_input(course, instructors, starts_at: datetime, rule: str, **kw) -> dict:
    return {"courseId": course, "startsAt": starts_at.isoformat(), "endsAt": (starts_at + timedelta(hours=1)).isoformat(),
            "timezone": starts_at.tzinfo.key, "deliveryMode": "VIRTUAL", "instructorIds": instructors,
            "recurrence": rule, **kw}


async def test_weekly_series_in_berlin_and_new_york_keep_their_local_time(told):
    api, channel, _ = told
    course = await g.course(api)
    email = "tess@example.com"
    teacher = await g.instructor(api, email=email)
    person = await g.person(api, name="Tess Teacher", email=email)
    rule = f"RRULE:FREQ=WEEKLY;BYDAY=TU;COUNT={COUNT}"
    made = {}
    for zone, hour in (("Europe/Berlin", 9), ("America/New_York", 18)):
        first = datetime(2027, 3, 2, hour, tzinfo=ZoneInfo(zone))
        dry = (await api.data(SERIES, {"i": series_input(course, [teacher], first, rule, dryRun=True)}))["scheduleSeries"]
        assert dry["errors"] == [] and dry["series"] is None and dry["sessions"] == []
        assert len(dry["occurrences"]) == COUNT
        answer = (await api.data(SERIES, {"i": series_input(course, [teacher], first, rule)}))["scheduleSeries"]
        assert answer["errors"] == [], answer["errors"]
        assert answer["series"]["rule"] == rule and answer["series"]["occurrences"] == COUNT
        assert [s["seriesOccurrence"] for s in answer["sessions"]] == list(range(1, COUNT + 1))
        local = [datetime.fromisoformat(s["startsAt"]).astimezone(ZoneInfo(zone)) for s in answer["sessions"]]
        assert {(t.hour, t.weekday()) for t in local} == {(hour, 1)}
        assert len({t.utcoffset() for t in local}) == 2  # the offset changed twice; the wall clock did not
        assert [o["startsAt"] for o in answer["occurrences"]] == [s["startsAt"] for s in answer["sessions"]]
        made[zone] = (hour, answer)

    # The instructor's feed: every occurrence at its local hour, with its series' identity.
    token = await g.token(api, person, "INSTRUCTOR")
    url = (await api.data(ME, token=token))["me"]["calendarFeedUrl"]
    feed = icalendar.Calendar.from_ical((await api.client.get(urlsplit(url).path)).content)
    expanded = recurring_ical_events.of(feed).between(datetime(2027, 1, 1, tzinfo=timezone.utc),
                                                      datetime(2028, 1, 1, tzinfo=timezone.utc))
    assert len(expanded) == 2 * COUNT
    for zone, (hour, answer) in made.items():
        uid = series_uid(from_global_id(answer["series"]["id"])[1], ORGANIZER)
        mine = sorted((e for e in expanded if str(e["x-podium-series"]) == uid), key=lambda e: e["dtstart"].dt)
        assert len(mine) == COUNT
        assert {(e["dtstart"].dt.astimezone(ZoneInfo(zone)).hour, e["dtstart"].params["TZID"]) for e in mine} == {
            (hour, zone)}
        assert {str(e["x-podium-series-rule"]) for e in mine} == {rule}
        assert [str(e["x-podium-series-occurrence"]) for e in mine] == [f"{n}/{COUNT}" for n in range(1, COUNT + 1)]
        assert f"Occurrence 12 of {COUNT} of a series ({rule})" in str(mine[11]["description"])
        assert len({e["dtstart"].dt.astimezone(timezone.utc).hour for e in mine}) == 2

    # The invites the instructor was sent, one per occurrence, say the same.
    invites = await eventually(lambda: (lambda found: found if len(found) == 2 * COUNT else None)(
        [n for n in channel.delivered if n.kind == "session.instructor_assigned"]), what="every invite", timeout=120)
    for zone, (hour, answer) in made.items():
        uid = series_uid(from_global_id(answer["series"]["id"])[1], ORGANIZER)
        events = [e for n in invites for e in icalendar.Calendar.from_ical(n.attachments[0].content).walk("VEVENT")
                  if str(e["x-podium-series"]) == uid]
        assert len(events) == COUNT
        assert {(e["dtstart"].dt.hour, e["dtstart"].params["TZID"]) for e in events} == {(hour, zone)}
        assert {str(e["related-to"]) for e in events} == {uid}

    # Cancelled from the autumn on, Berlin's series keeps its spring and summer.
    berlin = made["Europe/Berlin"][1]
    cancelled = (await api.data(CANCEL, {"i": {"seriesId": berlin["series"]["id"],
                                               "from": "2027-10-01T00:00:00+02:00", "reason": "Moved online"}}))
    assert cancelled["cancelSeries"]["errors"] == []
    assert {s["status"] for s in cancelled["cancelSeries"]["sessions"]} == {"CANCELLED"}
    assert len(cancelled["cancelSeries"]["sessions"]) == 6  # 5, 12, 19, 26 October; 2, 9 November


async def test_a_clashing_series_over_the_api_lists_the_occurrence_and_makes_nothing(told):
    api, _, _ = told
    course, teacher = await g.course(api), await g.instructor(api)
    first = datetime(2027, 3, 2, 9, tzinfo=ZoneInfo("Europe/Berlin"))
    await g.session(api, course, [teacher], starts_at=first + timedelta(weeks=6, minutes=30))
    answer = (await api.data(SERIES, {"i": series_input(course, [teacher], first,
                                                        "RRULE:FREQ=WEEKLY;COUNT=10")}))["scheduleSeries"]
    assert [e["code"] for e in answer["errors"]] == ["RESOURCE_CONFLICT"]
    assert [c["occurrence"] for c in answer["conflicts"]] == [7]
    assert answer["series"] is None and answer["sessions"] == [] and answer["occurrences"] == []
    sessions = await api.data("{ sessions(first: 100) { totalCount } }")
    assert sessions["sessions"]["totalCount"] == 1
    for rule, field in (("RRULE:FREQ=WEEKLY", ["input", "recurrence"]),
                        ("RRULE:FREQ=DAILY;COUNT=400", ["input", "recurrence"])):
        errors = (await api.data(SERIES, {"i": series_input(course, [teacher], first, rule)}))["scheduleSeries"]["errors"]
        assert [(e["code"], e["field"]) for e in errors] == [("INVALID", field)]
