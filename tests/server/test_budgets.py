"""Budgets through the API, on SQLite and PostgreSQL: what counts against which budget, planned, actual,
committed and remaining, BUDGET_EXCEEDED warnings that change nothing, bad input, roles, audit and events."""
from __future__ import annotations

from datetime import datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from podium.core.models import AuditEntry, OutboxMessage
from podium.core.models import Session as SessionRow
from tests.server import graph as g

RATE = """mutation($i: SetResourceCostRateInput!) { setResourceCostRate(input: $i) { errors { code message }
  warnings { code message budget { id name } } } }"""
BUDGET_FIELDS = """id name period { from to } timezone amount { amount currency } scope course { id } program { id }
  venue { id } planned { amount } actual { amount } committed { amount } remaining { amount }"""
CREATE = """mutation($i: CreateBudgetInput!) { createBudget(input: $i) { budget { %s }
  errors { code field message } warnings { code message budget { id } } } }""" % BUDGET_FIELDS
UPDATE = """mutation($i: UpdateBudgetInput!) { updateBudget(input: $i) { budget { %s }
  errors { code field message } warnings { code message budget { id } } } }""" % BUDGET_FIELDS
BUDGETS = """query($first: Int, $after: String) { budgets(first: $first, after: $after) { totalCount
  pageInfo { hasNextPage endCursor } edges { node { %s } } } }""" % BUDGET_FIELDS
SCHEDULE = """mutation($i: ScheduleSessionInput!) { scheduleSession(input: $i) { session { id status }
  errors { code message } warnings { code message budget { id name remaining { amount } } } } }"""
ADD = """mutation($i: AddSessionCostInput!) { addSessionCost(input: $i) { errors { code message }
  warnings { code budget { id } } } }"""
VENUE = """mutation($i: CreateVenueInput!) { createVenue(input: $i) { venue { id } errors { code message } } }"""
PROGRAM = """mutation($i: CreateProgramInput!) { createProgram(input: $i) { program { id } errors { code message } } }"""


def _day(days: int) -> str:
    return (datetime.now(timezone.utc) + timedelta(days=days)).date().isoformat()


async def _budget(api, **given) -> dict:
    done = (await api.data(CREATE, {"i": {"timezone": "Europe/London", "period": {"from": _day(0), "to": _day(60)},
                                          **given}}))["createBudget"]
    assert done["errors"] == [], done
    return done


async def _world(api):
    course = await g.course(api)
    teacher = await g.instructor(api)
    venue = (await api.data(VENUE, {"i": {"name": "Centre", "timezone": "Europe/London"}}))["createVenue"]["venue"]["id"]
    room = await g.created(api, g.RESOURCE, "createResource", "resource", {
        "kind": "ROOM", "name": "Room A", "timezone": "Europe/London", "capacity": 20, "venueId": venue,
        "workingHours": g.ALWAYS})
    for resource, amount in ((teacher, "100"), (room, "50")):
        assert (await api.data(RATE, {"i": {"resourceId": resource, "amount": amount, "unit": "HOURLY"}})
                )["setResourceCostRate"]["errors"] == []
    return course, teacher, room, venue


async def _schedule(api, course, teacher, room=None, days=10, minutes=120) -> dict:
    extra = {"roomId": room, "deliveryMode": "IN_PERSON"} if room else {}
    done = (await api.data(SCHEDULE, {"i": g.schedule_input(course, [teacher], starts_at=g.at(days=days),
                                                            minutes=minutes, **extra)}))["scheduleSession"]
    assert done["errors"] == [], done
    return done


