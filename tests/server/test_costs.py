"""Costs through the API, on SQLite and PostgreSQL: the hand-computed scenario, rounding, bad input, roles,
cancellation, audit and events."""
from __future__ import annotations

import os
from datetime import timedelta
import subprocess
import sys
import pytest
from sqlalchemy import select

from podium.core.ids import from_global_id
from podium.core.models import AuditEntry, OutboxMessage
from podium.core.money import divide, format_amount, parse_amount
from podium.core.settings import Settings, SettingsError
from tests.server import graph as g

RATE = """mutation($i: SetResourceCostRateInput!) { setResourceCostRate(input: $i) {
  resource { id costRate { amount { amount currency } unit } } errors { code field message } } }"""
COURSE_COSTS = """mutation($i: SetCourseCostsInput!) { setCourseCosts(input: $i) {
  course { id price { amount } perLearnerCosts { category description amount { amount currency } } }
  errors { code field message } } }"""
ADD = """mutation($i: AddSessionCostInput!) { addSessionCost(input: $i) {
  session { id costs { planned { amount } actual { amount } lines { id category description } } }
  errors { code field message } } }"""
REMOVE = """mutation($i: RemoveSessionCostInput!) { removeSessionCost(input: $i) {
  session { costs { planned { amount } } } errors { code field message } } }"""
PRICE = """mutation($i: SetSessionPriceInput!) { setSessionPrice(input: $i) {
  session { price { amount } } errors { code field message } } }"""
ATTEND = """mutation($i: RecordAttendanceInput!) { recordAttendance(input: $i) { errors { code message } } }"""
CANCEL = """mutation($i: CancelSessionInput!) { cancelSession(input: $i) { errors { code message } } }"""
COSTS = """query($id: ID!) { node(id: $id) { ... on Session {
  price { amount currency } revenue { amount } margin { amount }
  costs { planned { amount currency } actual { amount currency } perLearner { amount } perAttendedLearner { amount }
          perAttendedHour { amount } seatsTaken attended
          lines { id category description amount { amount currency } actual { amount } derived incurred } } } } }"""


async def _rate(api, resource_id: str, amount: str | None, unit: str | None) -> None:
    done = (await api.data(RATE, {"i": {"resourceId": resource_id, "amount": amount, "unit": unit}}))
    assert done["setResourceCostRate"]["errors"] == [], done


async def _scenario(api, app) -> dict:
    """2 instructors (HOURLY 90, DAILY 600) on a 6-hour session with 30 minutes' setup, a room at 40/hour,
    materials 12 per learner, 18 of 20 seats taken, 15 attended. Everything through GraphQL but the clock."""
    course = await g.course(api, durationMinutes=360, defaultCapacity=20)
    hourly, daily = await g.instructor(api, name="Hourly Hana"), await g.instructor(api, name="Daily Dev")
    room = await g.room(api, capacity=20)
    await _rate(api, hourly, "90", "HOURLY")
    await _rate(api, daily, "600.00", "DAILY")
    await _rate(api, room, "40", "HOURLY")
    done = await api.data(COURSE_COSTS, {"i": {"courseId": course, "price": "150", "perLearnerCosts": [
        {"category": "MATERIALS", "description": "Workbook", "amount": "12"}]}})
    assert done["setCourseCosts"]["errors"] == []
    assert done["setCourseCosts"]["course"]["perLearnerCosts"] == [
        {"category": "MATERIALS", "description": "Workbook", "amount": {"amount": "12.00", "currency": "EUR"}}]
    session = await g.session(api, course, [hourly, daily], minutes=360, setupMinutes=30, roomId=room,
                              deliveryMode="IN_PERSON", capacity=20)
    learners = [await g.person(api) for _ in range(20)]
    enrolments = [(await g.enroll(api, session, learner))["enrollment"]["id"] for learner in learners[:18]]
    await g.time_passes(app.state.podium.sessions, session)
    records = [{"enrollmentId": e, "status": "PRESENT" if i < 15 else "ABSENT"} for i, e in enumerate(enrolments)]
    assert (await api.data(ATTEND, {"i": {"sessionId": session, "records": records}}))["recordAttendance"]["errors"] == []
    return {"session": session, "course": course, "room": room, "hourly": hourly, "daily": daily}


