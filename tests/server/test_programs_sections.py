"""Parallel sections over GraphQL: each learner's self-paced and assessment dates follow their own section."""
from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from podium.core.services import journeys as journey_service
from tests.dispatching import eventually
from tests.server import graph as g
from tests.server import programs_world as w

JOURNEYS = """query($p: ID!) { node(id: $p) { ... on Program { stages { key opensAt dueAt }
  journeys(first: 100) { edges { node { learner { id } stages { stage { key } status opensAt dueAt } } } } } } }"""
TIMES = """query($id: ID!) { node(id: $id) { ... on Session { timezone startsAt endsAt } } }"""
RESCHEDULE = """mutation($i: RescheduleSessionInput!) { rescheduleSession(input: $i) { errors { code message } } }"""


async def _sandwich_over_two_sections(api):
    """Two sections a week apart, two learners in each."""
    course = await g.course(api)
    live = [await g.session(api, course, [await g.instructor(api)], capacity=2, starts_at=g.at(days=days),
                            minutes=120) for days in (5, 12)]
    learners = [await g.person(api) for _ in range(4)]
    created = (await api.data(w.CREATE, {"i": {"templateKey": "sandwich", "courseId": course,
                                               "liveSessionIds": live, "learnerIds": learners}}))["createProgram"]
    assert created["errors"] == []
    assert [p["session"]["id"] for p in created["placements"]] == [live[0]] * 2 + [live[1]] * 2
    return created["program"]["id"], live, learners


async def _journeys(api, program) -> tuple[dict, dict]:
    """Each learner's stages by key (status and own dates), and the program's stage rows by key."""
    node = (await api.data(JOURNEYS, {"p": program}))["node"]
    mine = {e["node"]["learner"]["id"]: {s["stage"]["key"]: s for s in e["node"]["stages"]}
            for e in node["journeys"]["edges"]}
    return mine, {s["key"]: s for s in node["stages"]}


def _at(value: str) -> datetime:
    return datetime.fromisoformat(value)


async def _times(api, session):
    node = (await api.data(TIMES, {"id": session}))["node"]
    return node["timezone"], _at(node["startsAt"]), _at(node["endsAt"])


async def test_a_second_section_learner_is_due_at_their_own_session_not_the_first(api, monkeypatch):
    program, live, learners = await _sandwich_over_two_sections(api)
    tz, first_starts, first_ends = await _times(api, live[0])
    _, second_starts, _ = await _times(api, live[1])
    monkeypatch.setattr(journey_service, "utc_now", lambda: first_ends + timedelta(days=2))  # between the two
    mine, rows = await _journeys(api, program)

    first, second = mine[learners[0]], mine[learners[2]]
    assert _at(first["prework"]["dueAt"]) == first_starts and first["prework"]["status"] == "OVERDUE"
    assert _at(second["prework"]["dueAt"]) == second_starts and second["prework"]["status"] == "IN_PROGRESS"
    assert first["prework"]["dueAt"] == rows["prework"]["dueAt"], "the first section keeps the stage's dates"
    assert w.wall_clock(second["prework"]["opensAt"], tz) == w.wall_clock(second_starts.isoformat(), tz) \
        - timedelta(days=7)
    for learner, starts in ((first, first_starts), (second, second_starts)):
        assert w.wall_clock(learner["reinforce-1"]["opensAt"], tz) - w.wall_clock(starts.isoformat(), tz) \
            == timedelta(days=1), "the day after their own session, on its wall clock"
    assert (first["reinforce-1"]["status"], second["reinforce-1"]["status"]) == ("IN_PROGRESS", "NOT_STARTED")
    assert second["live-2"]["status"] == "NOT_STARTED" and first["live-1"]["status"] == "OVERDUE"


async def test_rescheduling_a_section_moves_only_its_learners_dates(api):
    program, live, learners = await _sandwich_over_two_sections(api)
    tz, starts, ends = await _times(api, live[1])
    before, rows_before = await _journeys(api, program)
    moved = await api.data(RESCHEDULE, {"i": {"sessionId": live[1],
                                              "startsAt": w.instant_at(w.wall_clock(starts.isoformat(), tz)
                                                                       + timedelta(days=3), tz),
                                              "endsAt": w.instant_at(w.wall_clock(ends.isoformat(), tz)
                                                                     + timedelta(days=3), tz)}})
    assert moved["rescheduleSession"]["errors"] == []
    after, rows_after = await _journeys(api, program)

    assert rows_after["prework"] == rows_before["prework"], "the stage rows are the first section's dates"
    for learner in learners:
        for key in ("prework", "reinforce-1", "reinforce-30", "assessment"):
            for when in ("opensAt", "dueAt"):
                shift = w.wall_clock(after[learner][key][when], tz) - w.wall_clock(before[learner][key][when], tz)
                assert shift == (timedelta(days=3) if learner in learners[2:] else timedelta(0)), (learner, key)

    anchor_tz, anchor_starts, anchor_ends = await _times(api, live[0])
    moved = await api.data(RESCHEDULE, {"i": {"sessionId": live[0],
                                              "startsAt": (anchor_starts + timedelta(hours=3)).isoformat(),
                                              "endsAt": (anchor_ends + timedelta(hours=3)).isoformat()}})
    assert moved["rescheduleSession"]["errors"] == []
    later, rows_later = await _journeys(api, program)
    assert _at(rows_later["prework"]["dueAt"]) == anchor_starts + timedelta(hours=3), "the anchor moves the rows"
    assert _at(later[learners[0]]["prework"]["dueAt"]) == anchor_starts + timedelta(hours=3)
    for learner in learners[2:]:
        assert later[learner] == after[learner], "their session did not move, nor do their dates"


async def test_the_prework_reminder_quotes_each_sections_own_due_date(story):
    api, plugins, sessions = story
    program, live, learners = await _sandwich_over_two_sections(api)
    emails = await w.emails_of(sessions, learners)
    mine, _ = await _journeys(api, program)

    await w.time_comes(sessions, "program.send_prework_reminders")
    reminded = await eventually(lambda: len(w.told(plugins.channel, "program.prework_reminder")) == 4 and
                                w.told(plugins.channel, "program.prework_reminder"), what="four pre-work reminders")
    for learner, email in zip(learners, emails):
        text = next(n.text for n in reminded if n.to == email)
        tz = (await api.data("""query($id: ID!) { node(id: $id) { ... on Person { timezone } } }""",
                             {"id": learner}))["node"]["timezone"]
        due = _at(mine[learner]["prework"]["dueAt"]).astimezone(ZoneInfo(tz))
        assert f"{due:%A} {due.day} {due:%B %Y}, {due:%H:%M}" in text, (email, text)