async def test_scheduling_over_a_budget_goes_through_with_a_warning(api, app):
    course, teacher, room, venue = await _world(api)
    budget = (await _budget(api, name="Course Q1", amount="500", scope="COURSE", courseId=course))["budget"]
    assert budget["scope"] == "COURSE" and budget["course"] == {"id": course} and budget["amount"] == {
        "amount": "500.00", "currency": "EUR"}
    # each session: 2 h x 100.00 (instructor) + 2 h x 50.00 (room) = 300.00
    first = await _schedule(api, course, teacher, room, days=10)
    assert first["warnings"] == []  # 300.00 of 500.00
    second = await _schedule(api, course, teacher, room, days=11)
    assert second["session"]["status"] == "SCHEDULED"  # allowed: warnings change nothing
    # 300.00 + 300.00 = 600.00 committed of 500.00: over by 100.00
    assert [(w["code"], w["budget"]["id"], w["budget"]["remaining"]) for w in second["warnings"]] == [
        ("BUDGET_EXCEEDED", budget["id"], {"amount": "-100.00"})]
    assert "over by 100.00 EUR" in second["warnings"][0]["message"]
    node = (await api.data(BUDGETS, {}))["budgets"]["edges"][0]["node"]
    assert (node["planned"], node["actual"], node["committed"], node["remaining"]) == (
        {"amount": "600.00"}, {"amount": "0.00"}, {"amount": "600.00"}, {"amount": "-100.00"})

    # The first session happens: its actual cost moves from committed to actual.
    await g.time_passes(app.state.podium.sessions, first["session"]["id"])
    node = (await api.data(BUDGETS, {}))["budgets"]["edges"][0]["node"]
    assert (node["planned"], node["actual"], node["committed"]) == (
        {"amount": "600.00"}, {"amount": "300.00"}, {"amount": "300.00"})

    # A cost by hand re-prices the session and warns too; raising the budget ends the warning.
    added = (await api.data(ADD, {"i": {"sessionId": second["session"]["id"], "category": "TRAVEL",
                                        "description": "Train", "amount": "25"}}))["addSessionCost"]
    assert [w["code"] for w in added["warnings"]] == ["BUDGET_EXCEEDED"]
    raised = (await api.data(UPDATE, {"i": {"budgetId": budget["id"], "amount": "1000"}}))["updateBudget"]
    assert raised["errors"] == [] and raised["warnings"] == []
    assert raised["budget"]["remaining"] == {"amount": "375.00"}  # 1000.00 - 300.00 - (300.00 + 25.00)
    lowered = (await api.data(UPDATE, {"i": {"budgetId": budget["id"], "amount": "600"}}))["updateBudget"]
    assert [w["code"] for w in lowered["warnings"]] == ["BUDGET_EXCEEDED"] and lowered["budget"]["amount"] == {
        "amount": "600.00", "currency": "EUR"}
    # a rate change re-prices every session booking the resource
    rate = (await api.data(RATE, {"i": {"resourceId": teacher, "amount": "200", "unit": "HOURLY"}}))
    assert [w["budget"]["name"] for w in rate["setResourceCostRate"]["warnings"]] == ["Course Q1"]


async def test_a_session_counts_against_every_budget_whose_scope_and_period_hold_it(api, app):
    course, teacher, room, venue = await _world(api)
    other_course = await g.course(api)
    session = (await _schedule(api, course, teacher, room, days=20))["session"]["id"]  # 300.00
    await _schedule(api, other_course, teacher, days=21)  # virtual: 2 h x 100.00 = 200.00
    program = (await api.data(PROGRAM, {"i": {"templateKey": "flipped", "courseId": course,
                                              "liveSessionIds": [session],
                                              "learnerIds": [await g.person(api)]}}))["createProgram"]
    assert program["errors"] == [], program
    made = {
        "course": await _budget(api, name="course", amount="1000", scope="COURSE", courseId=course),
        "program": await _budget(api, name="program", amount="1000", scope="PROGRAM", programId=program["program"]["id"]),
        "venue": await _budget(api, name="venue", amount="1000", scope="VENUE", venueId=venue),
        "everything": await _budget(api, name="everything", amount="1000", scope="EVERYTHING"),
        "later": await _budget(api, name="later", amount="1000", scope="EVERYTHING",
                               period={"from": _day(40), "to": _day(50)}),
        "other": await _budget(api, name="other", amount="1000", scope="COURSE", courseId=other_course),
    }
    planned = {edge["node"]["name"]: edge["node"]["planned"]["amount"]
               for edge in (await api.data(BUDGETS, {"first": 10}))["budgets"]["edges"]}
    assert planned == {"course": "300.00", "program": "300.00", "venue": "300.00", "everything": "500.00",
                       "later": "0.00", "other": "200.00"}
    page = (await api.data(BUDGETS, {"first": 4}))["budgets"]
    assert page["totalCount"] == 6 and page["pageInfo"]["hasNextPage"]
    rest = (await api.data(BUDGETS, {"first": 4, "after": page["pageInfo"]["endCursor"]}))["budgets"]
    assert [e["node"]["name"] for e in rest["edges"]] == ["later", "other"]
    node = (await api.data("query($id: ID!) { node(id: $id) { ... on Budget { name venue { id } } } }",
                           {"id": made["venue"]["budget"]["id"]}))["node"]
    assert node == {"name": "venue", "venue": {"id": venue}}