async def test_the_hand_computed_scenario(api, app):
    world = await _scenario(api, app)
    node = (await api.data(COSTS, {"id": world["session"]}))["node"]
    costs = node["costs"]
    # Every resource is booked from 30 minutes before the start to the end: 30 + 360 = 390 minutes = 6.5 hours.
    lines = [(line["category"], line["description"], line["amount"]["amount"], line["actual"]["amount"],
              line["derived"]) for line in costs["lines"]]
    assert lines == [
        # 6.5 h x 90.00 = 585.00
        ("INSTRUCTOR", "Hourly Hana: 6.5 h at 90.00/hour", "585.00", "585.00", True),
        # 6.5 h is within one day of up to 8 booked hours: 1 x 600.00 = 600.00
        ("INSTRUCTOR", "Daily Dev: 1 day (6.5 h) at 600.00/day", "600.00", "600.00", True),
        # 6.5 h x 40.00 = 260.00
        ("VENUE", lines[2][1], "260.00", "260.00", True),
        # planned: 18 seats taken x 12.00 = 216.00; actual: 15 attended x 12.00 = 180.00
        ("MATERIALS", "Workbook: 12.00 per learner: 18 planned, 15 attended", "216.00", "180.00", True),
    ]
    assert lines[2][1].endswith(": 6.5 h at 40.00/hour")
    assert all(line["amount"]["currency"] == "EUR" and line["id"] is None and not line["incurred"]
               for line in costs["lines"])
    # planned: 585.00 + 600.00 + 260.00 + 216.00 = 1661.00
    assert costs["planned"] == {"amount": "1661.00", "currency": "EUR"}
    # actual: 585.00 + 600.00 + 260.00 + 180.00 = 1625.00
    assert costs["actual"] == {"amount": "1625.00", "currency": "EUR"}
    assert (costs["seatsTaken"], costs["attended"]) == (18, 15)
    # per learner: 1661.00 / 18 = 92.2777... -> 92.28
    assert costs["perLearner"] == {"amount": "92.28"}
    # per attended learner: 1625.00 / 15 = 108.3333... -> 108.33
    assert costs["perAttendedLearner"] == {"amount": "108.33"}
    # per attended hour: 15 learners x 6 hours (the session, not its setup) = 90 learner-hours;
    # 1625.00 / 90 = 18.0555... -> 18.06
    assert costs["perAttendedHour"] == {"amount": "18.06"}
    # revenue: 150.00 per seat x 18 seats = 2700.00; margin: 2700.00 - 1661.00 = 1039.00
    assert node["price"] == {"amount": "150.00", "currency": "EUR"}
    assert node["revenue"] == {"amount": "2700.00"} and node["margin"] == {"amount": "1039.00"}


