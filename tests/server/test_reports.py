"""Reports: on the demo data, every metric equals the same metric computed independently in Python
from the API's own connections (sessions, rosters, bookings, resources, programs), on both databases;
staff only; bad input is INVALID with the field; the statements of a report do not grow with its groups."""
from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, time, timedelta, timezone
from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy import event

from podium.core.demo import load_demo
from podium.core.models import DeliveryMode
from podium.core.settings import Settings
from podium.server.app import create_app
from tests import builders as b
from tests.server import graph as g
from tests.server.conftest import ADMIN_TOKEN, Api

LATE_HOURS = 24 * 10
REPORT = """query($i: ReportInput!) { report(input: $i) { from to startsAt endsAt
  rows { dimensions { dimension key label } values { metric value numerator denominator } }
  totals { metric value numerator denominator } } }"""
SESSIONS = """query($after: String, $from: DateTime, $to: DateTime) {
  sessions(first: 5, after: $after, filter: {from: $from, to: $to}) { pageInfo { hasNextPage endCursor }
  edges { node { id startsAt endsAt status deliveryMode capacity course { id } venue { id }
    costs { planned { amount } actual { amount } }
    bookings { role startsAt endsAt resource { id kind } }
    enrollments(first: 100) { edges { node { id status attendance { status minutesAttended }
      evaluation { respondedAt answers { kind value } } assessmentScores { kind score } } } } } } } }"""
RESOURCES = """query($kind: ResourceKind!, $after: String, $from: DateTime!, $to: DateTime!) {
  resources(kind: $kind, first: 100, after: $after) { pageInfo { hasNextPage endCursor } edges { node {
    id timezone venue { id } workingHours { weekday startsAt endsAt } timeOff(from: $from, to: $to) { startsAt endsAt } } } } }"""
PROGRAMS = """{ programs(first: 100) { edges { node { id status course { id }
  sessions { id startsAt }
  journeys(first: 100) { totalCount edges { node { completed } } } } } } }"""
CANCEL = """mutation($i: CancelEnrollmentInput!) { cancelEnrollment(input: $i) { errors { code } } }"""
ALL_METRICS = ["FILL_RATE", "WAITLIST_DEMAND", "ATTENDANCE_RATE", "NO_SHOW_RATE", "LATE_CANCELLATION_RATE",
               "COMPLETION_RATE", "CERTIFIED_COUNT", "EXPIRING_SOON", "INSTRUCTOR_UTILISATION", "ROOM_UTILISATION",
               "PLANNED_COST", "ACTUAL_COST", "COST_PER_LEARNER", "COST_PER_ATTENDED_HOUR",
               "AVERAGE_RATING", "NPS", "EVALUATION_RESPONSE_RATE", "LEARNING_GAIN"]


@pytest.fixture
async def demo_api(database_url):
    settings = Settings(database_url=database_url, admin_token=ADMIN_TOKEN, late_cancel_hours=LATE_HOURS)
    await load_demo(settings)
    app = create_app(settings)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://podium.test") as client:
        yield Api(client, app)
    await app.state.podium.engine.dispose()


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text)


