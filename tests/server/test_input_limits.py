"""Every input limit (core/limits.py) through GraphQL: the same refusal, code and field, on SQLite and on
PostgreSQL, never INTERNAL, and nothing written."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select

from podium.core.models import AuditEntry
from tests.server import graph as g

LONG_NAME, LONG_REF, LONG_NOTE = "n" * 201, "r" * 201, "w" * 501
LONG_DESCRIPTION = "d" * 10_001


@dataclass
class World:
    course: str
    instructor: str
    session: str
    learner: str
    program: str


@pytest.fixture
async def world(api) -> World:
    course = await g.course(api)
    instructor = await g.instructor(api)
    session = await g.session(api, course, [instructor])
    learner = await g.person(api, email="existing@example.com")
    created = await api.data("""mutation($i: CreateProgramInput!) { createProgram(input: $i) {
      program { id } errors { code field message } } }""", {"i": {
        "templateKey": "flipped", "courseId": course, "liveSessionIds": [session], "learnerIds": [learner]}})
    assert created["createProgram"]["errors"] == []
    return World(course, instructor, session, learner, created["createProgram"]["program"]["id"])


def _in(days: float, hours: float = 1) -> tuple[str, str]:
    start = datetime.now(timezone.utc).replace(microsecond=0) + timedelta(days=days)
    return start.isoformat(), (start + timedelta(hours=hours)).isoformat()


def course(**kw):
    return "createCourse", lambda w: {"code": "LIM-1", "title": "T", "durationMinutes": 60, "defaultCapacity": 5, **kw}


def person(**kw):
    return "createPerson", lambda w: {"name": "P", "email": "new@example.com", "timezone": "UTC", **kw}


def resource(**kw):
    return "createResource", lambda w: {"kind": "INSTRUCTOR", "name": "I", "timezone": "UTC",
                                        "email": "new-i@example.com", **kw}


def schedule(days: float = 20, hours: float = 1, **kw):
    starts, ends = _in(days, hours)
    return "scheduleSession", lambda w: {**g.schedule_input(w.course, [w.instructor]), "startsAt": starts,
                                         "endsAt": ends, **kw}


def reschedule(days: float, hours: float = 1):
    starts, ends = _in(days, hours)
    return "rescheduleSession", lambda w: {"sessionId": w.session, "startsAt": starts, "endsAt": ends}


def program(**kw):
    return "createProgram", lambda w: {"templateKey": "flipped", "courseId": w.course, "liveSessionIds": [w.session],
                                       "learnerIds": [w.learner], **kw}


def template(**kw):
    return "createProgramTemplate", lambda w: {"key": "mine", "name": "Mine", "stages": [
        {"key": "live", "kind": "LIVE", "title": "Live", "offsetDays": 0}], **kw}


def updated(mutation: str, id_field: str, attr: str, /, **kw):
    return mutation, lambda w: {id_field: getattr(w, attr), **kw}


INVALID, TIME = "INVALID", "INVALID_TIME_RANGE"
# (what is sent, the refusal: code and field path under "input")
LIMITS = [
    (course(title=LONG_NAME), INVALID, ["title"]),
    (course(code="c" * 65), INVALID, ["code"]),
    (course(description=LONG_DESCRIPTION), INVALID, ["description"]),
    (course(requiredQualifications=[f"q{i}" for i in range(51)]), INVALID, ["requiredQualifications"]),
    (course(requiredQualifications=["ok", LONG_NAME]), INVALID, ["requiredQualifications", "1"]),
    (updated("updateCourse", "courseId", "course", title=LONG_NAME), INVALID, ["title"]),
    (updated("updateCourse", "courseId", "course", description=LONG_DESCRIPTION), INVALID, ["description"]),
    (person(name=LONG_NAME), INVALID, ["name"]),
    (person(email="<script>@x.example"), INVALID, ["email"]),
    (person(email="no-domain@localhost"), INVALID, ["email"]),
    (person(email="a" * 250 + "@example.com"), INVALID, ["email"]),
    (person(email="EXISTING@Example.COM"), "DUPLICATE", ["email"]),
    (person(timezone="localtime"), INVALID, ["timezone"]),
    (person(timezone="Factory"), INVALID, ["timezone"]),
    (person(timezone="posixrules"), INVALID, ["timezone"]),
    (person(timezone="Europe"), INVALID, ["timezone"]),
    (person(timezone="Etc/Zulu"), INVALID, ["timezone"]),
    (person(timezone="Europe/Nowhere"), INVALID, ["timezone"]),
    (updated("updatePerson", "personId", "learner", name=LONG_NAME), INVALID, ["name"]),
    (updated("updatePerson", "personId", "learner", email="x@y"), INVALID, ["email"]),
    (updated("updatePerson", "personId", "learner", timezone="Factory"), INVALID, ["timezone"]),
    (resource(name=LONG_NAME), INVALID, ["name"]),
    (resource(email="<b>@x.example"), INVALID, ["email"]),
    (resource(timezone="posixrules"), INVALID, ["timezone"]),
    (resource(qualifications=[{"name": f"q{i}"} for i in range(51)]), INVALID, ["qualifications"]),
    (resource(qualifications=[{"name": LONG_NAME}]), INVALID, ["qualifications", "0", "name"]),
    (updated("updateResource", "resourceId", "instructor", name=LONG_NAME), INVALID, ["name"]),
    (updated("updateResource", "resourceId", "instructor", qualifications=[{"name": LONG_NAME}]), INVALID,
     ["qualifications", "0", "name"]),
    (schedule(title=LONG_NAME), INVALID, ["title"]),
    (schedule(timezone="localtime"), INVALID, ["timezone"]),
    (schedule(days=20, hours=24 * 14 + 1), TIME, ["endsAt"]),
    (schedule(days=5 * 366 + 2), TIME, ["startsAt"]),
    (schedule(days=-367), TIME, ["startsAt"]),
    (schedule(days=1850, hours=24 * 365 * 968), TIME, ["endsAt"]),
    (reschedule(days=20, hours=24 * 15), TIME, ["endsAt"]),
    (reschedule(days=5 * 366 + 2), TIME, ["startsAt"]),
    (("cancelSession", lambda w: {"sessionId": w.session, "reason": LONG_NOTE}), INVALID, ["reason"]),
    (program(title=LONG_NAME), INVALID, ["title"]),
    (program(lmsCourseRef=LONG_REF), INVALID, ["lmsCourseRef"]),
    (program(stageActivities=[{"stageKey": "prework", "lmsActivityRef": LONG_REF}]), INVALID,
     ["stageActivities", "0", "lmsActivityRef"]),
    (program(stageActivities=[{"stageKey": f"s{i}", "lmsActivityRef": "1"} for i in range(51)]), INVALID,
     ["stageActivities"]),
    (("cancelProgram", lambda w: {"programId": w.program, "reason": LONG_NOTE}), INVALID, ["reason"]),
    (template(name=LONG_NAME), INVALID, ["name"]),
    (template(stages=[{"key": "live", "kind": "LIVE", "title": LONG_NAME, "offsetDays": 0}]), INVALID,
     ["stages", "0", "title"]),
]


def _ids(row) -> str:
    (name, _), code, field = row
    return f"{name}-{'.'.join(field)}-{code}"


async def _audits(app) -> int:
    async with app.state.podium.sessions() as db:
        return await db.scalar(select(func.count()).select_from(AuditEntry))


async def test_every_limit_is_refused_with_its_field_and_nothing_is_written(api, app, world):
    refused = []
    before = await _audits(app)
    for (name, make), _, _ in LIMITS:
        mutation = f"mutation($i: {name[0].upper()}{name[1:]}Input!) {{ {name}(input: $i) {{ errors {{ code field }} }} }}"
        body = await api(mutation, {"i": make(world)})
        assert "errors" not in body, (name, body)  # never INTERNAL, never a GraphQL error
        refused.append(body["data"][name]["errors"])
    assert refused == [[{"code": code, "field": ["input", *field]}] for _, code, field in LIMITS]
    assert await _audits(app) == before


async def test_the_limits_themselves_are_accepted(api, world):
    at_limit = {"code": "c" * 64, "title": "t" * 200, "description": "line\n" * 2000, "durationMinutes": 60,
                "defaultCapacity": 5, "requiredQualifications": [f"q{i}" for i in range(50)]}
    made = await api.data(g.COURSE, {"i": at_limit})
    assert made["createCourse"]["errors"] == []
    starts, ends = _in(5 * 365 - 2, 24 * 14)
    scheduled = await api.data(g.SCHEDULE, {"i": {**g.schedule_input(world.course, [world.instructor]),
                                                  "startsAt": starts, "endsAt": ends, "title": "s" * 200}})
    assert scheduled["scheduleSession"]["errors"] == []
    for tz in ("UTC", "Etc/UTC", "Europe/Amsterdam", "America/Argentina/Buenos_Aires", "Etc/GMT+5"):
        made = await api.data(g.PERSON, {"i": {"name": "n" * 200, "email": f"Ok.{tz.replace('/', '-')}@Example.com",
                                               "timezone": tz}})
        assert made["createPerson"]["errors"] == [], tz


async def test_titles_podium_derives_stay_within_the_limit(api, world):
    """A repeating stage of a 200-character title becomes "<title> 1", "<title> 2": still at most 200."""
    made = await api.data("""mutation($i: CreateProgramTemplateInput!) { createProgramTemplate(input: $i) {
      errors { code field } } }""", {"i": {"key": "long-repeat", "name": "Long", "stages": [
        {"key": "workshop", "kind": "LIVE", "title": "w" * 200, "offsetDays": 0, "repeat": True}]}})
    assert made["createProgramTemplate"]["errors"] == []
    second = await g.session(api, world.course, [world.instructor], starts_at=g.at(days=9))
    created = await api.data("""mutation($i: CreateProgramInput!) { createProgram(input: $i) {
      program { stages { title } } errors { code field } } }""", {"i": {
        "templateKey": "long-repeat", "courseId": world.course, "liveSessionIds": [world.session, second],
        "learnerIds": [world.learner]}})
    assert created["createProgram"]["errors"] == []
    assert [s["title"] for s in created["createProgram"]["program"]["stages"]] == ["w" * 198 + " 1", "w" * 198 + " 2"]