async def test_manual_lines_and_a_cancelled_session_keeps_only_incurred_costs(api, app):
    course = await g.course(api)
    teacher, room = await g.instructor(api), await g.room(api, capacity=10)
    await _rate(api, teacher, "100", "PER_SESSION")
    await _rate(api, room, "55.50", "DAILY")
    session = await g.session(api, course, [teacher], roomId=room, deliveryMode="IN_PERSON", capacity=10,
                              minutes=600)  # 10 booked hours: two days of the room
    for learner in [await g.person(api) for _ in range(4)]:
        await g.enroll(api, session, learner)
    fee = {"sessionId": session, "category": "VENUE", "description": "Late-cancellation fee", "amount": "75.25",
           "incurred": True}
    catering = {"sessionId": session, "category": "CATERING", "description": "Coffee", "amount": "3.10",
                "perLearner": True}
    travel = {"sessionId": session, "category": "TRAVEL", "description": "Train", "amount": "40"}
    for line in (fee, catering, travel):
        done = (await api.data(ADD, {"i": line}))["addSessionCost"]
        assert done["errors"] == []
    costs = done["session"]["costs"]
    # 100.00 once + 2 days x 55.50 + 75.25 + 4 seats x 3.10 + 40.00 = 100 + 111 + 75.25 + 12.40 + 40 = 338.65
    assert costs["planned"] == {"amount": "338.65"}
    # actual: nobody attended yet, so coffee counts 0 learners: 338.65 - 12.40 = 326.25
    assert costs["actual"] == {"amount": "326.25"}
    manual = [line for line in costs["lines"] if line["id"]]
    assert [line["category"] for line in manual] == ["VENUE", "CATERING", "TRAVEL"]
    assert [line["description"] for line in manual] == [
        "Late-cancellation fee: 75.25", "Coffee: 3.10 per learner: 4 planned, 0 attended", "Train: 40.00"]
    removed = (await api.data(REMOVE, {"i": {"costId": manual[2]["id"]}}))["removeSessionCost"]
    assert removed["errors"] == [] and removed["session"]["costs"]["planned"] == {"amount": "298.65"}
    again = (await api.data(REMOVE, {"i": {"costId": manual[2]["id"]}}))["removeSessionCost"]
    assert [e["code"] for e in again["errors"]] == ["NOT_FOUND"]

    assert (await api.data(CANCEL, {"i": {"sessionId": session}}))["cancelSession"]["errors"] == []
    node = (await api.data(COSTS, {"id": session}))["node"]
    assert [(line["description"], line["amount"]["amount"], line["incurred"]) for line in node["costs"]["lines"]] \
        == [("Late-cancellation fee: 75.25", "75.25", True)]
    assert node["costs"]["planned"] == node["costs"]["actual"] == {"amount": "75.25", "currency": "EUR"}
    assert node["revenue"] == {"amount": "0.00"} and node["margin"] == {"amount": "-75.25"}


async def test_rounding_is_half_up_to_the_minor_unit(api, app):
    course = await g.course(api)
    teacher = await g.instructor(api)
    await _rate(api, teacher, "10.01", "HOURLY")
    session = await g.session(api, course, [teacher], minutes=45)
    costs = (await api.data(COSTS, {"id": session}))["node"]["costs"]
    # 10.01 x 45/60 = 7.5075 -> 7.51 (1001 cents x 45 = 45045; / 60 = 750.75 -> 751 cents)
    assert costs["planned"] == {"amount": "7.51", "currency": "EUR"}
    assert costs["perLearner"] is None and costs["perAttendedHour"] is None  # nobody to divide by
    await _rate(api, teacher, "0.01", "HOURLY")
    session = await g.session(api, course, [teacher], minutes=30, starts_at=g.at(days=9))
    # 0.01 x 30/60 = 0.005: exactly half a cent rounds up to 0.01
    assert (await api.data(COSTS, {"id": session}))["node"]["costs"]["planned"] == {"amount": "0.01",
                                                                                   "currency": "EUR"}


def test_the_one_rounding_rule_and_amount_formats():
    assert [divide(n, d) for n, d in ((5, 2), (7, 3), (8, 3), (-5, 2), (166100, 18), (0, 7))] == [3, 2, 3, -3, 9228, 0]
    assert divide(1, 0) is None
    assert parse_amount("12", "EUR", "amount") == 1200 and parse_amount("12.5", "EUR", "amount") == 1250
    assert parse_amount("1000", "JPY", "amount") == 1000 and parse_amount("1.234", "KWD", "amount") == 1234
    assert format_amount(166100, "EUR") == "1661.00" and format_amount(5, "JPY") == "5"
    assert format_amount(1234, "KWD") == "1.234" and format_amount(-7525, "EUR") == "-75.25"


@pytest.mark.parametrize(("amount", "why"), [("-1", "must not be negative"), ("12.505", "more than 2 decimal"),
                                             ("twelve", "decimal amount"), ("NaN", "decimal amount"),
                                             ("1e15", "must be below")])