async def test_a_period_is_whole_days_on_the_budgets_clock(api, app):
    """A session at 02:00 UTC the day after `to` is still `to`, 21:00 or 22:00, in New York: it counts there, not in
    the same dates in London."""
    course, teacher, _room, _venue = await _world(api)
    to = (datetime.now(timezone.utc) + timedelta(days=30)).date()
    starts = datetime.combine(to + timedelta(days=1), time(2), timezone.utc)
    done = (await api.data(SCHEDULE, {"i": g.schedule_input(course, [teacher], starts_at=starts, minutes=60)}))
    assert done["scheduleSession"]["errors"] == []
    period = {"from": _day(1), "to": to.isoformat()}
    for tz, planned in (("America/New_York", "100.00"), ("Europe/London", "0.00")):
        budget = (await _budget(api, name=tz, amount="1", scope="EVERYTHING", timezone=tz, period=period))
        assert budget["budget"]["planned"] == {"amount": planned}
        assert [w["code"] for w in budget["warnings"]] == (["BUDGET_EXCEEDED"] if planned != "0.00" else [])
    assert starts.astimezone(ZoneInfo("America/New_York")).date() == to


async def test_bad_budgets_are_invalid_with_the_field_and_write_nothing(api, app):
    course, *_ = await _world(api)
    base = {"name": "b", "timezone": "Europe/London", "amount": "10", "scope": "EVERYTHING",
            "period": {"from": _day(0), "to": _day(5)}}
    for change, field in (({"period": {"from": _day(6), "to": _day(5)}}, ["input", "period", "from"]),
                          ({"amount": "-5"}, ["input", "amount"]),
                          ({"amount": "5.001"}, ["input", "amount"]),
                          ({"timezone": "Mars/Olympus"}, ["input", "timezone"]),
                          ({"name": " "}, ["input", "name"]),
                          ({"scope": "COURSE"}, ["input", "courseId"]),
                          ({"scope": "EVERYTHING", "courseId": course}, ["input", "scope"]),
                          ({"period": {"from": "2020-01-01", "to": "2035-01-01"}}, ["input", "period", "to"])):
        done = (await api.data(CREATE, {"i": {**base, **change}}))["createBudget"]
        assert [(e["code"], e["field"]) for e in done["errors"]] == [("INVALID", field)], (change, done)
        assert done["budget"] is None
    unknown = (await api.data(CREATE, {"i": {**base, "scope": "VENUE", "venueId": course}}))["createBudget"]
    assert [(e["code"], e["field"]) for e in unknown["errors"]] == [("NOT_FOUND", ["input", "venueId"])]
    assert (await api.data(BUDGETS, {}))["budgets"]["totalCount"] == 0
    made = (await _budget(api, name="ok", amount="10", scope="EVERYTHING"))["budget"]
    bad = (await api.data(UPDATE, {"i": {"budgetId": made["id"], "period": {"from": _day(9), "to": _day(1)}}}))
    assert [(e["code"], e["field"]) for e in bad["updateBudget"]["errors"]] == [("INVALID", ["input", "period", "from"])]
    moved = (await api.data(UPDATE, {"i": {"budgetId": made["id"], "scope": "COURSE", "courseId": course,
                                           "name": "renamed"}}))["updateBudget"]
    assert moved["errors"] == [] and moved["budget"]["course"] == {"id": course} and moved["budget"]["name"] == "renamed"
    assert (await api.data(BUDGETS, {}))["budgets"]["edges"][0]["node"]["period"] == {"from": _day(0), "to": _day(60)}


async def test_learners_and_instructors_are_forbidden_budgets(api, app):
    me = await g.person(api, email="teach@example.com")
    await g.instructor(api, email="teach@example.com")
    learner = await g.person(api)
    budget = (await _budget(api, name="b", amount="10", scope="EVERYTHING"))["budget"]
    for token in (await g.token(api, me, "INSTRUCTOR"), await g.token(api, learner, "LEARNER")):
        body = await api(BUDGETS, {}, token=token)
        assert [e["extensions"]["code"] for e in body["errors"]] == ["FORBIDDEN"]
        assert (await api.data("query($id: ID!) { node(id: $id) { id } }", {"id": budget["id"]}, token=token)
                )["node"] is None
        created = (await api.data(CREATE, {"i": {"name": "x", "timezone": "UTC", "amount": "1", "scope": "EVERYTHING",
                                                 "period": {"from": _day(0), "to": _day(1)}}}, token=token))
        assert [e["code"] for e in created["createBudget"]["errors"]] == ["FORBIDDEN"]
        updated = (await api.data(UPDATE, {"i": {"budgetId": budget["id"], "amount": "99"}}, token=token))
        assert [e["code"] for e in updated["updateBudget"]["errors"]] == ["FORBIDDEN"]
    assert (await api.data(BUDGETS, {}))["budgets"]["edges"][0]["node"]["amount"]["amount"] == "10.00"