async def _pages(api, query: str, key: str, **variables) -> list[dict]:
    nodes, after = [], None
    while True:
        page = (await api.data(query, {**variables, "after": after}))[key]
        nodes += [e["node"] for e in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            return nodes
        after = page["pageInfo"]["endCursor"]


def _rate(numerator, denominator) -> str | None:
    if not denominator:
        return None
    return str((Decimal(numerator) / Decimal(denominator)).quantize(Decimal("0.0001"), rounding=ROUND_HALF_EVEN))


def _two(numerator, denominator) -> str | None:
    """Averages, NPS and gains: two places, half to even."""
    if not denominator:
        return None
    return str((Decimal(numerator) / Decimal(denominator)).quantize(Decimal("0.01"), rounding=ROUND_HALF_EVEN))


def _money(amount: Decimal, by: int) -> str | None:
    """Per learner or per hour: to the cent, half away from zero (core/money.py's one rule)."""
    return None if not by else str((amount / by).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


WEEKDAYS = ["MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY"]


def _working_seconds(resource: dict, start: datetime, end: datetime) -> int:
    """The resource's weekly hours (as the API shows them) on its own clock within [start, end): written here
    day by day, independently (the demo has no exceptions or time off)."""
    zone, total = ZoneInfo(resource["timezone"]), 0
    day = start.astimezone(zone).date() - timedelta(days=2)
    while day <= end.astimezone(zone).date() + timedelta(days=1):
        for hours in resource["workingHours"]:
            if WEEKDAYS.index(hours["weekday"]) == day.weekday():
                opens = datetime.combine(day, time.fromisoformat(hours["startsAt"]), zone)
                closes = datetime.combine(day, time.fromisoformat(hours["endsAt"]), zone)  # no 24:00 in the demo
                opens, closes = max(opens, start), min(closes, end)
                total += max(0, int((closes - opens).total_seconds()))
                for away in resource["timeOff"]:  # time off is not working time
                    gone = min(closes, _instant(away["endsAt"])) - max(opens, _instant(away["startsAt"]))
                    total -= max(0, int(gone.total_seconds()))
        day += timedelta(days=1)
    return total


class Expected:
    """The metrics recomputed from what the API shows, per group key."""

    def __init__(self, sessions, instructors, rooms, programs, cancelled_at, now, first: date, last: date) -> None:
        self.start = datetime.combine(first, time(0), timezone.utc)
        self.end = datetime.combine(last + timedelta(days=1), time(0), timezone.utc)
        self.sessions = [s for s in sessions if s["status"] in ("SCHEDULED", "COMPLETED")
                         and self.start <= _instant(s["startsAt"]) < self.end]
        self.instructors, self.rooms, self.programs = instructors, rooms, programs
        self.cancelled_at, self.now = cancelled_at, now

    def months(self) -> dict[str, tuple[datetime, datetime]]:
        out, month = {}, self.start
        while month < self.end:
            following = (month + timedelta(days=32)).replace(day=1)
            out[f"{month:%Y-%m}"] = (month, min(following, self.end))
            month = following
        return out

    def keys_of(self, session: dict, dimension: str) -> list:
        if dimension == "COURSE":
            return [session["course"]["id"]]
        if dimension == "MONTH":
            return [_instant(session["startsAt"]).strftime("%Y-%m")]
        if dimension == "DELIVERY_MODE":
            return [session["deliveryMode"]]
        if dimension == "VENUE":
            return [session["venue"]["id"] if session["venue"] else None]
        teachers = [x["resource"]["id"] for x in session["bookings"]  # a booking per part: each teacher once
                    if x["role"] in ("LEAD_INSTRUCTOR", "CO_FACILITATOR")]
        return list(dict.fromkeys(teachers)) or [None]

    def compute(self, dimension: str | None) -> dict:
        """{key: {metric: (value, numerator, denominator)}}; key None is the totals."""
        facts: dict = defaultdict(lambda: defaultdict(int))
        for s in self.sessions:
            for key in (self.keys_of(s, dimension) if dimension else [None]):
                f = facts[key]
                f["capacity"] += s["capacity"]
                f["planned"] += Decimal(s["costs"]["planned"]["amount"])
                f["actual"] += Decimal(s["costs"]["actual"]["amount"])
                length = int((_instant(s["endsAt"]) - _instant(s["startsAt"])).total_seconds() // 60)
                started = _instant(s["startsAt"]) <= self.now
                for e in (edge["node"] for edge in s["enrollments"]["edges"]):
                    self._evaluation(e, f)
                    status = (e["attendance"] or {}).get("status")
                    if status in ("PRESENT", "LATE", "LEFT_EARLY"):  # what costs count as attended
                        f["attended_minutes"] += e["attendance"]["minutesAttended"] or length
                    if e["status"] == "ENROLLED":
                        f["enrolled"] += 1
                        if started:
                            f["enrolled_started"] += 1
                            status = (e["attendance"] or {}).get("status")
                            f["attended"] += status in ("PRESENT", "LATE")
                            f["absent"] += status == "ABSENT"
                    elif e["status"] == "WAITLISTED":
                        f["waitlisted"] += 1
                    elif e["status"] == "CANCELLED" and e["id"] in self.cancelled_at:
                        f["cancelled"] += 1
                        late = _instant(s["startsAt"]) - self.cancelled_at[e["id"]] < timedelta(hours=LATE_HOURS)
                        f["late"] += late
                for x in s["bookings"]:
                    seconds = int((_instant(x["endsAt"]) - _instant(x["startsAt"])).total_seconds())
                    if x["role"] == "ROOM":
                        f["room_seconds"] += seconds
                    elif x["role"] != "EQUIPMENT" and (dimension != "INSTRUCTOR" or x["resource"]["id"] == key):
                        f["instructor_seconds"] += seconds
        out = {}
        for key, f in facts.items():
            window = self.months()[key] if dimension == "MONTH" else (self.start, self.end)
            teachers = [i for i in self.instructors if dimension != "INSTRUCTOR" or i["id"] == key]
            rooms = [r for r in self.rooms if dimension != "VENUE" or (r["venue"] or {}).get("id") == key]
            working_i = sum(_working_seconds(i, *window) for i in teachers)
            working_r = sum(_working_seconds(r, *window) for r in rooms)
            out[key] = {
                "FILL_RATE": _rate(f["enrolled"], f["capacity"]),
                "WAITLIST_DEMAND": str(f["waitlisted"]),
                "ATTENDANCE_RATE": _rate(f["attended"], f["enrolled_started"]),
                "NO_SHOW_RATE": _rate(f["absent"], f["enrolled_started"]),
                "LATE_CANCELLATION_RATE": _rate(f["late"], f["enrolled"] + f["cancelled"]),
                "INSTRUCTOR_UTILISATION": _rate(f["instructor_seconds"], working_i),
                "ROOM_UTILISATION": _rate(f["room_seconds"], working_r),
                "PLANNED_COST": f"{f['planned']:.2f}", "ACTUAL_COST": f"{f['actual']:.2f}",
                "COST_PER_LEARNER": _money(f["planned"], f["enrolled"]),
                "COST_PER_ATTENDED_HOUR": _money(f["actual"] * 60, f["attended_minutes"]),
                "AVERAGE_RATING": _two(f["rating_sum"], f["ratings"]),
                "NPS": _two(100 * (f["promoters"] - f["detractors"]), f["nps_answers"]),
                "EVALUATION_RESPONSE_RATE": _rate(f["answered"], f["asked"]),
                "LEARNING_GAIN": _two(f["gain"], f["gains"]),
            }
        self._programs(dimension, out)
        return out

    @staticmethod
    def _evaluation(e: dict, f: dict) -> None:
        """A learner's evaluation and knowledge scores, as the API shows them, into the group's facts."""
        if e["evaluation"] is not None:
            f["asked"] += 1
            f["answered"] += e["evaluation"]["respondedAt"] is not None
            for answer in e["evaluation"]["answers"]:
                if answer["kind"] == "RATING_1_5":
                    f["rating_sum"] += answer["value"]
                    f["ratings"] += 1
                elif answer["kind"] == "NPS_0_10":
                    f["nps_answers"] += 1
                    f["promoters"] += answer["value"] >= 9
                    f["detractors"] += answer["value"] <= 6
        scores = {score["kind"]: Decimal(score["score"]) for score in e["assessmentScores"]}
        if e["status"] == "ENROLLED" and {"PRE", "POST"} <= set(scores):
            f["gain"] += scores["POST"] - scores["PRE"]
            f["gains"] += 1

    def _programs(self, dimension: str | None, out: dict) -> None:
        per: dict = defaultdict(lambda: [0, 0])
        sessions = {s["id"]: s for s in self.sessions}
        for p in self.programs:
            first = min(p["sessions"], key=lambda s: s["startsAt"], default=None)
            if p["status"] != "ACTIVE" or first is None or first["id"] not in sessions:
                continue
            for key in (self.keys_of(sessions[first["id"]], dimension) if dimension else [None]):
                per[key][0] += sum(e["node"]["completed"] for e in p["journeys"]["edges"])
                per[key][1] += p["journeys"]["totalCount"]
        for key in out:
            out[key]["COMPLETION_RATE"] = _rate(*per.get(key, (0, 0)))
            out[key]["CERTIFIED_COUNT"] = "0"  # the demo certifies nobody yet: no journey is complete
            out[key]["EXPIRING_SOON"] = "0"


async def test_reports_match_an_independent_computation_on_the_demo(demo_api):
    api = demo_api
    now = datetime.now(timezone.utc)
    first, last = (now - timedelta(days=60)).date(), (now + timedelta(days=90)).date()
    sessions = await _pages(api, SESSIONS, "sessions", **{"from": f"{first}T00:00:00+00:00",
                                                          "to": f"{last + timedelta(days=1)}T00:00:00+00:00"})
    # Some cancellations, late and early, recorded as the API answered them.
    cancelled_at = {}
    upcoming = sorted((s for s in sessions if _instant(s["startsAt"]) > now), key=lambda s: s["startsAt"])
    for s in upcoming[:3] + upcoming[-3:]:
        for e in [edge["node"] for edge in s["enrollments"]["edges"] if edge["node"]["status"] == "ENROLLED"][:2]:
            before = datetime.now(timezone.utc)
            assert (await api.data(CANCEL, {"i": {"enrollmentId": e["id"]}}))["cancelEnrollment"]["errors"] == []
            cancelled_at[e["id"]] = before
    sessions = await _pages(api, SESSIONS, "sessions", **{"from": f"{first}T00:00:00+00:00",
                                                          "to": f"{last + timedelta(days=1)}T00:00:00+00:00"})
    window = {"from": f"{first}T00:00:00+00:00", "to": f"{last + timedelta(days=1)}T00:00:00+00:00"}
    instructors = await _pages(api, RESOURCES, "resources", kind="INSTRUCTOR", **window)
    rooms = await _pages(api, RESOURCES, "resources", kind="ROOM", **window)
    assert any(i["timeOff"] for i in instructors)  # the demo's annual leave counts against working hours
    programs = [e["node"] for e in (await api.data(PROGRAMS))["programs"]["edges"]]
    expected = Expected(sessions, instructors, rooms, programs, cancelled_at, now, first, last)
    assert sum(1 for s in expected.sessions if _instant(s["startsAt"]) <= now) >= 5  # attendance to compare
    answered = [e["node"]["evaluation"] for s in expected.sessions for e in s["enrollments"]["edges"]
                if (e["node"]["evaluation"] or {}).get("respondedAt")]
    assert len(answered) >= 10  # evaluations to compare

    for dimension in (None, "COURSE", "MONTH", "INSTRUCTOR", "VENUE", "DELIVERY_MODE"):
        answer = (await api.data(REPORT, {"i": {"metrics": ALL_METRICS, "from": str(first), "to": str(last),
                                                "groupBy": [dimension] if dimension else []}}))["report"]
        want = expected.compute(dimension)
        got = {row["dimensions"][0]["key"]: {v["metric"]: v["value"] for v in row["values"]}
               for row in answer["rows"]}
        if dimension is None:
            assert answer["rows"] == []
        else:
            assert got == {k: v for k, v in want.items() if k is not None or dimension in ("VENUE", "INSTRUCTOR")}, \
                dimension
        totals = {v["metric"]: v["value"] for v in answer["totals"]}
        assert totals == expected.compute(None)[None], dimension
    late = {v["metric"]: v for v in answer["totals"]}["LATE_CANCELLATION_RATE"]
    assert 0 < int(late["numerator"]) < len(cancelled_at)  # some were late, some not


async def test_reports_are_for_staff_only(api):
    learner = await g.person(api)
    teacher_email = "teach@example.com"
    await g.instructor(api, email=teacher_email)
    teacher = await g.person(api, email=teacher_email)
    variables = {"i": {"metrics": ["FILL_RATE"], "from": "2027-01-01", "to": "2027-12-31"}}
    for person, role in ((learner, "LEARNER"), (teacher, "INSTRUCTOR")):
        token = (await api.data(g.TOKEN, {"i": {"personId": person, "role": role}}))["issueToken"]["token"]
        body = await api(REPORT, variables, token=token)
        assert body["data"] is None and body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    coordinator = await g.person(api)
    token = (await api.data(g.TOKEN, {"i": {"personId": coordinator, "role": "COORDINATOR"}}))["issueToken"]["token"]
    assert (await api.data(REPORT, variables, token=token))["report"]["totals"][0]["value"] is None
    body = await api("query($i: ReportInput!) { report(input: $i) { totals { value } } }", variables, token=None)
    assert body["data"] is None and body["errors"][0]["extensions"]["code"] == "FORBIDDEN"


@pytest.mark.parametrize("given, field", [
    ({"from": "2027-02-01", "to": "2027-01-31"}, "input.from"),
    ({"from": "2027-01-01", "to": "2032-01-01"}, "input.to"),
    ({"timezone": "Mars/Olympus"}, "input.timezone"),
    ({"metrics": ["FILL_RATE", "FILL_RATE"]}, "input.metrics"),
    ({"metrics": []}, "input.metrics"),
    ({"groupBy": ["COURSE", "COURSE"]}, "input.groupBy"),
])
async def test_bad_input_is_invalid_with_the_field(api, given, field):
    body = await api(REPORT, {"i": {"metrics": ["FILL_RATE"], "from": "2027-01-01", "to": "2027-12-31", **given}})
    assert body["data"] is None
    assert body["errors"][0]["extensions"] == {"code": "INVALID", "field": field}, body


async def test_a_report_over_five_years_to_the_day_is_taken(api):
    body = await api.data(REPORT, {"i": {"metrics": ["FILL_RATE"], "from": "2027-01-01", "to": "2031-12-31"}})
    assert body["report"]["endsAt"].startswith("2032-01-01")


async def _statements(app, api, variables) -> tuple[int, dict]:
    statements: list[str] = []
    engine = app.state.podium.engine.sync_engine

    def count(conn, cursor, statement, *args):
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        body = await api.data(REPORT, variables)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    return len([s for s in statements if not s.lstrip().upper().startswith(("BEGIN", "COMMIT", "ROLLBACK"))]), body


async def test_the_statements_of_a_report_do_not_grow_with_its_groups(app, api):
    sessions = app.state.podium.sessions
    teachers = [await b.instructor(sessions) for _ in range(12)]
    rooms = [await b.room(sessions, capacity=40) for _ in range(3)]
    variables = {"i": {"metrics": ALL_METRICS, "from": str(b.soon(0).date()), "to": str(b.soon(60).date()),
                       "groupBy": ["INSTRUCTOR", "COURSE"]}}
    course = await b.course(sessions)
    await b.session(sessions, course_id=course.id, instructor_ids=[teachers[0].id], room_id=rooms[0].id, 
                    mode=DeliveryMode.IN_PERSON,
                    starts_at=b.soon(days=3))
    few, small = await _statements(app, api, variables)
    for n in range(1, 12):
        other = await b.course(sessions)
        await b.session(sessions, course_id=other.id, instructor_ids=[teachers[n].id], room_id=rooms[n % 3].id, 
                    mode=DeliveryMode.IN_PERSON,
                        starts_at=b.soon(days=3 + n))
    many, large = await _statements(app, api, variables)
    assert len(small["report"]["rows"]) == 1 and len(large["report"]["rows"]) == 12
    # 2 per family of metrics (grouped, totals; evaluations are a family), 1 per label, 3 per utilisation
    # (resources, exceptions, time off)
    assert few == many <= 18, (few, many)


async def test_a_session_of_several_parts_counts_once_with_every_part_booked(app, api):
    sessions = app.state.podium.sessions
    course, lead, room = await b.course(sessions), await b.instructor(sessions), await b.room(sessions, capacity=20)
    start = b.soon(days=10)
    parts = [(start + timedelta(days=d), start + timedelta(days=d, hours=3)) for d in (0, 1)]
    from podium.core.db import changing
    from podium.core.services import scheduling

    async with sessions() as db, changing(db):
        await scheduling.schedule_session(db, b.ADMIN, course_id=course.id, starts_at=parts[0][0], ends_at=parts[-1][1],
                                          timezone="Europe/London", delivery_mode=DeliveryMode.IN_PERSON,
                                          instructor_ids=[lead.id], room_id=room.id, capacity=20, parts=parts)
    for dimension in ("INSTRUCTOR", "VENUE", "COURSE"):
        answer = (await api.data(REPORT, {"i": {
            "metrics": ["FILL_RATE", "INSTRUCTOR_UTILISATION", "ROOM_UTILISATION"], "from": str(start.date()),
            "to": str((start + timedelta(days=3)).date()), "groupBy": [dimension]}}))["report"]
        assert len(answer["rows"]) == 1, dimension
        fill, teaching, rooms = answer["rows"][0]["values"]
        assert (fill["numerator"], fill["denominator"]) == ("0", "20"), dimension  # the capacity once
        assert teaching["numerator"] == rooms["numerator"] == "6.00", dimension  # 3 hours on each of 2 days
