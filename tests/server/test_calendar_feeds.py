"""Calendar feeds over HTTP, read back by `icalendar` and `recurring-ical-events` as a calendar app would:
the right instants across a DST change, SEQUENCE rising, cancelled sessions kept as CANCELLED, one SQL
statement however long the feed, and nobody's calendar reachable but through its own secret address."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import icalendar
import recurring_ical_events
from sqlalchemy import event, update

from podium.core.calendar_invites import session_uid
from podium.core.db import changing
from podium.core.ids import from_global_id
from podium.core.models import Enrollment as EnrollmentRow
from podium.core.models import Session as SessionRow
from tests.server import graph as g

LONDON = ZoneInfo("Europe/London")
ME = "{ me { id calendarFeedUrl } }"
RESET = """mutation($i: ResetCalendarFeedInput!) { resetCalendarFeed(input: $i) { calendarFeedUrl
  errors { code message } } }"""
RESCHEDULE = """mutation($i: RescheduleSessionInput!) { rescheduleSession(input: $i) { errors { code message } } }"""
CANCEL = """mutation($i: CancelSessionInput!) { cancelSession(input: $i) { errors { code message } } }"""


def next_dst_change(after: datetime) -> datetime:
    """The first London day after `after` whose noon has a different UTC offset from the day before's."""
    day = after.astimezone(LONDON).replace(hour=12, minute=0, second=0, microsecond=0)
    while (day + timedelta(days=1)).utcoffset() == day.utcoffset():
        day += timedelta(days=1)
    return day + timedelta(days=1)


def london(day: datetime, hour: int) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=LONDON)


async def fetch(api, url: str, status: int = 200):
    response = await api.client.get(urlsplit(url).path)
    assert response.status_code == status, response.text
    if status != 200:
        return None
    assert response.headers["content-type"].startswith("text/calendar")
    return icalendar.Calendar.from_ical(response.content)


def events(calendar) -> dict[str, icalendar.Event]:
    return {str(e["summary"]): e for e in calendar.walk("VEVENT")}


async def world(api):
    """A learner with a token, an instructor who is also a person, and sessions either side of a DST change."""
    course = await g.course(api)
    teacher_email = "teacher@example.com"
    teacher = await g.instructor(api, email=teacher_email)
    learner = await g.person(api, name="Ada Learner")
    other = await g.person(api, name="Other Learner")
    teacher_person = await g.person(api, name="Tess Teacher", email=teacher_email)
    change = next_dst_change(datetime.now(timezone.utc) + timedelta(days=3))
    before = london(change - timedelta(days=2), 9)  # 09:00 London on either side of the change
    after = london(change + timedelta(days=2), 9)
    ids = {}
    for title, starts in (("Before the change", before), ("After the change", after)):
        ids[title] = await g.session(api, course, [teacher], starts_at=starts, title=title, capacity=5)
        assert (await g.enroll(api, ids[title], learner))["errors"] == []
    ids["Other's"] = await g.session(api, course, [teacher], starts_at=after + timedelta(days=7), title="Other's")
    assert (await g.enroll(api, ids["Other's"], other))["errors"] == []
    return {"sessions": ids, "before": before, "after": after, "learner": learner,
            "learner_token": await g.token(api, learner, "LEARNER"), "other_token": await g.token(api, other, "LEARNER"),
            "teacher_token": await g.token(api, teacher_person, "INSTRUCTOR")}


