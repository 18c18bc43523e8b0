"""Test data made through the GraphQL API itself, as a front-end would."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from itertools import count

_serial = count(1)

COURSE = """mutation($i: CreateCourseInput!) { createCourse(input: $i) { course { id } errors { code field message } } }"""
PERSON = """mutation($i: CreatePersonInput!) { createPerson(input: $i) { person { id } errors { code field message } } }"""
RESOURCE = """mutation($i: CreateResourceInput!) { createResource(input: $i) { resource { id } errors { code message } } }"""
TOKEN = """mutation($i: IssueTokenInput!) { issueToken(input: $i) { token errors { code field message } } }"""
SCHEDULE = """mutation($i: ScheduleSessionInput!) { scheduleSession(input: $i) {
  session { id capacity seatsTaken seatsLeft waitlistCount status startsAt endsAt instructors { id } room { id } }
  errors { code field message } conflicts { resource { id name } startsAt endsAt } } }"""
ENROLL = """mutation($i: EnrollInput!) { enroll(input: $i) {
  enrollment { id status waitlistPosition learner { id } session { id seatsTaken waitlistCount } }
  errors { code field message } } }"""
CANCEL_ENROLLMENT = """mutation($i: CancelEnrollmentInput!) { cancelEnrollment(input: $i) {
  enrollment { id status waitlistPosition } errors { code field message } } }"""


ALWAYS = [{"weekday": day, "startsAt": "00:00", "endsAt": "24:00"}
          for day in ("MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY")]
"""Working hours of every hour of the week: the helpers' instructors and rooms are bookable whenever a test
schedules them (tests of working hours give their own)."""


def at(days: int = 7, hour: int = 9) -> datetime:
    base = datetime.now(timezone.utc).replace(minute=0, second=0, microsecond=0, hour=hour)
    return base + timedelta(days=days)


async def created(api, mutation: str, name: str, key: str, values: dict) -> str:
    data = await api.data(mutation, {"i": values})
    assert data[name]["errors"] == [], data
    return data[name][key]["id"]


async def course(api, **kw) -> str:
    n = next(_serial)
    return await created(api, COURSE, "createCourse", "course", {"code": f"C-{n}", "title": f"Course {n}",
                                                                 "durationMinutes": 60, "defaultCapacity": 20, **kw})


async def person(api, **kw) -> str:
    n = next(_serial)
    return await created(api, PERSON, "createPerson", "person", {"name": f"Learner {n}", "email": f"l{n}@example.com",
                                                                 "timezone": "Europe/London", **kw})


async def instructor(api, email: str | None = None, **kw) -> str:
    n = next(_serial)
    return await created(api, RESOURCE, "createResource", "resource", {
        "kind": "INSTRUCTOR", "name": f"Instructor {n}", "timezone": "Europe/London",
        "email": email or f"i{n}@example.com", "workingHours": ALWAYS, **kw})


async def room(api, capacity: int = 30, **kw) -> str:
    n = next(_serial)
    return await created(api, RESOURCE, "createResource", "resource", {
        "kind": "ROOM", "name": f"Room {n}", "timezone": "Europe/London", "capacity": capacity,
        "workingHours": ALWAYS, **kw})


async def token(api, person_id: str, role: str) -> str:
    data = await api.data(TOKEN, {"i": {"personId": person_id, "role": role}})
    assert data["issueToken"]["errors"] == []
    return data["issueToken"]["token"]


def schedule_input(course_id: str, instructor_ids: list[str], starts_at: datetime | None = None, minutes: int = 60,
                   **kw) -> dict:
    starts_at = starts_at or at()
    return {"courseId": course_id, "startsAt": starts_at.isoformat(),
            "endsAt": (starts_at + timedelta(minutes=minutes)).isoformat(), "timezone": "Europe/London",
            "deliveryMode": "VIRTUAL", "instructorIds": instructor_ids, **kw}


async def session(api, course_id: str, instructor_ids: list[str], **kw) -> str:
    data = await api.data(SCHEDULE, {"i": schedule_input(course_id, instructor_ids, **kw)})
    assert data["scheduleSession"]["errors"] == [], data
    return data["scheduleSession"]["session"]["id"]


async def enroll(api, session_id: str, learner_id: str, token: str | None = None) -> dict:
    kwargs = {"token": token} if token else {}
    return (await api.data(ENROLL, {"i": {"sessionId": session_id, "learnerId": learner_id}}, **kwargs))["enroll"]


async def time_passes(sessions, *session_ids: str, ended: bool = True) -> datetime:
    """Sessions (by global id) moved back in time as if the clock had run on since learners enrolled;
    `sessions` is the app's sessionmaker (`app.state.podium.sessions`). Returns the first one's new start."""
    from podium.core.ids import from_global_id
    from tests.builders import time_passes as move

    return await move(sessions, *(from_global_id(s)[1] for s in session_ids), ended=ended)
