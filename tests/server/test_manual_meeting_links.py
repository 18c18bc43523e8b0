"""A Teams or Meet link entered by hand for a virtual session without a conferencing plugin: the
meeting shows `manual`, READY; seated learners' confirmations, invites and reminders carry it; only
http(s) addresses are taken. GraphQL over HTTP with the outbox running, on both databases."""
from __future__ import annotations

import icalendar
import pytest
from sqlalchemy import func, select

from podium.core.models import OutboxMessage
from tests.dispatching import eventually
from tests.server import graph as g
from tests.server import programs_world as w
from tests.server.conftest import running_app

LINK = "https://teams.example.com/l/meetup-join/19%3ameeting_abc?context=%7b%7d"
SCHEDULE = """mutation($i: ScheduleSessionInput!) { scheduleSession(input: $i) {
  session { id meeting { provider status joinUrl } } errors { code field message } } }"""
UPDATE = """mutation($i: UpdateSessionInput!) { updateSession(input: $i) {
  session { id meeting { provider status joinUrl } } errors { code field message } } }"""
SEATED = """query($id: ID!) { node(id: $id) { ... on Session { meeting { provider status joinUrl }
  enrollments { edges { node { status meetingJoinUrl } } } } } }"""


@pytest.fixture
async def told(database_url):
    """The app with its outbox running, reminders a day ahead, and a channel that records."""
    async with running_app(database_url, reminder_hours=24) as (api, plugins, sessions):
        yield api, plugins.channel, sessions


async def _schedule(api, **kw) -> dict:
    course, lead = await g.course(api), await g.instructor(api)
    return (await api.data(SCHEDULE, {"i": g.schedule_input(course, [lead], g.at(days=3), **kw)}))["scheduleSession"]


def _delivered(channel, kind: str, to: str):
    return [n for n in channel.delivered if n.kind == kind and n.to == to]


async def test_a_hand_entered_link_is_ready_and_reaches_the_seated_learner(told):
    api, channel, sessions = told
    made = await _schedule(api, joinUrl=f"  {LINK} ")
    assert made["errors"] == []
    assert made["session"]["meeting"] == {"provider": "manual", "status": "READY", "joinUrl": LINK}
    session = made["session"]["id"]
    learner = await g.person(api, email="ada@example.com")
    assert (await g.enroll(api, session, learner))["enrollment"]["status"] == "ENROLLED"

    confirmed = (await eventually(lambda: _delivered(channel, "enrollment.confirmed", "ada@example.com"),
                                  what="the confirmation"))[0]
    assert LINK in confirmed.text and LINK in confirmed.html.replace("&amp;", "&")
    event = next(iter(icalendar.Calendar.from_ical(confirmed.attachments[0].content).walk("VEVENT")))
    assert str(event["LOCATION"]) == LINK

    await w.time_comes(sessions, "session.reminder")
    reminder = (await eventually(lambda: _delivered(channel, "session.reminder", "ada@example.com"),
                                 what="the reminder"))[0]
    assert LINK in reminder.text
    seated = (await api.data(SEATED, {"id": session}))["node"]
    assert seated["enrollments"]["edges"] == [{"node": {"status": "ENROLLED", "meetingJoinUrl": LINK}}]

    moved = await api.data("""mutation($i: RescheduleSessionInput!) { rescheduleSession(input: $i) {
      session { meeting { provider status joinUrl } } errors { code } } }""", {"i": {
        "sessionId": session, "startsAt": g.at(days=4).isoformat(), "endsAt": g.at(days=4, hour=10).isoformat()}})
    assert moved["rescheduleSession"] == {"session": {"meeting": {"provider": "manual", "status": "READY",
                                                                  "joinUrl": LINK}}, "errors": []}
    cancelled = await api.data("""mutation($i: CancelSessionInput!) { cancelSession(input: $i) {
      session { meeting { provider status joinUrl } } errors { code } } }""", {"i": {"sessionId": session}})
    assert cancelled["cancelSession"]["session"]["meeting"] == {"provider": "manual", "status": "CANCELLED",
                                                                "joinUrl": None}
    async with sessions() as db:   # no conferencing plugin was ever asked for anything
        calls = await db.scalar(select(func.count()).select_from(OutboxMessage)
                                .where(OutboxMessage.topic.like("meeting.%")))
    assert calls == 0