async def test_a_learners_feed_across_a_dst_change_then_rescheduled_then_cancelled(api, app):
    w = await world(api)
    url = (await api.data(ME, token=w["learner_token"]))["me"]["calendarFeedUrl"]
    assert url.startswith("http://podium.test/calendar/") and url.endswith(".ics")
    assert (await api.data(ME, token=w["learner_token"]))["me"]["calendarFeedUrl"] == url  # stable

    calendar = await fetch(api, url)
    found = events(calendar)
    assert set(found) == {"Before the change", "After the change"}  # never another learner's session
    for title, starts in (("Before the change", w["before"]), ("After the change", w["after"])):
        event_ = found[title]
        assert event_["dtstart"].dt == starts and event_["dtstart"].params["TZID"] == "Europe/London"
        assert event_["dtstart"].dt.hour == 9  # the same wall clock on both sides
        pk = from_global_id(w["sessions"][title])[1]
        assert str(event_["uid"]) == session_uid(pk, "noreply@podium.invalid")  # the invites' UID
        assert event_["sequence"] == 0 and event_["status"] == "CONFIRMED"
    assert found["Before the change"]["dtstart"].dt.utcoffset() != found["After the change"]["dtstart"].dt.utcoffset()
    assert {str(tz["tzid"]) for tz in calendar.walk("VTIMEZONE")} == {"Europe/London"}

    expanded = recurring_ical_events.of(calendar).between(w["before"] - timedelta(days=1),
                                                          w["after"] + timedelta(days=1))
    instants = sorted(e["dtstart"].dt.astimezone(timezone.utc) for e in expanded)
    assert instants == [w["before"].astimezone(timezone.utc), w["after"].astimezone(timezone.utc)]
    assert instants[1] - instants[0] != timedelta(days=4)  # an hour off: the clocks changed in between

    moved = w["after"] + timedelta(days=1, hours=2)
    session_id = w["sessions"]["After the change"]
    answer = await api.data(RESCHEDULE, {"i": {"sessionId": session_id, "startsAt": moved.isoformat(),
                                               "endsAt": (moved + timedelta(hours=1)).isoformat()}})
    assert answer["rescheduleSession"]["errors"] == []
    rescheduled = events(await fetch(api, url))["After the change"]
    assert rescheduled["sequence"] == 1 and rescheduled["dtstart"].dt == moved

    answer = await api.data(CANCEL, {"i": {"sessionId": session_id, "reason": "Trainer ill"}})
    assert answer["cancelSession"]["errors"] == []
    cancelled = events(await fetch(api, url))["After the change"]
    assert cancelled["status"] == "CANCELLED" and cancelled["sequence"] == 2
    assert "Trainer ill" in str(cancelled["description"])


async def test_reset_and_unknown_addresses_are_404_and_nobody_reads_anothers_calendar(api):
    w = await world(api)
    mine = (await api.data(ME, token=w["learner_token"]))["me"]["calendarFeedUrl"]
    theirs = (await api.data(ME, token=w["other_token"]))["me"]["calendarFeedUrl"]
    assert mine != theirs
    assert set(events(await fetch(api, theirs))) == {"Other's"}

    reset = (await api.data(RESET, {"i": {}}, token=w["learner_token"]))["resetCalendarFeed"]
    assert reset["errors"] == [] and reset["calendarFeedUrl"] != mine
    await fetch(api, mine, status=404)
    assert set(events(await fetch(api, reset["calendarFeedUrl"]))) == {"Before the change", "After the change"}
    assert (await api.data(ME, token=w["learner_token"]))["me"]["calendarFeedUrl"] == reset["calendarFeedUrl"]
    for wrong in ("A" * 43, "nonsense", "../" + "A" * 40, "A" * 44):
        response = await api.client.get(f"/calendar/{wrong}.ics")
        assert response.status_code == 404 and "BEGIN:VCALENDAR" not in response.text

    # Someone else's person shows no feed address, to staff neither; an anonymous caller has none.
    other_person = await api.data("query($id: ID!) { node(id: $id) { ... on Person { calendarFeedUrl } } }",
                                  {"id": w["learner"]})
    assert other_person["node"] == {"calendarFeedUrl": None}
    assert (await api.data(ME, token=None))["me"] is None
    anonymous = (await api.data(RESET, {"i": {}}, token=None))["resetCalendarFeed"]
    assert anonymous["errors"][0]["code"] == "FORBIDDEN"