async def test_bad_amounts_are_invalid_with_the_field_and_change_nothing(api, app, amount, why):
    course = await g.course(api)
    teacher = await g.instructor(api)
    session = await g.session(api, course, [teacher])
    done = (await api.data(ADD, {"i": {"sessionId": session, "category": "OTHER", "description": "x",
                                       "amount": amount}}))["addSessionCost"]
    assert [(e["code"], e["field"]) for e in done["errors"]] == [("INVALID", ["input", "amount"])]
    assert why in done["errors"][0]["message"] and done["session"] is None
    rate = (await api.data(RATE, {"i": {"resourceId": teacher, "amount": amount, "unit": "HOURLY"}}))
    assert [(e["code"], e["field"]) for e in rate["setResourceCostRate"]["errors"]] == [("INVALID", ["input", "amount"])]
    costs = (await api.data(COURSE_COSTS, {"i": {"courseId": course, "perLearnerCosts": [
        {"category": "MATERIALS", "description": "ok", "amount": "1"},
        {"category": "MATERIALS", "description": "bad", "amount": amount}]}}))["setCourseCosts"]
    assert [(e["code"], e["field"]) for e in costs["errors"]] == [("INVALID", ["input", "perLearnerCosts", "1", "amount"])]
    price = (await api.data(PRICE, {"i": {"sessionId": session, "price": amount}}))["setSessionPrice"]
    assert [(e["code"], e["field"]) for e in price["errors"]] == [("INVALID", ["input", "price"])]
    node = (await api.data(COSTS, {"id": session}))["node"]
    assert node["costs"]["lines"] == [] and node["price"] is None
    assert (await api.data(RATE, {"i": {"resourceId": teacher, "amount": "5", "unit": None}})
            )["setResourceCostRate"]["errors"][0]["field"] == ["input", "unit"]