async def test_update_session_sets_changes_and_clears_the_link(told):
    api, _, _ = told
    made = await _schedule(api, deliveryMode="HYBRID", roomId=await g.room(api))
    assert made["errors"] == [] and made["session"]["meeting"] is None   # no plugin, no link: no meeting
    session = made["session"]["id"]
    learner, waiting = await g.person(api), await g.person(api)
    await g.enroll(api, session, learner)

    for link in (LINK, "http://meet.example.org/abc-defg-hij"):
        changed = (await api.data(UPDATE, {"i": {"sessionId": session, "joinUrl": link}}))["updateSession"]
        assert changed == {"session": {"id": session, "meeting": {"provider": "manual", "status": "READY",
                                                                  "joinUrl": link}}, "errors": []}
        seated = (await api.data(SEATED, {"id": session}))["node"]
        assert [e["node"]["meetingJoinUrl"] for e in seated["enrollments"]["edges"]] == [link]
    await g.enroll(api, session, waiting)
    seated = (await api.data(SEATED, {"id": session}))["node"]
    assert [e["node"]["meetingJoinUrl"] for e in seated["enrollments"]["edges"]] == [
        "http://meet.example.org/abc-defg-hij"] * 2

    unchanged = (await api.data(UPDATE, {"i": {"sessionId": session}}))["updateSession"]
    assert unchanged["session"]["meeting"]["joinUrl"] == "http://meet.example.org/abc-defg-hij"
    cleared = (await api.data(UPDATE, {"i": {"sessionId": session, "joinUrl": None}}))["updateSession"]
    assert cleared == {"session": {"id": session, "meeting": None}, "errors": []}
    seated = (await api.data(SEATED, {"id": session}))["node"]
    assert [e["node"]["meetingJoinUrl"] for e in seated["enrollments"]["edges"]] == [None, None]

    token = await g.token(api, learner, "LEARNER")
    refused = (await api.data(UPDATE, {"i": {"sessionId": session, "joinUrl": LINK}}, token=token))["updateSession"]
    assert refused == {"session": None, "errors": [{"code": "FORBIDDEN", "field": None,
                                                    "message": "Only an admin or a coordinator may do this."}]}


@pytest.mark.parametrize("link", ["javascript:alert(1)", "JAVASCRIPT:alert(1)", "data:text/html,<b>hi</b>",
                                  "ftp://files.example.com/x", "https://", "https:///path", "//meet.example.com/x",
                                  "https://meet.example.com/a b", "https://meet.example.com/\x07",
                                  "https://[::1/x", "https://meet.example.com/" + "x" * 1980])
async def test_anything_but_an_http_address_is_invalid_and_changes_nothing(api, link):
    made = await _schedule(api, joinUrl=link)
    assert made["session"] is None
    assert [(e["code"], e["field"]) for e in made["errors"]] == [("INVALID", ["input", "joinUrl"])], made
    assert (await api.data("{ sessions { totalCount } }"))["sessions"]["totalCount"] == 0


async def test_a_link_is_for_virtual_and_hybrid_sessions_only(api):
    made = await _schedule(api, deliveryMode="IN_PERSON", roomId=await g.room(api), joinUrl=LINK)
    assert [(e["code"], e["field"]) for e in made["errors"]] == [("INVALID", ["input", "joinUrl"])]
    in_person = (await _schedule(api, deliveryMode="IN_PERSON", roomId=await g.room(api)))["session"]["id"]
    refused = (await api.data(UPDATE, {"i": {"sessionId": in_person, "joinUrl": LINK}}))["updateSession"]
    assert [(e["code"], e["field"]) for e in refused["errors"]] == [("INVALID", ["input", "joinUrl"])]
    assert (await _schedule(api, joinUrl="https://meet.example.com/" + "x" * 1975))["errors"] == []  # 2,000