async def test_an_instructors_feed_has_what_they_teach_and_the_join_url(api, app):
    w = await world(api)
    join = "https://meet.example.com/j/123"
    pk = from_global_id(w["sessions"]["Before the change"])[1]
    async with app.state.podium.sessions() as db, changing(db):  # as a conferencing provider would
        await db.execute(update(SessionRow).where(SessionRow.id == pk).values(
            meeting_provider="manual", meeting_join_url=join))
    url = (await api.data(ME, token=w["teacher_token"]))["me"]["calendarFeedUrl"]
    taught = events(await fetch(api, url))
    assert set(taught) == {"Before the change", "After the change", "Other's"}
    assert str(taught["Before the change"]["url"]) == join and "url" not in taught["After the change"]
    learner_url = (await api.data(ME, token=w["learner_token"]))["me"]["calendarFeedUrl"]
    # a seat shows the learner's own link (it identifies them in the attendance report), none until it is made
    assert "url" not in events(await fetch(api, learner_url))["Before the change"]
    own = "https://meet.example.com/w/123?tk=learner"
    async with app.state.podium.sessions() as db, changing(db):
        await db.execute(update(EnrollmentRow).where(EnrollmentRow.session_id == pk).values(meeting_join_url=own))
    assert str(events(await fetch(api, learner_url))["Before the change"]["url"]) == own

    # The public one-off download: the same UID, no join URL.
    ics = (await api.data("query($id: ID!) { node(id: $id) { ... on Session { icsUrl } } }",
                          {"id": w["sessions"]["Before the change"]}, token=None))["node"]["icsUrl"]
    single = events(await fetch(api, ics))["Before the change"]
    assert single["uid"] == taught["Before the change"]["uid"] and "url" not in single
    assert "meet.example.com" not in (await api.client.get(urlsplit(ics).path)).text
    await fetch(api, ics.replace(w["sessions"]["Before the change"].rstrip("="), "U2Vzc2lvbjo5OTk5"), status=404)


async def test_a_room_feed_is_for_staff(api):
    course = await g.course(api)
    teacher = await g.instructor(api)
    room = await g.room(api, capacity=30)
    await g.session(api, course, [teacher], roomId=room, deliveryMode="IN_PERSON", title="In the room")
    learner = await g.person(api)
    learner_token = await g.token(api, learner, "LEARNER")
    query = "query($id: ID!) { node(id: $id) { ... on Resource { calendarFeedUrl } } }"
    url = (await api.data(query, {"id": room}))["node"]["calendarFeedUrl"]
    assert set(events(await fetch(api, url))) == {"In the room"}
    assert (await api.data(query, {"id": room}, token=learner_token))["node"]["calendarFeedUrl"] is None
    assert (await api.data(query, {"id": teacher}))["node"]["calendarFeedUrl"] is None  # not a room
    refused = (await api.data(RESET, {"i": {"resourceId": room}}, token=learner_token))["resetCalendarFeed"]
    assert refused["errors"][0]["code"] == "FORBIDDEN" and refused["calendarFeedUrl"] is None
    reset = (await api.data(RESET, {"i": {"resourceId": room}}))["resetCalendarFeed"]
    await fetch(api, url, status=404)
    assert set(events(await fetch(api, reset["calendarFeedUrl"]))) == {"In the room"}


async def test_a_feed_is_one_statement_however_many_sessions(api, app):
    course = await g.course(api)
    teacher = await g.instructor(api)
    learner = await g.person(api)
    token = await g.token(api, learner, "LEARNER")
    url = (await api.data(ME, token=token))["me"]["calendarFeedUrl"]

    async def statements() -> tuple[int, int]:
        seen: list[str] = []

        def count(conn, cursor, statement, *args):
            if not statement.lstrip().upper().startswith(("BEGIN", "COMMIT", "ROLLBACK")):
                seen.append(statement)

        engine = app.state.podium.engine.sync_engine
        event.listen(engine, "before_cursor_execute", count)
        try:
            calendar = await fetch(api, url)
        finally:
            event.remove(engine, "before_cursor_execute", count)
        return len(seen), len(events(calendar))

    assert await statements() == (1, 0)
    for n in range(3):
        session = await g.session(api, course, [teacher], starts_at=g.at(days=3 + n), title=f"S{n}")
        await g.enroll(api, session, learner)
    assert await statements() == (1, 3)
    for n in range(3, 30):
        session = await g.session(api, course, [teacher], starts_at=g.at(days=3 + n), title=f"S{n}")
        await g.enroll(api, session, learner)
    assert await statements() == (1, 30)