def test_an_unknown_currency_is_a_setting_error(tmp_path):
    with pytest.raises(SettingsError) as refused:
        Settings.from_env({"PODIUM_CURRENCY": "XYZ"})
    assert str(refused.value).startswith("PODIUM_CURRENCY: an ISO 4217 currency code")
    assert Settings.from_env({"PODIUM_CURRENCY": "JPY"}).currency == "JPY"
    assert Settings().currency == "EUR"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PODIUM_")}
    env.update(PODIUM_CURRENCY="euro", PODIUM_DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'podium.db'}")
    done = subprocess.run([sys.executable, "-m", "podium.server.cli", "db", "upgrade"], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "PODIUM_CURRENCY: an ISO 4217 currency code" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr


async def test_amounts_follow_the_installation_currency(database_url):
    import httpx

    from podium.server.app import create_app
    from tests.server.conftest import ADMIN_TOKEN, Api

    app = create_app(Settings(database_url=database_url, admin_token=ADMIN_TOKEN, currency="JPY"))
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://podium.test") as client:
            api = Api(client)
            teacher = await g.instructor(api)
            await _rate(api, teacher, "9000", "DAILY")
            bad = await api.data(RATE, {"i": {"resourceId": teacher, "amount": "10.5", "unit": "DAILY"}})
            assert "more than 0 decimal places for JPY" in bad["setResourceCostRate"]["errors"][0]["message"]
            node = (await api.data("""query($id: ID!) { node(id: $id) { ... on Resource {
                costRate { amount { amount currency } unit } } } }""", {"id": teacher}))["node"]
            assert node["costRate"] == {"amount": {"amount": "9000", "currency": "JPY"}, "unit": "DAILY"}
    finally:
        await app.state.podium.engine.dispose()


async def test_learners_and_instructors_are_forbidden_costs(api, app):
    world_course = await g.course(api)
    me = await g.person(api, email="teacher@example.com")
    teacher = await g.instructor(api, email="teacher@example.com")
    session = await g.session(api, world_course, [teacher])
    learner = await g.person(api)
    await g.enroll(api, session, learner)
    for token in (await g.token(api, me, "INSTRUCTOR"), await g.token(api, learner, "LEARNER")):
        body = await api("""query($id: ID!) { node(id: $id) { ... on Session { costs { planned { amount } } } } }""",
                         {"id": session}, token=token)
        assert [e["extensions"]["code"] for e in body["errors"]] == ["FORBIDDEN"]
        for query in ("{ node(id: $id) { ... on Session { revenue { amount } } } }",
                      "{ node(id: $id) { ... on Session { margin { amount } } } }",
                      "{ node(id: $id) { ... on Resource { costRate { unit } } } }"):
            target = teacher if "Resource" in query else session
            body = await api("query($id: ID!) " + query, {"id": target}, token=token)
            assert [e["extensions"]["code"] for e in body["errors"]] == ["FORBIDDEN"], body
        body = await api("query($id: ID!) { node(id: $id) { ... on Course { perLearnerCosts { category } } } }",
                         {"id": world_course}, token=token)
        assert [e["extensions"]["code"] for e in body["errors"]] == ["FORBIDDEN"]
        for mutation, payload, given in (
                (ADD, "addSessionCost", {"sessionId": session, "category": "OTHER", "description": "x", "amount": "1"}),
                (RATE, "setResourceCostRate", {"resourceId": teacher, "amount": "1", "unit": "HOURLY"}),
                (COURSE_COSTS, "setCourseCosts", {"courseId": world_course, "price": "1"}),
                (PRICE, "setSessionPrice", {"sessionId": session, "price": "1"})):
            done = (await api.data(mutation, {"i": given}, token=token))[payload]
            assert [e["code"] for e in done["errors"]] == ["FORBIDDEN"]
    # the price is public: the catalogue shows it to anyone
    await api.data(PRICE, {"i": {"sessionId": session, "price": "99.90"}})
    public = await api.data("query($id: ID!) { node(id: $id) { ... on Session { price { amount currency } } } }",
                            {"id": session}, token=None)
    assert public["node"]["price"] == {"amount": "99.90", "currency": "EUR"}


async def test_every_cost_change_is_audited_and_evented(api, app):
    course = await g.course(api)
    teacher = await g.instructor(api)
    session = await g.session(api, course, [teacher])
    await _rate(api, teacher, "90", "HOURLY")
    await api.data(COURSE_COSTS, {"i": {"courseId": course, "price": "10", "perLearnerCosts": [
        {"category": "CATERING", "description": "Lunch", "amount": "9.99"}]}})
    await api.data(PRICE, {"i": {"sessionId": session, "price": "12"}})
    added = (await api.data(ADD, {"i": {"sessionId": session, "category": "TRAVEL", "description": "Taxi",
                                        "amount": "20"}}))["addSessionCost"]
    cost_id = next(line["id"] for line in added["session"]["costs"]["lines"] if line["id"])
    await api.data(REMOVE, {"i": {"costId": cost_id}})
    async with app.state.podium.sessions() as db:
        audit = (await db.execute(select(AuditEntry.action, AuditEntry.actor, AuditEntry.before, AuditEntry.after)
                                  .order_by(AuditEntry.id))).all()
        events = (await db.scalars(select(OutboxMessage.topic).where(OutboxMessage.kind == "event")
                                   .order_by(OutboxMessage.id))).all()
    changes = [(a.action, a.before, a.after) for a in audit if a.action.startswith(("resource.cost", "course.costs",
                                                                                   "session.price", "session_cost"))]
    assert [c[0] for c in changes] == ["resource.cost_rate", "course.costs", "session.price", "session_cost.add",
                                       "session_cost.remove"]
    assert changes[0][1:] == ({"cost_rate_minor": None, "cost_rate_unit": None},
                              {"cost_rate_minor": 9000, "cost_rate_unit": "HOURLY"})
    assert changes[1][2] == {"price_minor": 1000, "per_learner_costs": [
        {"category": "CATERING", "description": "Lunch", "amount_minor": 999}]}
    assert changes[3][2]["amount_minor"] == 2000 and changes[4][1]["description"] == "Taxi" and changes[4][2] is None
    assert [t for t in events if "cost" in t or "price" in t] == [
        "resource.cost_rate_changed", "course.costs_changed", "session.price_changed", "session.cost_added",
        "session.cost_removed"]
    assert from_global_id(cost_id)[0] == "SessionCost"


async def test_cost_statements_do_not_grow_with_the_sessions_asked_for(api, app):
    """A page of sessions with their costs: the same number of SQL statements for 2 sessions as for 8."""
    from sqlalchemy import event

    course = await g.course(api)
    teachers = [await g.instructor(api) for _ in range(8)]
    for teacher in teachers:
        await _rate(api, teacher, "50", "HOURLY")
        await g.session(api, course, [teacher])
    engine = app.state.podium.engine.sync_engine
    counted: list[str] = []

    def count(*_args):
        counted.append("x")

    event.listen(engine, "before_cursor_execute", count)
    try:
        statements = []
        for first in (2, 8):
            counted.clear()
            data = await api.data("""query($n: Int) { sessions(first: $n) { edges { node {
                costs { planned { amount } perLearner { amount } lines { description } } } } } }""", {"n": first})
            assert len(data["sessions"]["edges"]) == first
            assert all(e["node"]["costs"]["planned"]["amount"] == "50.00" for e in data["sessions"]["edges"])
            statements.append(len(counted))
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert statements[0] == statements[1]


async def test_concurrent_cost_changes_all_count_and_sum_exactly(api, app):
    """Twenty lines added at once and five course cost lists replaced at once: every line is there, the course
    keeps one whole list, and the totals are the exact sums (no lost update, no half-replaced list)."""
    import asyncio

    course = await g.course(api)
    teacher = await g.instructor(api)
    session = await g.session(api, course, [teacher])
    for learner in [await g.person(api) for _ in range(3)]:
        await g.enroll(api, session, learner)
    adds = [api.raw(ADD, {"i": {"sessionId": session, "category": "OTHER", "description": f"line {n}",
                                "amount": "1.10"}}) for n in range(20)]
    lists = [api.raw(COURSE_COSTS, {"i": {"courseId": course, "perLearnerCosts": [
        {"category": "MATERIALS", "description": f"kit {n}", "amount": f"{n}.00"},
        {"category": "CATERING", "description": f"lunch {n}", "amount": f"{n}.50"}]}}) for n in range(1, 6)]
    answers = await asyncio.gather(*adds, *lists)
    assert all(a.status_code == 200 and not a.json().get("errors") for a in answers)
    assert all(not next(iter(a.json()["data"].values()))["errors"] for a in answers)
    costs = (await api.data(COSTS, {"id": session}))["node"]["costs"]
    per_learner = [line for line in costs["lines"] if line["derived"]]
    assert len(per_learner) == 2
    n = int(per_learner[0]["description"].split(":")[0].removeprefix("kit "))
    assert per_learner[1]["description"].startswith(f"lunch {n}:")
    # 20 x 1.10 = 22.00 by hand, plus 3 seats x (n.00 + n.50)
    assert costs["planned"]["amount"] == format_amount(2200 + 3 * (n * 100 + n * 100 + 50), "EUR")


async def test_a_session_in_parts_costs_each_parts_booking(api, app):
    """Two days of 6 hours, each part booked with 30 minutes' setup: every booking is priced on its own interval."""
    course = await g.course(api, durationMinutes=720)
    hourly, daily = await g.instructor(api, name="Hourly Hana"), await g.instructor(api, name="Daily Dev")
    await _rate(api, hourly, "90", "HOURLY")
    await _rate(api, daily, "600", "DAILY")
    first = g.at(days=12)
    second = first + timedelta(days=1)
    parts = [{"startsAt": first.isoformat(), "endsAt": (first + timedelta(hours=6)).isoformat()},
             {"startsAt": second.isoformat(), "endsAt": (second + timedelta(hours=6)).isoformat()}]
    session = await g.session(api, course, [hourly, daily], starts_at=first, minutes=24 * 60 + 360, setupMinutes=30,
                              parts=parts)
    learner = await g.person(api)
    enrolment = (await g.enroll(api, session, learner))["enrollment"]["id"]
    await g.time_passes(app.state.podium.sessions, session)
    done = await api.data(ATTEND, {"i": {"sessionId": session, "records": [
        {"enrollmentId": enrolment, "status": "PRESENT"}]}})
    assert done["recordAttendance"]["errors"] == []
    costs = (await api.data(COSTS, {"id": session}))["node"]["costs"]
    # two bookings of 390 minutes each: 780 minutes = 13 h
    assert [(line["description"], line["amount"]["amount"]) for line in costs["lines"]] == [
        ("Hourly Hana: 13 h at 90.00/hour", "1170.00"),        # 13 x 90.00
        ("Daily Dev: 2 days (13 h) at 600.00/day", "1200.00"),  # 13 h = 2 days of up to 8 h: 2 x 600.00
    ]
    # 1170.00 + 1200.00 = 2370.00; one learner attended both days: 12 learner-hours (the parts, not the night
    # between them): 2370.00 / 12 = 197.50
    assert costs["planned"]["amount"] == costs["actual"]["amount"] == "2370.00"
    assert costs["perAttendedHour"] == {"amount": "197.50"}
