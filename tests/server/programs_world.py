"""What the blended-program stories over HTTP share: their GraphQL, a recording channel, the clock."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select, update

from podium.core.ids import from_global_id
from podium.core.instants import utc_now
from podium.core.models import OutboxMessage, OutboxStatus, Person
from tests.core.lms_double import by_key

CREATE = """mutation($i: CreateProgramInput!) { createProgram(input: $i) {
  program { id } placements { learner { id } session { id } status } waitlisted { learner { id } }
  errors { code field message } } }"""
SYNC = """mutation($i: SyncProgramProgressInput!) { syncProgramProgress(input: $i) {
  program { id } certified { id person { id } issuedAt expiresAt course { id } } lmsNotFound { id } lmsFailed { id }
  errors { code field message } } }"""
READINESS = """query($p: ID!, $s: ID!) { node(id: $p) { ... on Program {
  readiness(sessionId: $s) { learner { id name } ready missingStages } } } }"""
JOURNEYS = """query($p: ID!) { node(id: $p) { ... on Program { journeys(first: 100) { edges { node {
  learner { id } completed stages { stage { key } status completedAt } } } } } } }"""
ATTEND = """mutation($i: RecordAttendanceInput!) { recordAttendance(input: $i) { errors { code message } } }"""
ROSTER = """query($id: ID!) { node(id: $id) { ... on Session { enrollments(first: 100) {
  edges { node { id learner { id } } } } } } }"""
EXPIRING = """query($d: Int!) { expiringCertifications(withinDays: $d) { person { id } expiresAt } }"""
SESSION_TIMES = """query($id: ID!) { node(id: $id) { ... on Session { startsAt endsAt } } }"""
COURSE_REF = "course-77"


@dataclass
class Recorder:
    """A notification channel that keeps what it is given."""

    name: str = "recorder"
    delivered: list = field(default_factory=list)

    async def deliver(self, notification) -> None:
        self.delivered.append(notification)


async def emails_of(sessions, person_ids):
    ids = [from_global_id(p)[1] for p in person_ids]
    async with sessions() as db:
        found = dict((await db.execute(select(Person.id, Person.email).where(Person.id.in_(ids)))).all())
    return [found[i] for i in ids]


async def time_comes(sessions, topic: str) -> None:
    """The queued moment of every pending `topic` message arrives (instead of waiting days)."""
    async with sessions() as db:
        await db.execute(update(OutboxMessage).where(OutboxMessage.topic == topic,
                                                     OutboxMessage.status == OutboxStatus.PENDING)
                         .values(deliver_after=utc_now()))
        await db.commit()


def stage_refs(template: str, **refs: str) -> list[dict[str, str]]:
    """`by_key` as createProgram's stageActivities input."""
    return [{"stageKey": key, "lmsActivityRef": ref} for key, ref in by_key(template, **refs).items()]


def wall_clock(instant: str, tz: str) -> datetime:
    """An instant as a clock on the wall in `tz` reads it: "a week later" there is 7 days, even across
    a daylight-saving change, where in UTC it is an hour more or less."""
    return datetime.fromisoformat(instant).astimezone(ZoneInfo(tz)).replace(tzinfo=None)


def instant_at(wall_clock_time: datetime, tz: str) -> str:
    """The instant (ISO, with its offset) when the wall clock in `tz` reads `wall_clock_time`."""
    return wall_clock_time.replace(tzinfo=ZoneInfo(tz)).isoformat()


def told(recorder: "Recorder", kind: str) -> list:
    return [n for n in recorder.delivered if n.kind == kind]


def check_readiness_summary(text: str, entries: list[dict]) -> None:
    """An instructor's readiness mail counts and lists the ready learners, then the others with what they
    miss, each on a line of their own (compared whole, so "Learner 1" is not found in "Learner 15")."""
    ready = sorted(f"- {e['learner']['name']}" for e in entries if e["ready"])
    not_ready = sorted(f"- {e['learner']['name']}: missing Pre-work" for e in entries if not e["ready"])
    _, ready_heading, rest = text.partition(f"\nReady ({len(ready)}):\n")
    ready_part, not_ready_heading, not_ready_part = rest.partition(f"\nNot ready ({len(not_ready)}):\n")
    assert ready_heading and not_ready_heading, text
    assert sorted(line for line in ready_part.splitlines() if line) == (ready or ["- nobody yet"])
    assert sorted(line for line in not_ready_part.splitlines() if line) == (not_ready or ["- nobody"])