async def test_every_budget_change_is_audited_and_evented(api, app):
    budget = (await _budget(api, name="b", amount="10", scope="EVERYTHING"))["budget"]
    await api.data(UPDATE, {"i": {"budgetId": budget["id"], "amount": "20.50"}})
    await api.data(UPDATE, {"i": {"budgetId": budget["id"], "amount": "20.50"}})  # no change: nothing recorded
    async with app.state.podium.sessions() as db:
        audit = (await db.execute(select(AuditEntry.action, AuditEntry.before, AuditEntry.after)
                                  .where(AuditEntry.target_type == "Budget").order_by(AuditEntry.id))).all()
        events = (await db.scalars(select(OutboxMessage.topic).where(OutboxMessage.topic.like("budget.%"))
                                   .order_by(OutboxMessage.id))).all()
        assert await db.scalar(select(func.count()).select_from(SessionRow)) == 0
    assert [a.action for a in audit] == ["budget.create", "budget.update"]
    assert audit[1].before["amount_minor"] == 1000 and audit[1].after["amount_minor"] == 2050
    assert events == ["budget.created", "budget.updated"]


REPORT = """query($i: ReportInput!) { report(input: $i) {
  rows { dimensions { key } values { value numerator denominator } } totals { value numerator denominator } } }"""


async def test_budget_consumption_in_the_report_is_spent_or_committed_over_amount(api, app):
    course, teacher, room, venue = await _world(api)
    other_course = await g.course(api)
    for days in (10, 11):
        await _schedule(api, course, teacher, room, days=days)       # 2 h x 100.00 + 2 h x 50.00 = 300.00 each
    await _schedule(api, other_course, teacher, days=12)              # virtual: 2 h x 100.00 = 200.00
    await _budget(api, name="course", amount="1000", scope="COURSE", courseId=course)          # 600.00 of 1000.00
    await _budget(api, name="venue", amount="500", scope="VENUE", venueId=venue)               # 600.00 of 500.00
    await _budget(api, name="everything", amount="2000", scope="EVERYTHING")                   # 800.00 of 2000.00
    await _budget(api, name="later", amount="9999", scope="EVERYTHING",
                  period={"from": _day(40), "to": _day(50)})                                    # outside the report
    ask = {"metrics": ["BUDGET_CONSUMPTION"], "from": _day(0), "to": _day(30), "timezone": "Europe/London"}

    async def report(**more):
        return (await api.data(REPORT, {"i": {**ask, **more}}))["report"]

    def row(values):
        return (values["value"], values["numerator"], values["denominator"])

    # (600.00 + 600.00 + 800.00) / (1000.00 + 500.00 + 2000.00) = 2000 / 3500 = 0.571428... -> 0.5714
    assert row((await report())["totals"][0]) == ("0.5714", "2000.00", "3500.00")
    by_course = {r["dimensions"][0]["key"]: row(r["values"][0]) for r in (await report(groupBy=["COURSE"]))["rows"]}
    # the course's budget 600/1000; the venue's and everything's have no course: 1400/2500 = 0.56
    assert by_course == {course: ("0.6000", "600.00", "1000.00"), None: ("0.5600", "1400.00", "2500.00")}
    by_venue = {r["dimensions"][0]["key"]: row(r["values"][0]) for r in (await report(groupBy=["VENUE"]))["rows"]}
    # the venue's: 600/500 = 1.2 (over); the others: (600 + 800) / (1000 + 2000) = 0.4666... -> 0.4667
    assert by_venue == {venue: ("1.2000", "600.00", "500.00"), None: ("0.4667", "1400.00", "3000.00")}
    filtered = await report(filter={"courseId": course})
    assert row(filtered["totals"][0]) == ("0.6000", "600.00", "1000.00")
    none = await report(filter={"instructorId": teacher})                 # budgets have no instructor
    assert row(none["totals"][0]) == (None, "0.00", "0.00")
